"""``pgaccel serve`` as a process: graceful shutdown on SIGTERM, refusing new
clients while draining, ``--version``, and config errors at start."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid

import psycopg
import pytest

from bench.memory import PGACCEL, REPO, PgaccelProcess, to_toml
from proxy.localpg import free_port
from tests.protocol.rawpg import RawConn, error_fields, startup_packet

SHUTDOWN_TIMEOUT = 3.0


@pytest.fixture
def served(origin):
    p = PgaccelProcess({"server": {"shutdown_timeout": SHUTDOWN_TIMEOUT, "log_level": "info"},
                        "auth": {"method": "passthrough"}, "origin": {"dsn": origin.url()}})
    try:
        yield p
    finally:
        p.stop()


def _dsn(p, **kw) -> str:
    extra = "".join(f" {k}={v}" for k, v in kw.items())
    return (f"host=127.0.0.1 port={p.port} dbname=postgres user=postgres password=postgres-secret "
            f"sslmode=disable connect_timeout=5{extra}")


def _wait_exit(p, timeout: float) -> tuple[int, float]:
    t0 = time.monotonic()
    try:
        rc = p.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pgaccel still running {timeout}s after SIGTERM:\n{p.log()}")
    return rc, time.monotonic() - t0


def _origin_backends(origin, app: str) -> int:
    return int(origin.psql(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'").strip())


# ---------------------------------------------------------------- SIGTERM

def test_sigterm_lets_a_running_statement_finish_then_exits_0(served):
    result = {}
    with psycopg.connect(_dsn(served), autocommit=True) as conn:
        def run():
            try:
                result["row"] = conn.execute("SELECT pg_sleep(1), 'finished'").fetchone()
            except Exception as e:  # reported below
                result["error"] = e
        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.3)
        served.terminate()
        t.join(10)
    assert result.get("row") == ("", "finished"), result
    rc, took = _wait_exit(served, SHUTDOWN_TIMEOUT + 3)
    assert rc == 0, served.log()
    assert "pgaccel stopped" in served.log()


def test_after_sigterm_new_connections_are_refused(served):
    with psycopg.connect(_dsn(served), autocommit=True) as conn:
        t = threading.Thread(target=lambda: conn.execute("SELECT pg_sleep(1.5)"))
        t.start()
        time.sleep(0.3)
        served.terminate()
        time.sleep(0.3)                       # well inside the drain window
        assert served.proc.poll() is None, "exited before the running statement finished"
        with pytest.raises(psycopg.OperationalError) as ei:
            psycopg.connect(_dsn(served))
        msg = str(ei.value)
        assert "refused" in msg or "shutting down" in msg, msg
        t.join(10)
    rc, _ = _wait_exit(served, SHUTDOWN_TIMEOUT + 3)
    assert rc == 0


def test_sigterm_with_only_idle_sessions_exits_at_once_and_tells_them_57p01(served):
    conn = RawConn(served.port)
    conn.login("postgres", password="postgres-secret")
    served.terminate()
    rc, took = _wait_exit(served, SHUTDOWN_TIMEOUT + 3)
    assert rc == 0
    assert took < SHUTDOWN_TIMEOUT, "waited for idle sessions"
    msgs = conn.read_to_eof(limit=5)
    errors = [error_fields(b) for t, b in msgs if t == b"E"]
    assert errors and errors[0]["C"] == "57P01" and errors[0]["S"] == "FATAL", msgs
    conn.close()


def test_sigterm_statement_longer_than_shutdown_timeout_is_ended_and_process_exits_0(served, origin):
    app = "lc_" + uuid.uuid4().hex[:8]
    result = {}
    with psycopg.connect(_dsn(served, application_name=app), autocommit=True) as conn:
        def run():
            try:
                conn.execute("SELECT pg_sleep(30)")
            except Exception as e:
                result["error"] = e
        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.3)
        served.terminate()
        rc, took = _wait_exit(served, SHUTDOWN_TIMEOUT + 4)
        t.join(10)
    assert rc == 0
    assert took >= SHUTDOWN_TIMEOUT - 0.5, "did not wait for the running statement"
    # 57P01 from pgaccel (or, if the origin's answer to the cancel wins the race, its 57014)
    assert isinstance(result.get("error"), psycopg.Error), result
    assert getattr(result["error"], "sqlstate", None) in ("57P01", "57014", None), result
    # the statement that outlived the shutdown is cancelled on the origin, not left running
    deadline = time.monotonic() + 3
    while _origin_backends(origin, app):
        if time.monotonic() > deadline:
            pytest.fail("the origin backend still runs pg_sleep(30) after pgaccel exited")
        time.sleep(0.1)


def test_sigterm_with_client_mid_startup_exits(served):
    """A client that connected but never finished its startup packet does not hold up exit."""
    with socket.create_connection(("127.0.0.1", served.port)) as s:
        s.sendall(startup_packet("postgres")[:6])
        time.sleep(0.2)
        served.terminate()
        rc, took = _wait_exit(served, SHUTDOWN_TIMEOUT + 4)
    assert rc == 0


# ---------------------------------------------------------------- CLI

def _pgaccel(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([PGACCEL, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_version_prints_the_version():
    from proxy import __version__

    out = _pgaccel("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"pgaccel {__version__}"


def _write_config(tmp_path, config: dict) -> str:
    path = tmp_path / "pgaccel.toml"
    path.write_text(to_toml(config))
    return str(path)


def test_unknown_config_key_fails_at_start_naming_the_key(tmp_path, origin):
    path = _write_config(tmp_path, {"server": {"listen": f"127.0.0.1:{free_port()}", "bogus_knob": 1},
                                    "origin": {"dsn": origin.url()}})
    out = _pgaccel("serve", "--config", path)
    assert out.returncode == 2
    assert "server.bogus_knob" in out.stderr


def test_every_config_problem_is_reported_together(tmp_path, origin):
    path = _write_config(tmp_path, {"server": {"listen": "nowhere", "log_level": "chatty"},
                                    "auth": {"method": "kerberos"}, "tls": {"mode": "require"},
                                    "origin": {"dsn": origin.url()}})
    out = _pgaccel("serve", "--config", path)
    assert out.returncode == 2
    for name in ("server.log_level", "auth.method"):
        assert name in out.stderr, out.stderr


def test_unknown_config_section_fails_at_start(tmp_path, origin):
    path = _write_config(tmp_path, {"sever": {"listen": "127.0.0.1:1"}, "origin": {"dsn": origin.url()}})
    out = _pgaccel("serve", "--config", path)
    assert out.returncode == 2
    assert "[sever]" in out.stderr


def test_missing_config_file_fails_at_start(tmp_path):
    out = _pgaccel("serve", "--config", str(tmp_path / "nope.toml"))
    assert out.returncode == 2
    assert "nope.toml" in out.stderr


def test_listen_port_in_use_fails_at_start_with_nonzero_exit(tmp_path, origin):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        path = _write_config(tmp_path, {"server": {"listen": f"127.0.0.1:{port}"},
                                        "origin": {"dsn": origin.url()}})
        out = _pgaccel("serve", "--config", path)
    assert out.returncode != 0
    assert str(port) in out.stderr or "in use" in out.stderr.lower(), out.stderr[-2000:]
