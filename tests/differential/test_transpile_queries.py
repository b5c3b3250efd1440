"""Differential test of the planner's DuckDB translation.

The same data lives in a real Postgres and in an in-memory DuckDB (the mirror's
types, schema ``public``). Every query of ``tests/planner_fixtures/differential``
runs on Postgres; the planner routes it; a query routed to the mirror runs as
translated on DuckDB and must give identical results: same column names, the
Postgres types the route announces, the same values (numerics including their
display scale, floats bit for bit) and, under ORDER BY, the same row order. A
query routed to the origin must carry the reason its fixture expects.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import pathlib
import re
import struct
from decimal import Decimal

import duckdb
import psycopg
import pytest

from planner import Planner, SessionContext, install_macros
from planner.parse import DIALECT

# ---------------------------------------------------------------- the data
TABLES = {
    "customers": [("id", "integer", "INTEGER"), ("name", "text", "VARCHAR"),
                  ("email", "character varying(100)", "VARCHAR"), ("country", "text", "VARCHAR"),
                  ("signup_date", "date", "DATE"), ("tier", "smallint", "SMALLINT"),
                  ("credit", "numeric(12,2)", "DECIMAL(12,2)"), ("active", "boolean", "BOOLEAN"),
                  ("score", "double precision", "DOUBLE"), ("notes", "text", "VARCHAR")],
    "orders": [("id", "integer", "INTEGER"), ("customer_id", "integer", "INTEGER"),
               ("created_at", "timestamp without time zone", "TIMESTAMP"),
               ("created_tz", "timestamp with time zone", "TIMESTAMPTZ"), ("status", "text", "VARCHAR"),
               ("amount", "numeric(12,2)", "DECIMAL(12,2)"), ("quantity", "integer", "INTEGER"),
               ("discount", "numeric(4,3)", "DECIMAL(4,3)"), ("weight", "real", "REAL"),
               ("big", "bigint", "BIGINT")],
    "products": [("id", "integer", "INTEGER"), ("sku", "text", "VARCHAR"), ("title", "text", "VARCHAR"),
                 ("price", "numeric(10,2)", "DECIMAL(10,2)"), ("category", "text", "VARCHAR"),
                 ("stock", "integer", "INTEGER"), ("rating", "double precision", "DOUBLE")],
}

NAMES = ["Alice", "bob", "Zoë", "Ærø", "straße", "Émile", "Ünal", "O'Brien", "a_b%c", "  pad  ",
         "Ann", "ann", "ANN", "Bo", "", "Ünïcödé", "Chloé", "d\\e", "Eve", "Fay"]
COUNTRIES = ["DE", "FR", "US", "us", "GB", None, "Ísland", "NO"]
STATUSES = ["paid", "shipped", "cancelled", "refunded", "Paid", None]
CATEGORIES = ["books", "toys", "garden", "Books", None]


def rows() -> dict[str, list[tuple]]:
    rnd = random.Random(20240601)
    out: dict[str, list[tuple]] = {}

    def maybe(v, p=0.08):
        return None if rnd.random() < p else v

    cust = []
    for i in range(1, 151):
        name = rnd.choice(NAMES) + ("" if rnd.random() < 0.6 else f" {i}")
        cust.append((
            i, maybe(name), maybe(f"user{i}@example.com"), rnd.choice(COUNTRIES),
            maybe(dt.date(2019, 1, 1) + dt.timedelta(days=rnd.randint(-400, 2200))),
            maybe(rnd.randint(-3, 5)), maybe(Decimal(rnd.randint(-50000, 2000000)) / 100),
            maybe(rnd.random() < 0.7), maybe(round(rnd.uniform(-5, 100), 3)),
            maybe(rnd.choice(["vip", "late payer", "NEW", "n/a", "Größe"]), 0.5),
        ))
    out["customers"] = cust
    orders = []
    for i in range(1, 1201):
        created = dt.datetime(2023, 1, 1) + dt.timedelta(minutes=rnd.randint(0, 60 * 24 * 700),
                                                           microseconds=rnd.choice([0, 0, 500000, 123456]))
        tz = (dt.datetime(2023, 3, 1, tzinfo=dt.timezone.utc)
              + dt.timedelta(minutes=rnd.randint(0, 60 * 24 * 400)))
        orders.append((
            i, maybe(rnd.randint(1, 160)), maybe(created), maybe(tz), rnd.choice(STATUSES),
            maybe(Decimal(rnd.randint(-2000, 500000)) / 100), maybe(rnd.randint(-5, 40)),
            maybe(Decimal(rnd.randint(0, 300)) / 1000), maybe(float(rnd.randint(0, 4000)) / 8),
            maybe(rnd.choice([rnd.randint(-10**12, 10**12), 2**62, -(2**62), 0])),
        ))
    out["orders"] = orders
    products = []
    for i in range(1, 61):
        products.append((
            i, f"SKU-{i:04d}", maybe(rnd.choice(NAMES) + " " + rnd.choice(["lamp", "chair", "Book"])),
            maybe(Decimal(rnd.randint(1, 99999)) / 100), rnd.choice(CATEGORIES),
            maybe(rnd.randint(0, 500)), maybe(round(rnd.uniform(0, 5), 2)),
        ))
    out["products"] = products
    return out


def load_postgres(conn) -> None:
    data = rows()
    with conn.cursor() as cur:
        for table, cols in TABLES.items():
            cur.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {t}' for n, t, _ in cols)})")
            with cur.copy(f"COPY {table} ({', '.join(n for n, _, _ in cols)}) FROM STDIN") as cp:
                for r in data[table]:
                    cp.write_row(r)
        cur.execute("ANALYZE")


def load_duckdb(con) -> None:
    import pyarrow as pa

    data = rows()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA IF NOT EXISTS public")
    for table, cols in TABLES.items():
        con.execute(f"CREATE TABLE public.{table} ({', '.join(f'{n} {d}' for n, _, d in cols)})")
        columns = list(zip(*data[table]))
        arrays = {}
        for (n, _, d), values in zip(cols, columns):
            if d == "TIMESTAMPTZ":
                arrays[n] = pa.array(values, pa.timestamp("us", tz="UTC"))
            elif d.startswith("DECIMAL"):
                p, s = d[8:-1].split(",")
                arrays[n] = pa.array(values, pa.decimal128(int(p), int(s)))
            elif d == "REAL":
                arrays[n] = pa.array(values, pa.float32())
            else:
                arrays[n] = pa.array(values)
        tbl = pa.table(arrays)  # noqa: F841  (scanned by name below)
        con.execute(f"INSERT INTO public.{table} SELECT * FROM tbl")


def catalog(collation: str = "C.UTF-8", version: int = 1):
    from planner.testing import MirrorCatalog, MirrorColumn, MirrorTable

    cat = MirrorCatalog(version, {}, collation)
    for table, cols in TABLES.items():
        cat.tables[("public", table)] = MirrorTable(
            "public", table, tuple(MirrorColumn(n, t, duckdb_type=d) for n, t, d in cols), "public", table)
    return cat


# ---------------------------------------------------------------- the queries
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "planner_fixtures" / "differential"
OID_NAMES = {16: "bool", 20: "int8", 21: "int2", 23: "int4", 25: "text", 700: "float4", 701: "float8",
             1043: "varchar", 1082: "date", 1114: "timestamp", 1184: "timestamptz", 1186: "interval",
             1700: "numeric"}


def load_queries() -> list[tuple[str, str, dict]]:
    out = []
    for path in sorted(FIXTURES.glob("*.sql")):
        for i, block in enumerate(re.split(r"\n\s*\n", path.read_text())):
            sql_lines, meta = [], {}
            for line in block.strip().splitlines():
                m = re.match(r"^--\s*(expect|params|tz):\s*(.*)$", line)
                if m:
                    meta[m.group(1)] = m.group(2).strip()
                elif not line.startswith("--"):
                    sql_lines.append(line)
            if sql_lines:
                out.append((f"{path.stem}:{i}", "\n".join(sql_lines), meta))
    return out


QUERIES = load_queries()
STATS = {"mirror": 0, "origin": 0, "fallback": 0}
# DuckDB errors the executor turns into a fallback to the origin (never a wrong answer):
# the planner's own guards and DECIMAL/HUGEINT overflow.
RUNTIME_FALLBACK = ("pgaccel:", "Out of Range Error", "Conversion Error: Could not cast value")


@pytest.fixture(scope="module")
def engines(origin, fresh_db):
    with psycopg.connect(origin.dsn(fresh_db), autocommit=True) as pg:
        load_postgres(pg)
        duck = duckdb.connect()
        load_duckdb(duck)
        install_macros(duck)
        yield pg, duck
        duck.close()
    print(f"\ntranspile differential: {STATS['mirror']} queries answered by the mirror (identical), "
          f"{STATS['fallback']} routed to the mirror but declined at run time (fallback), "
          f"{STATS['origin']} routed to origin, of {len(QUERIES)}")


@pytest.fixture(scope="module")
def fresh_db(origin):           # module-scoped database (the conftest one is per test)
    import uuid

    name = "t_" + uuid.uuid4().hex[:10]
    origin.psql(f"CREATE DATABASE {name}")
    yield name
    origin.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


PLANNER = Planner()
CATALOG = catalog()


def _pg_params(sql: str, values: list[str]) -> tuple[str, list[str]]:
    order = [int(n) for n in re.findall(r"\$(\d+)", sql)]
    return re.sub(r"\$\d+", "%s", sql), [values[n - 1] for n in order]


def _duck_param(value: str, pgtype: str):
    if pgtype in ("int2", "int4", "int8"):
        return int(value)
    if pgtype == "numeric":
        return Decimal(value)
    if pgtype == "date":
        return dt.date.fromisoformat(value)
    if pgtype == "timestamp":
        return dt.datetime.fromisoformat(value)
    return value


def _norm(value, pgtype: str):
    """A comparable form: numerics keep their display scale, floats their bits."""
    if value is None:
        return None
    if pgtype == "numeric":
        d = Decimal(value) if isinstance(value, (str, int)) else value
        return ("numeric", str(d.normalize()) if d == 0 else str(d.normalize()), d.as_tuple().exponent)
    if pgtype in ("float8", "float4"):
        f = float(value)
        if pgtype == "float4":      # Postgres sends the shortest text that round-trips in float4
            f = struct.unpack("f", struct.pack("f", f))[0]
        return ("float", "nan" if math.isnan(f) else f.hex())
    if pgtype == "timestamptz":
        return ("tstz", value.astimezone(dt.timezone.utc).replace(tzinfo=None))
    if pgtype == "interval":
        if isinstance(value, dt.timedelta):
            return ("interval", value)
        months, days, ns = value.months, value.days, value.nanoseconds
        assert months == 0, "interval with months"
        return ("interval", dt.timedelta(days=days, microseconds=ns // 1000))
    return (pgtype, value)


def _sortkey(row):
    return tuple((v is None, repr(v)) for v in row)


def _has_order(sql: str) -> bool:
    import sqlglot

    tree = sqlglot.parse_one(sql, dialect=DIALECT)
    while isinstance(tree, sqlglot.exp.Subquery):
        tree = tree.this
    return tree.args.get("order") is not None


@pytest.mark.parametrize("qid,sql,meta", QUERIES, ids=[q[0] for q in QUERIES])
def test_query(engines, qid, sql, meta):
    pg, duck = engines
    tz = meta.get("tz", "UTC")
    ctx = SessionContext(search_path=("public",), in_transaction=False, timezone=tz)
    route = PLANNER.decide(sql, ctx, CATALOG)
    expect = meta.get("expect", "mirror").split()
    assert [route.target] + ([route.reason] if len(expect) > 1 else []) == expect, \
        f"{route.target} {route.reason}: {route.detail}"
    if route.target != "mirror":
        STATS["origin"] += 1
        return
    params = meta["params"].split("|") if "params" in meta else []
    pg.execute(f"SET TimeZone = '{tz}'")
    pg_sql, pg_args = _pg_params(sql, params)
    cur = pg.execute(pg_sql, pg_args or None)
    pg_cols = [(d.name, OID_NAMES.get(d.type_code, str(d.type_code))) for d in cur.description]
    pg_rows = cur.fetchall()
    assert [c[0] for c in route.columns] == [c[0] for c in pg_cols], "column names"
    assert [c[1] for c in route.columns] == [c[1] for c in pg_cols], "column types"
    duck.execute(f"SET TimeZone = '{tz}'")
    dargs = [_duck_param(v, t) for v, t in zip(params, route.params)]
    try:
        table = duck.execute(route.sql, dargs or None).to_arrow_table()
    except duckdb.Error as e:
        assert any(m in str(e) for m in RUNTIME_FALLBACK), f"{e}\n{route.sql}"
        STATS["fallback"] += 1
        return
    duck_rows = list(zip(*[col.to_pylist() for col in table.columns])) if table.num_rows else []
    types = [t for _, t in pg_cols]
    got = [tuple(_norm(v, t) for v, t in zip(r, types)) for r in duck_rows]
    want = [tuple(_norm(v, t) for v, t in zip(r, types)) for r in pg_rows]
    if not _has_order(sql):
        got, want = sorted(got, key=_sortkey), sorted(want, key=_sortkey)
    assert len(got) == len(want), f"{len(got)} rows on the mirror, {len(want)} on Postgres\n{route.sql}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"row {i}: mirror {g} != postgres {w}\n{route.sql}"
    STATS["mirror"] += 1
