"""Latency of the cache's hot paths: ``python -m cache.measure``.

Prints medians (µs) of: normalise on a memo hit and a miss (and a full sqlglot parse
of the same text for comparison), CacheKey.build, lookup on a memory-front hit and
on a disk hit, for a small and a large payload.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import sqlglot

from cache.key import CacheKey, KeyScope, analyse, normalise
from cache.store import ResultCache

DASHBOARD = """
SELECT date_trunc('month', o_orderdate) AS month, c_mktsegment, count(*) AS orders,
       sum(o_totalprice) AS revenue
FROM orders JOIN customer ON c_custkey = o_custkey
WHERE o_orderdate >= DATE '1995-01-01' AND o_orderstatus = 'F'
GROUP BY 1, 2 ORDER BY 1, 2
"""
SETTINGS = {"TimeZone": "UTC", "DateStyle": "ISO, MDY", "search_path": '"$user", public',
            "IntervalStyle": "postgres", "extra_float_digits": "1", "bytea_output": "hex",
            "standard_conforming_strings": "on", "client_encoding": "UTF8", "application_name": "x"}


def bench(fn, n: int = 2000, repeat: int = 7) -> float:
    """Median over ``repeat`` runs of the mean µs per call over ``n`` calls."""
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    rows = []
    normalise(DASHBOARD)
    rows.append(("normalise, memo hit", bench(lambda: normalise(DASHBOARD), 100_000)))

    def miss():
        analyse.cache_clear()
        normalise(DASHBOARD)
    rows.append(("normalise, memo miss (tokenise + classify)", bench(miss, 300)))
    rows.append(("  for comparison: sqlglot parse_one", bench(lambda: sqlglot.parse_one(DASHBOARD, read="postgres"), 300)))

    def build():
        return CacheKey.build(DASHBOARD, role="alice", database="app", settings=SETTINGS,
                              params=[b"42"], result_formats=[1])
    rows.append(("CacheKey.build (memo hit, 9 settings, 1 param)", bench(build, 20_000)))
    scope = KeyScope.for_session("alice", "app", SETTINGS)
    rows.append(("KeyScope.key (per-session scope, 1 param)",
                 bench(lambda: scope.key(DASHBOARD, [b"42"], (), (), [1]), 20_000)))

    with tempfile.TemporaryDirectory() as d:
        for size in (2_000, 200_000):
            c = ResultCache(f"{d}/{size}", memory_bytes=64 << 20, ttl=None)
            c.generations.observe([], time.time())
            key = build()
            c.put(key, b"D" * size, c.begin([("public", "orders"), ("public", "customer")]), rows=10, sql=DASHBOARD)
            assert c.get(key, max_staleness=60)[1] == "fresh"
            rows.append((f"lookup, memory-front hit, {size // 1000} kB", bench(lambda: c.lookup(key, None, 60), 20_000)))
            rows.append((f"scope.key + lookup, memory hit, {size // 1000} kB",
                         bench(lambda: c.lookup(scope.key(DASHBOARD, [b"42"], (), (), [1]), None, 60), 20_000)))

            def disk_hit():
                c._front.clear()
                c._front_bytes = 0
                return c.lookup(key, None, 60)
            rows.append((f"lookup, disk hit (diskcache + decode), {size // 1000} kB", bench(disk_hit, 500)))
            c.close()
    for name, us in rows:
        print(f"{name:55s} {us:9.2f} µs")


if __name__ == "__main__":
    main()
