"""server.max_client_connections: clients over the limit get FATAL 53300 and the
slot is free again when a client leaves (a process of its own: the connection
counter is per process)."""

from __future__ import annotations

import time

import pytest

from bench.memory import PgaccelProcess
from tests.protocol.rawpg import LoginError, RawConn


@pytest.fixture(scope="module")
def limited(origin):
    p = PgaccelProcess({"server": {"max_client_connections": 3, "log_level": "warning"},
                        "auth": {"method": "passthrough"}, "origin": {"dsn": origin.url()}})
    try:
        yield p
    finally:
        p.stop()


def _login(p) -> RawConn:
    c = RawConn(p.port)
    c.login("postgres", password="postgres-secret")
    return c


def test_client_over_max_client_connections_gets_53300_and_a_freed_slot_is_reused(limited):
    held = [_login(limited) for _ in range(3)]
    try:
        with pytest.raises(LoginError) as ei:
            _login(limited).close()
        assert ei.value.fields["C"] == "53300" and ei.value.fields["S"] == "FATAL"
        for c in held:
            assert c.simple("SELECT 1") == [["1"]]
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                held.append(_login(limited))
                break
            except LoginError:
                assert time.monotonic() < deadline, "the freed slot was not given back"
                time.sleep(0.05)
        assert held[-1].simple("SELECT 2") == [["2"]]
    finally:
        for c in held:
            c.close()


def test_refused_clients_do_not_leak_slots(limited):
    for _ in range(5):
        conns = [_login(limited) for _ in range(3)]
        with pytest.raises(LoginError):
            _login(limited)
        for c in conns:
            c.close()
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while True:
        try:
            conns = [_login(limited) for _ in range(3)]
            break
        except LoginError:
            assert time.monotonic() < deadline, "slots leaked"
            time.sleep(0.05)
    for c in conns:
        c.close()
