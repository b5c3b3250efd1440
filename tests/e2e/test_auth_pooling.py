"""With pgaccel checking passwords itself (scram-sha-256), origin connections are
pooled: a later session of the same user reuses the origin backend, and nothing
of the earlier session's state is visible to it."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from tests.conftest import start_proxy

PW = "pool-pw-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def role(origin):
    name = "pooled_" + uuid.uuid4().hex[:8]
    origin.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{PW}'")
    origin.psql(f"GRANT CREATE ON SCHEMA public TO {name}")
    try:
        yield name
    finally:
        origin.psql(f"DROP OWNED BY {name}; DROP ROLE IF EXISTS {name}")


@pytest.fixture(scope="module")
def pooled(origin, role):
    p = start_proxy(origin, auth={"method": "scram-sha-256", "users": {role: PW}})
    yield p
    p.stop()


def _idle(p, user: str) -> int:
    return sum(len(v) for k, v in list(p.server.pool._idle.items()) if k[0] == user)


def _close_and_wait_pooled(p, user: str, conn) -> None:
    """Close ``conn`` and wait until its origin connection is back in the pool (the pool
    hands out the most recently returned connection first)."""
    n = _idle(p, user) + 1
    conn.close()
    deadline = time.monotonic() + 5
    while _idle(p, user) < n:
        if time.monotonic() > deadline:
            pytest.fail("the origin connection was not returned to the pool")
        time.sleep(0.02)


def _connect(p, role):
    return psycopg.connect(p.dsn(user=role, password=PW), autocommit=True, connect_timeout=10)


def _backend_pid(conn) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_sequential_sessions_of_one_user_reuse_the_origin_backend(pooled, role):
    with _connect(pooled, role) as c1:
        pid1 = _backend_pid(c1)
        _close_and_wait_pooled(pooled, role, c1)
    with _connect(pooled, role) as c2:
        assert _backend_pid(c2) == pid1
        _close_and_wait_pooled(pooled, role, c2)
    with _connect(pooled, role) as c3:
        assert _backend_pid(c3) == pid1


def test_session_state_does_not_leak_to_the_next_session(pooled, role):
    with _connect(pooled, role) as c1:
        pid1 = _backend_pid(c1)
        c1.execute("SET work_mem = '77MB'")
        c1.execute("SET application_name = 'leaky'")
        c1.execute("CREATE TEMP TABLE leak_tmp (x int)")
        c1.execute("PREPARE leak_ps AS SELECT 1")
        c1.execute("SELECT 1 + %s", (1,), prepare=True)          # a protocol-level prepared statement
        c1.execute("LISTEN leak_channel")
        c1.execute("SELECT pg_advisory_lock(4242)")
        c1.execute("DECLARE leak_cur CURSOR WITH HOLD FOR SELECT 1")
        assert c1.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] >= 2
        _close_and_wait_pooled(pooled, role, c1)
    with _connect(pooled, role) as c2:
        assert _backend_pid(c2) == pid1, "not reused: the rest of this test would prove nothing"
        assert c2.execute("SHOW work_mem").fetchone()[0] == "4MB"
        assert c2.execute("SHOW application_name").fetchone()[0] != "leaky"
        assert c2.execute("SELECT to_regclass('pg_temp.leak_tmp')").fetchone()[0] is None
        assert c2.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 0
        assert c2.execute("SELECT count(*) FROM pg_listening_channels()").fetchone()[0] == 0
        assert c2.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                          "AND pid = pg_backend_pid()").fetchone()[0] == 0
        assert c2.execute("SELECT count(*) FROM pg_cursors").fetchone()[0] == 0
        # the statement names session 1 used are free again
        c2.execute("PREPARE leak_ps AS SELECT 2")


def test_role_switch_does_not_leak_to_the_next_session(pooled, role):
    with _connect(pooled, role) as c1:
        pid1 = _backend_pid(c1)
        c1.execute("SET ROLE NONE")
        c1.execute("SET search_path = pg_catalog")
        _close_and_wait_pooled(pooled, role, c1)
    with _connect(pooled, role) as c2:
        assert _backend_pid(c2) == pid1
        assert c2.execute("SELECT current_user, session_user").fetchone() == (role, role)
        assert c2.execute("SHOW search_path").fetchone()[0] == '"$user", public'


def test_session_closed_inside_a_transaction_is_not_pooled_and_rolls_back(pooled, role, origin):
    table = "pool_tx_" + uuid.uuid4().hex[:6]
    origin.psql(f"CREATE TABLE {table} (x int); GRANT ALL ON {table} TO {role}")
    try:
        with _connect(pooled, role) as c1:
            pid1 = _backend_pid(c1)
            c1.execute("BEGIN")
            c1.execute(f"INSERT INTO {table} VALUES (1)")
            c1.close()          # Terminate with the transaction open (no COMMIT from psycopg)
        with _connect(pooled, role) as c2:
            assert _backend_pid(c2) != pid1
            assert c2.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
            assert c2.execute("SELECT txid_current_if_assigned()").fetchone()[0] is None
    finally:
        origin.psql(f"DROP TABLE {table}")


def test_session_closed_in_a_failed_transaction_is_not_pooled(pooled, role):
    with _connect(pooled, role) as c1:
        pid1 = _backend_pid(c1)
        c1.execute("BEGIN")
        with pytest.raises(psycopg.errors.DivisionByZero):
            c1.execute("SELECT 1/0")
        c1.close()
    with _connect(pooled, role) as c2:
        assert _backend_pid(c2) != pid1
        assert c2.execute("SELECT 'clean'").fetchone()[0] == "clean"


def test_two_concurrent_sessions_get_different_backends(pooled, role):
    with _connect(pooled, role) as c1, _connect(pooled, role) as c2:
        assert _backend_pid(c1) != _backend_pid(c2)


def test_passthrough_does_not_pool(proxy, role):
    """Each passthrough session logs in with the client's own credentials: no reuse."""
    with psycopg.connect(proxy.dsn(user=role, password=PW)) as c1:
        pid1 = _backend_pid(c1)
    time.sleep(0.2)
    with psycopg.connect(proxy.dsn(user=role, password=PW)) as c2:
        assert _backend_pid(c2) != pid1
