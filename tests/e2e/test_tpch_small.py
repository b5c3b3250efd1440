"""All 22 TPC-H queries (sf=0.01) through pgaccel with the mirror on: every result must be
identical to what Postgres itself returns — column names, type OIDs, typmods and the rows
as raw text bytes (in order when the query has ORDER BY). Also reports which queries the
mirror really answered (``SHOW pgaccel.stats``), and why the others went to the origin.

The same check at scale, with timings: ``bench/tpch.py``.
"""

from __future__ import annotations

import psycopg
import pytest

from bench._tpch_common import (FallbackLog, compare, connect, counter_delta, explain_route, fallback_words,
                                has_top_level_order_by, ran_on, route_counters, run_query, short_reason,
                                simulate_mirror)
from proxy.sample import load_tpch, tpch_queries
from proxy.config import from_dict
from proxy.server import ServerThread
from tests.conftest import Proxy

SF = 0.01
SLOT = "pgaccel_mirror"  # the slot pgaccel serve creates for freshness; it blocks DROP DATABASE
# The target: at least 20 of the 22 answered by the mirror (22 of 22 since 7cd0314).
MIN_MIRRORED = 20


def _drop_slot(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots "
                  "WHERE slot_name = %s AND database = current_database() AND NOT active", (SLOT,))


@pytest.fixture
def tpch(origin, fresh_db, tmp_path):
    """(direct DSN, pgaccel DSN) for a fresh database holding TPC-H sf=0.01, mirrored."""
    dsn = origin.dsn(fresh_db)
    load_tpch(dsn, SF, progress=lambda m: None)
    config = from_dict({
        "server": {"listen": "127.0.0.1:0", "shutdown_timeout": 2},
        "origin": {"dsn": origin.url(fresh_db)},  # the mirror snapshots this database
        # The origin is not written to during the test: freshness is not what is tested here
        # (tests/e2e/test_mirror_freshness.py is), and a slot left by another test on another
        # database must not turn the mirror "stale" half-way through.
        "mirror": {"enabled": True, "path": str(tmp_path / "mirror.duckdb"), "tables": ["public.*"],
                   "max_staleness": -1},
    })
    proxy = Proxy(origin, ServerThread(config).start())
    try:
        yield dsn, proxy
    finally:
        proxy.stop()
        _drop_slot(dsn)


def test_tpch_22_identical_through_pgaccel(tpch, capsys):
    direct_dsn, proxy = tpch
    lines, failures, mirrored, routed = [], [], [], []
    with connect(direct_dsn) as direct, connect(proxy.dsn(proxy_db(direct_dsn))) as acc, \
            FallbackLog() as fallbacks:
        for n, sql in tpch_queries():
            route, reason, rsql = explain_route(acc, sql)
            expected = run_query(direct, sql)
            assert expected.ok, f"Q{n} fails on Postgres itself: {expected.error}"
            ordered = has_top_level_order_by(sql)
            fallbacks.take()
            before = route_counters(acc)
            got = run_query(acc, sql)
            where, why_there = ran_on(counter_delta(before, route_counters(acc)))
            same, why = compare(expected, got, ordered)
            bsame, bwhy = compare(run_query(direct, sql, binary=True), run_query(acc, sql, binary=True), ordered)
            routed += [n] if route == "mirror" else []
            mirrored += [n] if where == "mirror" else []
            line = (f"Q{n:02d} route={route} ({short_reason(reason, 40)}) ran_on={where}"
                    f"{'' if where == route else ' (' + why_there + ')'} identical={'yes' if same else 'NO'}"
                    f" binary={'yes' if bsame else 'NO'}")
            if route == "mirror" and where != "mirror":
                line += "".join(f"\n      pgaccel: {m}" for m in fallback_words(fallbacks.take()))
                if rsql and proxy.server.mirror is not None:
                    cur = proxy.server.mirror.cursor()
                    try:
                        sim = simulate_mirror(cur, rsql, expected)
                    finally:
                        cur.close()
                    ssame, swhy = compare(expected, sim, ordered)
                    line += (f"\n      had the mirror answered: identical {'yes' if ssame else 'NO: ' + swhy}"
                             + (f" [{sim.note}]" if sim.note else ""))
            lines.append(line)
            if not same:
                failures.append(f"Q{n:02d} ({route}: {reason}; ran on {where}): {why}\n"
                                f"  DuckDB SQL: {' '.join(rsql.split())}")
            if not bsame:
                failures.append(f"Q{n:02d} binary results ({route}: {reason}; ran on {where}): {bwhy}")
    with capsys.disabled():
        print(f"\nTPC-H sf={SF} through pgaccel: {len(mirrored)}/22 answered by the mirror "
              f"({len(routed)}/22 routed there by EXPLAIN (ROUTE))")
        for line in lines:
            print("  " + line)
    assert not failures, f"{len(failures)} TPC-H results differ through pgaccel:\n" + "\n".join(failures)
    assert len(mirrored) >= MIN_MIRRORED, (f"only {len(mirrored)} of 22 answered by the mirror:\n"
                                           + "\n".join(lines))


def proxy_db(dsn: str) -> str:
    return dict(kv.split("=", 1) for kv in dsn.split())["dbname"]
