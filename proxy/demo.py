"""``pgaccel demo``: a throwaway Postgres with TPC-H sample data, mirrored into
DuckDB and served by pgaccel. Prints how a few dashboard queries fare directly
on Postgres and through pgaccel, then the psql command to try it yourself."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time

import psycopg

from .config import from_dict
from .localpg import SUPERPASS, SUPERUSER, LocalPostgres
from .observe import setup_logging
from .sample import load_tpch
from .server import ServerThread

DASHBOARD = [
    ("revenue by month",
     "SELECT date_trunc('month', o_orderdate) AS month, sum(o_totalprice) AS revenue, count(*) AS orders "
     "FROM orders GROUP BY 1 ORDER BY 1"),
    ("top 10 customers",
     "SELECT c_name, sum(o_totalprice) AS spent FROM customer JOIN orders ON o_custkey = c_custkey "
     "GROUP BY c_name ORDER BY spent DESC, c_name LIMIT 10"),
    ("shipping modes by year",
     "SELECT extract(year FROM l_shipdate)::int AS year, l_shipmode, count(*) AS lines, "
     "sum(l_extendedprice * (1 - l_discount)) AS revenue FROM lineitem GROUP BY 1, 2 ORDER BY 1, 2"),
    ("returns by nation",
     "SELECT n_name, count(*) AS returned FROM lineitem JOIN orders ON l_orderkey = o_orderkey "
     "JOIN customer ON o_custkey = c_custkey JOIN nation ON c_nationkey = n_nationkey "
     "WHERE l_returnflag = 'R' GROUP BY n_name ORDER BY returned DESC, n_name"),
    ("TPC-H Q1 pricing summary",
     "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price, "
     "count(*) AS count_order FROM lineitem WHERE l_shipdate <= date '1998-12-01' - interval '90' day "
     "GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus"),
]


# A federated chart: web analytics exported as Parquet (written by the demo), joined with
# the origin's customers. Postgres alone cannot run it.
FEDERATED = ("visits vs orders by segment (origin + Parquet)",
             "SELECT c_mktsegment, sum(v.visits) AS visits, count(DISTINCT c_custkey) AS customers "
             "FROM customer JOIN web.visits v ON v.custkey = c_custkey GROUP BY 1 ORDER BY 1")


def _write_visits(path: str, customers: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT (i % {max(customers, 1)}) + 1 AS custkey, (i * 7919) % 13 + 1 AS visits, "
                f"DATE '1998-01-01' + (i % 365)::INTEGER AS day FROM range({max(customers, 1) * 3}) t(i)) "
                f"TO '{path}' (FORMAT parquet)")
    con.close()


def _time(dsn: str, sql: str, repeat: int = 3) -> tuple[float, list]:
    best, rows = float("inf"), []
    with psycopg.connect(dsn, autocommit=True) as c:
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = c.execute(sql).fetchall()
            best = min(best, time.perf_counter() - t0)
    return best, rows


def run_demo(args) -> int:
    setup_logging("warning")
    print(f"pgaccel demo: starting a throwaway Postgres and loading TPC-H sf={args.sf} ...", flush=True)
    pg = LocalPostgres().start()
    st = None
    workdir = tempfile.mkdtemp(prefix="pgaccel-demo-")
    try:
        load_tpch(pg.dsn(), args.sf, progress=lambda m: print(m, flush=True))
        with psycopg.connect(pg.dsn(), autocommit=True) as c:
            ncust = c.execute("SELECT count(*) FROM customer").fetchone()[0]
        visits = os.path.join(workdir, "visits.parquet")
        _write_visits(visits, ncust)
        cfg = from_dict({
            "server": {"listen": f"127.0.0.1:{args.port}", "log_level": "warning"},
            "origin": {"dsn": pg.url()},
            "mirror": {"enabled": True, "path": os.path.join(workdir, "mirror.duckdb"),
                       "tables": ["public.*"]},
            "sources": {"web": {"kind": "parquet", "files": {"visits": visits}}},
        })
        print("mirroring the origin into DuckDB and starting pgaccel ...", flush=True)
        t0 = time.perf_counter()
        st = ServerThread(cfg).start()
        print(f"  ready in {time.perf_counter() - t0:.1f}s", flush=True)
        direct = pg.dsn()
        proxied = f"host=127.0.0.1 port={st.port} dbname=postgres user={SUPERUSER} password={SUPERPASS}"
        print()
        print("| query | Postgres ms | pgaccel ms | speedup | route | same rows |")
        print("|---|---:|---:|---:|---|---|")
        with psycopg.connect(proxied, autocommit=True) as c:
            for title, sql in DASHBOARD:
                route = c.execute("EXPLAIN (ROUTE) " + sql).fetchone()
                td, rd = _time(direct, sql)
                tp, rp = _time(proxied, sql)
                print(f"| {title} | {td * 1000:.1f} | {tp * 1000:.1f} | {td / tp:.1f}x | {route[0]} "
                      f"({route[1].split(':')[0]}) | {'yes' if rd == rp else 'NO'} |", flush=True)
            title, sql = FEDERATED
            route = c.execute("EXPLAIN (ROUTE) " + sql).fetchone()
            tp, rp = _time(proxied, sql)
            print(f"| {title} | (cannot) | {tp * 1000:.1f} | | {route[0]} | {len(rp)} rows |", flush=True)
        print()
        print("Connect with:")
        print(f"  PGPASSWORD={SUPERPASS} psql -h 127.0.0.1 -p {st.port} -U {SUPERUSER} postgres")
        print("and try: EXPLAIN (ROUTE) SELECT count(*) FROM lineitem;  SHOW pgaccel.freshness;")
        print("         SELECT * FROM web.visits LIMIT 5;  SHOW pgaccel.sources;")
        if args.once:
            return 0
        print("\nServing until Ctrl-C ...", flush=True)
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        done.wait()
        return 0
    finally:
        if st is not None:
            st.stop()
        pg.stop()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
