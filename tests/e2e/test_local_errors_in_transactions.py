"""An error pgaccel answers itself (a pgaccel admin statement here; a query across
sources alike) inside a transaction block fails the transaction, as Postgres would."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest


@pytest.mark.parametrize("prepare", [False, True], ids=["simple-or-unnamed", "prepared"])
def test_psycopg_transaction_fails_after_a_local_error(proxy, prepare):
    with psycopg.connect(proxy.dsn("postgres")) as c:
        c.execute("SELECT 1")
        with pytest.raises(psycopg.errors.UndefinedObject):
            c.execute("SHOW pgaccel.no_such_setting", prepare=prepare)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            c.execute("SELECT 2")
        c.rollback()
        assert c.execute("SELECT 3").fetchone() == (3,)


def test_psql_simple_protocol_transaction_fails_after_a_local_error(proxy):
    psql = shutil.which("psql")
    if psql is None:
        print("skipping: psql is not installed")
        pytest.skip("psql is not installed")
    r = subprocess.run([psql, "-X", "-h", "127.0.0.1", "-p", str(proxy.port), "-U", "postgres", "-d", "postgres",
                        "-c", "BEGIN", "-c", "SHOW pgaccel.no_such_setting", "-c", "SELECT 2", "-c", "ROLLBACK",
                        "-c", "SELECT 40 + 2"],
                       env={**os.environ, "PGPASSWORD": "postgres-secret"}, capture_output=True, text=True, timeout=60)
    assert 'unrecognized configuration parameter "pgaccel.no_such_setting"' in r.stderr
    assert "current transaction is aborted" in r.stderr
    assert "42" in r.stdout and "ROLLBACK" in r.stdout
