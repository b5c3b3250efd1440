"""Grants and row-level security changed directly on the origin (not through pgaccel)
while a logical mirror and the result cache serve a role: the next answers follow the
origin, not what the mirror or the cache knew (mirror/freshness.py ``_check_schema``)."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from tests.conftest import start_proxy

SLOT = "pgaccel_priv_" + uuid.uuid4().hex[:6]
Q = "SELECT owner, count(*) AS n FROM docs GROUP BY owner ORDER BY owner"


@pytest.fixture(scope="module")
def setup(origin, tmp_path_factory):
    db = "t_priv_" + uuid.uuid4().hex[:8]
    role = "priv_" + uuid.uuid4().hex[:6]
    origin.psql(f"CREATE DATABASE {db}")
    with psycopg.connect(origin.dsn(db), autocommit=True) as c:
        c.execute("CREATE TABLE docs (id int PRIMARY KEY, owner text, body text)")
        c.execute(f"INSERT INTO docs SELECT i, CASE WHEN i % 3 = 0 THEN '{role}' ELSE 'other' END, 'b' || i "
                  "FROM generate_series(1, 30) i")
        c.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        c.execute(f"GRANT SELECT ON docs TO {role}")
    path = tmp_path_factory.mktemp("priv")
    p = start_proxy(origin, origin={"dsn": origin.url(db)},
                    mirror={"enabled": True, "path": str(path / "m.duckdb"), "slot": SLOT, "max_staleness": 30,
                            "poll_interval": 0.1},
                    cache={"enabled": True, "path": str(path / "cache")})
    tr = p.server.mirror.freshness
    deadline = time.monotonic() + 20
    while (tr.mode != "logical" or tr.polls < 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tr.mode == "logical", tr.mode_reason
    try:
        yield origin, db, role, p
    finally:
        p.stop()
        with psycopg.connect(origin.dsn("postgres"), autocommit=True) as c:
            c.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                      "WHERE slot_name = %s AND NOT active", (SLOT,))
        origin.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        origin.psql(f"DROP ROLE IF EXISTS {role}")


def _route(conn, sql):
    return conn.execute("EXPLAIN (ROUTE) " + sql).fetchone()[0]


def _polls_after(p, n=3, timeout=10.0):
    tr = p.server.mirror.freshness
    want = tr.polls + n
    deadline = time.monotonic() + timeout
    while tr.polls < want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tr.polls >= want


def test_a_revoke_on_the_origin_ends_cached_and_mirrored_answers(setup):
    origin, db, role, p = setup
    with psycopg.connect(p.dsn(db, user=role, password="pw"), autocommit=True) as c:
        assert _route(c, Q) == "mirror"
        first = c.execute(Q).fetchall()
        assert c.execute(Q).fetchall() == first == [("other", 20), (role, 10)]   # second one: a cache hit
        with psycopg.connect(origin.dsn(db), autocommit=True) as admin:
            admin.execute(f"REVOKE SELECT ON docs FROM {role}")
        try:
            _polls_after(p)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(Q)
        finally:
            with psycopg.connect(origin.dsn(db), autocommit=True) as admin:
                admin.execute(f"GRANT SELECT ON docs TO {role}")
        _polls_after(p)
        assert c.execute(Q).fetchall() == first


def test_row_level_security_switched_on_after_the_snapshot_is_honoured(setup):
    origin, db, role, p = setup
    q = Q.replace("GROUP BY owner", "WHERE id > 0 GROUP BY owner")
    with psycopg.connect(p.dsn(db, user=role, password="pw"), autocommit=True) as c:
        assert c.execute(q).fetchall() == [("other", 20), (role, 10)]
        with psycopg.connect(origin.dsn(db), autocommit=True) as admin:
            admin.execute("CREATE POLICY own ON docs USING (owner = current_user)")
            admin.execute("ALTER TABLE docs ENABLE ROW LEVEL SECURITY")
        try:
            _polls_after(p)
            assert c.execute(q).fetchall() == [(role, 10)]        # what the origin shows this role
            deadline = time.monotonic() + 20                         # once re-snapshotted: planned for the origin
            while _route(c, q) != "origin" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _route(c, q) == "origin"
            assert c.execute(q).fetchall() == [(role, 10)]
        finally:
            with psycopg.connect(origin.dsn(db), autocommit=True) as admin:
                admin.execute("ALTER TABLE docs DISABLE ROW LEVEL SECURITY")
                admin.execute("DROP POLICY own ON docs")
