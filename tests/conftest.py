"""Shared fixtures: a throwaway Postgres cluster (the origin) for the whole run,
a fresh database per test module that wants one, and pgaccel servers in front.

No mocks: every end-to-end test talks to a real Postgres through the real proxy.
"""

from __future__ import annotations

import os
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
