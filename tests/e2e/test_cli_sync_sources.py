"""``pgaccel sync`` also copies sources with mirror = "full"/"append", and a dead origin is
a clear one-line error (no traceback) while the sources are still copied."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb

HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _sync(cfg) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proxy", "sync", "--config", str(cfg)], cwd=HERE,
                          capture_output=True, text=True, timeout=300)


def _config(tmp_path, origin_dsn: str) -> tuple:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT i AS id, 'u' || i AS url FROM range(7) t(i)) TO '{tmp_path}/clicks.parquet' (FORMAT parquet)")
    con.close()
    path = tmp_path / "mirror.duckdb"
    cfg = tmp_path / "pgaccel.toml"
    cfg.write_text(f'[origin]\ndsn = "{origin_dsn}"\n'
                   f'[mirror]\nenabled = true\nmode = "snapshot"\npath = "{path}"\n'
                   f'[sources.web]\nkind = "parquet"\nfiles = {{ clicks = "{tmp_path}/clicks.parquet" }}\n'
                   f'mirror = "full"\n')
    return cfg, path


def _copied(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute('SELECT count(*) FROM "_pgaccel_src"."web.main.clicks"').fetchone()[0]
    finally:
        con.close()


def test_sync_copies_mirrored_sources_too(origin, fresh_db, origin_conn, tmp_path):
    origin_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cfg, path = _config(tmp_path, origin.url(fresh_db))
    r = _sync(cfg)
    assert r.returncode == 0, r.stderr
    assert "source web (parquet, full): up, 1 tables copied" in r.stdout
    assert _copied(path) == 7


def test_a_dead_origin_is_one_clear_line_and_sources_are_still_copied(tmp_path):
    cfg, path = _config(tmp_path, "postgresql://postgres:secret-pw@127.0.0.1:1/postgres")
    r = _sync(cfg)
    assert r.returncode == 1
    assert "pgaccel sync: the origin snapshot failed:" in r.stderr
    assert "Traceback" not in r.stderr and "secret-pw" not in r.stderr + r.stdout
    assert _copied(path) == 7
