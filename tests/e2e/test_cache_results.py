"""The result cache, end to end: a real Postgres (wal_level=logical), pgaccel with the
mirror and the cache, real clients. Executions are counted with pgaccel's
process-wide statement counters (route ``mirror`` = computed by DuckDB, route
``cache`` = answered from the cache)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import pq

from proxy.observe import STATS

SCHEMA = """
CREATE TABLE sales (id int PRIMARY KEY, region text NOT NULL, amount numeric(12,2) NOT NULL,
                    sold date NOT NULL, at timestamptz NOT NULL, blob bytea);
INSERT INTO sales SELECT g, 'r' || (g % 7), g * 1.25, date '2024-01-01' + g % 300,
                         timestamptz '2024-01-01 00:00+00' + g * interval '17 minutes', decode(md5(g::text), 'hex')
FROM generate_series(1, 200000) g;
CREATE SCHEMA other;
CREATE TABLE other.sales (id int PRIMARY KEY, region text NOT NULL, amount numeric(12,2) NOT NULL,
                          sold date NOT NULL, at timestamptz NOT NULL, blob bytea);
INSERT INTO other.sales SELECT g, 'o' || (g % 3), g, date '2024-01-01', timestamptz '2024-01-01 00:00+00', NULL
FROM generate_series(1, 100) g;
CREATE TABLE frozen AS SELECT id, region, amount, sold, at FROM sales WHERE id <= 500;
ALTER TABLE frozen ADD PRIMARY KEY (id);
"""

Q = "SELECT region, count(*) AS n, sum(amount) AS total FROM sales GROUP BY region ORDER BY region"
SLOT = "pgaccel_mirror"   # the server's default slot name (one per cluster)


def _drop_idle_slot(origin) -> None:
    with psycopg.connect(origin.dsn("postgres"), autocommit=True) as c:
        c.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                  "WHERE slot_name = %s AND NOT active", (SLOT,))


@pytest.fixture(scope="module")
def db(origin):
    name = "t_cache_" + uuid.uuid4().hex[:8]
    origin.psql(f"CREATE DATABASE {name}")
    with psycopg.connect(origin.dsn(name), autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute("CREATE ROLE cache_reader LOGIN PASSWORD 'pw'") if not conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = 'cache_reader'").fetchone() else None
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public, other TO cache_reader; "
                     "GRANT USAGE ON SCHEMA other TO cache_reader")
    try:
        yield name
    finally:
        _drop_idle_slot(origin)
        origin.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start(origin, db, paths, **cache):
    from proxy.config import from_dict
    from proxy.server import ServerThread
    from tests.conftest import Proxy

    cfg = from_dict({"server": {"listen": "127.0.0.1:0", "shutdown_timeout": 2},
                     "origin": {"dsn": origin.url(db)},
                     "mirror": {"enabled": True, "path": str(paths / "mirror.duckdb"), "max_staleness": 5},
                     "cache": {"enabled": True, "path": str(paths / "cache"), **cache}})
    p = Proxy(origin, ServerThread(cfg).start())
    tr = p.server.mirror.freshness
    deadline = time.monotonic() + 20
    while (tr.mode != "logical" or tr.polls < 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tr.mode == "logical", tr.mode_reason
    return p


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def pgaccel(origin, db, paths):
    _drop_idle_slot(origin)
    p = start(origin, db, paths)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def conn(pgaccel, db):
    with psycopg.connect(pgaccel.dsn(db), autocommit=True) as c:
        yield c


@pytest.fixture
def direct(origin, db):
    with psycopg.connect(origin.dsn(db), autocommit=True) as c:
        yield c


def executions() -> int:
    """Statements computed by the mirror so far."""
    return sum(n for (target, _), n in STATS.routes.items() if target == "mirror")


def hits() -> int:
    return sum(n for (target, _), n in STATS.routes.items() if target == "cache")


def settle() -> None:
    time.sleep(0.05)   # counters are bumped just after the client has its answer


def unique(sql: str) -> str:
    """The same statement with a literal no other test uses (its own cache entry)."""
    n = uuid.uuid4().int % 10**9
    if " WHERE " in sql:
        return sql.replace(" WHERE ", f" WHERE {n} > 0 AND ", 1)
    return sql.replace("FROM sales", f"FROM sales WHERE {n} > 0", 1)


def generation(pgaccel, table=("public", "sales")) -> int:
    return pgaccel.server.result_cache.cache.generations.generation(table)


def wait_bumped(pgaccel, before: int, table=("public", "sales"), timeout=10.0) -> None:
    """Until the change feed (the mirror's tracker) has reported a change to ``table``."""
    deadline = time.monotonic() + timeout
    while generation(pgaccel, table) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert generation(pgaccel, table) != before


# ---------------------------------------------------------------- keys

def test_whitespace_comment_and_keyword_case_variants_hit(conn):
    q = unique(Q)
    first = conn.execute(q).fetchall()
    settle()
    before_exec, before_hits = executions(), hits()
    variants = [q.replace(" ", "\n  "), "/* dashboard */ " + q + " -- reload", q.replace("SELECT", "select")
                .replace("GROUP BY", "group   by"), q + ";"]
    for v in variants:
        assert conn.execute(v).fetchall() == first
    settle()
    assert executions() == before_exec
    assert hits() == before_hits + len(variants)


def test_a_different_parameter_misses_and_the_same_one_hits(conn):
    q = "SELECT region, count(*) FROM sales WHERE id < %s GROUP BY region ORDER BY region"
    a = conn.execute(q, (1000,)).fetchall()
    settle()
    n = executions()
    assert conn.execute(q, (1000,)).fetchall() == a
    settle()
    assert executions() == n
    b = conn.execute(q, (2000,)).fetchall()
    settle()
    assert executions() == n + 1 and a != b


def test_a_different_role_misses(pgaccel, db, conn):
    q = unique(Q)
    conn.execute(q)
    with psycopg.connect(pgaccel.dsn(db, user="cache_reader", password="pw"), autocommit=True) as other:
        other.execute("SELECT 1")
        settle()
        n = executions()
        other.execute(q).fetchall()
        settle()
        assert executions() == n + 1


@pytest.mark.parametrize("setting", ["SET TimeZone = 'Asia/Tokyo'", "SET search_path = other, public"])
def test_a_different_timezone_or_search_path_misses(conn, direct, setting):
    q = "SELECT region, min(at) AS first, count(*) FROM sales WHERE id < 50 GROUP BY region ORDER BY region"
    q = unique(q)
    base = conn.execute(q).fetchall()
    assert conn.execute(q).fetchall() == base
    settle()
    h = hits()
    conn.execute(setting)
    direct.execute(setting)
    changed = conn.execute(q).fetchall()
    settle()
    assert hits() == h
    assert changed == direct.execute(q).fetchall()
    if "search_path" in setting:
        assert changed != base


def test_session_can_turn_the_cache_off(conn):
    q = unique(Q)
    conn.execute(q)
    conn.execute("SET pgaccel.cache = off")
    settle()
    n = executions()
    conn.execute(q)
    settle()
    assert executions() == n + 1
    assert ("session", "off") in conn.execute("SHOW pgaccel.cache").fetchall()


# ---------------------------------------------------------------- control

def test_show_and_explain_route_report_the_entry(conn):
    q = unique(Q)
    assert conn.execute("EXPLAIN (ROUTE) " + q).fetchone()[0] == "mirror"
    conn.execute(q)
    target, reason, _ = conn.execute("EXPLAIN (ROUTE) " + q).fetchone()
    assert target == "cache" and reason.startswith("cache_hit: entry age ")
    rows = dict(conn.execute("SHOW pgaccel.cache").fetchall())
    assert int(rows["entries"]) >= 1 and float(rows["hit_rate"]) >= 0 and "top1" in rows


# ---------------------------------------------------------------- invalidation

def test_a_write_through_pgaccel_invalidates(conn, pgaccel, db):
    q = "SELECT count(*), sum(amount) FROM sales"
    before = conn.execute(q).fetchone()
    assert conn.execute("EXPLAIN (ROUTE) " + q).fetchone()[0] == "cache"
    with psycopg.connect(pgaccel.dsn(db), autocommit=True) as reader:
        reader.execute("SET pgaccel.max_staleness = '60s'")
        assert reader.execute(q).fetchone() == before     # (EXPLAIN needs the session's settings known)
        assert reader.execute("EXPLAIN (ROUTE) " + q).fetchone()[1].startswith("cache_hit:")
        conn.execute("INSERT INTO sales VALUES (900001, 'rx', 10, '2024-01-01', now(), NULL)")
        try:
            # the writer never gets the answer from before its write; another session
            # no longer gets it as current (only as stale, within its allowed staleness)
            assert conn.execute("EXPLAIN (ROUTE) " + q).fetchone()[0] != "cache"
            assert reader.execute("EXPLAIN (ROUTE) " + q).fetchone()[1].startswith("cache_stale_hit:")
            g = generation(pgaccel)
            wait_bumped(pgaccel, g)
            assert conn.execute(q).fetchone() == (before[0] + 1, before[1] + 10)
        finally:
            conn.execute("DELETE FROM sales WHERE id = 900001")


def quiet(pgaccel) -> None:
    """Until the tracker has polled twice without reporting a change to sales."""
    tr = pgaccel.server.mirror.freshness
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        g, p = generation(pgaccel), tr.polls
        while tr.polls < p + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        if generation(pgaccel) == g:
            return


def test_a_change_seen_by_the_tracker_invalidates(conn, direct, pgaccel, origin, db):
    q = "SELECT max(amount) FROM sales WHERE id <= 10"
    quiet(pgaccel)
    conn.execute("SET pgaccel.max_staleness = '1s'")
    old = conn.execute(q).fetchone()
    settle()
    time.sleep(1.3)     # older than the allowed staleness: only served while the tracker vouches for it
    n = executions()
    assert conn.execute(q).fetchone() == old
    settle()
    assert executions() == n, "a verified entry is fresh however old it is"
    g = generation(pgaccel)
    direct.execute("UPDATE sales SET amount = amount + 1000 WHERE id = 1")
    try:
        wait_bumped(pgaccel, g)
        assert conn.execute("EXPLAIN (ROUTE) " + q).fetchone()[0] != "cache"
        assert conn.execute(q).fetchone() == direct.execute(q).fetchone() != old
    finally:
        direct.execute("UPDATE sales SET amount = amount - 1000 WHERE id = 1")


def test_a_stale_entry_is_never_served_past_the_allowed_staleness(conn, direct, pgaccel, origin, db):
    q = "SELECT sum(amount) FROM sales WHERE id <= 100"
    conn.execute("SET pgaccel.max_staleness = '1s'")
    old = conn.execute(q).fetchone()[0]
    direct.execute("UPDATE sales SET amount = amount + 1 WHERE id = 2")
    committed = time.time()           # at or after the commit
    try:
        served_old = []
        end = committed + 2.5
        while time.time() < end:
            t = time.time()
            v = conn.execute(q).fetchone()[0]
            if v == old:
                served_old.append(t)
            time.sleep(0.01)
        assert all(t <= committed + 1.0 + 0.05 for t in served_old), max(served_old) - committed
    finally:
        direct.execute("UPDATE sales SET amount = amount - 1 WHERE id = 2")


# ---------------------------------------------------------------- single flight

def test_concurrent_identical_misses_execute_once(pgaccel, db):
    q = unique("SELECT a.region, count(*), sum(a.amount) FROM sales a JOIN sales b ON b.id = a.id + 1 "
               "WHERE a.id > 0 GROUP BY a.region ORDER BY a.region")
    conns = [psycopg.connect(pgaccel.dsn(db), autocommit=True) for _ in range(8)]
    try:
        for c in conns:
            c.execute("SELECT 1")           # settings known: no round trip left before the lookup
        barrier = threading.Barrier(len(conns))
        results = [None] * len(conns)

        def run(i):
            barrier.wait()
            results[i] = conns[i].execute(q).fetchall()
        n = executions()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(conns))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        settle()
        assert all(r == results[0] for r in results) and results[0]
        assert executions() == n + 1
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------- same bytes as Postgres

def raw(c, query: str, fmt: int, params=()):
    res = c.pgconn.exec_params(query.encode(), list(params), result_format=fmt)
    assert res.status == pq.ExecStatus.TUPLES_OK, res.error_message
    cols = [(res.fname(i), res.ftype(i), res.fmod(i), res.fformat(i)) for i in range(res.nfields)]
    return res.command_status, cols, [[res.get_value(r, i) for i in range(res.nfields)] for r in range(res.ntuples)]


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_cache_hits_return_the_bytes_postgres_returns(conn, direct, fmt):
    q = unique("SELECT id, region, amount, sold, at FROM frozen WHERE id > 0 ORDER BY id")
    expected = raw(direct, q, fmt)
    assert conn.execute("EXPLAIN (ROUTE) " + q).fetchone()[:2] == ("mirror", "mirror_eligible")
    assert raw(conn, q, fmt) == expected
    settle()
    n, h = executions(), hits()
    assert raw(conn, q, fmt) == expected
    settle()
    assert executions() == n and hits() == h + 1


def test_simple_protocol_hit_returns_the_bytes_postgres_returns(conn, direct):
    q = unique("SELECT id, region, amount, sold, at FROM frozen WHERE id > 0 ORDER BY id").encode()

    def go(c):
        res = c.pgconn.exec_(q)
        return res.command_status, [[res.get_value(r, i) for i in range(res.nfields)] for r in range(res.ntuples)]
    expected = go(direct)
    assert go(conn) == expected
    settle()
    h = hits()
    assert go(conn) == expected
    settle()
    assert hits() == h + 1


# ---------------------------------------------------------------- restart

def test_results_survive_a_restart_with_the_same_cache_path(origin, db, paths, pgaccel):
    """Same slot, coverage and mirror catalog: the epoch continues and the entry is
    served (fresh once the tracker has polled). A different cache path misses."""
    q = unique(Q)
    with psycopg.connect(pgaccel.dsn(db), autocommit=True) as c:
        expected = c.execute(q).fetchall()
    epoch = pgaccel.server.result_cache.cache.generations.epoch
    pgaccel.stop()
    p = start(origin, db, paths)
    try:
        assert p.server.result_cache.cache.generations.epoch == epoch
        time.sleep(0.1)
        with psycopg.connect(p.dsn(db), autocommit=True) as c:
            settle()
            n, h = executions(), hits()
            assert c.execute(q).fetchall() == expected
            settle()
            assert executions() == n and hits() == h + 1
            assert c.execute("EXPLAIN (ROUTE) " + q).fetchone()[0] == "cache"
    finally:
        p.stop()
        pgaccel.thread = type(pgaccel.thread)(pgaccel.thread.config).start()   # back for later tests
        pgaccel.server, pgaccel.port = pgaccel.thread.server, pgaccel.thread.port


def test_cache_clear_command_empties_the_cache(tmp_path):
    from cache import CacheKey, ResultCache
    from proxy.cli import main

    path = tmp_path / "c"
    rc = ResultCache(path)
    rc.put(CacheKey.build("select 1", role="r", database="d"), b"x", rc.begin([]), rows=1, sql="select 1")
    rc.close()
    cfg = tmp_path / "p.toml"
    cfg.write_text(f'[cache]\nenabled = true\npath = "{path}"\n')
    assert main(["cache", "clear", "--config", str(cfg)]) == 0
    rc = ResultCache(path)
    try:
        assert rc.stats()["entries"] == 0
    finally:
        rc.close()
