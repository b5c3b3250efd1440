"""The commands a user runs first: ``pgaccel sync`` and ``pgaccel demo``, as processes."""

from __future__ import annotations

import os
import subprocess
import sys

from decimal import Decimal

import duckdb
import pytest

HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pgaccel(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proxy", *args], cwd=HERE, capture_output=True,
                          text=True, timeout=timeout)


def test_sync_copies_the_configured_tables_into_the_mirror_file(origin, fresh_db, origin_conn, tmp_path):
    origin_conn.execute("CREATE TABLE kept (id int PRIMARY KEY, v numeric(10,2))")
    origin_conn.execute("INSERT INTO kept SELECT i, i * 1.25 FROM generate_series(1, 500) i")
    origin_conn.execute("CREATE TABLE skipped (id int)")
    path = tmp_path / "mirror.duckdb"
    cfg = tmp_path / "pgaccel.toml"
    cfg.write_text(f'[origin]\ndsn = "{origin.url(fresh_db)}"\n'
                   f'[mirror]\nenabled = true\nmode = "snapshot"\npath = "{path}"\ntables = ["public.*"]\n'
                   f'exclude = ["public.skipped"]\n')
    r = _pgaccel("sync", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "public.kept: 500 rows" in r.stdout
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute('SELECT count(*), sum(v) FROM "public"."kept"').fetchone() == (500, Decimal("156562.50"))
        tables = {t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'public'").fetchall()}
        assert "skipped" not in tables
    finally:
        con.close()


def test_sync_with_an_unknown_config_key_fails_naming_it(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[mirror]\nenabeld = true\n')
    r = _pgaccel("sync", "--config", str(cfg))
    assert r.returncode == 2
    assert "mirror.enabeld" in r.stderr


@pytest.mark.slow
def test_demo_once_mirrors_sample_data_and_answers_identically():
    r = _pgaccel("demo", "--once", "--port", "0", "--sf", "0.01", timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ") and "mirror" in line]
    assert rows, r.stdout
    assert all(line.rstrip().endswith("| yes |") for line in rows), r.stdout
    assert "psql -h 127.0.0.1" in r.stdout
