"""Federation: TPC-H split across four stores, joined by one query, four ways.

    ./run bench federation               # sf 1 (~1 GB): about 7 minutes, mostly loading
    ./run bench federation --sf 0.1      # quick; at this size pgaccel's fixed per-query cost shows

TPC-H at --sf (DuckDB's tpch extension, loaded into Postgres with bench's usual keys
and indexes) is split the way a company's data is:

    origin Postgres (database "origin")          orders, lineitem
    MariaDB (a database of this run's own)       customer, nation      -> crm.customer, crm.nation
    a Parquet file                               part                  -> files.part
    a second Postgres database ("remote")        supplier, partsupp, region -> sup.supplier, ...

and a few join-aggregate queries over them (one SQL text, below) are timed four ways:

    pgaccel live      pgaccel in front of the origin, origin tables from its DuckDB mirror,
                      the sources read by DuckDB's scanners at each query
    pgaccel mirrored  the same with every source copied into the mirror (mirror = "full")
    postgres_fdw      what a Postgres user does today: a database with orders/lineitem and
                      foreign tables (IMPORT FOREIGN SCHEMA, schemas crm/files/sup) over the
                      other tables in a second Postgres database, defaults otherwise
    one Postgres      everything copied into one Postgres database, same schemas

Each: psycopg, autocommit, one warm-up run, then the median of --runs runs. The four
answers are compared (column names, type OIDs, rows as text bytes, in order). Ratios are
the postgres_fdw time divided by the other time (higher: faster than postgres_fdw).

Everything started here (Postgres, pgaccel, the MariaDB database, files) is stopped or
removed at the end, also on errors and Ctrl-C / SIGTERM. Loopback only.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Stack, markdown_table, print_header  # noqa: E402
from _tpch_common import compare, connect, explain_route, geomean, short_reason, time_duckdb, timed  # noqa: E402

from proxy.localpg import SUPERPASS, SUPERUSER  # noqa: E402

PG_SETTINGS = {"shared_buffers": "1GB", "work_mem": "64MB", "effective_cache_size": "4GB",
               "max_parallel_workers_per_gather": "2", "jit": "off"}
MYSQL = shutil.which("mysql") or shutil.which("mariadb") or "/usr/bin/mysql"
ORIGIN_TABLES = ("orders", "lineitem")
PLACEMENT = {"crm": ("customer", "nation"), "files": ("part",), "sup": ("supplier", "partsupp", "region")}
MYSQL_DDL = {
    "customer": "c_custkey int PRIMARY KEY, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL,"
                " c_nationkey int NOT NULL, c_phone varchar(15) NOT NULL, c_acctbal decimal(15,2) NOT NULL,"
                " c_mktsegment varchar(10) NOT NULL, c_comment varchar(117) NOT NULL, KEY (c_nationkey)",
    "nation": "n_nationkey int PRIMARY KEY, n_name varchar(25) NOT NULL, n_regionkey int NOT NULL,"
              " n_comment varchar(152)",
}

QUERIES = [
    ("F1", "origin + crm", "revenue by customer nation, 1994",
     "SELECT n.n_name, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue, count(*) AS lines"
     " FROM lineitem l JOIN orders o ON o.o_orderkey = l.l_orderkey"
     " JOIN crm.customer c ON c.c_custkey = o.o_custkey"
     " JOIN crm.nation n ON n.n_nationkey = c.c_nationkey"
     " WHERE o.o_orderdate >= date '1994-01-01' AND o.o_orderdate < date '1995-01-01'"
     " GROUP BY n.n_name ORDER BY revenue DESC, n.n_name"),
    ("F2", "origin + files", "revenue by part brand, one quarter",
     "SELECT p.p_brand, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue, sum(l.l_quantity) AS qty"
     " FROM lineitem l JOIN files.part p ON p.p_partkey = l.l_partkey"
     " WHERE l.l_shipdate >= date '1995-09-01' AND l.l_shipdate < date '1995-12-01'"
     " GROUP BY p.p_brand ORDER BY revenue DESC, p.p_brand"),
    ("F3", "origin + sup + crm", "returned volume by supplier region and nation",
     "SELECT r.r_name, n.n_name, sum(l.l_extendedprice) AS volume, count(DISTINCT l.l_orderkey) AS orders"
     " FROM lineitem l JOIN sup.supplier s ON s.s_suppkey = l.l_suppkey"
     " JOIN crm.nation n ON n.n_nationkey = s.s_nationkey"
     " JOIN sup.region r ON r.r_regionkey = n.n_regionkey"
     " WHERE l.l_returnflag = 'R'"
     " GROUP BY r.r_name, n.n_name ORDER BY r.r_name, volume DESC, n.n_name"),
    ("F4", "origin + crm + files + sup", "list value of small parts by segment and year",
     "SELECT c.c_mktsegment, extract(year FROM o.o_orderdate) AS year, count(DISTINCT o.o_orderkey) AS orders,"
     " sum(l.l_quantity * p.p_retailprice) AS list_value"
     " FROM orders o JOIN lineitem l ON l.l_orderkey = o.o_orderkey"
     " JOIN crm.customer c ON c.c_custkey = o.o_custkey"
     " JOIN files.part p ON p.p_partkey = l.l_partkey"
     " JOIN sup.supplier s ON s.s_suppkey = l.l_suppkey"
     " WHERE p.p_size < 10 AND s.s_acctbal > 0"
     " GROUP BY 1, 2 ORDER BY 1, 2"),
    ("F5", "sup + files + crm", "cheapest supply cost by supplier nation and manufacturer",
     "SELECT n.n_name, p.p_mfgr, min(ps.ps_supplycost) AS min_cost, sum(ps.ps_availqty) AS available"
     " FROM sup.partsupp ps JOIN files.part p ON p.p_partkey = ps.ps_partkey"
     " JOIN sup.supplier s ON s.s_suppkey = ps.ps_suppkey"
     " JOIN crm.nation n ON n.n_nationkey = s.s_nationkey"
     " GROUP BY n.n_name, p.p_mfgr ORDER BY n.n_name, p.p_mfgr"),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sf", type=float, default=1.0, help="TPC-H scale factor (default 1; 0.1 for a quick run)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per query after one warm-up (median)")
    p.add_argument("--timeout", type=float, default=600.0, help="statement_timeout in seconds")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads of pgaccel's mirror")
    p.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit of pgaccel's mirror")
    p.add_argument("--mysql-port", type=int, default=3306, help="MariaDB on 127.0.0.1 (user root, no password)")
    p.add_argument("--queries", default="", help="only these, e.g. F1,F4")
    p.add_argument("--verbose", action="store_true", help="pgaccel log at info level")
    return p.parse_args(argv)


def fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def as_federation_types(res):
    """The result with the OIDs pgaccel's federation gives for the same columns: a varchar
    column comes back as text (DuckDB VARCHAR -> text, the documented mapping), typmod -1."""
    import dataclasses

    if res is None or not res.ok:
        return res
    return dataclasses.replace(res, oids=[25 if o == 1043 else o for o in res.oids],
                               typmods=[-1 if o == 1043 else t for o, t in zip(res.oids, res.typmods)])


def ratio(base: float | None, x: float | None) -> str:
    return f"{base / x:.1f}x" if base and x else "—"


# ---------------------------------------------------------------- the stores

def mysql(port: int, sql: str, database: str = "") -> None:
    argv = [MYSQL, "-h", "127.0.0.1", "-P", str(port), "-u", "root", "--batch"] + ([database] if database else [])
    out = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"mysql: {out.stderr.strip()}")


def psql(pg, sql: str, db: str) -> None:
    pg.psql(sql, dbname=db)


def build_postgres_side(pg, sf: float) -> None:
    """Databases origin, remote, fdw, allinone, cloned from one TPC-H load."""
    from proxy.sample import TPCH_TABLES, load_tpch

    pg.psql("CREATE DATABASE tpch_full")
    load_tpch(pg.dsn("tpch_full"), sf, progress=lambda m: print(m, flush=True))
    t0 = time.perf_counter()
    for db in ("origin", "remote", "fdw", "allinone"):
        pg.psql(f"CREATE DATABASE {db} TEMPLATE tpch_full")
    pg.psql("DROP DATABASE tpch_full")
    others = [t for t in TPCH_TABLES if t not in ORIGIN_TABLES]
    psql(pg, f"DROP TABLE {', '.join(others)}", "origin")
    psql(pg, f"DROP TABLE {', '.join(ORIGIN_TABLES)}", "remote")
    moves = " ".join(f"CREATE SCHEMA {s}; " + " ".join(f"ALTER TABLE {t} SET SCHEMA {s};" for t in ts)
                     for s, ts in PLACEMENT.items())
    psql(pg, moves, "allinone")
    psql(pg, f"DROP TABLE {', '.join(others)};"
             " CREATE EXTENSION postgres_fdw;"
             f" CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1',"
             f" port '{pg.port}', dbname 'remote');"
             f" CREATE USER MAPPING FOR {SUPERUSER} SERVER remote OPTIONS (user '{SUPERUSER}', password '{SUPERPASS}');"
             + " ".join(f" CREATE SCHEMA {s}; IMPORT FOREIGN SCHEMA public LIMIT TO ({', '.join(ts)})"
                        f" FROM SERVER remote INTO {s};" for s, ts in PLACEMENT.items()), "fdw")
    # what a DBA does after importing: statistics of the foreign tables
    psql(pg, "ANALYZE " + ", ".join(f"{s}.{t}" for s, ts in PLACEMENT.items() for t in ts), "fdw")
    for db in ("origin", "remote", "allinone"):
        psql(pg, "VACUUM ANALYZE", db)
    print(f"  databases origin, remote, fdw (postgres_fdw), allinone ready in {time.perf_counter() - t0:.1f}s",
          flush=True)


def build_mysql_and_files(pg, mysql_port: int, mysql_db: str, parquet: str) -> None:
    """customer and nation into MariaDB, part into Parquet, from the Postgres copy (same values)."""
    import duckdb

    from mirror.extensions import load_extension

    t0 = time.perf_counter()
    mysql(mysql_port, "".join(f"CREATE TABLE {t} ({ddl});" for t, ddl in MYSQL_DDL.items()), mysql_db)
    con = duckdb.connect()
    try:
        load_extension(con, "postgres")
        load_extension(con, "mysql")
        con.execute(f"ATTACH '{pg.dsn('remote')}' AS pg (TYPE postgres, READ_ONLY)")
        con.execute(f"ATTACH 'host=127.0.0.1 port={mysql_port} user=root database={mysql_db}' AS my (TYPE mysql)")
        for t in PLACEMENT["crm"]:
            con.execute(f"INSERT INTO my.{mysql_db}.{t} SELECT * FROM pg.public.{t}")
        con.execute(f"COPY (SELECT * FROM pg.public.part ORDER BY p_partkey) TO '{parquet}' (FORMAT parquet)")
    finally:
        con.close()
    mysql(mysql_port, "ANALYZE TABLE customer, nation;", mysql_db)
    print(f"  MariaDB {mysql_db} (customer, nation) and {os.path.basename(parquet)} ready in "
          f"{time.perf_counter() - t0:.1f}s", flush=True)


def pgaccel_config(pg, args, mirror_path: str, sources_mirror: str, mysql_db: str, parquet: str):
    from proxy.config import from_dict

    return from_dict({
        "server": {"listen": "127.0.0.1:0", "log_level": "info" if args.verbose else "warning",
                   "shutdown_timeout": 5},
        "origin": {"dsn": pg.url("origin")},
        "mirror": {"enabled": True, "path": mirror_path, "tables": ["public.*"], "mode": "snapshot",
                   "max_staleness": -1, "threads": args.threads, "memory_limit": args.memory_limit},
        "sources": {
            "crm": {"kind": "mysql", "dsn": f"host=127.0.0.1 port={args.mysql_port} user=root database={mysql_db}",
                    "mirror": sources_mirror, "every": "1h"},
            "files": {"kind": "parquet", "files": {"part": parquet}, "mirror": sources_mirror, "every": "1h"},
            "sup": {"kind": "postgres", "dsn": pg.url("remote"), "mirror": sources_mirror, "every": "1h",
                    "tables": [f"public.{t}" for t in PLACEMENT["sup"]]},
        },
    })


def wait_sources_mirrored(dsn: str, timeout: float) -> str:
    """Wait until SHOW pgaccel.sources gives every source a lag (its copy exists); return a summary."""
    deadline = time.monotonic() + timeout
    rows = []
    with connect(dsn) as conn:
        while time.monotonic() < deadline:
            cur = conn.execute("SHOW pgaccel.sources")
            names = [d.name for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
            if rows and all(r.get("lag_seconds") not in (None, "") and r.get("state") == "up" for r in rows):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"sources not mirrored after {timeout:.0f}s: {rows}")
    return ", ".join(f"{r['source']}: {r['mirror']}, {r['state']}, tables {r['tables']}" for r in rows)


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from proxy.server import ServerThread

    print_header(f"Federation: TPC-H sf={args.sf:g} split across Postgres, MariaDB, Parquet and a second "
                 "Postgres database")
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + " (machines are shared: compare the ratios of one run, not absolute times)")
    print(f"postgres settings: {PG_SETTINGS}; pgaccel mirror: threads={args.threads}, "
          f"memory_limit={args.memory_limit}; runs: 1 warm-up + median of {args.runs}\n", flush=True)
    try:
        with socket.create_connection(("127.0.0.1", args.mysql_port), timeout=2):
            pass
    except OSError as e:
        print(f"no MariaDB on 127.0.0.1:{args.mysql_port} ({e}): cannot run", file=sys.stderr)
        return 2
    queries = QUERIES
    if args.queries:
        wanted = {q.strip().upper() for q in args.queries.split(",")}
        queries = [q for q in QUERIES if q[0] in wanted]

    signal.signal(signal.SIGINT, signal.default_int_handler)
    mysql_db = "pgaccel_bench_" + uuid.uuid4().hex[:8]
    mysql_created = False
    servers = []
    results: dict[str, dict[str, tuple]] = {q[0]: {} for q in queries}
    routes: dict[str, dict[str, str]] = {q[0]: {} for q in queries}
    duck_alone: dict[str, float | None] = {}
    notes = []
    with Stack() as stack:
        try:
            pg = stack.start_postgres(**PG_SETTINGS)
            print(f"throwaway Postgres on 127.0.0.1:{pg.port}; loading TPC-H sf={args.sf:g} ...", flush=True)
            build_postgres_side(pg, args.sf)
            work = stack.tempdir("pgaccel-bench-federation-")
            parquet = os.path.join(work, "part.parquet")
            mysql(args.mysql_port, f"CREATE DATABASE {mysql_db}")
            mysql_created = True
            build_mysql_and_files(pg, args.mysql_port, mysql_db, parquet)
            timeout_ms = int(args.timeout * 1000)

            def measure(label: str, dsn: str, server=None) -> None:
                with connect(dsn) as conn:
                    conn.execute(f"SET statement_timeout = {timeout_ms}")
                    for qid, _, _, sql in queries:
                        if server is not None:
                            route, reason, rsql = explain_route(conn, sql)
                            routes[qid][label] = route if route == "federation" else f"{route}: {short_reason(reason)}"
                            if label == "pgaccel mirrored" and rsql:
                                # pgaccel's DuckDB SQL straight on its DuckDB (sources attached there)
                                cur = server.server.mirror.cursor()
                                try:
                                    duck_alone[qid], _err = time_duckdb(cur, rsql, args.runs)
                                finally:
                                    cur.close()
                        res, med, _ = timed(conn, sql, args.runs)
                        results[qid][label] = (res, med)
                        cell = fmt_s(med) if med is not None else f"error: {short_reason(res.error or '', 60)}"
                        print(f"  {label:17s} {qid}: {cell}", flush=True)

            print("\npostgres_fdw (database fdw: local orders/lineitem, foreign tables over database remote)",
                  flush=True)
            measure("postgres_fdw", pg.dsn("fdw"))
            print("one Postgres (database allinone)", flush=True)
            measure("one Postgres", pg.dsn("allinone"))

            mirror_path = os.path.join(work, "mirror.duckdb")
            for label, mode in (("pgaccel live", "live"), ("pgaccel mirrored", "full")):
                t0 = time.perf_counter()
                st = ServerThread(pgaccel_config(pg, args, mirror_path, mode, mysql_db, parquet)).start()
                servers.append(st)
                dsn = f"host=127.0.0.1 port={st.port} dbname=origin user={SUPERUSER} password={SUPERPASS}"
                summary = wait_sources_mirrored(dsn, 1800) if mode == "full" else ""
                print(f"{label}: pgaccel ready in {time.perf_counter() - t0:.1f}s"
                      + (f" (origin snapshot{', sources copied: ' + summary if summary else ''})"), flush=True)
                measure(label, dsn, server=st)
                st.stop()
                servers.remove(st)
        except KeyboardInterrupt:
            print("\ninterrupted: cleaning up", file=sys.stderr)
            return 130
        finally:
            for st in servers:
                try:
                    st.stop()
                except Exception as e:  # keep cleaning up
                    print(f"warning: stopping pgaccel: {e}", file=sys.stderr)
            if mysql_created:
                try:
                    mysql(args.mysql_port, f"DROP DATABASE IF EXISTS {mysql_db}")
                except Exception as e:
                    print(f"warning: could not drop MariaDB database {mysql_db}: {e}", file=sys.stderr)

    labels = ["postgres_fdw", "one Postgres", "pgaccel live", "pgaccel mirrored"]
    rows, bad = [], []
    for qid, where, _title, sql in queries:
        r = results[qid]
        base = r.get("postgres_fdw", (None, None))
        same_all = True
        for label in labels[1:]:
            other = r.get(label)
            if base[0] is None or other is None:
                same_all = False
                continue
            same, why = compare(as_federation_types(base[0]), as_federation_types(other[0]), ordered=True)
            if not same:
                same_all = False
                bad.append(f"{qid} {label} vs postgres_fdw: {why}")
        med = {label: r.get(label, (None, None))[1] for label in labels}
        fdw = med["postgres_fdw"]
        route = "; ".join(sorted({routes[qid].get(k, "?") for k in ("pgaccel live", "pgaccel mirrored")}))
        rows.append([qid, where, fmt_s(fdw), fmt_s(med["one Postgres"]), fmt_s(med["pgaccel live"]),
                     fmt_s(med["pgaccel mirrored"]), ratio(fdw, med["one Postgres"]), ratio(fdw, med["pgaccel live"]),
                     ratio(fdw, med["pgaccel mirrored"]), fmt_s(duck_alone.get(qid)), route,
                     "yes" if same_all else "NO"])
    print()
    print(markdown_table(["query", "sources", "postgres_fdw s", "one Postgres s", "pgaccel live s",
                          "pgaccel mirrored s", "one PG vs fdw", "live vs fdw", "mirrored vs fdw",
                          "DuckDB alone s", "route", "identical"], rows))
    print("\nDuckDB alone: pgaccel's DuckDB SQL for the mirrored run (EXPLAIN (ROUTE)) timed straight on its\n"
          "DuckDB, in-process: what pgaccel adds on top is the origin's describe, the privilege check and the wire.")

    def gm(label):
        xs = [results[q[0]]["postgres_fdw"][1] / results[q[0]][label][1] for q in queries
              if results[q[0]].get("postgres_fdw", (0, None))[1] and results[q[0]].get(label, (0, None))[1]]
        return geomean(xs) if len(xs) == len(queries) else None

    print("\ngeometric mean of the ratios vs postgres_fdw: "
          + ", ".join(f"{label} {g:.1f}x" if (g := gm(label)) else f"{label} —" for label in labels[1:]))
    g = gm("pgaccel mirrored")
    print("target (mirrored >= 10x faster than postgres_fdw on every query): "
          + ("met" if all(results[q[0]].get("pgaccel mirrored", (0, None))[1] and
                          results[q[0]]["postgres_fdw"][1] / results[q[0]]["pgaccel mirrored"][1] >= 10
                          for q in queries) else "NOT met" + (f" (geomean {g:.1f}x)" if g else "")))
    print("\nqueries:")
    for qid, where, title, sql in queries:
        print(f"  {qid} ({where}): {title}\n      {sql}")
    for n in notes:
        print(n)
    if bad:
        print("\ndifferences:")
        for b in bad:
            print("  " + b)
        return 1
    print("\nall four answers identical for every query (names, type OIDs, typmods, text rows in order;\n"
          "Postgres's varchar counted as text, the type pgaccel's federation documents for it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
