"""TLS towards clients: tls.mode = require | allow | disable with a self-signed
certificate made for the test run (openssl CLI)."""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from tests.conftest import start_proxy
from tests.protocol.rawpg import SSL_REQUEST, RawConn, error_fields, request_packet, startup_packet


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "server.crt", d / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return str(cert), str(key)


def _tls_proxy(origin, cert, mode):
    return start_proxy(origin, tls={"mode": mode, "cert": cert[0], "key": cert[1]})


@pytest.fixture(scope="module")
def require_proxy(origin, cert):
    p = _tls_proxy(origin, cert, "require")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def allow_proxy(origin, cert):
    p = _tls_proxy(origin, cert, "allow")
    yield p
    p.stop()


def _ssl_in_use(dsn: str) -> bool:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        assert conn.execute("SELECT 'over ' || 'tls'").fetchone() == ("over tls",)
        return conn.pgconn.ssl_in_use


# ---------------------------------------------------------------- require

def test_require_sslmode_require_uses_tls(require_proxy):
    assert _ssl_in_use(require_proxy.dsn(sslmode="require")) is True


def test_require_sslmode_verify_full_with_our_ca_uses_tls(require_proxy, cert):
    assert _ssl_in_use(require_proxy.dsn(sslmode="verify-full", sslrootcert=cert[0])) is True


def test_require_sslmode_prefer_uses_tls(require_proxy):
    assert _ssl_in_use(require_proxy.dsn(sslmode="prefer")) is True


def test_require_sslmode_disable_is_refused_with_a_clear_error(require_proxy):
    with pytest.raises(psycopg.OperationalError, match="requires TLS"):
        _ssl_in_use(require_proxy.dsn(sslmode="disable"))


def test_require_plain_startup_gets_fatal_before_any_authentication(require_proxy):
    with RawConn(require_proxy.port) as conn:
        conn.send(startup_packet("postgres"))
        msgs = conn.read_to_eof(limit=5)
        assert [t for t, _ in msgs] == [b"E"], msgs   # no auth request: nothing goes in clear
        err = error_fields(msgs[0][1])
        assert err["S"] == "FATAL" and err["C"] == "28000", err


def test_require_unencrypted_data_after_ssl_request_is_a_protocol_violation(require_proxy):
    """Bytes pipelined after SSLRequest would be read as if they came over TLS (CVE-2021-23214)."""
    with RawConn(require_proxy.port) as conn:
        conn.send(request_packet(SSL_REQUEST) + startup_packet("postgres"))
        assert conn.read_byte() == b"S"
        msgs = conn.read_to_eof(limit=5)
        assert all(t == b"E" for t, _ in msgs), msgs
        if msgs:
            assert error_fields(msgs[0][1])["C"] == "08P01"


def test_require_and_passthrough_auth_over_tls(require_proxy):
    with psycopg.connect(require_proxy.dsn(sslmode="require")) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


# ---------------------------------------------------------------- allow

def test_allow_accepts_tls(allow_proxy):
    assert _ssl_in_use(allow_proxy.dsn(sslmode="require")) is True


def test_allow_accepts_plain(allow_proxy):
    assert _ssl_in_use(allow_proxy.dsn(sslmode="disable")) is False


# ---------------------------------------------------------------- disable

def test_disable_refuses_ssl_so_sslmode_require_fails(proxy):
    with pytest.raises(psycopg.OperationalError, match="does not support SSL"):
        _ssl_in_use(proxy.dsn(sslmode="require"))


def test_disable_sslmode_prefer_falls_back_to_plain(proxy):
    assert _ssl_in_use(proxy.dsn(sslmode="prefer")) is False
