"""TPC-H through pgaccel: speed and exactness of the mirror against Postgres itself.

    .venv/bin/python bench/tpch.py --sf 1        # ~1 GB into Postgres: a few minutes
    .venv/bin/python bench/tpch.py --sf 0.1      # quick

One run: a throwaway Postgres; TPC-H at --sf loaded with the schema a DBA would use
(primary keys + the index on lineitem(l_partkey, l_suppkey), see shared/MEASUREMENTS.md);
a consistent snapshot of all 8 tables into a DuckDB mirror (timed per table); pgaccel
in front with that mirror. For each of the 22 queries: the route pgaccel picks
(``EXPLAIN (ROUTE)``), where it really ran (``SHOW pgaccel.stats``), the median time
directly on Postgres and through pgaccel (warm-up once, then --runs runs, psycopg,
autocommit, statement_timeout on both), and whether the results are identical: same
column names, type OIDs and typmods, and the same rows as raw text bytes (in order when
the query has ORDER BY, as sorted multisets otherwise). Differences are explained.

Everything started here is stopped at the end, also on errors and Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import REPO, Stack, markdown_table, print_header  # noqa: E402
from _tpch_common import (FallbackLog, compare, connect, counter_delta, explain_route, geomean,  # noqa: E402
                          fallback_words, has_top_level_order_by, ran_on, route_counters, run_query,
                          short_reason, simulate_mirror, time_duckdb, timed)


from proxy.localpg import SUPERPASS, SUPERUSER  # noqa: E402

# Postgres gets a fair configuration for a 24 GiB machine, printed with the results.
PG_SETTINGS = {"shared_buffers": "2GB", "work_mem": "64MB", "effective_cache_size": "8GB",
               "max_parallel_workers_per_gather": "2", "jit": "off"}
SLOT = "pgaccel_mirror"  # the slot name pgaccel serve uses for freshness


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sf", type=float, default=1.0, help="TPC-H scale factor (default 1; 0.1 for a quick run)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per query after one warm-up (median)")
    p.add_argument("--timeout", type=float, default=300.0, help="statement_timeout in seconds, both sides")
    p.add_argument("--queries", default="", help="only these query numbers, e.g. 1,6,17")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads of the mirror")
    p.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit of the mirror")
    p.add_argument("--pg-default-settings", action="store_true",
                   help=f"run Postgres with LocalPostgres defaults instead of {PG_SETTINGS}")
    p.add_argument("--no-duckdb-alone", action="store_true",
                   help="skip timing pgaccel's DuckDB SQL and DuckDB's own TPC-H text straight on the mirror "
                        "(last two columns)")
    p.add_argument("--verbose", action="store_true", help="pgaccel log at info level")
    return p.parse_args(argv)


def fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def duckdb_types(server, sql: str) -> str:
    """Column types DuckDB gives for the rewritten SQL (run on the mirror, in-process)."""
    try:
        cur = server.mirror.cursor()
        try:
            try:  # the planner's DuckDB macros (exact numeric division), as the executor installs them
                from planner import install_macros
                install_macros(cur)
            except ImportError:
                pass
            rel = cur.sql(sql.rstrip().rstrip(";"))
            return ", ".join(f"{n} {t}" for n, t in zip(rel.columns, rel.types))
        finally:
            cur.close()
    except Exception as e:  # diagnosis only
        return f"(could not run on the mirror: {str(e).splitlines()[0]})"


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from mirror.sync import run_sync
    from proxy.config import from_dict
    from proxy.sample import load_tpch, tpch_queries
    from proxy.server import ServerThread

    print_header(f"TPC-H sf={args.sf:g}: Postgres vs pgaccel (DuckDB mirror)")
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=normal", "--",
                            "proxy", "planner", "mirror", "cache"], capture_output=True, text=True).stdout.split("\n")
    dirty = [ln[3:] for ln in dirty if ln.strip()]
    if dirty:  # others work in this checkout: say what the run measured beyond HEAD
        print(f"working tree beyond HEAD: {', '.join(dirty[:12])}{' ...' if len(dirty) > 12 else ''}\n")
    settings = {} if args.pg_default_settings else PG_SETTINGS
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + " (machines are shared: compare the ratios of one run, not absolute times)")
    print(f"postgres settings: {settings or 'LocalPostgres defaults'}; mirror: threads={args.threads}, "
          f"memory_limit={args.memory_limit}; runs: 1 warm-up + median of {args.runs}; "
          f"statement_timeout {args.timeout:g}s\n", flush=True)

    queries = tpch_queries()
    native = dict(queries)  # DuckDB's own texts (the bench sends them to Postgres and pgaccel too)
    if args.queries:
        wanted = {int(x) for x in args.queries.split(",") if x.strip()}
        queries = [(n, q) for n, q in queries if n in wanted]

    # Ctrl-C / kill -INT stops the run and cleans up, also when started from a shell that
    # ignores SIGINT for background jobs (Stack turns SIGTERM into the same).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    st = None
    with Stack() as stack:
        try:
            pg = stack.start_postgres(**settings)
            dsn = pg.dsn()
            print(f"throwaway Postgres on 127.0.0.1:{pg.port} ({pg.datadir})", flush=True)

            print(f"loading TPC-H sf={args.sf:g} into Postgres ...", flush=True)
            t0 = time.perf_counter()
            counts = load_tpch(dsn, args.sf, progress=lambda m: print(m, flush=True))
            load_s = time.perf_counter() - t0

            workdir = stack.tempdir("pgaccel-bench-tpch-")
            path = os.path.join(workdir, "mirror.duckdb")
            print("snapshot of the origin into the DuckDB mirror ...", flush=True)
            report = run_sync(pg.url(), path, ["public.*"], progress=None, slot=SLOT,
                              threads=args.threads, memory_limit=args.memory_limit)
            for line in report.lines():
                print("  " + line)
            if report.failed:
                raise RuntimeError("snapshot failed for " + ", ".join(f"{t.name}: {t.error}" for t in report.failed))
            li = next((t for t in report.tables if t.name == "lineitem"), None)

            cfg = from_dict({
                "server": {"listen": "127.0.0.1:0", "log_level": "info" if args.verbose else "warning",
                           "shutdown_timeout": 5},
                "origin": {"dsn": pg.url()},
                "mirror": {"enabled": True, "path": path, "tables": ["public.*"],
                           "threads": args.threads, "memory_limit": args.memory_limit},
            })
            t0 = time.perf_counter()
            st = ServerThread(cfg).start()
            if st.server is None or not st._thread.is_alive():
                raise RuntimeError("pgaccel did not start (see the traceback above)")
            print(f"pgaccel ready on port {st.port} in {time.perf_counter() - t0:.1f}s\n", flush=True)
            proxied = f"host=127.0.0.1 port={st.port} dbname=postgres user={SUPERUSER} password={SUPERPASS}"

            rows, results = [], []
            with connect(dsn) as direct, connect(proxied) as acc, FallbackLog() as fallbacks:
                timeout_ms = int(args.timeout * 1000)
                direct.execute(f"SET statement_timeout = {timeout_ms}")
                acc.execute(f"SET statement_timeout = {timeout_ms}")
                for n, sql in queries:
                    route, reason, rsql = explain_route(acc, sql)
                    pres, pmed, _ = timed(direct, sql, args.runs)
                    fallbacks.take()
                    before = route_counters(acc)
                    ares, amed, _ = timed(acc, sql, args.runs)
                    where, why_there = ran_on(counter_delta(before, route_counters(acc)))
                    fell_back = fallback_words(fallbacks.take())
                    ordered = has_top_level_order_by(sql)
                    same, why = compare(pres, ares, ordered)
                    if pres.timeout:
                        same, why = None, f"Postgres timed out after {args.timeout:g}s"
                    # the same once more with binary results (what JDBC, asyncpg, psycopg binary get)
                    bsame, bwhy = (compare(run_query(direct, sql, binary=True), run_query(acc, sql, binary=True),
                                           ordered) if pres.ok else (None, ""))
                    speed = pmed / amed if pmed and amed else None
                    dmed = nmed = None
                    if route == "mirror" and rsql and not args.no_duckdb_alone:
                        cur = st.server.mirror.cursor()
                        try:
                            dmed, _derr = time_duckdb(cur, rsql, args.runs)
                            # DuckDB's own text of the query (its types, not Postgres'), same data:
                            # how fast DuckDB itself is, without pgaccel's translation
                            cur.execute("SET search_path = 'public'")
                            nmed, _nerr = time_duckdb(cur, native.get(n, ""), args.runs)
                        finally:
                            cur.close()
                    results.append(dict(n=n, pg=pmed, acc=amed, speed=speed, route=route, ran=where,
                                        ran_reason=why_there, fell_back=fell_back, duck=dmed, native=nmed,
                                        same=same, why=why,
                                        bsame=bsame, bwhy=bwhy, reason=reason, rsql=rsql, sql=sql, pres=pres,
                                        ares=ares))
                    pg_cell = (f">{args.timeout:g} (timeout)" if pres.timeout else
                               fmt_s(pmed) if pmed is not None else f"error: {short_reason(pres.error or '', 30)}")
                    acc_cell = (fmt_s(amed) if amed is not None else
                                f"error: {short_reason(ares.error or '', 30)}")
                    route_cell = route if where in (route, "?") else f"{route}, ran on {where}: {why_there}"
                    row = [f"Q{n:02d}", pg_cell, acc_cell, f"{speed:.1f}x" if speed else "—", route_cell,
                           short_reason(reason), {True: "yes", False: "NO", None: "n/a"}[same], fmt_s(dmed),
                           fmt_s(nmed)]
                    rows.append(row)
                    print(f"  Q{n:02d}: pg {pg_cell} s, pgaccel {acc_cell} s, {row[3]}, {route_cell}, "
                          f"identical {row[6]}", flush=True)

            header = ["query", "Postgres s", "pgaccel s", "speedup", "route", "reason", "identical",
                      "DuckDB alone s", "DuckDB native s"]
            print()
            print(markdown_table(header, rows))
            print("\nDuckDB alone: the DuckDB SQL of the route run straight on the mirror, in-process "
                  "(what pgaccel adds on top: origin Describe, privilege check, encoding, the wire). "
                  "DuckDB native: DuckDB's own TPC-H query text (tpch extension) on the same mirror, "
                  "in-process: the speed of DuckDB itself, without pgaccel's translation (its result "
                  "types are DuckDB's, not Postgres').\n")

            bad = [r for r in results if r["same"] is not True or r["bsame"] is False
                   or (r["route"] == "mirror" and r["ran"] != "mirror")]
            for r in bad:
                if r["route"] == "mirror" and r["ran"] != "mirror":
                    print(f"### Q{r['n']:02d} routed to the mirror but ran on {r['ran']} ({r['ran_reason']})")
                    for m in r["fell_back"]:
                        print(f"pgaccel: {m}")
                    if r["rsql"] and r["pres"].ok and st.server.mirror is not None:
                        cur = st.server.mirror.cursor()
                        try:
                            sim = simulate_mirror(cur, r["rsql"], r["pres"])
                        finally:
                            cur.close()
                        ssame, swhy = compare(r["pres"], sim, has_top_level_order_by(r["sql"]))
                        print(f"had the mirror answered (DuckDB SQL + pgaccel's encoders, run here): "
                              f"identical {'yes' if ssame else 'NO: ' + swhy}"
                              + (f", DuckDB {sim.seconds:.3f}s" if sim.ok else "")
                              + (f" [{sim.note}]" if sim.note else ""))
                if r["same"] is not True:
                    print(f"### Q{r['n']:02d} not identical: {r['why']}")
                if r["bsame"] is False:
                    print(f"### Q{r['n']:02d} binary results not identical: {r['bwhy']}")
                print(f"route {r['route']} ({r['reason']}); ran on {r['ran']}")
                if r["rsql"] and r["route"] == "mirror" and st.server.mirror is not None:
                    print(f"DuckDB column types: {duckdb_types(st.server, r['rsql'])}")
                    print("DuckDB SQL:\n" + r["rsql"].strip())
                print()

            n = len(results)
            identical = sum(1 for r in results if r["same"] is True)
            mirrored = sum(1 for r in results if r["route"] == "mirror")
            ran_mirror = sum(1 for r in results if r["ran"] == "mirror")
            g_all = geomean([r["speed"] for r in results])
            g_mir = geomean([r["speed"] for r in results if r["ran"] == "mirror"])
            pg_total = sum(r["pg"] for r in results if r["pg"])
            acc_total = sum(r["acc"] for r in results if r["acc"])
            timeouts = [f"Q{r['n']:02d}" for r in results if r["pres"].timeout]
            print("## Summary")
            bin_same = sum(1 for r in results if r["bsame"] is True)
            print(f"- identical results: {identical} of {n} (target: all 22); "
                  f"with binary result format: {bin_same} of {n}")
            print(f"- routed to the mirror (EXPLAIN (ROUTE)): {mirrored} of {n}; really answered by the mirror: "
                  f"{ran_mirror} of {n} (target: >= 20 of 22)")
            print(f"- geometric-mean speedup: {g_all:.1f}x over {sum(1 for r in results if r['speed'])} queries"
                  if g_all else "- geometric-mean speedup: n/a", end="")
            print(f"; {g_mir:.1f}x over the {sum(1 for r in results if r['ran'] == 'mirror' and r['speed'])} "
                  f"answered by the mirror (target: >= 15x over all 22)" if g_mir else "")
            print(f"- total of medians: Postgres {pg_total:.1f}s, pgaccel {acc_total:.1f}s")
            nat = [(r["pg"], r["native"], r["duck"]) for r in results if r["pg"] and r["native"] and r["duck"]]
            if nat:
                print(f"- DuckDB itself (same mirror, in-process, no wire): geometric-mean speedup over Postgres "
                      f"{geomean([p / d for p, _, d in nat]):.1f}x with pgaccel's DuckDB SQL, "
                      f"{geomean([p / x for p, x, _ in nat]):.1f}x with DuckDB's own TPC-H text "
                      f"({len(nat)} queries)")
            lost = [r for r in results if r["route"] == "mirror" and r["ran"] != "mirror" and r["duck"] and r["pg"]]
            if lost:  # what the fallbacks cost, if the mirror had answered them at DuckDB-alone speed
                proj = geomean([r["pg"] / r["duck"] if r in lost else r["speed"] for r in results])
                names = ", ".join(f"Q{r['n']:02d}" for r in lost)
                print(f"- projection, not a measurement: with the {len(lost)} routed-but-fallen-back queries "
                      f"({names}) at their DuckDB-alone time, the geometric "
                      f"mean would be {proj:.1f}x")
            if timeouts:
                print(f"- Postgres timeouts ({args.timeout:g}s): {', '.join(timeouts)}")
            print("- load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
            print(f"- load into Postgres: {load_s:.1f}s ({sum(counts.values()):,} rows incl. indexes, VACUUM ANALYZE)")
            if li is not None:
                print(f"- mirror snapshot: {report.seconds:.1f}s for {report.rows:,} rows; lineitem {li.rows:,} rows "
                      f"in {li.seconds:.1f}s = {li.rows_per_second:,.0f} rows/s")
            return 0 if identical == n else 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping everything", file=sys.stderr)
            return 130
        finally:
            if st is not None:
                st.stop()
            # Stack.__exit__ stops Postgres and removes the temp dirs


if __name__ == "__main__":
    sys.exit(main())
