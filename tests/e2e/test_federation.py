"""Federation: one query joining the origin with other Postgres databases, MariaDB,
Parquet, CSV and SQLite sources gives the answer one Postgres would give.

The same rows are written to each source and, under schemas named like the
sources, into one all-in-one Postgres database (``crm.contacts`` is table
``contacts`` of schema ``crm`` there). Every query is run with the same SQL text
on that database directly and through pgaccel; column names, type OIDs and rows
(raw text and binary bytes) must match. Sources:

    origin   this module's database (mirrored)       accounts; notes (left out of the mirror: read live)
    billing  a second Postgres database (postgres)   invoices, kinds
    crm      a MariaDB database of its own (mysql)   contacts, kinds, "MixedCase"
    events   Parquet files                           clicks, kinds, batches (a list of files)
    ref      CSV files                               regions, hits (a glob)
    legacy   a SQLite file                           plans, kinds

(``kinds`` tables hold one column per type the documented mapping covers.) Also:
psql and pgjdbc see what Postgres shows; refusals (0A000, 42P01, 42501); cancel and
statement_timeout; a source cut, silent, or refusing its login mid-session or at start
(tests/faultproxy.py in front of MariaDB and the second Postgres) gives SQLSTATE HV00N
naming it while the session and the other sources go on; sources mirrored in full or
by an append watermark answer the same, keep answering from their copy while down,
pick up changes, and show in ``SHOW pgaccel.sources``; a source named like an origin
schema or the origin database stops the server at start.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from decimal import Decimal

import duckdb
import psycopg
import pytest
from psycopg import pq

from proxy.localpg import SUPERPASS, SUPERUSER
from tests.conftest import scratch_database, start_proxy
from tests.faultproxy import FaultProxy

MYSQL = shutil.which("mysql") or shutil.which("mariadb")
MYSQL_PORT = 3306


def _mariadb_up() -> bool:
    if not MYSQL:
        return False
    try:
        with socket.create_connection(("127.0.0.1", MYSQL_PORT), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _mariadb_up(), reason="no MariaDB on 127.0.0.1:3306 (or no mysql CLI)")

# ---------------------------------------------------------------- the data, one copy for every store

OID = {"bool": 16, "bytea": 17, "int8": 20, "int2": 21, "int4": 23, "text": 25, "float4": 700, "float8": 701,
       "date": 1082, "time": 1083, "timestamp": 1114, "timestamptz": 1184, "interval": 1186, "numeric": 1700,
       "uuid": 2950}

PLANS = ["free", "pro", "team"]
REGIONS = ["eu", "us", "apac", "latam"]  # latam: in the CSV, no account there


def _accounts():
    out = []
    for i in range(1, 61):
        out.append((i, f"acct {i}", None if i % 11 == 0 else PLANS[i % 3],
                    None if i % 13 == 0 else REGIONS[i % 3], dt.date(2023, 1, 1) + dt.timedelta(days=5 * i),
                    None if i % 7 == 0 else Decimal(i * 37 % 500) + Decimal("0.25")))
    return out


def _invoices():
    out = []
    for i in range(1, 301):
        out.append((i, i % 70, None if i % 17 == 0 else Decimal(i * 53 % 9000) / 4,
                    dt.date(2024, 1, 1) + dt.timedelta(days=i % 200), None if i % 19 == 0 else i % 4 != 0))
    return out


def _contacts():
    stages = ["lead", "customer", "churned"]
    out = []
    for i in range(1, 121):
        out.append((i, None if i % 23 == 0 else i % 65, None if i % 9 == 0 else f"p{i}@example.com",
                    None if i % 5 == 0 else Decimal(i * 37 % 1000) / 10,
                    None if i % 29 == 0 else i % 3 == 0, stages[i % 3],
                    None if i % 31 == 0 else dt.datetime(2024, 1, 1) + dt.timedelta(hours=7 * i, seconds=i)))
    return out


def _clicks():
    kinds = ["view", "click", "bot", None]
    out = []
    for i in range(1, 401):
        out.append((i, i % 66, kinds[i % 4], (i * 7919) % 1000 if i % 37 else None,
                    dt.datetime(2024, 3, 1) + dt.timedelta(minutes=11 * i)))
    return out


NOTES = [(1, "call back"), (2, None), (3, "renewal")]
MIXED_CASE = [(1, "Ann Lee"), (2, None)]
REGION_ROWS = [("eu", "Europe", 450000000), ("us", "United States", 330000000), ("apac", "Asia Pacific", None),
               ("latam", "Latin America", 650000000)]
PLAN_ROWS = [("free", 0.0, 1), ("pro", 49.5, 5), ("team", 199.25, 20), ("legacy", None, None)]

# One table of many column types per source ("kinds"), a row of values and a row of NULLs.
# Bytes are hex strings here, written with each store's own syntax (see _lit).
BYTES = type("BYTES", (str,), {})
CRM_KINDS = [
    (1, -3, 7, -9223372036854775808, 0.5, 1.5, dt.date(2024, 2, 29), "12:34:56", '{"a": [1, 2]}',
     dt.datetime(2024, 1, 2, 3, 4, 5, 123456), Decimal("12345678901234567890.0123456789"), "Zoë ☃ 'q'",
     BYTES("00ff10"), 18446744073709551615),
    (2, 32767, -128, 42, -0.25, 0.1, dt.date(1999, 12, 31), "00:00:00", "[]", dt.datetime(2000, 1, 1),
     Decimal("-0.5"), "", BYTES(""), 0),
    (3,) + (None,) * 13,
]
BILLING_KINDS = [
    (1, -32768, 0.1, 1.7976931348623157e308, "2024-06-01 12:00:00+05:30", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     BYTES("00ff10"), "varchar é", Decimal("-123.456"), "1 year 2 mons -3 days 04:05:06.789", "23:59:59.999999"),
    (2, 7, -3.25, 5e-324, "1970-01-01 00:00:00+00", "00000000-0000-0000-0000-000000000000", BYTES(""), "",
     Decimal("0"), "36 hours", "00:00:00"),
    (3,) + (None,) * 10,
]
EVENTS_KINDS = [
    (1, -3, 1.5, Decimal("12.34"), dt.date(2024, 1, 2), True, BYTES("00ff"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "2024-01-02 03:04:05.5+00", "01:02:03", 12345678901234567890123, 18446744073709551615),
    (2, 32767, -0.1, Decimal("-0.01"), dt.date(1970, 1, 1), False, BYTES(""), "00000000-0000-0000-0000-000000000001",
     "1999-12-31 23:59:59+00", "23:59:59", -1, 0),
    (3,) + (None,) * 11,
]
# split over files: ref.hits from a glob of two CSV files, events.batches from a list of two Parquet files
HITS = [(dt.date(2024, 5, 1) + dt.timedelta(days=i % 9), REGIONS[i % 4], i * 13 % 50) for i in range(40)]
BATCHES = [(i % 5, i * 1000003) for i in range(30)]
LEGACY_KINDS = [(1, 1.5, "x", "2024-01-02", "vv"), (2, -0.25, "", "1999-12-31", "é"), (3, None, None, None, None)]

# Postgres DDL of each table, with the types the source's values map to (the all-in-one database;
# the origin and billing use it as is).
DDL = {
    "notes": "account_id int4, body text",
    'crm."MixedCase"': '"Id" int4, "Full Name" text',
    "accounts": "id int4 PRIMARY KEY, name text NOT NULL, plan text, region text, created date, mrr numeric(10,2)",
    "invoices": "id int4 PRIMARY KEY, account_id int4, amount numeric(12,2), issued date, paid bool",
    "contacts": "id int4 PRIMARY KEY, account_id int4, email text, score numeric(6,2), active bool, stage text,"
                " signed_up timestamp",
    "clicks": "id int4, account_id int4, kind text, n int8, seen_at timestamp",
    "regions": "code text, label text, population int8",
    "plans": "plan text, price float8, seats int8",
    "hits": "day date, region text, hits int8",
    "batches": "batch int4, n int8",
    "crm.kinds": "id int4, s int2, t int2, bs int8, d float8, f float4, dt date, tm text, j text, dt6 timestamp,"
                 " n numeric(30,10), tx text, bl bytea, ub numeric(20,0)",
    "billing.kinds": "id int4, s int2, r float4, d float8, tz timestamptz, u uuid, bl bytea, v text, n numeric(12,3),"
                     " iv interval, tm time",
    "events.kinds": "id int4, s int2, r float4, dc numeric(10,2), d date, b bool, bl bytea, u uuid, tz timestamptz,"
                    " tm time, hi numeric(38,0), ub numeric(20,0)",
    "legacy.kinds": "a int8, b float8, c text, dd date, v text",
}
# the same tables as their source declares them
BILLING_KINDS_DDL = ("id int4, s int2, r float4, d float8, tz timestamptz, u uuid, bl bytea, v varchar(20),"
                     " n numeric(12,3), iv interval, tm time")
MYSQL_KINDS_DDL = ("id int, s smallint, t tinyint, bs bigint, d double, f float, dt date, tm time, j json,"
                   " dt6 datetime(6), n decimal(30,10), tx text, bl varbinary(10), ub bigint unsigned")
# (not HUGEINT: DuckDB writes it to Parquet as DOUBLE)
EVENTS_KINDS_DDL = ("id INTEGER, s SMALLINT, r REAL, dc DECIMAL(10,2), d DATE, b BOOLEAN, bl BLOB, u UUID,"
                    " tz TIMESTAMPTZ, tm TIME, hi DECIMAL(38,0), ub UBIGINT")
MYSQL_DDL = ("id int PRIMARY KEY, account_id int, email varchar(100), score decimal(6,2), active tinyint(1),"
             " stage enum('lead','customer','churned'), signed_up datetime")


def _lit(v, dialect: str = "postgres") -> str:
    if v is None:
        return "NULL"
    if isinstance(v, BYTES):
        return {"postgres": f"decode('{v}', 'hex')", "duckdb": f"unhex('{v}')", "mysql": f"X'{v}'"}[dialect]
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float, Decimal)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _insert(table: str, rows, dialect: str = "postgres") -> str:
    return (f"INSERT INTO {table} VALUES "
            + ", ".join("(" + ", ".join(_lit(v, dialect) for v in r) + ")" for r in rows) + ";")


def _pg_load(dsn: str, tables: dict[str, list]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for qualified, rows in tables.items():
            conn.execute(f"CREATE TABLE {qualified} ({DDL.get(qualified) or DDL[qualified.split('.')[-1]]})")
            conn.execute(_insert(qualified, rows))
        conn.execute("ANALYZE")


def _mysql(sql: str, database: str = "") -> str:
    argv = [MYSQL, "-h", "127.0.0.1", "-P", str(MYSQL_PORT), "-u", "root", "--batch", "--skip-column-names"]
    if database:
        argv.append(database)
    out = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---------------------------------------------------------------- the stores

@pytest.fixture(scope="module")
def origin_db(origin):
    schema = (f"CREATE TABLE accounts ({DDL['accounts']}); {_insert('accounts', _accounts())}"
              f" CREATE TABLE notes ({DDL['notes']}); {_insert('notes', NOTES)}"
              " CREATE VIEW big_accounts AS SELECT * FROM accounts WHERE mrr > 100;")
    with scratch_database(origin, "fed_origin", schema) as name:
        yield name


@pytest.fixture(scope="module")
def billing_db(origin):
    with scratch_database(origin, "fed_billing") as name:
        _pg_load(origin.dsn(name), {"invoices": _invoices()})
        with psycopg.connect(origin.dsn(name), autocommit=True) as conn:
            conn.execute(f"CREATE TABLE kinds ({BILLING_KINDS_DDL}); {_insert('kinds', BILLING_KINDS)}")
        yield name


@pytest.fixture(scope="module")
def crm_db():
    name = "t_fed_" + uuid.uuid4().hex[:8]
    _mysql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        _mysql(f"CREATE TABLE contacts ({MYSQL_DDL}); {_insert('contacts', _contacts(), 'mysql')}"
               f" CREATE TABLE kinds ({MYSQL_KINDS_DDL}); {_insert('kinds', CRM_KINDS, 'mysql')}"
               " CREATE TABLE `MixedCase` (`Id` int, `Full Name` varchar(20));"
               f" {_insert('`MixedCase`', MIXED_CASE, 'mysql')}", name)
        yield name
    finally:
        _mysql(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Parquet, CSV and SQLite files: {"clicks": path, "regions": path, "plans": path, ...}."""
    d = tmp_path_factory.mktemp("fed_files")
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE clicks (id INTEGER, account_id INTEGER, kind VARCHAR, n BIGINT, seen_at TIMESTAMP)")
        con.executemany("INSERT INTO clicks VALUES (?, ?, ?, ?, ?)", _clicks())
        con.execute(f"COPY clicks TO '{d / 'clicks.parquet'}' (FORMAT parquet)")
        con.execute(f"SET TimeZone = 'UTC'; CREATE TABLE kinds ({EVENTS_KINDS_DDL});"
                    f" {_insert('kinds', EVENTS_KINDS, 'duckdb')}")
        con.execute(f"COPY kinds TO '{d / 'kinds.parquet'}' (FORMAT parquet)")
        con.execute("CREATE TABLE batches (batch INTEGER, n BIGINT)")
        con.executemany("INSERT INTO batches VALUES (?, ?)", BATCHES)
        for part in (0, 1):
            con.execute(f"COPY (SELECT * FROM batches WHERE n % 2 = {part}) TO '{d / f'batch{part}.parquet'}'"
                        " (FORMAT parquet)")
    finally:
        con.close()
    with open(d / "regions.csv", "w") as f:
        f.write("code,label,population\n")
        for code, label, pop in REGION_ROWS:
            f.write(f"{code},{label},{'' if pop is None else pop}\n")
    (d / "hits").mkdir()
    for part in (0, 1):
        with open(d / "hits" / f"hits-{part}.csv", "w") as f:
            f.write("day,region,hits\n")
            f.writelines(f"{day},{region},{n}\n" for i, (day, region, n) in enumerate(HITS) if i % 2 == part)
    db = sqlite3.connect(d / "legacy.sqlite")
    db.execute("CREATE TABLE plans (plan TEXT, price REAL, seats INTEGER)")
    db.executemany("INSERT INTO plans VALUES (?, ?, ?)", PLAN_ROWS)
    db.execute("CREATE TABLE kinds (a INTEGER, b REAL, c TEXT, dd DATE, v VARCHAR(10))")
    db.executemany("INSERT INTO kinds VALUES (?, ?, ?, ?, ?)", LEGACY_KINDS)
    db.execute("CREATE TABLE odd (a INTEGER, dd DATE)")  # SQLite keeps any text in a DATE column
    db.executemany("INSERT INTO odd VALUES (?, ?)", [(1, "2024-01-02"), (2, "not a date")])
    db.commit()
    db.close()
    return {"clicks": str(d / "clicks.parquet"), "kinds": str(d / "kinds.parquet"), "regions": str(d / "regions.csv"),
            "plans": str(d / "legacy.sqlite"), "hits": str(d / "hits" / "*.csv"),
            "batches": [str(d / "batch0.parquet"), str(d / "batch1.parquet")]}


@pytest.fixture(scope="module")
def allinone(origin):
    """One Postgres database holding every table, under schemas named like the sources."""
    with scratch_database(origin, "fed_all", "CREATE SCHEMA billing; CREATE SCHEMA crm; CREATE SCHEMA events;"
                                             " CREATE SCHEMA ref; CREATE SCHEMA legacy;") as name:
        _pg_load(origin.dsn(name), {"accounts": _accounts(), "notes": NOTES, "billing.invoices": _invoices(),
                                    "crm.contacts": _contacts(), "events.clicks": _clicks(),
                                    "ref.regions": REGION_ROWS, "legacy.plans": PLAN_ROWS,
                                    "crm.kinds": CRM_KINDS, "billing.kinds": BILLING_KINDS,
                                    "events.kinds": EVENTS_KINDS, "legacy.kinds": LEGACY_KINDS,
                                    "ref.hits": HITS, "events.batches": BATCHES, 'crm."MixedCase"': MIXED_CASE})
        yield name


def _sources(origin, billing_db, crm_db, files, mirror: str = "live", crm_port: int = MYSQL_PORT,
             billing_port: int | None = None) -> dict:
    billing = origin.url(billing_db)
    if billing_port is not None:
        billing = f"postgresql://{SUPERUSER}:{SUPERPASS}@127.0.0.1:{billing_port}/{billing_db}"
    return {
        "billing": {"kind": "postgres", "dsn": billing, "mirror": mirror, "connect_timeout": 2},
        "crm": {"kind": "mysql", "dsn": f"host=127.0.0.1 port={crm_port} user=root database={crm_db}",
                "mirror": mirror, "connect_timeout": 2},
        "events": {"kind": "parquet", "mirror": mirror,
                   "files": {"clicks": files["clicks"], "kinds": files["kinds"], "batches": files["batches"]}},
        "ref": {"kind": "csv", "files": {"regions": files["regions"], "hits": files["hits"]}},
        "legacy": {"kind": "sqlite", "path": files["plans"]},
    }


def _narrowed_sources(billing_db, crm_db, origin) -> dict:
    """The same databases again, with `tables`, `exclude` and `roles`."""
    return {
        "billing_only": {"kind": "postgres", "dsn": origin.url(billing_db), "tables": ["public.inv*"]},
        "crm_but": {"kind": "mysql", "dsn": f"host=127.0.0.1 port={MYSQL_PORT} user=root database={crm_db}",
                    "exclude": [f"{crm_db}.kinds", f"{crm_db}.Mixed*"]},
        # readable by one role only (not the superuser the tests log in as)
        "locked": {"kind": "postgres", "dsn": origin.url(billing_db), "roles": ["somebody_else"]},
    }


def _mirror(tmp_path_factory, name: str) -> dict:
    return {"enabled": True, "path": str(tmp_path_factory.mktemp(name) / "m.duckdb"), "tables": ["public.*"],
            "exclude": ["public.notes"], "mode": "snapshot", "max_staleness": -1}


@pytest.fixture(scope="module")
def fed(origin, origin_db, billing_db, crm_db, files, tmp_path_factory):
    """pgaccel with the origin mirrored and every source read live."""
    p = start_proxy(origin, origin={"dsn": origin.url(origin_db)}, mirror=_mirror(tmp_path_factory, "fed"),
                    sources=_sources(origin, billing_db, crm_db, files) | _narrowed_sources(billing_db, crm_db, origin))
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def conns(origin, fed, origin_db, allinone):
    c = {"direct": psycopg.connect(origin.dsn(allinone), autocommit=True),
         "pgaccel": psycopg.connect(fed.dsn(origin_db), autocommit=True)}
    try:
        yield c
    finally:
        for x in c.values():
            x.close()


# ---------------------------------------------------------------- the queries (one text for both sides)

QUERIES = {
    # one source, every column: the type mapping of each kind
    "scan_billing": "SELECT id, account_id, amount, issued, paid FROM billing.invoices ORDER BY id",
    "scan_crm": "SELECT id, account_id, email, score, active, stage, signed_up FROM crm.contacts ORDER BY id",
    "scan_events": "SELECT id, account_id, kind, n, seen_at FROM events.clicks ORDER BY id",
    "scan_ref": "SELECT code, label, population FROM ref.regions ORDER BY code",
    "scan_legacy": "SELECT plan, price, seats FROM legacy.plans ORDER BY plan",
    "kinds_crm": "SELECT id, s, t, bs, d, f, dt, tm, j, dt6, n, tx, ub FROM crm.kinds ORDER BY id",
    "kinds_billing": "SELECT id, s, r, d, tz, u, v, n FROM billing.kinds ORDER BY id",
    "kinds_events": "SELECT id, s, r, dc, d, b, u, tz FROM events.kinds ORDER BY id",
    "kinds_legacy": "SELECT a, b, c, v FROM legacy.kinds ORDER BY a",
    "wide_ints_events": "SELECT id, hi, ub FROM events.kinds ORDER BY id",
    "declared_date_legacy": "SELECT a, dd FROM legacy.kinds ORDER BY a",
    # text comparisons on a MySQL table follow Postgres (case and trailing spaces count), wherever
    # DuckDB's scanner evaluates them (MariaDB's default collation ignores both)
    "mysql_filter_case": "SELECT count(*) AS n, min(id) AS first FROM crm.contacts WHERE email = 'P1@EXAMPLE.COM'",
    "mysql_filter_trailing_space": "SELECT count(*) AS n, min(id) AS first FROM crm.contacts"
                                   " WHERE email = 'p1@example.com  '",
    "mysql_filter_like": "SELECT count(*) AS n, min(id) AS first FROM crm.contacts WHERE email LIKE 'P1%'",
    "mysql_filter_enum": "SELECT count(*) AS n, min(id) AS first FROM crm.contacts WHERE stage = 'LEAD'",
    "mysql_filter_not_equal": "SELECT count(*) AS n FROM crm.contacts WHERE email <> 'P1@EXAMPLE.COM'",
    "mysql_filter_range": "SELECT count(*) AS n, min(id) AS first FROM crm.contacts WHERE email BETWEEN 'P1' AND 'P2'",
    "mysql_filter_in_join": (
        "SELECT a.plan, count(*) AS n FROM accounts a JOIN crm.contacts c ON c.account_id = a.id"
        " WHERE c.email IN ('P2@EXAMPLE.COM', 'p3@example.com', 'p4@example.com ') GROUP BY a.plan ORDER BY a.plan"),
    # aggregates over a MySQL table with a column read through a cast (its bigint unsigned)
    "aggregate_crm_kinds": "SELECT count(*) AS n, count(ub) AS with_ub, sum(s) AS s, max(ub) AS top FROM crm.kinds",
    "count_star_crm_kinds": "SELECT count(*) AS n FROM crm.kinds",
    "count_column_crm_kinds": "SELECT count(id) AS n FROM crm.kinds WHERE tx = 'Zoë ☃ ''q'''",
    # quoted mixed-case names of a MySQL table and its columns
    "mixed_case_names": 'SELECT "Id", "Full Name", upper("Full Name") AS up FROM crm."MixedCase" ORDER BY "Id"',
    # an origin table that is not mirrored (mirror.exclude) is read live
    "unmirrored_origin_table": (
        "SELECT n.account_id, n.body, count(c.id) AS contacts, max(c.email) AS email FROM notes n"
        " LEFT JOIN crm.contacts c ON c.account_id = n.account_id GROUP BY n.account_id, n.body ORDER BY 1"),
    # a table from a glob of CSV files, one from a list of Parquet files
    "globs_and_lists": (
        "SELECT h.region, r.label, count(*) AS days, sum(h.hits) AS hits, min(h.day) AS first_day,"
        " sum(b.n) AS batch_n FROM ref.hits h LEFT JOIN ref.regions r ON r.code = h.region"
        " LEFT JOIN events.batches b ON b.batch = h.hits % 7"
        " GROUP BY h.region, r.label ORDER BY h.region"),
    # bytea, time and interval results, apart so that a refusal does not hide the other types
    "bytea_crm": "SELECT id, bl FROM crm.kinds ORDER BY id",
    "bytea_billing": "SELECT id, bl FROM billing.kinds ORDER BY id",
    "bytea_events": "SELECT id, bl FROM events.kinds ORDER BY id",
    "time_billing": "SELECT id, tm FROM billing.kinds ORDER BY id",
    "time_events": "SELECT id, tm FROM events.kinds ORDER BY id",
    "interval_billing": "SELECT id, iv FROM billing.kinds ORDER BY id",
    # two sources
    "origin_crm_by_plan": (
        "SELECT a.plan, count(*) AS contacts, count(c.email) AS with_email, sum(c.score) AS score_sum,"
        " max(c.signed_up) AS last_signup, min(c.stage) AS first_stage"
        " FROM accounts a JOIN crm.contacts c ON c.account_id = a.id"
        " WHERE c.active GROUP BY a.plan ORDER BY a.plan"),
    "origin_billing_left_join": (
        "SELECT a.id, a.name, a.id / 4 AS bucket, count(i.id) AS invoices, sum(i.amount) AS billed,"
        " coalesce(sum(i.amount) FILTER (WHERE i.paid), 0) AS paid"
        " FROM accounts a LEFT JOIN billing.invoices i ON i.account_id = a.id"
        " AND i.issued >= date '2024-03-01' AND i.issued < date '2024-04-01'"
        " WHERE a.created < date '2023-09-01' GROUP BY a.id, a.name ORDER BY billed DESC, a.id"),
    "billing_events_no_origin": (
        "SELECT i.account_id, count(DISTINCT i.id) AS invoices, sum(e.n) AS clicks, max(e.seen_at) AS last_click"
        " FROM billing.invoices i JOIN events.clicks e ON e.account_id = i.account_id"
        " WHERE i.paid IS NOT TRUE AND e.kind IS DISTINCT FROM 'bot'"
        " GROUP BY i.account_id HAVING count(*) > 2 ORDER BY clicks DESC NULLS LAST, i.account_id"),
    # three sources
    "origin_billing_crm_by_region": (
        "SELECT a.region, count(DISTINCT a.id) AS accounts, count(DISTINCT c.id) AS contacts,"
        " sum(i.amount) AS billed, avg(c.score)::numeric(10,2) AS avg_score"
        " FROM accounts a LEFT JOIN billing.invoices i ON i.account_id = a.id AND i.paid"
        " LEFT JOIN crm.contacts c ON c.account_id = a.id AND c.signed_up >= timestamp '2024-01-05'"
        " GROUP BY a.region ORDER BY billed DESC NULLS LAST, a.region"),
    "csv_sqlite_origin": (
        "SELECT r.label, p.plan, p.price, p.seats, count(a.id) AS n, sum(a.mrr) AS mrr,"
        " sum(p.seats) AS seats, max(p.price) AS top_price"
        " FROM ref.regions r LEFT JOIN accounts a ON a.region = r.code LEFT JOIN legacy.plans p ON p.plan = a.plan"
        " GROUP BY r.label, p.plan, p.price, p.seats ORDER BY r.label, p.plan NULLS FIRST"),
    # four sources (and five)
    "four_sources_by_plan": (
        "WITH k AS (SELECT account_id, sum(n) AS clicks, count(*) AS events FROM events.clicks"
        "           WHERE kind <> 'bot' GROUP BY account_id),"
        " b AS (SELECT account_id, sum(amount) AS billed FROM billing.invoices GROUP BY account_id),"
        " p AS (SELECT account_id, count(*) AS people, max(score) AS best FROM crm.contacts GROUP BY account_id)"
        " SELECT a.plan, count(*) AS accounts, sum(k.clicks) AS clicks, sum(k.events) AS events,"
        " sum(b.billed) AS billed, sum(p.people) AS people, max(p.best) AS best"
        " FROM accounts a LEFT JOIN k ON k.account_id = a.id LEFT JOIN b ON b.account_id = a.id"
        " LEFT JOIN p ON p.account_id = a.id GROUP BY a.plan ORDER BY a.plan NULLS FIRST"),
    "five_sources_rows": (
        "SELECT a.id, r.label, c.email, i.amount, e.kind, e.n"
        " FROM accounts a JOIN ref.regions r ON r.code = a.region"
        " JOIN crm.contacts c ON c.account_id = a.id"
        " JOIN billing.invoices i ON i.account_id = a.id"
        " LEFT JOIN events.clicks e ON e.account_id = a.id AND e.id < 100"
        " WHERE a.id BETWEEN 3 AND 12 AND c.active AND i.amount > 100"
        " ORDER BY a.id, c.email NULLS FIRST, i.amount DESC, e.kind, e.n"),
}

# DuckDB's scanners read these columns back with the types the mapping names, and the
# all-in-one database declares them so: every column's OID must match.
SCAN_OIDS = {
    "scan_billing": ["int4", "int4", "numeric", "date", "bool"],
    "scan_crm": ["int4", "int4", "text", "numeric", "bool", "text", "timestamp"],
    "scan_events": ["int4", "int4", "text", "int8", "timestamp"],
    "scan_ref": ["text", "text", "int8"],
    "scan_legacy": ["text", "float8", "int8"],
    "kinds_crm": ["int4", "int2", "int2", "int8", "float8", "float4", "date", "text", "text", "timestamp", "numeric",
                  "text", "numeric"],
    "kinds_billing": ["int4", "int2", "float4", "float8", "timestamptz", "uuid", "text", "numeric"],
    "kinds_events": ["int4", "int2", "float4", "numeric", "date", "bool", "uuid", "timestamptz"],
    "kinds_legacy": ["int8", "float8", "text", "text"],
    "wide_ints_events": ["int4", "numeric", "numeric"],
    "declared_date_legacy": ["int8", "date"],
    "bytea_crm": ["int4", "bytea"],
    "bytea_billing": ["int4", "bytea"],
    "bytea_events": ["int4", "bytea"],
    "time_billing": ["int4", "time"],
    "time_events": ["int4", "time"],
    "interval_billing": ["int4", "interval"],
}


def raw(conn, query: str, fmt: int):
    """(column (name, type OID) pairs, rows of raw bytes) of ``query`` with results in ``fmt``."""
    res = conn.pgconn.exec_params(query.encode(), [], result_format=fmt)
    assert res.status == pq.ExecStatus.TUPLES_OK, res.error_message
    cols = [(res.fname(i).decode(), res.ftype(i)) for i in range(res.nfields)]
    rows = [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)]
    return cols, rows


def route_of(conn, query: str) -> tuple[str, str]:
    target, reason, *_ = conn.execute("EXPLAIN (ROUTE) " + query).fetchone()
    return target, reason


def sqlstate_of(conn, query: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as ei:
        conn.execute(query).fetchall()
    return ei.value


# ---------------------------------------------------------------- differential

@pytest.mark.parametrize("name", list(QUERIES))
def test_query_reading_a_source_is_routed_to_federation(conns, name):
    assert route_of(conns["pgaccel"], QUERIES[name])[0] == "federation"


def test_query_reading_only_the_origin_is_not_federated(conns):
    assert route_of(conns["pgaccel"], "SELECT plan, count(*) FROM accounts GROUP BY plan")[0] == "mirror"
    assert route_of(conns["pgaccel"], "SELECT * FROM notes")[0] == "origin"


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
@pytest.mark.parametrize("name", list(QUERIES))
def test_federated_answer_matches_one_postgres(conns, name, fmt):
    want_cols, want_rows = raw(conns["direct"], QUERIES[name], fmt)
    got_cols, got_rows = raw(conns["pgaccel"], QUERIES[name], fmt)
    assert [c[0] for c in got_cols] == [c[0] for c in want_cols]
    assert got_cols == want_cols  # type OIDs
    assert len(got_rows) == len(want_rows)
    assert got_rows == want_rows
    assert want_rows, "the query should return rows"


@pytest.mark.parametrize("name", list(SCAN_OIDS))
def test_source_types_map_to_the_documented_postgres_types(conns, name):
    cols, _ = raw(conns["pgaccel"], QUERIES[name], 0)
    assert [oid for _, oid in cols] == [OID[t] for t in SCAN_OIDS[name]]


@pytest.mark.parametrize("name", ["origin_crm_by_plan", "four_sources_by_plan"])
def test_federated_answer_via_simple_query_matches_one_postgres(conns, name):
    def go(conn):
        res = conn.pgconn.exec_(QUERIES[name].encode())
        assert res.status == pq.ExecStatus.TUPLES_OK, res.error_message
        return (res.command_status, [(res.fname(i), res.ftype(i)) for i in range(res.nfields)],
                [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)])

    assert go(conns["pgaccel"]) == go(conns["direct"])


def test_federated_query_with_parameters_matches_one_postgres(conns):
    q = ("SELECT a.id, c.email, c.score FROM accounts a JOIN crm.contacts c ON c.account_id = a.id"
         " WHERE a.region = %s AND c.score > %s ORDER BY a.id, c.id")
    args = ("eu", Decimal("20.5"))
    want = conns["direct"].execute(q, args).fetchall()
    assert want and conns["pgaccel"].execute(q, args).fetchall() == want
    bwant = conns["direct"].cursor(binary=True).execute(q, args).fetchall()
    assert conns["pgaccel"].cursor(binary=True).execute(q, args).fetchall() == bwant


def test_schema_qualified_source_names_read_the_same_table(conns, crm_db):
    acc = conns["pgaccel"]
    for short, qualified in [("billing.invoices", "billing.public.invoices"),
                             ("crm.contacts", f"crm.{crm_db}.contacts"),  # MySQL: the DSN's database
                             ("events.clicks", "events.main.clicks"), ("legacy.plans", "legacy.main.plans")]:
        q = "SELECT * FROM {} ORDER BY 1, 2"
        want = acc.execute(q.format(short)).fetchall()
        assert want and acc.execute(q.format(qualified)).fetchall() == want, qualified


def test_psql_prints_a_federated_answer_like_postgres(origin, fed, origin_db, allinone):
    psql = shutil.which("psql") or "/usr/bin/psql"
    if not os.path.exists(psql):
        pytest.skip("psql not installed")
    env = dict(os.environ, PGPASSWORD=SUPERPASS, PGSSLMODE="disable")

    def run(port, db):
        out = subprocess.run([psql, "-X", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, "-d", db,
                              "-v", "ON_ERROR_STOP=1", "-c", QUERIES["origin_billing_crm_by_region"]],
                             capture_output=True, text=True, env=env, timeout=60)
        return out.returncode, out.stdout, out.stderr

    want = run(origin.port, allinone)
    assert want[0] == 0 and "accounts" in want[1]
    assert run(fed.port, origin_db) == want


JAVA_PROBE = """
import java.sql.*;
import java.util.Properties;

public class FedProbe {
    static void print(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        StringBuilder h = new StringBuilder("columns");
        for (int i = 1; i <= md.getColumnCount(); i++)
            h.append(' ').append(md.getColumnLabel(i)).append(':').append(md.getColumnTypeName(i));
        System.out.println(h);
        while (rs.next()) {
            StringBuilder b = new StringBuilder("row");
            for (int i = 1; i <= md.getColumnCount(); i++) b.append(" | ").append(rs.getString(i));
            System.out.println(b);
        }
    }

    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", a[1]);
        p.setProperty("password", a[2]);
        p.setProperty("prepareThreshold", "3");
        try (Connection c = DriverManager.getConnection(a[0], p)) {
            print(c.createStatement().executeQuery(a[3]));
            // a PreparedStatement run 5 times: from the 3rd run pgjdbc uses a named server-side
            // statement and asks for binary results
            try (PreparedStatement ps = c.prepareStatement(a[4])) {
                for (int run = 0; run < 5; run++) {
                    ps.setInt(1, 5 + run);
                    ps.setString(2, "eu");
                    System.out.println("run " + run);
                    print(ps.executeQuery());
                }
            }
        }
    }
}
"""
JAVA_PREPARED = ("SELECT a.id, a.mrr, c.email, c.score, c.active, c.signed_up, i.amount, i.issued"
                 " FROM accounts a JOIN crm.contacts c ON c.account_id = a.id"
                 " LEFT JOIN billing.invoices i ON i.account_id = a.id AND i.id < 100"
                 " WHERE a.id < ? AND a.region = ? ORDER BY a.id, c.id, i.id")


def test_pgjdbc_reads_a_federated_answer_like_postgres(origin, fed, origin_db, allinone, tmp_path):
    java = shutil.which("java")
    pattern = os.path.expanduser("~/.m2/repository/org/postgresql/postgresql/*/postgresql-*.jar")
    jars = sorted(j for j in glob.glob(pattern) if not j.endswith(("-sources.jar", "-javadoc.jar")))
    if not (java and jars):
        pytest.skip("java or the pgjdbc jar (~/.m2) not found")
    src = tmp_path / "FedProbe.java"
    src.write_text(JAVA_PROBE)

    def run(port, db):
        out = subprocess.run([java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", jars[-1], str(src),
                              f"jdbc:postgresql://127.0.0.1:{port}/{db}", SUPERUSER, SUPERPASS,
                              QUERIES["csv_sqlite_origin"], JAVA_PREPARED], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()

    want = run(origin.port, allinone)
    assert len(want) > 20 and any(line.startswith("row | 6 |") for line in want), want
    assert run(fed.port, origin_db) == want


# ---------------------------------------------------------------- what pgaccel refuses

@pytest.mark.parametrize("query", ["SELECT * FROM crm.nosuch", "SELECT * FROM billing_only.kinds",
                                   "SELECT * FROM crm_but.kinds", 'SELECT * FROM crm_but."MixedCase"',
                                   "SELECT * FROM crm.contacts c JOIN events.nosuch e ON e.id = c.id"])
def test_unknown_or_left_out_source_table_is_42p01(conns, query):
    acc = conns["pgaccel"]
    e = sqlstate_of(acc, query)
    assert e.sqlstate == "42P01", (e.sqlstate, str(e))
    assert acc.execute("SELECT count(*) FROM billing_only.invoices").fetchone() == (300,)
    assert acc.execute("SELECT count(*) FROM crm_but.contacts").fetchone() == (120,)


def test_volatile_function_in_a_federated_query_is_refused_with_0a000(conns):
    acc = conns["pgaccel"]
    e = sqlstate_of(acc, "SELECT id, random() FROM crm.contacts")
    assert e.sqlstate == "0A000", (e.sqlstate, str(e))
    assert acc.execute("SELECT count(*) FROM crm.contacts").fetchone() == (120,)


def test_origin_view_in_a_federated_query_is_refused_with_0a000(conns):
    acc = conns["pgaccel"]
    e = sqlstate_of(acc, "SELECT count(*) FROM big_accounts b JOIN crm.contacts c ON c.account_id = b.id")
    assert e.sqlstate == "0A000", (e.sqlstate, str(e))
    assert acc.execute("SELECT count(*) FROM big_accounts").fetchone()[0] > 0


def test_origin_write_is_seen_by_the_same_sessions_next_federated_query(fed, origin_db, conns):
    q = "SELECT a.name, count(c.id) AS contacts FROM accounts a LEFT JOIN crm.contacts c ON c.account_id = a.id" \
        " WHERE a.id IN (1, 1001) GROUP BY a.name ORDER BY a.name"
    with psycopg.connect(fed.dsn(origin_db), autocommit=True) as conn:
        before = conn.execute(q).fetchall()
        conn.execute("INSERT INTO accounts (id, name) VALUES (1001, 'written just now')")
        try:
            assert conn.execute(q).fetchall() == before + [("written just now", 0)]
        finally:
            conn.execute("DELETE FROM accounts WHERE id = 1001")
        assert conn.execute(q).fetchall() == before


def test_sqlite_value_not_of_its_declared_type_is_refused_with_0a000(conns):
    acc = conns["pgaccel"]
    e = sqlstate_of(acc, "SELECT a, dd FROM legacy.odd ORDER BY a")
    assert e.sqlstate == "0A000", (e.sqlstate, str(e))
    assert acc.execute("SELECT count(*) FROM legacy.odd").fetchone() == (2,)


def test_source_limited_to_other_roles_is_refused_with_42501(conns):
    acc = conns["pgaccel"]
    e = sqlstate_of(acc, "SELECT count(*) FROM locked.invoices")
    assert e.sqlstate == "42501" and 'source "locked"' in str(e), (e.sqlstate, str(e))
    assert acc.execute("SELECT count(*) FROM billing.invoices").fetchone() == (300,)


def test_role_cannot_read_an_origin_table_through_a_federated_query_without_select(origin, fed, origin_db):
    role = "t_fed_reader_" + uuid.uuid4().hex[:6]
    with psycopg.connect(origin.dsn(origin_db), autocommit=True) as su:
        su.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT SELECT ON accounts TO {role}")
        try:
            with psycopg.connect(fed.dsn(origin_db, user=role, password="pw"), autocommit=True) as conn:
                q = "SELECT count(*) FROM accounts a JOIN crm.contacts c ON c.account_id = a.id"
                assert conn.execute(q).fetchone()[0] > 0  # granted: runs
                for query in ("SELECT n.body FROM notes n JOIN crm.contacts c ON c.account_id = n.account_id",
                              "SELECT count(*) FROM accounts a JOIN notes n ON n.account_id = a.id"
                              " JOIN events.clicks e ON e.account_id = a.id"):
                    e = sqlstate_of(conn, query)
                    assert e.sqlstate == "42501", (query, e.sqlstate, str(e))
                assert conn.execute("SELECT count(*) FROM crm.contacts").fetchone() == (120,)
        finally:
            su.execute(f"REVOKE ALL ON accounts FROM {role}; DROP ROLE {role}")


def test_refused_federated_query_in_a_transaction_aborts_it_on_the_origin_too(fed, origin, origin_db):
    """As on Postgres, an error inside a transaction block aborts it: COMMIT answers
    ROLLBACK and the transaction's origin write is not kept."""
    with psycopg.connect(fed.dsn(origin_db), autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO accounts (id, name) VALUES (1003, 'rolled back')")
        e = sqlstate_of(conn, "SELECT random() FROM crm.contacts")
        assert e.sqlstate == "0A000", (e.sqlstate, str(e))
        e = sqlstate_of(conn, "SELECT count(*) FROM accounts")
        assert e.sqlstate == "25P02", (e.sqlstate, str(e))
        assert conn.execute("COMMIT").statusmessage == "ROLLBACK"
    with psycopg.connect(origin.dsn(origin_db), autocommit=True) as direct:
        assert direct.execute("SELECT count(*) FROM accounts WHERE id = 1003").fetchone() == (0,)


def test_write_to_a_source_table_is_not_federated(conns):
    acc = conns["pgaccel"]
    with pytest.raises(psycopg.Error):
        acc.execute("INSERT INTO crm.contacts (id) VALUES (999)")
    assert acc.execute("SELECT count(*) FROM crm.contacts").fetchone() == (120,)


# a cross join of 400^4 rows: minutes for DuckDB, far longer for Postgres
ENDLESS = ("SELECT count(*) FROM events.clicks a, events.clicks b, events.clicks c, events.clicks e"
           " WHERE a.n + b.n + c.n + e.n = -1")


def test_cancel_request_stops_a_federated_query(fed, origin_db):
    with psycopg.connect(fed.dsn(origin_db), autocommit=True) as conn:
        conn.execute("SET statement_timeout = '30s'")  # a bound, should the cancel be lost
        timer = threading.Timer(0.3, conn.cancel_safe)
        timer.start()
        t0 = time.monotonic()
        e = sqlstate_of(conn, ENDLESS)
        assert e.sqlstate == "57014" and "user request" in str(e), (e.sqlstate, str(e))
        assert time.monotonic() - t0 < 2.5
        assert conn.execute("SELECT count(*) FROM crm.contacts").fetchone() == (120,)


def test_statement_timeout_stops_a_federated_query(fed, origin_db):
    with psycopg.connect(fed.dsn(origin_db), autocommit=True) as conn:
        conn.execute("SET statement_timeout = 300")
        guard = threading.Timer(30, conn.cancel_safe)  # a bound, should the timeout be ignored
        guard.start()
        try:
            t0 = time.monotonic()
            e = sqlstate_of(conn, ENDLESS)
        finally:
            guard.cancel()
        assert e.sqlstate == "57014" and "timeout" in str(e), (e.sqlstate, str(e))
        assert time.monotonic() - t0 < 2.5
        assert conn.execute("SELECT count(*) FROM crm.contacts").fetchone() == (120,)


# ---------------------------------------------------------------- SHOW pgaccel.sources

SOURCE_COLUMNS = ["source", "kind", "state", "mirror", "tables", "lag_seconds", "last_error"]


def _source_rows(conn) -> dict[str, dict]:
    cur = conn.execute("SHOW pgaccel.sources")
    names = [d.name for d in cur.description]
    assert names[:len(SOURCE_COLUMNS)] == SOURCE_COLUMNS
    return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}


def test_show_sources_lists_each_source_up_and_live(conns):
    rows = _source_rows(conns["pgaccel"])
    kinds = {n: r["kind"] for n, r in rows.items()}
    assert kinds == {"billing": "postgres", "crm": "mysql", "events": "parquet", "ref": "csv", "legacy": "sqlite",
                     "billing_only": "postgres", "crm_but": "mysql", "locked": "postgres"}
    assert {n: r["tables"] for n, r in rows.items()} == {"billing": "2", "crm": "3", "events": "3", "ref": "2",
                                                         "legacy": "3", "billing_only": "1", "crm_but": "1",
                                                         "locked": "2"}
    for n, r in rows.items():
        assert r["state"] == "up", (n, r)
        assert r["mirror"] == "live", (n, r)
        assert not r["last_error"], (n, r)


# ---------------------------------------------------------------- a source going down

@pytest.fixture
def faulty(origin, origin_db, billing_db, crm_db, files, tmp_path_factory):
    """pgaccel whose MariaDB and second Postgres sit behind fault proxies, plus a Postgres
    source that refuses the login: (crm fault proxy, billing fault proxy, pgaccel)."""
    crm_fp = FaultProxy("127.0.0.1", MYSQL_PORT).start()
    billing_fp = FaultProxy("127.0.0.1", origin.port).start()
    sources = _sources(origin, billing_db, crm_db, files, crm_port=crm_fp.port, billing_port=billing_fp.port)
    sources["badlogin"] = {"kind": "postgres", "connect_timeout": 2,
                           "dsn": f"postgresql://{SUPERUSER}:wrong-password@127.0.0.1:{origin.port}/{billing_db}"}
    p = None
    try:
        p = start_proxy(origin, origin={"dsn": origin.url(origin_db)}, mirror=_mirror(tmp_path_factory, "faulty"),
                        sources=sources)
        yield crm_fp, billing_fp, p
    finally:
        if p is not None:
            p.stop()
        crm_fp.stop()
        billing_fp.stop()


def _assert_source_error(conn, query: str, source: str) -> None:
    t0 = time.monotonic()
    e = sqlstate_of(conn, query)
    assert e.sqlstate == "HV00N", (e.sqlstate, str(e))
    assert f'source "{source}"' in str(e), str(e)
    assert time.monotonic() - t0 < 15, "the error took too long"


CRM_QUERY = QUERIES["origin_crm_by_plan"]
NO_CRM_QUERY = QUERIES["csv_sqlite_origin"]
BILLING_EVENTS_QUERY = QUERIES["billing_events_no_origin"]


@pytest.mark.slow  # waits out connect timeouts and re-attach periods
@pytest.mark.parametrize("which", ["crm", "billing"])
def test_source_cut_mid_session_gives_hv00n_and_the_session_goes_on(faulty, origin_db, conns, which):
    crm_fp, billing_fp, p = faulty
    fp, query = (crm_fp, CRM_QUERY) if which == "crm" else (billing_fp, BILLING_EVENTS_QUERY)
    other = BILLING_EVENTS_QUERY if which == "crm" else CRM_QUERY
    want = {q: raw(conns["direct"], q, 0) for q in (query, other, NO_CRM_QUERY)}
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn:
        assert raw(conn, query, 0) == want[query]
        fp.set_mode("refuse")
        fp.cut_all()
        _assert_source_error(conn, query, which)
        # the same session: origin, and federated queries not touching the source, still work
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (60,)
        assert raw(conn, NO_CRM_QUERY, 0) == want[NO_CRM_QUERY]
        assert raw(conn, other, 0) == want[other]
        _assert_source_error(conn, query, which)  # still down: the same clear error
        state = _source_rows(conn)[which]
        assert state["state"] == "down" and state["last_error"], state
        assert _source_rows(conn)["events"]["state"] == "up"
        # back up: the source answers again
        fp.set_mode("relay")
        deadline = time.monotonic() + 15
        while True:
            try:
                got = raw(conn, query, 0)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert got == want[query]


def test_source_refusing_the_login_gives_hv00n_naming_it(faulty, origin_db):
    _, _, p = faulty
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn:
        _assert_source_error(conn, "SELECT count(*) FROM badlogin.invoices", "badlogin")
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (60,)
        assert conn.execute("SELECT count(*) FROM crm.contacts").fetchone() == (120,)
        row = _source_rows(conn)["badlogin"]
        assert row["state"] == "down" and row["last_error"], row


def _release_after(fp: FaultProxy, seconds: float) -> threading.Timer:
    """Refuse and reset the fault proxy's connections after ``seconds``: a statement hung on a
    silent source then ends (with whatever error) instead of hanging the test."""
    def release():
        fp.set_mode("refuse")
        fp.cut_all()
    t = threading.Timer(seconds, release)
    t.daemon = True
    t.start()
    return t


@pytest.mark.slow  # waits out connect timeouts and re-attach periods
@pytest.mark.parametrize("which", ["crm", "billing"])
def test_silent_source_gives_hv00n_within_its_connect_timeout(faulty, origin_db, which):
    """A source host that accepts connections and never answers (hung, or a firewall
    dropping packets): HV00N after about connect_timeout (2 s here), not a hung statement."""
    crm_fp, billing_fp, p = faulty
    fp, query = (crm_fp, "SELECT count(*) FROM crm.contacts") if which == "crm" else \
        (billing_fp, "SELECT count(*) FROM billing.invoices")
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn:
        assert conn.execute(query).fetchone()[0] in (120, 300)
        fp.set_mode("blackhole")
        fp.cut_all()
        release = _release_after(fp, 12)
        try:
            t0 = time.monotonic()
            e = sqlstate_of(conn, query)
            took = time.monotonic() - t0
        finally:
            release.cancel()
        assert e.sqlstate == "HV00N" and f'source "{which}"' in str(e), (took, e.sqlstate, str(e))
        assert took < 10, f"the error took {took:.1f}s (connect_timeout is 2 s)"
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (60,)


@pytest.mark.slow  # waits out connect timeouts and re-attach periods
@pytest.mark.parametrize("which", ["crm", "billing"])
def test_pgaccel_starts_while_a_source_is_silent(origin, origin_db, billing_db, crm_db, files, tmp_path_factory,
                                                 which):
    fp = FaultProxy("127.0.0.1", MYSQL_PORT if which == "crm" else origin.port).start()
    fp.set_mode("blackhole")
    kw = {"crm_port": fp.port} if which == "crm" else {"billing_port": fp.port}
    holder: dict = {}

    def start():
        try:
            holder["p"] = start_proxy(origin, origin={"dsn": origin.url(origin_db)},
                                      mirror=_mirror(tmp_path_factory, "silent"),
                                      sources=_sources(origin, billing_db, crm_db, files, **kw))
        except BaseException as e:  # reported below
            holder["error"] = e

    th = threading.Thread(target=start, daemon=True)
    th.start()
    th.join(15)
    started = not th.is_alive()
    if not started:  # let it finish starting, to stop it
        fp.set_mode("refuse")
        fp.cut_all()
        th.join(30)
    try:
        assert started, f"pgaccel did not start within 15 s while source {which!r} was silent"
        assert "error" not in holder, holder.get("error")
        query = "SELECT count(*) FROM crm.contacts" if which == "crm" else "SELECT count(*) FROM billing.invoices"
        with psycopg.connect(holder["p"].dsn(origin_db), autocommit=True) as conn:
            release = _release_after(fp, 20)
            try:
                _assert_source_error(conn, query, which)
            finally:
                release.cancel()
            assert conn.execute("SELECT count(*) FROM events.clicks").fetchone() == (400,)
            assert _source_rows(conn)[which]["state"] == "down"
    finally:
        if "p" in holder:
            holder["p"].stop()
        fp.stop()


# ---------------------------------------------------------------- a mirrored source

@pytest.fixture(scope="module")
def mirrored(origin, origin_db, billing_db, crm_db, files, tmp_path_factory):
    """pgaccel with billing, crm and events copied into the mirror (mirror = "full", every
    second), MariaDB behind a fault proxy: (pgaccel, crm fault proxy)."""
    fp = FaultProxy("127.0.0.1", MYSQL_PORT).start()
    sources = _sources(origin, billing_db, crm_db, files, mirror="full", crm_port=fp.port)
    for name in ("billing", "crm", "events"):
        sources[name]["every"] = "1s"
    # the contacts table once more, copied by growing id
    sources["crm_append"] = dict(sources["crm"], mirror="append", watermark={"contacts": "id"},
                                 tables=[f"{crm_db}.contacts"])
    p = None
    try:
        p = start_proxy(origin, origin={"dsn": origin.url(origin_db)}, mirror=_mirror(tmp_path_factory, "mirrored"),
                        sources=sources)
        yield p, fp
    finally:
        if p is not None:
            p.stop()
        fp.stop()


def _wait_mirrored(conn, names, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        rows = _source_rows(conn)
        if all(rows[n]["lag_seconds"] not in (None, "") for n in names) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_mirrored_sources_show_in_show_sources_and_answer_the_same(mirrored, origin_db, crm_db, conns):
    p, _ = mirrored
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn:
        rows = _wait_mirrored(conn, ["billing", "crm", "events", "crm_append"])
        for n in ("billing", "crm", "events"):
            r = rows[n]
            assert r["mirror"] == "full" and r["state"] == "up", r
            assert r["lag_seconds"] not in (None, "") and float(r["lag_seconds"]) < 60, r
            assert str(r["tables"]).strip() not in ("", "0"), r
        assert rows["legacy"]["mirror"] == "live"
        assert rows["crm_append"]["mirror"] == "append" and rows["crm_append"]["tables"] == "1", rows["crm_append"]
        fresh = {r[0] for r in conn.execute("SHOW pgaccel.freshness").fetchall()}
        assert {"billing.public.invoices", f"crm.{crm_db}.contacts", "events.main.clicks"} <= fresh, fresh
        for name in ("four_sources_by_plan", "origin_billing_crm_by_region", "scan_crm", "kinds_crm",
                     "kinds_billing", "kinds_events"):
            assert route_of(conn, QUERIES[name])[0] == "federation"
            for fmt in (0, 1):
                assert raw(conn, QUERIES[name], fmt) == raw(conns["direct"], QUERIES[name], fmt), (name, fmt)


def test_mirrored_source_answers_from_its_copy_while_down(mirrored, origin_db, conns):
    p, fp = mirrored
    want = raw(conns["direct"], CRM_QUERY, 0)
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn:
        _wait_mirrored(conn, ["crm"])
        assert raw(conn, CRM_QUERY, 0) == want
        fp.set_mode("refuse")
        fp.cut_all()
        try:
            time.sleep(1.5)  # a refresh fails meanwhile
            assert raw(conn, CRM_QUERY, 0) == want
        finally:
            fp.set_mode("relay")


def test_other_mirrored_sources_keep_refreshing_while_one_is_down(mirrored, origin_db, conns):
    """MariaDB down must not stop the copies of the Postgres and Parquet sources, nor make
    them "down" (with MariaDB's error) for a query that reads them live."""
    p, fp = mirrored
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn:
        _wait_mirrored(conn, ["billing", "events", "crm"])
        fp.set_mode("refuse")
        fp.cut_all()
        try:
            time.sleep(3)  # three refresh periods
            rows = _source_rows(conn)
            assert rows["crm"]["state"] == "down", rows["crm"]
            for name in ("billing", "events"):
                assert rows[name]["state"] == "up" and not rows[name]["last_error"], rows[name]
                assert float(rows[name]["lag_seconds"]) < 2.5, rows[name]
            conn.execute("SET pgaccel.max_staleness = 0")  # read the sources live
            for name in ("billing_events_no_origin", "scan_events"):
                assert raw(conn, QUERIES[name], 0) == raw(conns["direct"], QUERIES[name], 0), name
            _assert_source_error(conn, "SELECT count(*) FROM crm.contacts", "crm")
        finally:
            fp.set_mode("relay")


def test_mirrored_source_copy_is_refreshed_every_period(mirrored, origin, origin_db, billing_db):
    p, _ = mirrored
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn, \
            psycopg.connect(origin.dsn(billing_db), autocommit=True) as billing:
        _wait_mirrored(conn, ["billing"])
        assert conn.execute("SELECT count(*), sum(amount) FROM billing.invoices").fetchone()[0] == 300
        billing.execute("INSERT INTO invoices VALUES (1000, 1, 0.5, '2024-01-01', true)")
        try:
            deadline = time.monotonic() + 15
            while conn.execute("SELECT count(*) FROM billing.invoices").fetchone()[0] != 301:
                assert time.monotonic() < deadline, "the copy did not pick up the new row within 15 s (every = 1s)"
                time.sleep(0.2)
            assert conn.execute("SELECT amount FROM billing.invoices WHERE id = 1000").fetchone() == (Decimal("0.50"),)
            assert float(_source_rows(conn)["billing"]["lag_seconds"]) < 10
        finally:
            billing.execute("DELETE FROM invoices WHERE id = 1000")


def test_append_mirrored_source_adds_rows_whose_watermark_grew(mirrored, origin_db, crm_db, conns):
    p, _ = mirrored
    q = "SELECT id, account_id, email, score, active, stage, signed_up FROM crm_append.contacts ORDER BY id"
    with psycopg.connect(p.dsn(origin_db), autocommit=True) as conn:
        _wait_mirrored(conn, ["crm_append"])
        assert raw(conn, q, 0)[1] == raw(conns["direct"], QUERIES["scan_crm"], 0)[1]
        _mysql("INSERT INTO contacts VALUES (1000, 1, 'new@example.com', 1.25, 1, 'lead', '2025-01-01 00:00:00')",
               crm_db)
        try:
            deadline = time.monotonic() + 15
            while conn.execute("SELECT count(*) FROM crm_append.contacts").fetchone()[0] != 121:
                assert time.monotonic() < deadline, "the new row was not appended within 15 s (every = 1s)"
                time.sleep(0.2)
            assert conn.execute("SELECT email, score, active FROM crm_append.contacts WHERE id = 1000").fetchone() \
                == ("new@example.com", Decimal("1.25"), True)
        finally:
            _mysql("DELETE FROM contacts WHERE id = 1000", crm_db)


# ---------------------------------------------------------------- names

def test_source_named_like_an_origin_schema_is_refused_at_start(origin, files):
    with scratch_database(origin, "fed_clash", "CREATE SCHEMA sales; CREATE TABLE sales.t (x int)") as db:
        with pytest.raises(Exception, match="sales"):
            p = start_proxy(origin, origin={"dsn": origin.url(db)},
                            sources={"sales": {"kind": "sqlite", "path": files["plans"]}})
            p.stop()


def test_source_named_like_the_origin_database_is_refused_at_start(origin, files):
    with scratch_database(origin, "fed_clash") as db:
        with pytest.raises(Exception, match=db):
            p = start_proxy(origin, origin={"dsn": origin.url(db)},
                            sources={db: {"kind": "sqlite", "path": files["plans"]}})
            p.stop()


def test_source_named_public_is_refused_at_start(origin, origin_db, files):
    with pytest.raises(Exception, match="public"):
        p = start_proxy(origin, origin={"dsn": origin.url(origin_db)},
                        sources={"public": {"kind": "sqlite", "path": files["plans"]}})
        p.stop()
