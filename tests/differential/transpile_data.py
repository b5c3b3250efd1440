"""A small schema with awkward data, loaded identically into Postgres and DuckDB.

Used by the transpile differential tests. The DuckDB copy uses the types the mirror
maps to (numeric(p,s) -> DECIMAL(p,s), text/varchar -> VARCHAR, ...), in the
schema ``public`` with the same table names, so the planner's SQL runs unchanged.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

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
