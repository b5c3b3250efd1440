"""asyncpg cannot tell pgaccel from Postgres.

asyncpg always uses the extended protocol with named prepared statements and
binary results, so this covers Parse/Describe/Bind/Execute/Sync relaying.
Every check runs the same coroutine directly on the origin, then through
pgaccel, and compares what asyncpg returned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import io
import time
import uuid

import asyncpg
import pytest

from tests.conftest import scratch_database


@pytest.fixture(scope="module")
def db(origin):
    with scratch_database(origin, "asyncpg") as name:
        yield name


@pytest.fixture(scope="module")
def urls(origin, proxy, db):
    return {"direct": origin.url(db), "pgaccel": proxy.url(db)}


def each(urls, fn, **connect_kw):
    """Run ``await fn(conn)`` on a new asyncpg connection directly, then through pgaccel."""
    async def one(url):
        conn = await asyncpg.connect(url, **connect_kw)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return {side: asyncio.run(one(url)) for side, url in urls.items()}


def same(results: dict):
    assert results["pgaccel"] == results["direct"]
    return results["direct"]


async def error_of(awaitable) -> dict:
    with pytest.raises(asyncpg.PostgresError) as ei:
        await awaitable
    e = ei.value
    return {"class": type(e).__name__, **e.as_dict()}


# --------------------------------------------------------------------------- prepared statements


def test_prepared_statement_fetch_fetchrow_fetchval(urls):
    async def go(conn):
        st = await conn.prepare("SELECT g, $1::text || g AS label FROM generate_series(1, $2::int) g")
        params = [t.name for t in st.get_parameters()]
        attrs = [(a.name, a.type.name, a.type.oid) for a in st.get_attributes()]
        rows = [tuple(r) for r in await st.fetch("n", 5)]
        row = tuple(await st.fetchrow("m", 3))
        val = await st.fetchval("v", 2, column=1)
        return params, attrs, rows, row, val

    params, attrs, rows, row, val = same(each(urls, go))
    assert params == ["text", "int4"] and attrs == [("g", "int4", 23), ("label", "text", 25)]
    assert rows[-1] == (5, "n5") and row == (1, "m1") and val == "v1"


def test_prepared_statement_reused_many_times(urls):
    async def go(conn):
        st = await conn.prepare("SELECT $1::int8 * 2, $2::numeric + 1")
        return [tuple(await st.fetchrow(i, decimal.Decimal(i) / 3)) for i in range(50)]

    assert len(same(each(urls, go))) == 50


def test_statement_cache_survives_ddl_change(urls):
    async def go(conn):
        await conn.execute("DROP TABLE IF EXISTS acache; CREATE TABLE acache (a int); INSERT INTO acache VALUES (1)")
        first = [tuple(r) for r in await conn.fetch("SELECT * FROM acache")]
        await conn.execute("ALTER TABLE acache ADD COLUMN b text DEFAULT 'x'")
        try:
            second = [tuple(r) for r in await conn.fetch("SELECT * FROM acache")]
        except asyncpg.InvalidCachedStatementError as e:  # asyncpg re-prepares on the next call
            second = type(e).__name__
        return first, second, [tuple(r) for r in await conn.fetch("SELECT * FROM acache")]

    assert same(each(urls, go))[2] == [(1, "x")]


def test_executemany_inserts_every_row(urls):
    async def go(conn):
        await conn.execute("DROP TABLE IF EXISTS amany; CREATE TABLE amany (id int PRIMARY KEY, v text, t timestamptz)")
        ts = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        status = await conn.executemany("INSERT INTO amany VALUES ($1, $2, $3)",
                                        [(i, f"v{i}", ts + dt.timedelta(minutes=i)) for i in range(300)])
        return status, tuple(await conn.fetchrow("SELECT count(*), sum(id), max(t) FROM amany"))

    status, agg = same(each(urls, go))
    assert agg[:2] == (300, 44850)


def test_executemany_error_rolls_back_the_batch(urls):
    async def go(conn):
        await conn.execute("DROP TABLE IF EXISTS amany2; CREATE TABLE amany2 (id int PRIMARY KEY)")
        err = await error_of(conn.executemany("INSERT INTO amany2 VALUES ($1)", [(1,), (2,), (1,), (3,)]))
        return err, await conn.fetchval("SELECT count(*) FROM amany2"), await conn.fetchval("SELECT 1")

    err, n, one = same(each(urls, go))
    assert (err["sqlstate"], n, one) == ("23505", 0, 1)


# --------------------------------------------------------------------------- binary types

TYPE_QUERIES = {
    "ints": "SELECT 1::int2, (-32768)::int2, 2147483647::int4, (-9223372036854775808)::int8, NULL::int4",
    "numeric": "SELECT 0::numeric, 12345.6789::numeric, '-0.00001'::numeric, 1e20::numeric, 'NaN'::numeric, "
               "123.4::numeric(10,3), 'Infinity'::numeric, '-Infinity'::numeric",
    "floats": "SELECT 1.5::float4, 0.1::float4, 'NaN'::float4, 'Infinity'::float4, '-Infinity'::float8, "
              "0.1::float8, 1e308::float8, 'NaN'::float8",
    "text": "SELECT ''::text, 'héllo ☃'::text, 'abc'::varchar(10), 'ab'::char(4), 'n'::name, 'x'::\"char\"",
    "bool": "SELECT true, false, NULL::bool",
    "dates": "SELECT '2024-02-29'::date, '1970-01-01'::date, 'infinity'::date, '-infinity'::date",
    "times": "SELECT '12:34:56.789012'::time, '00:00'::time, '12:00+05:30'::timetz",
    "timestamps": "SELECT '2024-02-29 12:34:56.789012'::timestamp, '2024-02-29 12:34:56.789012+02'::timestamptz, "
                  "'infinity'::timestamp, '-infinity'::timestamptz",
    "interval": "SELECT '1 year 2 mons 3 days 04:05:06.789'::interval, '-1 day'::interval, '0'::interval",
    "uuid": "SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
    "json": "SELECT '{\"b\": 1,  \"a\": [true, null]}'::json, '{\"b\": 1,  \"a\": [true, null]}'::jsonb",
    "bytea": "SELECT '\\x'::bytea, '\\x00ff10'::bytea",
    "arrays": "SELECT '{1,2,NULL}'::int4[], '{{1,2},{3,4}}'::int8[], '{\"a b\",NULL,\"\"}'::text[], "
              "'{1.5,NaN}'::numeric[], ARRAY['2024-01-01'::date], '{}'::int4[], ARRAY[true, false], "
              "ARRAY['{\"k\": 1}'::jsonb], ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]",
    "misc": "SELECT '192.168.1.0/24'::cidr, '10.1.2.3'::inet, 'pg_class'::regclass::oid, '(1,2)'::point, "
            "'[1,5)'::int4range, 42::money",
}


@pytest.mark.parametrize("name", list(TYPE_QUERIES))
def test_binary_values_decode_the_same(urls, name):
    async def go(conn):
        st = await conn.prepare(TYPE_QUERIES[name])
        row = await st.fetchrow()
        # repr: NaN != NaN; the Python types must match too
        return [(a.name, a.type.oid) for a in st.get_attributes()], repr(tuple(row))

    same(each(urls, go))


def test_binary_parameters_round_trip(urls):
    params = [1, 2**40, decimal.Decimal("1.25"), 1.5, "text ☃", True, dt.date(2024, 2, 29),
              dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
              dt.timedelta(days=3, seconds=5), uuid.UUID(int=7), b"\x00\x01", [1, 2, 3], ["a", None],
              '{"k": [1, 2]}', dt.time(1, 2, 3)]
    types = ["int4", "int8", "numeric", "float8", "text", "bool", "date", "timestamp", "timestamptz",
             "interval", "uuid", "bytea", "int4[]", "text[]", "jsonb", "time"]
    q = "SELECT " + ", ".join(f"${i + 1}::{t}" for i, t in enumerate(types))

    async def go(conn):
        return repr(tuple(await conn.fetchrow(q, *params)))

    same(each(urls, go))


def test_large_binary_result_streams_whole(urls):
    async def go(conn):
        rows = await conn.fetch("SELECT g, repeat('z', 200) FROM generate_series(1, 20000) g")
        return len(rows), tuple(rows[-1])[0]

    assert same(each(urls, go)) == (20000, 20000)


# --------------------------------------------------------------------------- cursors and transactions


def test_cursor_in_a_transaction_fetches_in_chunks(urls):
    async def go(conn):
        out = []
        async with conn.transaction():
            cur = await conn.cursor("SELECT g, g * 1.5 FROM generate_series(1, 1000) g WHERE g % $1 = 0", 3)
            out.append([tuple(r) for r in await cur.fetch(10)])
            out.append(await cur.forward(100))
            out.append(tuple(await cur.fetchrow()))
            out.append(len(await cur.fetch(1000)))
        return out

    out = same(each(urls, go))
    assert out[1:] == [100, (333, decimal.Decimal("499.5")), 222]


def test_cursor_iteration_with_prefetch(urls):
    async def go(conn):
        async with conn.transaction():
            return [r[0] async for r in conn.cursor("SELECT g FROM generate_series(1, 500) g", prefetch=37)]

    assert same(each(urls, go)) == list(range(1, 501))


def test_transaction_rolls_back_on_exception(urls):
    async def go(conn):
        await conn.execute("DROP TABLE IF EXISTS atx; CREATE TABLE atx (a int)")
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await conn.execute("INSERT INTO atx VALUES (1)")
                raise RuntimeError("boom")
        async with conn.transaction():
            await conn.execute("INSERT INTO atx VALUES (2)")
            async with conn.transaction():           # savepoint
                await conn.execute("INSERT INTO atx VALUES (3)")
            with pytest.raises(asyncpg.UniqueViolationError):
                async with conn.transaction():       # savepoint rolled back
                    await conn.execute("CREATE UNIQUE INDEX ON atx (a)")
                    await conn.execute("INSERT INTO atx VALUES (2)")
        return await conn.fetchval("SELECT array_agg(a ORDER BY a) FROM atx"), conn.is_in_transaction()

    assert same(each(urls, go)) == ([2, 3], False)


def test_error_inside_transaction_blocks_further_statements(urls):
    async def go(conn):
        tr = conn.transaction()
        await tr.start()
        first = await error_of(conn.execute("SELECT 1/0"))
        second = await error_of(conn.fetchval("SELECT 1"))
        await tr.rollback()
        return first["sqlstate"], second["sqlstate"], second["class"], await conn.fetchval("SELECT 2")

    assert same(each(urls, go)) == ("22012", "25P02", "InFailedSQLTransactionError", 2)


# --------------------------------------------------------------------------- errors


def test_unique_violation_keeps_sqlstate_and_constraint(urls):
    async def go(conn):
        await conn.execute("DROP TABLE IF EXISTS auniq; CREATE TABLE auniq (id int CONSTRAINT auniq_pk PRIMARY KEY)")
        await conn.execute("INSERT INTO auniq VALUES (1)")
        return await error_of(conn.execute("INSERT INTO auniq VALUES ($1)", 1))

    e = same(each(urls, go))
    assert (e["class"], e["sqlstate"], e["constraint_name"], e["table_name"], e["detail"]) == \
        ("UniqueViolationError", "23505", "auniq_pk", "auniq", "Key (id)=(1) already exists.")


@pytest.mark.parametrize("query,sqlstate", [
    ("SELECT 1 FROM WHERE x", "42601"),
    ("SELECT * FROM no_such_table", "42P01"),
    ("SELECT 1 / $1::int", "22012"),
    ("SELECT no_such_column", "42703"),
    ("SELECT 'abc'::int", "22P02"),
])
def test_errors_keep_sqlstate_and_fields(urls, query, sqlstate):
    async def go(conn):
        args = (0,) if "$1" in query else ()
        return await error_of(conn.fetch(query, *args)), await conn.fetchval("SELECT 'ok'")

    e, ok = same(each(urls, go))
    assert (e["sqlstate"], ok) == (sqlstate, "ok")


def test_notices_reach_log_listener(urls):
    async def go(conn):
        got = []
        conn.add_log_listener(lambda c, m: got.append((m.severity, m.sqlstate, m.message)))
        await conn.execute("DO $$ BEGIN RAISE NOTICE 'n %', 1; RAISE WARNING 'w'; END $$")
        await asyncio.sleep(0)
        return got

    assert same(each(urls, go)) == [("NOTICE", "00000", "n 1"), ("WARNING", "01000", "w")]


def test_notifications_reach_listener(urls):
    def listen(url):
        async def go(conn):
            got = asyncio.Queue()
            await conn.add_listener("achan", lambda c, pid, ch, payload: got.put_nowait((ch, payload)))
            other = await asyncpg.connect(url)
            try:
                await other.execute("NOTIFY achan, 'hello'")
            finally:
                await other.close()
            return await asyncio.wait_for(got.get(), 5)
        return go

    assert same({side: each({side: url}, listen(url))[side] for side, url in urls.items()}) == \
        ("achan", "hello")


def test_server_settings_and_version_match(urls):
    async def go(conn):
        s = conn.get_settings()
        return (conn.get_server_version(), s.server_encoding, s.client_encoding, s.DateStyle,
                s.standard_conforming_strings, await conn.fetchval("SHOW TimeZone"))

    same(each(urls, go, server_settings={"TimeZone": "Europe/Berlin"}))


# --------------------------------------------------------------------------- COPY


def test_copy_records_to_table_reports_row_count(urls):
    rows = [(i, f"name {i}", None if i % 5 == 0 else decimal.Decimal(i) / 4, dt.date(2024, 1, 1) +
             dt.timedelta(days=i)) for i in range(2000)]

    async def go(conn):
        await conn.execute("DROP TABLE IF EXISTS acopy; "
                           "CREATE TABLE acopy (id int, name text, x numeric, d date)")
        status = await conn.copy_records_to_table("acopy", records=rows)
        return status, tuple(await conn.fetchrow("SELECT count(*), count(x), sum(x), max(d) FROM acopy"))

    status, agg = same(each(urls, go))
    assert status == "COPY 2000" and agg[0] == 2000


def test_copy_from_query_bytes_match(urls):
    async def go(conn):
        buf = io.BytesIO()
        status = await conn.copy_from_query("SELECT g, md5(g::text) FROM generate_series(1, 3000) g",
                                            output=buf, format="binary")
        return status, buf.getvalue()

    status, data = same(each(urls, go))
    assert status == "COPY 3000" and len(data) > 3000 * 32


def test_copy_to_table_from_file_like(urls):
    data = "".join(f"{i},x{i}\n" for i in range(1000)).encode()

    async def go(conn):
        await conn.execute("DROP TABLE IF EXISTS acopy2; CREATE TABLE acopy2 (id int, v text)")
        status = await conn.copy_to_table("acopy2", source=io.BytesIO(data), format="csv")
        return status, await conn.fetchval("SELECT sum(id) FROM acopy2")

    assert same(each(urls, go)) == ("COPY 1000", 499500)


# --------------------------------------------------------------------------- cancellation


def test_timeout_cancels_the_query_and_connection_stays_usable(urls):
    async def go(conn):
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await conn.execute("SELECT pg_sleep(10)", timeout=0.3)
        elapsed = time.monotonic() - t0
        assert elapsed < 3, f"timeout took {elapsed:.1f}s"
        return await conn.fetchval("SELECT 42"), conn.is_in_transaction()

    assert same(each(urls, go)) == (42, False)


def test_wait_for_cancellation_keeps_connection_usable(urls):
    async def go(conn):
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(conn.fetch("SELECT pg_sleep(10)"), 0.3)
        after = await conn.fetchval("SELECT $1::int + 1", 41)
        assert time.monotonic() - t0 < 3
        return after

    assert same(each(urls, go)) == 42


def test_statement_timeout_error_matches(urls):
    async def go(conn):
        await conn.execute("SET statement_timeout = 100")
        e = await error_of(conn.execute("SELECT pg_sleep(5)"))
        return e["sqlstate"], e["message"], await conn.fetchval("SELECT 1")

    assert same(each(urls, go)) == ("57014", "canceling statement due to statement timeout", 1)
