"""Clients cannot tell a mirror answer from a Postgres answer.

pgaccel with the DuckDB mirror enabled (snapshot, no staleness limit): each
query is first checked to be routed to the mirror (``EXPLAIN (ROUTE)``), then
run directly on the origin and through pgaccel, and the column descriptions,
raw text/binary bytes and decoded values compared (psycopg and asyncpg).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import psycopg
import pytest
from psycopg import pq

from tests.conftest import scratch_database

SCHEMA = """
CREATE TABLE items (
    id int PRIMARY KEY, small int2, big int8, name text, label varchar(20), price numeric(10,2),
    ratio numeric, f4 float4, f8 float8, ok bool, d date, ts timestamp, tstz timestamptz, u uuid, tags text[]
);
INSERT INTO items
SELECT g, (g % 100)::int2, g::int8 * 1000000007, 'name ' || g, 'L' || (g % 7), g * 1.25, g / 7.0,
       g / 3.0, g / 3.0, g % 2 = 0, date '2024-01-01' + g, timestamp '2024-01-01 00:00' + g * interval '37 minutes',
       timestamptz '2024-01-01 00:00+00' + g * interval '1 hour', md5(g::text)::uuid,
       ARRAY['t' || (g % 3), 'x']
FROM generate_series(1, 2000) g;
UPDATE items SET name = NULL, price = NULL, f8 = 'NaN', ok = NULL WHERE id % 97 = 0;
INSERT INTO items (id, f4, f8, d, ts) VALUES (0, 'Infinity', '-Infinity', '0044-03-15 BC', '1900-01-01');
CREATE TABLE groups (id int PRIMARY KEY, title text);
INSERT INTO groups SELECT g, 'group ' || g FROM generate_series(0, 6) g;
"""

QUERIES = {
    # (the planner keeps numeric without a typmod, arrays, upper() of non-ASCII, 'NaN' literals,
    # || with int2 and float4 arithmetic on the origin: EXPLAIN (ROUTE) says why)
    "all_columns": "SELECT id, small, big, name, label, price, f4, f8, ok, d, ts, tstz, u FROM items ORDER BY id",
    "aggregates": "SELECT count(*), count(name), sum(price), max(d), max(tstz), sum(big), max(small) FROM items",
    "group_by": "SELECT label, count(*) AS n, sum(price) AS total, avg(id) AS mean FROM items "
                "GROUP BY label ORDER BY label",
    "filter_order_limit": "SELECT id, name, tstz FROM items WHERE price > 100 AND ok ORDER BY tstz DESC LIMIT 25",
    "join": "SELECT g.title, count(*) FROM items i JOIN groups g ON g.id = i.id % 7 GROUP BY g.title ORDER BY 1",
    "expressions": "SELECT id, price * 2 AS dbl, lower(label) AS low, d + 1 AS next_day, "
                   "coalesce(name, '-') AS nm, length(name) AS len, id::text || '/' || label AS mix FROM items ORDER BY id LIMIT 50",
    # float arithmetic goes to the origin (DuckDB does not raise on overflow): reads and comparisons
    "floats": "SELECT id, f4, f8, f8 > 1.5 AS big FROM items WHERE id < 20 OR id % 97 = 0 ORDER BY f8 NULLS FIRST, id",
    "empty": "SELECT id, name FROM items WHERE id < 0",
}

# Python has no BC dates: the row with id 0 is compared as bytes only
PY_ALL_COLUMNS = QUERIES["all_columns"].replace("ORDER BY", "WHERE id > 0 ORDER BY")


@pytest.fixture(scope="module")
def db(origin):
    with scratch_database(origin, "mirror_cli", SCHEMA) as name:
        yield name


@pytest.fixture(scope="module")
def mirrored(origin, db, tmp_path_factory):
    """pgaccel with a mirror of ``db``."""
    from tests.conftest import start_proxy

    path = tmp_path_factory.mktemp("mirror") / "mirror.duckdb"
    p = start_proxy(origin, origin={"dsn": origin.url(db)},
                    mirror={"enabled": True, "path": str(path), "max_staleness": -1})
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def conns(origin, mirrored, db):
    c = {"direct": psycopg.connect(origin.dsn(db), autocommit=True),
         "pgaccel": psycopg.connect(mirrored.dsn(db), autocommit=True)}
    try:
        yield c
    finally:
        for x in c.values():
            x.close()


def route_of(conn, query: str) -> tuple[str, str]:
    target, reason, _ = conn.execute("EXPLAIN (ROUTE) " + query).fetchone()
    return target, reason


@contextlib.contextmanager
def answered_by_mirror():
    """Assert the statements inside were answered by the mirror, with no fallback to the origin
    (pgaccel's process-wide counters; tests in one process run one at a time)."""
    from proxy.observe import STATS

    def mirror_count():
        return sum(n for (target, _), n in STATS.routes.items() if target == "mirror")

    before, fallbacks = mirror_count(), STATS.counters["mirror_fallbacks"]
    yield
    # pgaccel counts a statement just after the client has its answer: give it a moment
    deadline = time.monotonic() + 2
    while mirror_count() == before and time.monotonic() < deadline:
        time.sleep(0.005)
    assert STATS.counters["mirror_fallbacks"] == fallbacks, "the mirror fell back to the origin"
    assert mirror_count() > before, "no statement was answered by the mirror"


def same(results: dict):
    assert results["pgaccel"] == results["direct"]
    return results["direct"]


def raw(conn, query: str, fmt: int, params=()):
    res = conn.pgconn.exec_params(query.encode(), list(params), result_format=fmt)
    assert res.status == pq.ExecStatus.TUPLES_OK, res.error_message
    cols = [(res.fname(i), res.ftype(i), res.fmod(i), res.fformat(i), res.fsize(i)) for i in range(res.nfields)]
    rows = [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)]
    return res.command_status, cols, rows


@pytest.mark.parametrize("name", list(QUERIES))
def test_query_is_answered_by_the_mirror(conns, name):
    route = route_of(conns["pgaccel"], QUERIES[name])
    assert route[0] == "mirror", route


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
@pytest.mark.parametrize("name", list(QUERIES))
def test_mirror_answer_bytes_match_postgres(conns, name, fmt):
    same({side: raw(conn, QUERIES[name], fmt) for side, conn in conns.items()})


@pytest.mark.parametrize("name", list(QUERIES))
def test_mirror_answer_via_simple_query_matches_postgres(conns, name):
    def go(conn):
        res = conn.pgconn.exec_(QUERIES[name].encode())
        assert res.status == pq.ExecStatus.TUPLES_OK, res.error_message
        return (res.command_status, [(res.fname(i), res.ftype(i), res.fmod(i)) for i in range(res.nfields)],
                [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)])

    same({side: go(conn) for side, conn in conns.items()})




@pytest.mark.parametrize("name", QUERIES)
def test_mirror_answers_without_falling_back_to_the_origin(conns, name):
    with answered_by_mirror():
        raw(conns["pgaccel"], QUERIES[name], 1)            # extended protocol
    with answered_by_mirror():
        conns["pgaccel"].pgconn.exec_(QUERIES[name].encode())  # simple protocol


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_mirror_answer_with_parameters_matches_postgres(conns, binary):
    q = "SELECT id, name, price, tstz FROM items WHERE id BETWEEN %s AND %s AND label = %s ORDER BY id"
    assert route_of(conns["pgaccel"], q.replace("%s", "1", 2).replace("%s", "'L1'"))[0] == "mirror"

    def go(conn):
        with conn.cursor(binary=binary) as cur:
            return [cur.execute(q, [lo, lo + 300, "L1"], prepare=True).fetchall() for lo in (1, 500, 1000)]

    direct = go(conns["direct"])
    with answered_by_mirror():
        through = go(conns["pgaccel"])
    assert through == direct


def test_mirror_answer_in_timezone_and_datestyle_of_the_session(origin, mirrored, db):
    q = "SELECT tstz, d, ts FROM items WHERE id IN (0, 1, 1500) ORDER BY id"

    def go(dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET TimeZone = 'America/St_Johns'")
            conn.execute("SET DateStyle = 'SQL, DMY'")
            return raw(conn, q, 0)

    same({"direct": go(origin.dsn(db)), "pgaccel": go(mirrored.dsn(db))})


def test_mirror_answer_through_named_cursor_matches(conns):
    def go(conn):
        with conn.transaction():
            with conn.cursor(name="mc") as cur:
                cur.execute(PY_ALL_COLUMNS)
                out = []
                while rows := cur.fetchmany(333):
                    out.append(repr(rows))
                return out

    same({side: go(conn) for side, conn in conns.items()})


def test_mirror_answers_decode_the_same_in_asyncpg(origin, mirrored, db):
    import asyncpg

    async def go(url):
        conn = await asyncpg.connect(url)
        try:
            out = []
            for q in (PY_ALL_COLUMNS, QUERIES["aggregates"], QUERIES["group_by"], QUERIES["floats"]):
                st = await conn.prepare(q)
                out.append(([(a.name, a.type.oid) for a in st.get_attributes()],
                            repr([tuple(r) for r in await st.fetch()])))
            out.append(repr([tuple(r) for r in await conn.fetch(
                "SELECT id, name, u FROM items WHERE id IN ($1, $2, $3) ORDER BY id", 1, 2, 3)]))
            return out
        finally:
            await conn.close()

    same({"direct": asyncio.run(go(origin.url(db))), "pgaccel": asyncio.run(go(mirrored.url(db)))})
