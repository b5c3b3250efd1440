"""Client authentication by pgaccel: scram-sha-256, md5, trust and passthrough,
with real clients (psycopg/libpq and asyncpg) against a real origin."""

from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg
import psycopg
import pytest

from tests.conftest import start_proxy

APP_PW = "Sw0rdfish-" + uuid.uuid4().hex[:6]      # distinctive: easy to find in a log if leaked
WRONG_PW = "Wr0ng-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def role(origin):
    """A login role on the origin with its own password (the same one pgaccel knows)."""
    name = "app_" + uuid.uuid4().hex[:8]
    origin.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{APP_PW}'")
    try:
        yield name
    finally:
        origin.psql(f"DROP ROLE IF EXISTS {name}")


def _proxy(origin, role, method, **auth):
    return start_proxy(origin, auth={"method": method, "users": {role: APP_PW}, **auth})


@pytest.fixture(scope="module")
def scram_proxy(origin, role):
    p = _proxy(origin, role, "scram-sha-256")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def md5_proxy(origin, role):
    p = _proxy(origin, role, "md5")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def trust_proxy(origin, role):
    p = _proxy(origin, role, "trust")
    yield p
    p.stop()


def _who(dsn: str) -> tuple:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return conn.execute("SELECT current_user, 6 * 7").fetchone()


def _asyncpg_connect_error(port: int, user: str, password: str | None) -> Exception:
    async def go():
        try:
            c = await asyncpg.connect(host="127.0.0.1", port=port, user=user, password=password,
                                      database="postgres", ssl=False, timeout=10)
        except Exception as e:
            return e
        await c.close()
        return None
    err = asyncio.run(go())
    assert err is not None, "login unexpectedly succeeded"
    return err


# ---------------------------------------------------------------- scram-sha-256

def test_scram_right_password_logs_in(scram_proxy, role):
    assert _who(scram_proxy.dsn(user=role, password=APP_PW)) == (role, 42)


def test_scram_login_is_password_based(scram_proxy, role):
    with psycopg.connect(scram_proxy.dsn(user=role, password=APP_PW)) as conn:
        assert conn.pgconn.used_password          # libpq was asked for the password


def test_scram_wrong_password_gets_28p01(scram_proxy, role):
    with pytest.raises(psycopg.OperationalError, match=f'password authentication failed for user "{role}"'):
        _who(scram_proxy.dsn(user=role, password=WRONG_PW))
    err = _asyncpg_connect_error(scram_proxy.port, role, WRONG_PW)
    assert getattr(err, "sqlstate", None) == "28P01", repr(err)


def test_scram_unknown_user_gets_the_same_28p01_as_a_wrong_password(scram_proxy):
    err = _asyncpg_connect_error(scram_proxy.port, "nobody_here", WRONG_PW)
    assert err.sqlstate == "28P01"
    assert 'password authentication failed for user "nobody_here"' in str(err)


def test_scram_no_password_is_refused(scram_proxy, role):
    with pytest.raises(psycopg.OperationalError):
        _who(scram_proxy.dsn(user=role, password="") + " sslmode=disable")


def test_passwords_never_appear_in_pgaccel_log(origin, role, caplog):
    caplog.set_level(logging.DEBUG)
    p = _proxy(origin, role, "scram-sha-256")
    try:
        _who(p.dsn(user=role, password=APP_PW))
        with pytest.raises(psycopg.OperationalError):
            _who(p.dsn(user=role, password=WRONG_PW))
        with pytest.raises(psycopg.OperationalError):
            _who(p.dsn(user="ghost", password=WRONG_PW))
    finally:
        p.stop()
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "authentication failed" in text or "authenticated" in text, "nothing was logged at all"
    assert APP_PW not in text
    assert WRONG_PW not in text


# ---------------------------------------------------------------- md5

def test_md5_right_password_logs_in(md5_proxy, role):
    assert _who(md5_proxy.dsn(user=role, password=APP_PW)) == (role, 42)


def test_md5_wrong_password_gets_28p01(md5_proxy, role):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _who(md5_proxy.dsn(user=role, password=WRONG_PW))
    err = _asyncpg_connect_error(md5_proxy.port, role, WRONG_PW)
    assert err.sqlstate == "28P01"


def test_md5_unknown_user_gets_28p01(md5_proxy):
    err = _asyncpg_connect_error(md5_proxy.port, "nobody_here", WRONG_PW)
    assert err.sqlstate == "28P01"


# ---------------------------------------------------------------- trust

def test_trust_logs_in_without_a_password(trust_proxy, role):
    assert _who(trust_proxy.dsn(user=role, password=None) + " sslmode=disable") == (role, 42)


def test_trust_ignores_whatever_password_the_client_has(trust_proxy, role):
    assert _who(trust_proxy.dsn(user=role, password=WRONG_PW)) == (role, 42)


def test_trust_user_pgaccel_has_no_origin_password_for_gets_clear_fatal(trust_proxy):
    err = _asyncpg_connect_error(trust_proxy.port, "nobody_here", None)
    assert err.sqlstate == "08006", repr(err)
    assert "pgaccel has none" in str(err)


# ---------------------------------------------------------------- passthrough (the origin decides)

def test_passthrough_origin_role_logs_in_with_its_own_password(proxy, role):
    assert _who(proxy.dsn(user=role, password=APP_PW)) == (role, 42)


def test_passthrough_wrong_password_gets_the_origins_28p01(proxy, role):
    with pytest.raises(psycopg.OperationalError, match=f'password authentication failed for user "{role}"'):
        _who(proxy.dsn(user=role, password=WRONG_PW))
    err = _asyncpg_connect_error(proxy.port, role, WRONG_PW)
    assert err.sqlstate == "28P01"


def test_passthrough_unknown_user_gets_the_origins_28p01(proxy):
    err = _asyncpg_connect_error(proxy.port, "nobody_here", WRONG_PW)
    assert err.sqlstate == "28P01"


def test_passthrough_unknown_database_gets_the_origins_3d000(proxy, role):
    async def go():
        return await asyncpg.connect(host="127.0.0.1", port=proxy.port, user=role, password=APP_PW,
                                     database="no_such_db", ssl=False, timeout=10)
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        asyncio.run(go())


def test_passthrough_password_never_appears_in_log(proxy, role, caplog):
    caplog.set_level(logging.DEBUG)
    _who(proxy.dsn(user=role, password=APP_PW))
    with pytest.raises(psycopg.OperationalError):
        _who(proxy.dsn(user=role, password=WRONG_PW))
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert APP_PW not in text and WRONG_PW not in text
