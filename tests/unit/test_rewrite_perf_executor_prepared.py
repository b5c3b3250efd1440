"""The executor runs parameterless mirror statements through DuckDB prepared statements
kept per session (proxy/executor.py ``_execute_prepared``): the same answers as a
plain run, also across time-zone changes and table swaps."""

from __future__ import annotations

from collections import OrderedDict

import duckdb
import pytest

from proxy import executor
from proxy.executor import _execute_prepared

TZ_SQL = "SELECT CAST(CAST('2020-01-01' AS DATE) AS TIMESTAMPTZ)::VARCHAR AS v"


def run(cur, cache, sql, tz="UTC"):
    cur.execute(f"SET TimeZone = '{tz}'")
    _execute_prepared(cur, cache, sql, tz)
    return cur.fetchall()


def test_a_repeated_statement_is_prepared_once():
    cur, cache = duckdb.connect(), OrderedDict()
    assert run(cur, cache, "SELECT 41 + 1") == [(42,)]
    assert run(cur, cache, "SELECT 41 + 1") == [(42,)]
    assert len(cache) == 1


def test_a_time_zone_change_plans_the_statement_again():
    cur, cache = duckdb.connect(), OrderedDict()
    assert run(cur, cache, TZ_SQL, "UTC") == [("2020-01-01 00:00:00+00",)]
    # DuckDB folded the cast under UTC into the first plan: the new zone needs its own
    assert run(cur, cache, TZ_SQL, "America/New_York") == [("2020-01-01 00:00:00-05",)]
    assert run(cur, cache, TZ_SQL, "UTC") == [("2020-01-01 00:00:00+00",)]
    assert len(cache) == 2


def test_a_table_swapped_in_by_another_connection_is_read():
    db = duckdb.connect()
    cur, sync, cache = db.cursor(), db.cursor(), OrderedDict()
    sync.execute("CREATE TABLE t AS SELECT 1 AS x UNION ALL SELECT 2")
    sql = "SELECT sum(x)::VARCHAR, typeof(sum(x)) FROM t"
    assert run(cur, cache, sql) == [("3", "HUGEINT")]
    sync.execute("BEGIN; CREATE TABLE t_new AS SELECT 2.50::DECIMAL(10,2) AS x; DROP TABLE t; "
                 "ALTER TABLE t_new RENAME TO t; COMMIT")
    assert run(cur, cache, sql) == [("2.50", "DECIMAL(38,2)")]


def test_only_the_most_recent_statements_are_kept(monkeypatch):
    monkeypatch.setattr(executor, "PREPARED_PER_SESSION", 3)
    cur, cache = duckdb.connect(), OrderedDict()
    for i in range(5):
        assert run(cur, cache, f"SELECT {i}") == [(i,)]
    assert [k[0] for k in cache] == ["SELECT 2", "SELECT 3", "SELECT 4"]
    assert run(cur, cache, "SELECT 0") == [(0,)]


def test_a_statement_whose_run_fails_is_dropped():
    db = duckdb.connect()
    cur, cache = db.cursor(), OrderedDict()
    db.execute("CREATE TABLE d AS SELECT 1 AS x")
    sql = "SELECT 10 // x FROM d"
    assert run(cur, cache, sql) == [(10,)]
    db.execute("CREATE OR REPLACE TABLE d AS SELECT 'a' AS x")
    with pytest.raises(duckdb.Error):
        run(cur, cache, sql)
    assert cache == OrderedDict()
