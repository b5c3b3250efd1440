"""TPC-H through the planner: the 22 queries on SF 0.01 data, Postgres vs the
planner's DuckDB translation.

DuckDB generates the data (``CALL dbgen``) and is the mirror; the same rows are
copied into Postgres with matching types (BIGINT/INTEGER, numeric(15,2), varchar,
date). Every query the planner routes to the mirror must give identical results
(numerics with their display scale); at least 20 of 22 must be routed there.
"""

from __future__ import annotations

import glob
import os
import time
import uuid

import duckdb
import psycopg
import pytest

from planner import Planner, SessionContext, install_macros
from planner.testing import MirrorCatalog, MirrorColumn, MirrorTable
from tests.differential.test_transpile_queries import OID_NAMES, _has_order, _norm, _sortkey

PG_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "DATE": "date", "VARCHAR": "character varying",
            "DECIMAL(15,2)": "numeric(15,2)"}
RESULTS: dict[int, str] = {}


def _extension() -> str:
    import duckdb_extension_tpch

    base = os.path.dirname(duckdb_extension_tpch.__file__)
    found = glob.glob(os.path.join(base, "extensions", "*", "tpch.duckdb_extension"))
    if not found:
        pytest.skip("tpch extension binary not installed")
    return found[0]


@pytest.fixture(scope="module")
def tpch(origin):
    duck = duckdb.connect()
    duck.execute(f"LOAD '{_extension()}'")
    duck.execute("CALL dbgen(sf=0.01)")
    install_macros(duck)
    queries = dict(duck.execute("SELECT query_nr, query FROM tpch_queries()").fetchall())
    cat = MirrorCatalog(1, {}, "C.UTF-8")
    db = "tpch_" + uuid.uuid4().hex[:8]
    origin.psql(f"CREATE DATABASE {db}")
    try:
        with psycopg.connect(origin.dsn(db), autocommit=True) as pg:
            for (table,) in duck.execute("SHOW TABLES").fetchall():
                cols = [(n, t) for n, t, *_ in duck.execute(f"DESCRIBE {table}").fetchall()]
                pg.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {PG_TYPES[t]}' for n, t in cols)})")
                names = ", ".join(n for n, _ in cols)
                rows = duck.execute(f"SELECT {names} FROM {table}").fetchall()
                with pg.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
                cat.tables[("public", table)] = MirrorTable(
                    "public", table, tuple(MirrorColumn(n, PG_TYPES[t], duckdb_type=t) for n, t in cols),
                    "main", table)
            pg.execute("CREATE INDEX ON lineitem (l_partkey, l_suppkey)")
            pg.execute("ANALYZE")
            yield pg, duck, queries, cat
    finally:
        origin.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        duck.close()
        mirrored = sorted(q for q, r in RESULTS.items() if r == "mirror")
        print(f"\nTPC-H: {len(mirrored)}/22 routed to the mirror with identical results: {mirrored}; "
              f"origin: { {q: r for q, r in RESULTS.items() if r != 'mirror'} }")


PLANNER = Planner()
CTX = SessionContext(search_path=("public",), in_transaction=False)


@pytest.mark.slow
@pytest.mark.parametrize("q", range(1, 23))
def test_tpch_query(tpch, q):
    pg, duck, queries, cat = tpch
    sql = queries[q]
    t0 = time.perf_counter()
    route = PLANNER.decide(sql, CTX, cat)
    plan_ms = (time.perf_counter() - t0) * 1000
    if route.target != "mirror":
        RESULTS[q] = f"{route.reason}: {route.detail}"
        return
    cur = pg.execute(sql)
    types = [OID_NAMES.get(d.type_code, str(d.type_code)) for d in cur.description]
    assert [c[1] for c in route.columns] == types
    assert [c[0] for c in route.columns] == [d.name for d in cur.description]
    want = [tuple(_norm(v, t) for v, t in zip(r, types)) for r in cur.fetchall()]
    table = duck.execute(route.sql).to_arrow_table()
    rows = list(zip(*[c.to_pylist() for c in table.columns])) if table.num_rows else []
    got = [tuple(_norm(v, t) for v, t in zip(r, types)) for r in rows]
    if not _has_order(sql):
        got, want = sorted(got, key=_sortkey), sorted(want, key=_sortkey)
    assert got == want, route.sql
    RESULTS[q] = "mirror"
    print(f" Q{q}: planned in {plan_ms:.1f} ms, {len(got)} rows identical")


@pytest.mark.slow
def test_tpch_at_least_20_of_22_on_the_mirror(tpch):
    for q in range(1, 23):
        if q not in RESULTS:
            test_tpch_query(tpch, q)
    mirrored = [q for q, r in RESULTS.items() if r == "mirror"]
    assert len(mirrored) >= 20, RESULTS
