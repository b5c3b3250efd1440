"""Fixtures for protocol tests: one pgaccel (trust auth, small max message) per module,
and a bystander client whose session must survive whatever the raw sockets do."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import start_proxy

MAX_MESSAGE = 1 << 20


@pytest.fixture(scope="module")
def pgaccel(origin):
    p = start_proxy(origin, auth={"method": "trust"},
                    server={"max_message_size": MAX_MESSAGE})
    try:
        yield p
    finally:
        p.stop()


class Bystander:
    """An established session through the same pgaccel, checked before and after."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.n = 0

    def check(self) -> None:
        self.n += 1
        assert self.conn.execute("SELECT %s::int + 1", (self.n,)).fetchone() == (self.n + 1,)


@pytest.fixture
def bystander(pgaccel):
    with psycopg.connect(pgaccel.dsn(password=None), autocommit=True, connect_timeout=10) as conn:
        b = Bystander(conn)
        b.check()
        yield b
        b.check()
