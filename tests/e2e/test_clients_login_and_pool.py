"""Logging in and pooled origin connections, as psycopg sees them.

Login failures must read as Postgres's own (SQLSTATE and message). With
``auth.method = scram-sha-256`` pgaccel checks passwords itself and reuses idle
origin connections; a client on a reused connection must not see anything a
previous client left behind, and must see what a fresh Postgres session shows.
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from proxy.localpg import SUPERPASS, SUPERUSER

from tests.conftest import scratch_database


@pytest.fixture(scope="module")
def db(origin):
    with scratch_database(origin, "login") as name:
        yield name


@pytest.fixture(scope="module")
def pooled(origin):
    """pgaccel checking SCRAM passwords itself, with a pool of origin connections."""
    from tests.conftest import start_proxy

    # (start_proxy's first parameter is named origin, so the [origin] section keeps its defaults)
    p = start_proxy(origin, auth={"method": "scram-sha-256", "users": {SUPERUSER: SUPERPASS}})
    try:
        yield p
    finally:
        p.stop()


def login_error(dsn: str, port: int) -> str:
    """libpq's message for a failed login (psycopg has no SQLSTATE for these), port scrubbed."""
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(dsn, connect_timeout=10)
    return re.sub(r"port \d+", "port <port>", str(ei.value))


# --------------------------------------------------------------------------- login failures (passthrough)


def test_wrong_password_fails_like_postgres(origin, proxy, db):
    direct = login_error(origin.dsn(db, password="wrong"), origin.port)
    through = login_error(proxy.dsn(db, password="wrong"), proxy.port)
    assert through == direct
    assert 'password authentication failed for user "postgres"' in direct


def test_unknown_user_fails_like_postgres(origin, proxy, db):
    direct = login_error(origin.dsn(db, user="nobody_here", password="x"), origin.port)
    through = login_error(proxy.dsn(db, user="nobody_here", password="x"), proxy.port)
    assert through == direct


def test_unknown_database_fails_like_postgres(origin, proxy):
    direct = login_error(origin.dsn("no_such_db_xyz"), origin.port)
    through = login_error(proxy.dsn("no_such_db_xyz"), proxy.port)
    assert through == direct
    assert 'database "no_such_db_xyz" does not exist' in direct


def test_pgaccel_scram_wrong_password_fails_like_postgres(origin, pooled, db):
    direct = login_error(origin.dsn(db, password="wrong"), origin.port)
    through = login_error(pooled.dsn(db, password="wrong"), pooled.port)
    assert through == direct


def test_pgaccel_scram_login_succeeds(origin, pooled, db):
    with psycopg.connect(pooled.dsn(db)) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (SUPERUSER, db)


# --------------------------------------------------------------------------- pooled connections


def _dirty_the_session(conn):
    conn.execute("SET TimeZone = 'Pacific/Chatham'")
    conn.execute("SET application_name = 'dirty'")
    conn.execute("SET search_path = pg_catalog")
    conn.execute("CREATE TEMP TABLE leftover (a int)")
    conn.execute("PREPARE leftover_stmt AS SELECT 1")
    conn.execute("LISTEN leftover_channel")
    conn.execute("SELECT pg_advisory_lock(4242)")
    conn.execute("SELECT %s::int", [1], prepare=True)   # psycopg's _pg3_0
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def _what_a_session_sees(conn):
    return {
        "params": {k: conn.info.parameter_status(k) for k in
                   ("TimeZone", "application_name", "DateStyle", "IntervalStyle", "client_encoding",
                    "server_version", "is_superuser", "session_authorization", "standard_conforming_strings")},
        "show": conn.execute("SELECT current_setting('TimeZone'), current_setting('search_path'), "
                             "current_setting('application_name')").fetchone(),
        "temp": conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'leftover'").fetchone(),
        "prepared": conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone(),
        "listening": conn.execute("SELECT count(*) FROM pg_listening_channels()").fetchone(),
        "locks": conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                              "AND pid = pg_backend_pid()").fetchone(),
        "reprepare": conn.execute("SELECT %s::int + 1", [1], prepare=True).fetchone(),
    }


def _wait_until_pooled(proxy, backend_pid: int, timeout=5.0):
    """The origin connection goes back to the pool (after DISCARD ALL) a moment after its client
    has gone; wait for it so the next client gets it (peeks at the pool's idle lists)."""
    deadline = time.monotonic() + timeout
    while not any(up.pid == backend_pid for idle in proxy.server.pool._idle.values() for up in idle):
        if time.monotonic() > deadline:
            pytest.fail("pgaccel did not return the origin connection to its pool")
        time.sleep(0.02)


def test_reused_origin_connection_shows_a_fresh_session(origin, pooled, db):
    with psycopg.connect(pooled.dsn(db), autocommit=True) as first:
        pid1 = _dirty_the_session(first)
    _wait_until_pooled(pooled, pid1)
    with psycopg.connect(pooled.dsn(db), autocommit=True) as second:
        pid2 = second.execute("SELECT pg_backend_pid()").fetchone()[0]
        through = _what_a_session_sees(second)
    with psycopg.connect(origin.dsn(db), autocommit=True) as fresh:
        direct = _what_a_session_sees(fresh)
    assert pid2 == pid1, "the second client did not get the pooled origin connection: test proves nothing"
    # pgaccel names its origin connections 'pgaccel' when the client gives no name
    through["params"].pop("application_name"), direct["params"].pop("application_name")
    through["show"], direct["show"] = through["show"][:2], direct["show"][:2]
    assert through == direct


def test_pooled_connection_left_in_a_transaction_is_not_reused(origin, pooled, db):
    first = psycopg.connect(pooled.dsn(db))
    first.execute("CREATE TEMP TABLE in_tx (a int)")   # transaction left open
    pid1 = first.execute("SELECT pg_backend_pid()").fetchone()[0]
    first.close()
    with psycopg.connect(pooled.dsn(db), autocommit=True) as second:
        assert second.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert second.execute("SELECT count(*) FROM pg_class WHERE relname = 'in_tx'").fetchone() == (0,)
        assert second.execute("SELECT pg_backend_pid()").fetchone()[0] != pid1


def test_many_sequential_pooled_sessions_work(pooled, db):
    for i in range(20):
        with psycopg.connect(pooled.dsn(db), autocommit=True) as conn:
            assert conn.execute("SELECT %s::int", [i], prepare=True).fetchone() == (i,)
