"""Shared fixtures: a throwaway Postgres cluster (the origin) for the whole run,
a fresh database per test module that wants one, and pgaccel servers in front.

No mocks: every end-to-end test talks to a real Postgres through the real proxy.
"""

from __future__ import annotations

import contextlib
import uuid

import psycopg
import pytest

from proxy.localpg import SUPERPASS, SUPERUSER, LocalPostgres


@pytest.fixture(scope="session")
def origin():
    """The origin Postgres cluster, started once per test run and removed after."""
    pg = LocalPostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


@contextlib.contextmanager
def scratch_database(origin, prefix: str, schema: str | None = None):
    """A database of its own on ``origin`` (optionally with ``schema`` run in it),
    dropped afterwards. For module-scoped fixtures: ``with scratch_database(...) as db``."""
    name = f"t_{prefix}_" + uuid.uuid4().hex[:8]
    origin.psql(f"CREATE DATABASE {name}")
    try:
        if schema:
            with psycopg.connect(origin.dsn(name), autocommit=True) as conn:
                conn.execute(schema)
        yield name
    finally:
        origin.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def fresh_db(origin):
    """A database of the test's own, dropped afterwards. Returns its name."""
    name = "t_" + uuid.uuid4().hex[:10]
    origin.psql(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        origin.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def origin_conn(origin, fresh_db):
    """A superuser psycopg connection to the test's own database, autocommit."""
    with psycopg.connect(origin.dsn(fresh_db), autocommit=True) as conn:
        yield conn


# ---------------------------------------------------------------- pgaccel in front of the origin

class Proxy:
    """A running pgaccel (in a background thread) in front of ``origin``."""

    def __init__(self, origin, thread) -> None:
        self.origin = origin
        self.thread = thread
        self.server = thread.server
        self.port = thread.port

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = SUPERPASS,
            **extra) -> str:
        pw = f" password={password}" if password is not None else ""
        more = "".join(f" {k}={v}" for k, v in extra.items())
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}{pw}{more}"

    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str = SUPERPASS) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        self.thread.stop()


def start_proxy(pg, /, **sections) -> Proxy:
    """Start pgaccel in front of ``pg`` with config sections, e.g.
    ``start_proxy(origin, auth={...})`` or ``start_proxy(origin, origin={"dsn": ...}, mirror={...})``."""
    from proxy.config import from_dict
    from proxy.server import ServerThread

    data = {"server": {"listen": "127.0.0.1:0", "shutdown_timeout": 2}, "origin": {"dsn": pg.url()}}
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return Proxy(pg, ServerThread(from_dict(data)).start())


@pytest.fixture(scope="session")
def proxy(origin):
    """pgaccel relaying to the origin; clients log in with their origin credentials."""
    p = start_proxy(origin)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def both(origin, fresh_db, proxy):
    """(direct DSN, through-pgaccel DSN) for the test's own database: for differential checks."""
    return origin.dsn(fresh_db), proxy.dsn(fresh_db)
