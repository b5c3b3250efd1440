"""Origin failures: connections cut under pgaccel (tests/faultproxy.py between
pgaccel and the origin), an origin that is down or silent at connect, and an
origin that is shut down or restarted (a throwaway cluster of this module's own:
the session-wide origin is shared with other tests)."""

from __future__ import annotations

import asyncio
import threading
import time

import asyncpg
import psycopg
import pytest

from proxy.localpg import SUPERPASS, SUPERUSER, LocalPostgres, free_port
from tests.conftest import start_proxy
from tests.faultproxy import FaultProxy


def _dsn_via(port: int) -> str:
    return f"postgresql://{SUPERUSER}:{SUPERPASS}@127.0.0.1:{port}/postgres"


@pytest.fixture
def faulty(origin):
    """(fault proxy, pgaccel behind it) with pgaccel checking passwords itself (pooled)."""
    fp = FaultProxy("127.0.0.1", origin.port).start()
    p = start_proxy(origin, origin={"dsn": _dsn_via(fp.port), "connect_timeout": 1},
                    auth={"method": "scram-sha-256", "users": {SUPERUSER: SUPERPASS}})
    try:
        yield fp, p
    finally:
        p.stop()
        fp.stop()


@pytest.fixture
def faulty_passthrough(origin):
    fp = FaultProxy("127.0.0.1", origin.port).start()
    p = start_proxy(origin, origin={"dsn": _dsn_via(fp.port), "connect_timeout": 1})
    try:
        yield fp, p
    finally:
        p.stop()
        fp.stop()


def _connect(p, **kw):
    return psycopg.connect(p.dsn(), autocommit=True, connect_timeout=10, **kw)


def _login_error(port: int, timeout: float = 10) -> tuple[Exception, float]:
    """Try to log in through pgaccel with asyncpg; return (error, seconds taken)."""
    async def go():
        c = await asyncpg.connect(host="127.0.0.1", port=port, user=SUPERUSER, password=SUPERPASS,
                                  database="postgres", ssl=False, timeout=timeout)
        await c.close()
    t0 = time.monotonic()
    try:
        asyncio.run(go())
    except Exception as e:
        return e, time.monotonic() - t0
    pytest.fail("login unexpectedly succeeded")


def _works(p) -> None:
    with _connect(p) as conn:
        assert conn.execute("SELECT 'alive'").fetchone() == ("alive",)


# ---------------------------------------------------------------- connection cut mid-session

@pytest.mark.parametrize("which", ["faulty", "faulty_passthrough"])
def test_origin_connection_cut_while_idle_gives_08006_then_new_sessions_work(which, request):
    fp, p = request.getfixturevalue(which)
    with _connect(p) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert fp.cut_all() >= 1
        time.sleep(0.1)
        with pytest.raises(psycopg.OperationalError) as ei:
            conn.execute("SELECT 2")
        assert ei.value.sqlstate == "08006", (ei.value.sqlstate, str(ei.value))
    _works(p)


def test_origin_connection_cut_mid_query_gives_08006_promptly(faulty):
    fp, p = faulty
    with _connect(p) as conn:
        threading.Timer(0.3, fp.cut_all).start()
        t0 = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as ei:
            conn.execute("SELECT pg_sleep(10)")
        assert time.monotonic() - t0 < 3
        assert ei.value.sqlstate == "08006", (ei.value.sqlstate, str(ei.value))
    _works(p)


def test_origin_connection_cut_mid_result_gives_08006(faulty):
    fp, p = faulty
    with _connect(p) as conn:
        threading.Timer(0.2, fp.cut_all).start()
        with pytest.raises(psycopg.OperationalError) as ei:
            for _ in conn.execute("SELECT repeat('x', 1000), pg_sleep(0.0001) "
                                  "FROM generate_series(1, 100000)"):
                pass
        assert ei.value.sqlstate == "08006", (ei.value.sqlstate, str(ei.value))
    _works(p)


def test_bystander_on_another_origin_connection_is_not_affected_by_a_cut(origin, faulty):
    fp, p = faulty
    direct = start_proxy(origin)     # a second pgaccel, straight to the origin
    try:
        with _connect(direct) as other, _connect(p) as conn:
            conn.execute("SELECT 1")
            fp.cut_all()
            assert other.execute("SELECT 'unaffected'").fetchone() == ("unaffected",)
    finally:
        direct.stop()


def test_pooled_connections_cut_while_idle_are_not_handed_out(faulty):
    fp, p = faulty
    with _connect(p) as c1, _connect(p) as c2:
        c1.execute("SELECT 1")
        c2.execute("SELECT 1")
    deadline = time.monotonic() + 5
    while sum(len(v) for v in list(p.server.pool._idle.values())) < 2:
        assert time.monotonic() < deadline, "connections were not pooled"
        time.sleep(0.02)
    fp.cut_all()
    time.sleep(0.2)
    for _ in range(3):
        _works(p)


# ---------------------------------------------------------------- origin unreachable at connect

def test_origin_refusing_connections_gives_fatal_08006_quickly(origin):
    dead_port = free_port()           # nothing listens here
    p = start_proxy(origin, origin={"dsn": _dsn_via(dead_port), "connect_timeout": 5},
                    auth={"method": "scram-sha-256", "users": {SUPERUSER: SUPERPASS}})
    try:
        err, took = _login_error(p.port)
        assert getattr(err, "sqlstate", None) == "08006", repr(err)
        assert "could not connect to the origin" in str(err)
        assert took < 2
    finally:
        p.stop()


def test_origin_refusing_connections_passthrough_gives_fatal_08006(origin):
    p = start_proxy(origin, origin={"dsn": _dsn_via(free_port())})
    try:
        err, took = _login_error(p.port)
        assert getattr(err, "sqlstate", None) == "08006", repr(err)
        assert took < 2
    finally:
        p.stop()


@pytest.mark.parametrize("which", ["faulty", "faulty_passthrough"])
def test_origin_resetting_new_connections_gives_fatal_08006(which, request):
    """The TCP connect succeeds but the origin resets it at once (a crashing postmaster)."""
    fp, p = request.getfixturevalue(which)
    fp.set_mode("refuse")
    err, took = _login_error(p.port)
    assert getattr(err, "sqlstate", None) == "08006", repr(err)
    assert took < 2
    fp.set_mode("relay")
    _works(p)


@pytest.mark.parametrize("which", ["faulty", "faulty_passthrough"])
def test_silent_origin_at_connect_gives_08006_after_connect_timeout(which, request):
    """The origin accepts TCP but never answers the startup packet."""
    fp, p = request.getfixturevalue(which)
    fp.set_mode("blackhole")
    err, took = _login_error(p.port, timeout=6)
    assert getattr(err, "sqlstate", None) == "08006", repr(err)
    assert took < 3          # origin.connect_timeout is 1 s
    fp.set_mode("relay")
    _works(p)


# ---------------------------------------------------------------- origin shut down / restarted

@pytest.fixture(scope="module")
def own_origin():
    pg = LocalPostgres(settings={"max_connections": "50"})
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(params=["scram-sha-256", "passthrough"])
def own_proxy(own_origin, request):
    auth = {"method": request.param}
    if request.param == "scram-sha-256":
        auth["users"] = {SUPERUSER: SUPERPASS}
    p = start_proxy(own_origin, auth=auth, origin={"connect_timeout": 2})
    try:
        yield p
    finally:
        p.stop()


def test_origin_shutdown_gives_57p01_or_08006_then_sessions_work_when_it_is_back(own_origin, own_proxy):
    with _connect(own_proxy) as conn:
        conn.execute("SELECT 1")
        own_origin.stop_server("fast")
        try:
            with pytest.raises(psycopg.OperationalError) as ei:
                conn.execute("SELECT 2")
            assert ei.value.sqlstate in ("57P01", "08006"), (ei.value.sqlstate, str(ei.value))
            err, took = _login_error(own_proxy.port)       # origin down: clear FATAL, quickly
            assert getattr(err, "sqlstate", None) == "08006", repr(err)
            assert took < 3
        finally:
            own_origin.start_server()
    _works(own_proxy)


def test_origin_restart_then_new_sessions_work(own_origin, own_proxy):
    # leave idle pooled connections behind (scram) before the restart
    for _ in range(2):
        _works(own_proxy)
    time.sleep(0.2)
    own_origin.restart()
    for _ in range(3):
        _works(own_proxy)
