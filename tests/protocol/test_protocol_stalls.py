"""Clients that stall, stop reading or vanish mid-result do not hold up others,
and a vanished client's origin backend is released."""

from __future__ import annotations

import struct
import time
import uuid

import pytest

from .rawpg import RawConn, query, startup_packet

BIG = "SELECT repeat('x', 1000) FROM generate_series(1, 200000)"


def _quick(bystander, n: int = 5) -> float:
    """Run n queries on the bystander; return the slowest one's seconds."""
    worst = 0.0
    for _ in range(n):
        t0 = time.monotonic()
        bystander.check()
        worst = max(worst, time.monotonic() - t0)
    return worst


def _origin_backends(origin, app: str) -> int:
    return int(origin.psql(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'").strip())


def _wait(cond, timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.05)
    return time.monotonic() - t0


def test_client_stalled_mid_message_does_not_block_others(pgaccel, bystander):
    with RawConn(pgaccel.port) as stalled:
        stalled.login("postgres")
        q = query("SELECT 'finally'")
        stalled.send(q[:7])                      # type, length and two bytes of SQL
        assert _quick(bystander) < 1.0
        with RawConn(pgaccel.port) as other:     # new logins too
            other.login("postgres")
            assert other.simple("SELECT 2") == [["2"]]
        stalled.send(q[7:])                      # the rest arrives much later: still one message
        assert stalled.read_until_ready()[1][0] == b"D"


def test_client_stalled_mid_startup_does_not_block_others(pgaccel, bystander):
    with RawConn(pgaccel.port) as stalled:
        pkt = startup_packet("postgres")
        stalled.send(pkt[:6])
        assert _quick(bystander) < 1.0
        with RawConn(pgaccel.port) as other:
            other.login("postgres")
            assert other.simple("SELECT 3") == [["3"]]
        stalled.send(pkt[6:])
        stalled.read_until_ready()
        assert stalled.simple("SELECT 4") == [["4"]]


def test_client_that_stops_reading_a_large_result_does_not_block_others(pgaccel, bystander):
    with RawConn(pgaccel.port) as slow:
        slow.login("postgres")
        slow.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
        slow.send(query(BIG))
        time.sleep(0.3)                          # the origin fills the buffers; pgaccel must not block
        assert _quick(bystander, 10) < 1.0
    # closing without reading the rest


def test_client_vanishing_mid_result_releases_origin_backend(pgaccel, origin, bystander):
    app = "vanish_" + uuid.uuid4().hex[:8]
    conn = RawConn(pgaccel.port)
    conn.login("postgres", application_name=app)
    assert _origin_backends(origin, app) == 1
    conn.send(query(BIG))
    got = 0
    while got < 1 << 20:                          # read about 1 MB of the 200 MB, then vanish
        chunk = conn.sock.recv(65536)
        assert chunk
        got += len(chunk)
    conn.abort()
    assert _quick(bystander) < 1.0
    _wait(lambda: _origin_backends(origin, app) == 0, 5, "origin backend of the vanished client gone")
    _wait(lambda: not any(s.startup.get("application_name") == app
                          for s in list(pgaccel.server.sessions.values())), 5, "pgaccel session gone")


def test_client_closing_politely_mid_result_releases_origin_backend(pgaccel, origin, bystander):
    app = "polite_" + uuid.uuid4().hex[:8]
    conn = RawConn(pgaccel.port)
    conn.login("postgres", application_name=app)
    conn.send(query(BIG))
    conn.sock.recv(65536)
    conn.send(b"X" + struct.pack("!i", 4))       # Terminate while the result is still streaming
    conn.close()
    assert _quick(bystander) < 1.0
    _wait(lambda: _origin_backends(origin, app) == 0, 5, "origin backend gone")


def test_idle_session_is_returned_to_pool_and_reused_after_close(pgaccel, origin):
    """With trust auth pgaccel pools origin connections: closing a session keeps its backend."""
    app = "pooled_" + uuid.uuid4().hex[:8]
    with RawConn(pgaccel.port) as conn:
        conn.login("postgres", application_name=app)
        pid = conn.simple("SELECT pg_backend_pid()")[0][0]
    _wait(lambda: any(("application_name", app) in key[2] and idle
                      for key, idle in list(pgaccel.server.pool._idle.items())), 5, "connection pooled")
    with RawConn(pgaccel.port) as conn:
        conn.login("postgres", application_name=app)
        assert conn.simple("SELECT pg_backend_pid()")[0][0] == pid
