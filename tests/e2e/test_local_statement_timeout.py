"""statement_timeout and cancel requests stop what pgaccel runs in DuckDB (here a query
across sources; mirror answers run through the same executor) with SQLSTATE 57014, as
Postgres would, and the session stays usable."""

from __future__ import annotations

import threading
import time

import duckdb
import psycopg
import pytest

from tests.conftest import start_proxy

SLOW = "SELECT a.g, count(*) FROM f.big a JOIN f.big b ON a.id = b.id GROUP BY 1 ORDER BY 1"
# minutes of work (each of 400k rows meets 40k others): it only ends by being stopped
ENDLESS = "SELECT count(*) FROM f.big a JOIN f.big b ON a.g = b.g WHERE a.id < 400000"


@pytest.fixture(scope="module")
def pgaccel(origin, tmp_path_factory):
    path = tmp_path_factory.mktemp("timeout") / "big.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT i AS id, i % 100 AS g FROM range(4000000) t(i)) TO '{path}' (FORMAT parquet)")
    con.close()
    p = start_proxy(origin, sources={"f": {"kind": "parquet", "files": {"big": str(path)}}})
    try:
        yield p
    finally:
        p.stop()


@pytest.mark.parametrize("prepare", [False, True])
def test_statement_timeout_cancels_a_duckdb_run(pgaccel, prepare):
    with psycopg.connect(pgaccel.dsn("postgres"), autocommit=True) as c:
        c.execute("SET statement_timeout = '300ms'")
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            c.execute(ENDLESS, prepare=prepare).fetchall()
        assert c.execute("SELECT count(*) FROM f.big").fetchone() == (4000000,)
        c.execute("SET statement_timeout = 0")
        rows = c.execute(SLOW, prepare=prepare).fetchall()
        assert len(rows) == 100 and rows[0] == (0, 40000)


def test_a_cancel_request_stops_a_duckdb_run(pgaccel):
    with psycopg.connect(pgaccel.dsn("postgres"), autocommit=True) as c:
        def cancel():
            time.sleep(0.2)
            c.cancel_safe()
        t = threading.Thread(target=cancel)
        t.start()
        with pytest.raises(psycopg.errors.QueryCanceled, match="user request"):
            c.execute(ENDLESS).fetchall()
        t.join()
        assert c.execute("SELECT 1").fetchone() == (1,)
