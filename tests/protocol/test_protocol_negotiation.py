"""Encryption negotiation without TLS configured, and the cancel request."""

from __future__ import annotations

import threading
import time

from .rawpg import (CANCEL_REQUEST, GSSENC_REQUEST, SSL_REQUEST, QueryError, RawConn, error_fields,
                    request_packet)
import struct


def test_ssl_request_without_tls_gets_n_then_plain_login_works(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        conn.send(request_packet(SSL_REQUEST))
        assert conn.read_byte() == b"N"
        conn.login("postgres")
        assert conn.simple("SELECT 'plain'") == [["plain"]]


def test_gssenc_request_gets_n_then_plain_login_works(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        conn.send(request_packet(GSSENC_REQUEST))
        assert conn.read_byte() == b"N"
        conn.login("postgres")
        assert conn.simple("SELECT 'plain'") == [["plain"]]


def test_gssenc_then_ssl_request_both_refused_then_login_works(pgaccel, bystander):
    """libpq with gssencmode=prefer sslmode=prefer asks for both in turn."""
    with RawConn(pgaccel.port) as conn:
        conn.send(request_packet(GSSENC_REQUEST))
        assert conn.read_byte() == b"N"
        conn.send(request_packet(SSL_REQUEST))
        assert conn.read_byte() == b"N"
        conn.login("postgres")
        assert conn.simple("SELECT 1") == [["1"]]


def test_login_reports_backend_key_and_server_parameters(pgaccel):
    with RawConn(pgaccel.port) as conn:
        msgs = conn.login("postgres")
        assert conn.backend_key is not None
        assert "server_version" in conn.params and "client_encoding" in conn.params
        assert msgs[-1] == (b"Z", b"I")


def test_startup_without_user_gets_fatal_28000(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        body = struct.pack("!i", 196608) + b"database\0postgres\0\0"
        conn.send(struct.pack("!i", len(body) + 4) + body)
        msgs = conn.read_to_eof(limit=5)
        errors = [error_fields(b) for t, b in msgs if t == b"E"]
        assert errors and errors[0]["C"] == "28000" and errors[0]["S"] == "FATAL", msgs


def test_cancel_request_with_backend_key_cancels_running_query(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        conn.login("postgres")
        pid, secret = conn.backend_key
        t = threading.Timer(0.3, _send_cancel, (pgaccel.port, pid, secret))
        t.start()
        t0 = time.monotonic()
        try:
            conn.simple("SELECT pg_sleep(5)")
            raise AssertionError("not canceled")
        except QueryError as e:
            assert e.fields["C"] == "57014", e.fields
        finally:
            t.join()
        assert time.monotonic() - t0 < 3
        assert conn.simple("SELECT 'after cancel'") == [["after cancel"]]


def test_cancel_request_with_wrong_secret_is_ignored(pgaccel, bystander):
    with RawConn(pgaccel.port) as conn:
        conn.login("postgres")
        pid, secret = conn.backend_key
        t = threading.Timer(0.1, _send_cancel, (pgaccel.port, pid, secret ^ 1))
        t.start()
        assert conn.simple("SELECT pg_sleep(0.5), 'done'") == [["", "done"]]
        t.join()


def _send_cancel(port: int, pid: int, secret: int) -> None:
    with RawConn(port) as c:
        c.send(struct.pack("!iiii", 16, CANCEL_REQUEST, pid, secret))
        c.is_closed_by_peer(2)
