"""A dashboard reloaded by many people while the data changes: the result cache.

    .venv/bin/python bench/dashboard.py [--sf 0.1] [--seconds 10] [--clients 1,8,32]

A throwaway Postgres with TPC-H (``proxy.sample.load_tpch``), ``pgaccel serve`` (a
child process) with the mirror (logical change capture) and the result cache. Each
client (asyncpg, one connection each, prepared statements as asyncpg does) loops over
a dashboard of 11 charts for a fixed time, directly on Postgres and through pgaccel,
while a background writer changes the origin (10 transactions/s: a heartbeat row of
``orders`` and a few random orders and lineitem rows).

Before each timed window every connection prepares and runs each chart once (not
timed: asyncpg prepares with Parse/Describe/Flush, after which pgaccel relays that
statement's first execution to the origin). Printed per run: QPS, p50/p95/p99 latency of every statement, the cache hit rate
over the run (pgaccel's ``SHOW pgaccel.cache`` counters) and the staleness observed.

Staleness, measured from outside: the writer stamps ``orders.o_comment`` of order 1
with a sequence number k in each transaction and records the time just before it
sent that commit. One chart reads that row. An answer showing k, to a request sent
at time T, is stale by ``T - sent(k+1)`` when the commit of k+1 had been sent before
T (the origin stopped agreeing with the answer at most that long before the request;
this slightly over-estimates, by the commit's own latency), else 0. Its maximum is
compared with the allowed staleness (``[mirror] max_staleness``, 5 s by default).

A last run, "hits only", repeats 8 clients with the writer stopped: every answer
from the cache, to show the hit latency on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Stack, markdown_table, print_header  # noqa: E402

from proxy.localpg import SUPERPASS, SUPERUSER  # noqa: E402

HEARTBEAT = "SELECT o_comment FROM orders WHERE o_orderkey = 1"

DASHBOARD: list[tuple[str, str, tuple]] = [
    ("orders_by_priority", "SELECT o_orderpriority, count(*) AS orders, sum(o_totalprice) AS total FROM orders "
     "WHERE o_orderdate >= DATE '1995-01-01' GROUP BY o_orderpriority ORDER BY o_orderpriority", ()),
    ("pricing_summary", "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS qty, sum(l_extendedprice) AS base, "
     "count(*) AS n FROM lineitem WHERE l_shipdate <= DATE '1998-09-01' GROUP BY l_returnflag, l_linestatus "
     "ORDER BY l_returnflag, l_linestatus", ()),
    ("revenue_by_nation", "SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue FROM customer, orders, "
     "lineitem, supplier, nation, region WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND "
     "l_suppkey = s_suppkey AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey AND "
     "n_regionkey = r_regionkey AND r_name = 'ASIA' AND o_orderdate >= DATE '1994-01-01' AND "
     "o_orderdate < DATE '1995-01-01' GROUP BY n_name ORDER BY revenue DESC", ()),
    ("segments", "SELECT c_mktsegment, count(*) AS customers, sum(c_acctbal) AS balance FROM customer "
     "GROUP BY c_mktsegment ORDER BY c_mktsegment", ()),
    ("top_customers", "SELECT c_name, sum(o_totalprice) AS spent FROM customer JOIN orders ON o_custkey = c_custkey "
     "GROUP BY c_name ORDER BY spent DESC, c_name LIMIT 10", ()),
    ("brands", "SELECT p_brand, count(*) AS parts FROM part WHERE p_size BETWEEN 10 AND 20 GROUP BY p_brand "
     "ORDER BY parts DESC, p_brand LIMIT 10", ()),
    ("suppliers_by_nation", "SELECT s_nationkey, count(*) AS suppliers, sum(s_acctbal) AS balance FROM supplier "
     "GROUP BY s_nationkey ORDER BY s_nationkey", ()),
    ("ship_modes", "SELECT l_shipmode, count(*) AS n FROM lineitem WHERE l_receiptdate >= DATE '1994-01-01' "
     "AND l_receiptdate < DATE '1995-01-01' GROUP BY l_shipmode ORDER BY l_shipmode", ()),
    ("customer_orders", "SELECT count(*) AS orders, sum(o_totalprice) AS total FROM orders WHERE o_custkey = $1",
     ("custkey",)),
    ("late_lineitems", "SELECT l_shipmode, count(*) AS late FROM lineitem WHERE l_commitdate < l_receiptdate "
     "AND l_shipdate >= DATE '1996-01-01' GROUP BY l_shipmode ORDER BY l_shipmode", ()),
    ("heartbeat", HEARTBEAT, ()),
]
CUSTOMERS = list(range(1, 21))      # the dashboard's customer filter: 20 popular values


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sf", type=float, default=0.1, help="TPC-H scale factor")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each run")
    p.add_argument("--clients", default="1,8,32", help="client counts")
    p.add_argument("--writes-per-second", type=float, default=10.0)
    p.add_argument("--skip-direct", action="store_true", help="only through pgaccel")
    return p.parse_args(argv)


class Writer:
    """Changes the origin in the background; remembers when each heartbeat commit was sent."""

    def __init__(self, dsn: str, rate: float) -> None:
        self.dsn, self.rate = dsn, rate
        self.seq = 0
        self.sent: list[float] = []       # sent[k-1]: time the commit stamping k was sent
        self.task: asyncio.Task | None = None
        self.commits = 0

    async def start(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn)
        await self.conn.execute("UPDATE orders SET o_comment = '0' WHERE o_orderkey = 1")
        self.seq, self.sent = 0, []
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        rnd = random.Random(7)
        while True:
            k = self.seq + 1
            async with self.conn.transaction():
                await self.conn.execute("UPDATE orders SET o_comment = $1 WHERE o_orderkey = 1", str(k))
                for _ in range(3):
                    await self.conn.execute("UPDATE orders SET o_totalprice = o_totalprice + 0.01 "
                                            "WHERE o_orderkey = $1", rnd.randrange(1, 60000) * 4 + 1)
                    await self.conn.execute("UPDATE lineitem SET l_quantity = l_quantity + 1 "
                                            "WHERE l_orderkey = $1 AND l_linenumber = 1",
                                            rnd.randrange(1, 60000) * 4 + 1)
                self.sent.append(time.time())   # just before COMMIT goes out
            self.seq = k
            self.commits += 1
            await asyncio.sleep(1.0 / self.rate)

    def staleness(self, value: str, t_send: float) -> float:
        k = int(value) if value and value.strip().isdigit() else 0
        if k < len(self.sent) and self.sent[k] and self.sent[k] <= t_send:   # sent[k] is commit k+1
            return t_send - self.sent[k]
        return 0.0

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except BaseException:
                pass
        await self.conn.close()


async def run_clients(dsn: str, n: int, seconds: float, writer: Writer | None) -> dict:
    import asyncpg

    conns = [await asyncpg.connect(dsn, statement_cache_size=100) for _ in range(n)]
    # not timed: each connection prepares and runs every chart once (asyncpg prepares with
    # Parse/Describe/Flush; pgaccel relays the first execution after such a batch to the origin)
    for c in conns:
        for name, sql, params in DASHBOARD:
            await c.fetch(sql, *([CUSTOMERS[0]] if params else []))
    lat: list[float] = []
    stale: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(i: int, c) -> None:
        nonlocal errors
        rnd = random.Random(i)
        order = list(range(len(DASHBOARD)))
        while time.perf_counter() < stop_at:
            rnd.shuffle(order)
            for j in order:
                if time.perf_counter() >= stop_at:
                    return
                name, sql, params = DASHBOARD[j]
                args = [rnd.choice(CUSTOMERS)] if params else []
                t_wall = time.time()
                t0 = time.perf_counter()
                try:
                    rows = await c.fetch(sql, *args)
                except Exception as e:
                    errors += 1
                    if errors == 1:
                        print(f"  first error ({name}): {type(e).__name__}: {e}", flush=True)
                    if c.is_closed():
                        return
                    continue
                lat.append(time.perf_counter() - t0)
                if name == "heartbeat" and writer is not None:
                    stale.append(writer.staleness(rows[0][0], t_wall))

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i, c) for i, c in enumerate(conns)))
    elapsed = time.perf_counter() - t0
    for c in conns:
        await c.close()
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    return {"n": len(lat), "qps": len(lat) / elapsed, "p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
            "stale_max": max(stale) if stale else 0.0, "errors": errors}


async def cache_counters(dsn: str) -> dict:
    import asyncpg

    c = await asyncpg.connect(dsn)
    try:
        return {r[0]: r[1] for r in await c.fetch("SHOW pgaccel.cache")}
    finally:
        await c.close()


async def routes(dsn: str) -> list[tuple[str, str]]:
    import asyncpg

    c = await asyncpg.connect(dsn)
    try:
        out = []
        for name, sql, params in DASHBOARD:
            q = sql.replace("$1", "1") if params else sql
            r = await c.fetchrow("EXPLAIN (ROUTE) " + q)
            out.append((name, f"{r[0]} ({r[1].split(':')[0]})"))
        return out
    finally:
        await c.close()


async def bench(args, direct_dsn: str, proxy_dsn: str) -> None:
    counts = [int(x) for x in args.clients.split(",")]
    print("routes through pgaccel (before the first run):")
    for name, r in await routes(proxy_dsn):
        print(f"  {name:22s} {r}")
    print(flush=True)
    rows = []
    writer = Writer(direct_dsn, args.writes_per_second)
    await writer.start()
    try:
        for target, dsn in (("postgres", direct_dsn), ("pgaccel", proxy_dsn)):
            if target == "postgres" and args.skip_direct:
                continue
            for n in counts:
                before = await cache_counters(proxy_dsn) if target == "pgaccel" else None
                r = await run_clients(dsn, n, args.seconds, writer)
                hit = ""
                if before is not None:
                    after = await cache_counters(proxy_dsn)
                    h = int(after["hits"]) - int(before["hits"])
                    m = int(after["misses"]) - int(before["misses"])
                    hit = f"{h / max(1, h + m):.1%}"
                rows.append([target, str(n), f"{r['qps']:.0f}", f"{r['p50']:.2f}", f"{r['p95']:.2f}",
                             f"{r['p99']:.2f}", hit, f"{r['stale_max']:.2f}", str(r["errors"])])
                print(" ".join(rows[-1]), flush=True)
    finally:
        await writer.stop()
    await asyncio.sleep(6)      # the last changes applied and refreshed
    before = await cache_counters(proxy_dsn)
    await run_clients(proxy_dsn, 8, 2.0, None)     # warm every entry after the writer stopped
    before = await cache_counters(proxy_dsn)
    r = await run_clients(proxy_dsn, 8, args.seconds, None)
    after = await cache_counters(proxy_dsn)
    h = int(after["hits"]) - int(before["hits"])
    m = int(after["misses"]) - int(before["misses"])
    rows.append(["pgaccel, hits only (no writer)", "8", f"{r['qps']:.0f}", f"{r['p50']:.2f}", f"{r['p95']:.2f}",
                 f"{r['p99']:.2f}", f"{h / max(1, h + m):.1%}", "-", str(r["errors"])])
    print()
    print(markdown_table(["target", "clients", "QPS", "p50 ms", "p95 ms", "p99 ms", "cache hit rate",
                          "max staleness s", "errors"], rows))
    print(f"\nwriter: {writer.commits} transactions during the runs; allowed staleness 5 s ([mirror] max_staleness)")
    import asyncpg

    c = await asyncpg.connect(proxy_dsn)
    print("\nwhere statements went through pgaccel (SHOW pgaccel.stats):")
    for name, value in await c.fetch("SHOW pgaccel.stats"):
        if name.startswith("statements{") or name in ("mirror_fallbacks", "origin_writes"):
            print(f"  {name}: {value}")
    await c.close()
    print("\nSHOW pgaccel.cache at the end:")
    for k, v in after.items():
        if k.startswith("top") or k in ("entries", "bytes", "hit_rate", "stale_hits", "fresh_hits", "misses",
                                        "refreshes", "joined", "prewarms"):
            print(f"  {k}: {v}")


def main(argv=None) -> int:
    args = parse_args(argv)
    print_header("pgaccel result cache: a TPC-H dashboard under concurrent load and writes")
    from proxy.sample import load_tpch

    with Stack() as st:
        pg = st.start_postgres()
        print(f"loading TPC-H sf={args.sf} ...", flush=True)
        load_tpch(pg.dsn("postgres"), sf=args.sf, progress=lambda m: None)
        with __import__("psycopg").connect(pg.dsn("postgres"), autocommit=True) as c:
            c.execute("UPDATE orders SET o_comment = '0' WHERE o_orderkey = 1")
        d = st.tempdir("pgaccel-bench-dashboard-")
        port = st.start_pgaccel(pg, f"""
[mirror]
enabled = true
path = "{d}/mirror.duckdb"

[cache]
enabled = true
path = "{d}/cache"
""")
        direct = f"postgresql://{SUPERUSER}:{SUPERPASS}@127.0.0.1:{pg.port}/postgres"
        proxy = f"postgresql://{SUPERUSER}:{SUPERPASS}@127.0.0.1:{port}/postgres"
        asyncio.run(bench(args, direct, proxy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
