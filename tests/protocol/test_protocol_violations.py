"""Malformed byte streams: each gets a FATAL 08P01 (where the protocol allows an
answer) and its connection is closed; other sessions through the same pgaccel
are not disturbed (the ``bystander`` runs a query before and after)."""

from __future__ import annotations

import struct

import pytest

from .conftest import MAX_MESSAGE
from .rawpg import RawConn, error_fields, frame, query


def _expect_protocol_violation(conn: RawConn) -> dict[str, str]:
    """The next thing on the wire is ErrorResponse 08P01, then the connection closes."""
    msgs = conn.read_to_eof(limit=5)
    errors = [error_fields(b) for t, b in msgs if t == b"E"]
    assert errors, f"no ErrorResponse before close; got {msgs!r}"
    err = errors[-1]
    assert err["C"] == "08P01", err
    assert err["S"] == "FATAL", err
    return err


def _logged_in(pgaccel) -> RawConn:
    conn = RawConn(pgaccel.port)
    conn.login("postgres")
    assert conn.simple("SELECT 41 + 1") == [["42"]]
    return conn


# ---------------------------------------------------------------- before login

def test_garbage_first_packet_gets_08p01_and_close(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        err = _expect_protocol_violation(conn)
        assert "startup packet" in err["M"]


def test_startup_length_too_small_gets_08p01(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        conn.send(struct.pack("!i", 4))
        _expect_protocol_violation(conn)


def test_startup_length_negative_gets_08p01(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        conn.send(struct.pack("!i", -8) + b"\0" * 8)
        _expect_protocol_violation(conn)


def test_unknown_protocol_version_is_refused(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        body = struct.pack("!i", 2 << 16) + b"user\0postgres\0\0"   # protocol 2.0
        conn.send(struct.pack("!i", len(body) + 4) + body)
        msgs = conn.read_to_eof(limit=5)
        errors = [error_fields(b) for t, b in msgs if t == b"E"]
        assert errors and errors[-1]["S"] == "FATAL", msgs
        assert errors[-1]["C"] in ("08P01", "0A000"), errors


def test_truncated_startup_then_close_releases_nothing_and_disturbs_no_one(pgaccel, bystander):
    before = len(pgaccel.server.sessions)
    with RawConn(pgaccel.port) as conn:
        conn.send(struct.pack("!i", 40) + b"\0\3\0\0user\0po")
        conn.sock.shutdown(1)  # SHUT_WR: the client is gone mid-packet
        # nothing sensible can be answered: the server just closes
        msgs = conn.read_to_eof(limit=5)
        assert all(t == b"E" for t, _ in msgs), msgs
    assert len(pgaccel.server.sessions) == before


# ---------------------------------------------------------------- after login

def test_negative_message_length_after_login_gets_08p01(pgaccel, bystander):
    with _logged_in(pgaccel) as conn:
        conn.send(b"Q" + struct.pack("!i", -1) + b"SELECT 1\0")
        _expect_protocol_violation(conn)


def test_message_length_below_four_gets_08p01(pgaccel, bystander):
    with _logged_in(pgaccel) as conn:
        conn.send(b"Q" + struct.pack("!i", 3))
        _expect_protocol_violation(conn)


def test_message_longer_than_max_message_size_gets_08p01_without_waiting_for_the_body(pgaccel, bystander):
    with _logged_in(pgaccel) as conn:
        # only the header is sent: the answer must come from the length alone
        conn.send(b"Q" + struct.pack("!i", MAX_MESSAGE + 100))
        err = _expect_protocol_violation(conn)
        assert str(MAX_MESSAGE) in err["M"]


def test_huge_message_length_gets_08p01(pgaccel, bystander):
    with _logged_in(pgaccel) as conn:
        conn.send(b"Q" + struct.pack("!I", 0x7FFFFFF0))
        _expect_protocol_violation(conn)


def test_unknown_message_type_after_login_gets_08p01(pgaccel, bystander):
    with _logged_in(pgaccel) as conn:
        conn.send(frame(b"z", b"whatever"))
        err = _expect_protocol_violation(conn)
        assert "message type" in err["M"]


def test_unknown_message_type_after_valid_query_in_same_packet(pgaccel, bystander):
    with _logged_in(pgaccel) as conn:
        conn.send(query("SELECT 7") + frame(b"\x01"))
        msgs = conn.read_to_eof(limit=5)
        types = [t for t, _ in msgs]
        # the valid query may or may not have been answered first; the violation ends it
        assert types[-1] == b"E", msgs
        assert error_fields(msgs[-1][1])["C"] == "08P01"


def test_password_message_after_login_gets_08p01(pgaccel, bystander):
    """'p' is a frontend type, but only during authentication."""
    with _logged_in(pgaccel) as conn:
        conn.send(frame(b"p", b"secret\0"))
        msgs = conn.read_to_eof(limit=5)
        errors = [error_fields(b) for t, b in msgs if t == b"E"]
        assert errors and errors[0]["C"] == "08P01", msgs


def test_truncated_message_then_close_ends_the_session(pgaccel, bystander):
    conn = _logged_in(pgaccel)
    n_sessions = len(pgaccel.server.sessions)
    conn.send(b"Q" + struct.pack("!i", 100) + b"SELECT pg_sleep")
    conn.sock.shutdown(1)
    msgs = conn.read_to_eof(limit=5)
    # a half-closed client can still read: an 08P01 is welcome, but silence is fine too
    for t, b in msgs:
        assert t == b"E" and error_fields(b)["C"] == "08P01", msgs
    conn.close()
    _wait(lambda: len(pgaccel.server.sessions) == n_sessions - 1)


def test_new_sessions_work_after_a_burst_of_violations(pgaccel, bystander):
    bad = [b"\xff" * 16, struct.pack("!i", 3), b"\x00\x00\x27\x11" + b"\0" * 8]
    for data in bad:
        with RawConn(pgaccel.port) as conn:
            conn.send(data)
            conn.read_to_eof(limit=5)
    with _logged_in(pgaccel) as conn:
        assert conn.simple("SELECT 'still here'") == [["still here"]]


def _wait(cond, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.02)
