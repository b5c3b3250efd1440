"""Snapshots of a real Postgres into DuckDB: types, table choice, consistency, atomic swap."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from mirror.engine import MirrorEngine
from mirror.sync import run_sync

FAITHFUL = {
    "i2": ("int2", ["-32768", "32767"]),
    "i4": ("int4", ["-2147483648", "2147483647"]),
    "i8": ("int8", ["-9223372036854775808", "9223372036854775807"]),
    "f4": ("float4", ["1.1", "-3.4028235e38", "1e-45", "'NaN'", "'Infinity'"]),
    "f8": ("float8", ["0.1", "1.7976931348623157e308", "'-Infinity'", "5e-324"]),
    "n": ("numeric(38,10)", ["1234567890123456789012345678.0123456789", "-0.5", "0"]),
    "n2": ("numeric(10,2)", ["3.1", "-99999999.99"]),
    "t": ("text", ["''", "'héllo ☃'", "E'tab\\there\\nnl'"]),
    "vc": ("varchar(5)", ["'ab'", "'abcde'"]),
    "c": ("char(4)", ["'ab'", "'é'", "''"]),
    "bp": ("bpchar", ["'x  '"]),
    "nm": ("name", ["'somename'"]),
    "b": ("bool", ["true", "false"]),
    "d": ("date", ["'2024-02-29'", "'0001-01-01'", "'9999-12-31'"]),
    "tm": ("time", ["'00:00:00'", "'23:59:59.999999'"]),
    "ts": ("timestamp", ["'2024-02-29 12:34:56.123456'", "'1900-01-01'"]),
    "tz": ("timestamptz", ["'2024-06-01 12:00:00+05:30'", "'1970-01-01 00:00:00+00'"]),
    "u": ("uuid", ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"]),
    "j": ("json", ["'{\"b\": 1,  \"a\": [2]}'"]),
    "jb": ("jsonb", ["'{\"b\": 1,  \"a\": [2]}'"]),
    "byt": ("bytea", ["'\\x00ff10'", "''"]),
    "ia": ("int4[]", ["'{1,NULL,3}'", "'{}'"]),
    "ta": ("text[]", ["'{\"a b\",NULL,\"\"}'"]),
    "na": ("numeric(6,2)[]", ["'{1.5,-2}'"]),
    "e": ("mood", ["'sad'", "'happy'"]),
    "ea": ("mood[]", ["'{happy,sad}'"]),
    "dm": ("posint", ["7"]),
    "dp": ("price", ["12.5"]),
}
TEXT_ON_PG = {"j", "jb"}  # psycopg parses json; compare the text Postgres prints
# DuckDB needs pytz to return TIMESTAMPTZ as Python objects: compare microseconds since the epoch
PG_EXPR = {"tz": "(extract(epoch from tz) * 1000000)::bigint", "f4": "f4::float8", "ea": "ea::text[]"}  # psycopg reads float4 text
DUCK_EXPR = {"tz": "epoch_us(tz)"}


@pytest.fixture
def engine(tmp_path):
    e = MirrorEngine(str(tmp_path / "mirror.duckdb"))
    yield e
    e.close()


def _faithful_table(conn):
    conn.execute("CREATE TYPE mood AS ENUM ('sad', 'happy')")
    conn.execute("CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)")
    conn.execute("CREATE DOMAIN price AS numeric(12,2)")
    conn.execute("CREATE TABLE ty (id serial, " + ", ".join(f"{k} {t}" for k, (t, _) in FAITHFUL.items()) + ")")
    nrows = max(len(v) for _, v in FAITHFUL.values())
    for i in range(nrows):
        cols = [k for k, (_, vals) in FAITHFUL.items() if i < len(vals)]
        conn.execute(f"INSERT INTO ty ({', '.join(cols)}) VALUES ({', '.join(FAITHFUL[k][1][i] for k in cols)})")
    conn.execute("INSERT INTO ty (id) VALUES (DEFAULT)")  # all NULLs


def test_every_faithful_type_round_trips_exactly(origin, fresh_db, origin_conn, engine):
    _faithful_table(origin_conn)
    engine.sync_blocking(origin.dsn(fresh_db), ["public.ty"])
    table = engine.catalog.get("public", "ty")
    # enums are copied as text but unfaithful: Postgres orders them by declaration
    assert [c.name for c in table.columns if not c.faithful] == ["e", "ea"]
    sel_pg = ", ".join(PG_EXPR.get(k, f"{k}::text" if k in TEXT_ON_PG else k) for k in FAITHFUL)
    want = origin_conn.execute(f"SELECT {sel_pg} FROM ty ORDER BY id").fetchall()
    sel_duck = ", ".join(DUCK_EXPR.get(k, k) for k in FAITHFUL)
    got = engine.cursor().execute(f"SELECT {sel_duck} FROM public.ty ORDER BY id").fetchall()
    assert len(got) == len(want)
    for w, g in zip(want, got):
        for k, a, b in zip(FAITHFUL, w, g):
            if k == "ea":  # unfaithful: held as Postgres's printed text
                assert b == "{" + ",".join(a) + "}" if a is not None else b is None, (k, a, b)
            elif isinstance(a, float) and a != a:
                assert b != b, k
            else:
                assert a == b, (k, a, b)
    assert table.column("c").pg_type == "character(4)"
    assert engine.cursor().execute("SELECT c FROM public.ty WHERE id = 1").fetchone()[0] == "ab  "


def test_interval_keeps_months_days_and_microseconds(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE TABLE iv (iv interval)")
    origin_conn.execute("INSERT INTO iv VALUES ('1 year 2 mons -3 days 04:05:06.789'), ('-1 mon 40 days'), ('36 hours')")
    engine.sync_blocking(origin.dsn(fresh_db), ["public.iv"])
    want = origin_conn.execute(
        "SELECT extract(year from iv)*12 + extract(month from iv), extract(day from iv),"
        " extract(hour from iv)*3600000000 + extract(minute from iv)*60000000 + extract(microseconds from iv)"
        " FROM iv").fetchall()
    arrow = engine.cursor().execute("SELECT iv FROM public.iv").to_arrow_table()
    got = [(v.months, v.days, v.nanoseconds // 1000) for v in arrow.column(0).to_pylist()]
    assert [tuple(int(x) for x in w) for w in want] == got


def test_unfaithful_columns_are_flagged_and_hold_postgres_text(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE TABLE u (id int, n numeric, m money, ip inet, pt point, r int4range,"
                        " tt timetz, bits bit(3), x xml, md int[][], ca char(2)[], ok int)")
    origin_conn.execute("INSERT INTO u VALUES (1, 1.50, 12.5, '10.0.0.1', '(1,2)', '[1,5)', '12:00+02',"
                        " '101', '<a/>', '{{1,2},{3,4}}', '{a,b}', 1)")
    engine.sync_blocking(origin.dsn(fresh_db), ["public.u"])
    t = engine.catalog.get("public", "u")
    assert {c.name for c in t.columns if not c.faithful} == {"n", "m", "ip", "pt", "r", "tt", "bits", "x", "md", "ca"}
    assert all(c.note for c in t.columns if not c.faithful)
    names = "n, m, ip, pt, r, tt, bits, x, md, ca"
    got = engine.cursor().execute(f"SELECT {names} FROM public.u").fetchone()
    assert got == ("1.50", "$12.50", "10.0.0.1", "(1,2)", "[1,5)", "12:00:00+02", "101", "<a/>",
                   "{{1,2},{3,4}}", '{"a ","b "}')


def test_data_the_mirror_cannot_hold_marks_its_column_unfaithful(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE TABLE dd (d date, ts timestamp, big timestamptz, a int[], fine date)")
    origin_conn.execute("INSERT INTO dd VALUES ('infinity', '-infinity', '294270-01-01', '{{1},{2}}', '2020-01-01'),"
                        " (NULL, NULL, NULL, '[0:1]={1,2}', NULL)")
    engine.sync_blocking(origin.dsn(fresh_db), ["public.dd"])
    t = engine.catalog.get("public", "dd")
    assert {c.name: c.faithful for c in t.columns} == {"d": False, "ts": False, "big": False, "a": False, "fine": True}
    assert t.row_count == 2


def test_globs_and_excludes_choose_the_tables(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE SCHEMA sales; CREATE TABLE public.a (x int); CREATE TABLE public.b (x int);"
                        " CREATE TABLE public.tmp_c (x int); CREATE TABLE sales.o (x int);"
                        " CREATE VIEW public.v AS SELECT 1;"
                        " CREATE TABLE public.p (x int) PARTITION BY RANGE (x);"
                        " CREATE TABLE public.p1 PARTITION OF public.p FOR VALUES FROM (0) TO (10);"
                        " INSERT INTO public.p VALUES (1), (2)")
    dsn = origin.dsn(fresh_db)
    engine.sync_blocking(dsn, ["public.*"], ["public.tmp_*"])
    assert set(engine.catalog.tables) == {("public", "a"), ("public", "b"), ("public", "p"), ("public", "p1")}
    assert engine.catalog.get("public", "p").row_count == 2
    engine.sync_blocking(dsn, ["*.*"], ["public.*"])
    assert set(engine.catalog.tables) == {("sales", "o")}
    cur = engine.cursor()
    assert cur.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'public'").fetchone()[0] == 0
    assert cur.execute('SELECT count(*) FROM "sales"."o"').fetchone()[0] == 0


def test_snapshot_reads_one_point_in_time_across_tables(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE TABLE a AS SELECT g AS x FROM generate_series(1, 1000) g;"
                        " CREATE TABLE b AS SELECT g AS x FROM generate_series(1, 1000) g")
    dsn = origin.dsn(fresh_db)

    def write_during_copy(table, done, total):
        if table == "public.a" and done > 0:  # a copied, b not yet: commit to both
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("INSERT INTO a VALUES (-1); INSERT INTO b VALUES (-1); DELETE FROM b WHERE x <= 10")

    result = engine.sync_blocking(dsn, ["public.a", "public.b"], progress=write_during_copy)
    cur = engine.cursor()
    assert cur.execute("SELECT count(*), min(x) FROM public.a").fetchone() == (1000, 1)
    assert cur.execute("SELECT count(*), min(x) FROM public.b").fetchone() == (1000, 1)
    assert origin_conn.execute("SELECT count(*) FROM b").fetchone()[0] == 990
    assert [c.rows for c in result.copies] == [1000, 1000]


def test_readers_see_all_old_or_all_new_tables_during_resync(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE TABLE a AS SELECT g AS x FROM generate_series(1, 20000) g;"
                        " CREATE TABLE b AS SELECT g AS x FROM generate_series(1, 20000) g")
    dsn = origin.dsn(fresh_db)
    engine.sync_blocking(dsn, ["public.*"])
    origin_conn.execute("INSERT INTO a SELECT g FROM generate_series(1, 5000) g;"
                        " INSERT INTO b SELECT g FROM generate_series(1, 5000) g")
    seen, errors, stop = set(), [], threading.Event()

    def reader():
        cur = engine.cursor()
        while not stop.is_set():
            try:
                seen.add(cur.execute("SELECT (SELECT count(*) FROM public.a), (SELECT count(*) FROM public.b)").fetchone())
            except Exception as e:  # noqa: BLE001 - any error is a failure
                errors.append(e)

    th = threading.Thread(target=reader)
    th.start()
    try:
        engine.sync_blocking(dsn, ["public.*"])
        engine.sync_blocking(dsn, ["public.*"])
    finally:
        stop.set()
        th.join()
    assert errors == []
    assert seen <= {(20000, 20000), (25000, 25000)} and (25000, 25000) in seen
    assert engine.catalog.version == 3


def test_catalog_is_persisted_and_reloaded(origin, fresh_db, origin_conn, tmp_path):
    origin_conn.execute("CREATE TABLE a (x int NOT NULL, y text); ALTER TABLE a ENABLE ROW LEVEL SECURITY;"
                        " INSERT INTO a VALUES (1, 'q')")
    path = str(tmp_path / "m.duckdb")
    report = run_sync(origin.dsn(fresh_db), path, ["public.*"], progress=None)
    assert [(t.name, t.rows) for t in report.tables] == [("a", 1)] and report.lines()
    with MirrorEngine(path) as e:
        t = e.catalog.get("public", "a")
        assert e.catalog.version == 1 and e.catalog.collation == "C.UTF-8"
        assert t.rls_enabled and t.table_oid > 0 and t.snapshot_lsn
        assert [(c.name, c.nullable, c.attnum, c.duckdb_type) for c in t.columns] == [
            ("x", False, 1, "INTEGER"), ("y", True, 2, "VARCHAR")]


def test_engine_syncs_while_serving_queries(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE TABLE a AS SELECT g AS x FROM generate_series(1, 50000) g")
    dsn = origin.dsn(fresh_db)

    async def main():
        await engine.sync(dsn, ["public.*"])
        cur = engine.cursor()
        sync = asyncio.ensure_future(engine.sync(dsn, ["public.*"]))
        counts = []
        while not sync.done():
            counts.append(await engine.run(lambda: cur.execute("SELECT count(*) FROM public.a").fetchone()[0]))
        await sync
        return counts

    counts = asyncio.run(main())
    assert set(counts) == {50000} and engine.catalog.version == 2
