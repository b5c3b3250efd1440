"""Change capture survives an origin restart: no change is lost or applied twice."""

from __future__ import annotations

import time

import psycopg

from proxy.localpg import LocalPostgres
from tests.conftest import start_proxy


def _mirror_ids(p) -> list[int]:
    cur = p.server.mirror.cursor()
    try:
        return [r[0] for r in cur.execute('SELECT id FROM "public"."ticks" ORDER BY id').fetchall()]
    finally:
        cur.close()


def _wait_equal(p, want: list[int], timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    got = _mirror_ids(p)
    while got != want and time.monotonic() < deadline:
        time.sleep(0.1)
        got = _mirror_ids(p)
    return got


def test_changes_made_across_an_origin_restart_all_reach_the_mirror(tmp_path):
    pg = LocalPostgres().start()
    p = None
    try:
        with psycopg.connect(pg.dsn(), autocommit=True) as c:
            c.execute("CREATE TABLE ticks (id int PRIMARY KEY, note text)")
            c.execute("INSERT INTO ticks SELECT i, 'before' FROM generate_series(1, 50) i")
        p = start_proxy(pg, mirror={"enabled": True, "path": str(tmp_path / "m.duckdb"),
                                    "poll_interval": "0.1s"})
        assert _wait_equal(p, list(range(1, 51))) == list(range(1, 51))
        with psycopg.connect(pg.dsn(), autocommit=True) as c:
            c.execute("INSERT INTO ticks SELECT i, 'pending' FROM generate_series(51, 80) i")
            c.execute("DELETE FROM ticks WHERE id <= 10")
        pg.restart()    # the tracker's origin connection dies under it
        with psycopg.connect(pg.dsn(), autocommit=True) as c:
            c.execute("INSERT INTO ticks SELECT i, 'after' FROM generate_series(81, 100) i")
            c.execute("UPDATE ticks SET note = 'updated' WHERE id = 55")
            want = [r[0] for r in c.execute("SELECT id FROM ticks ORDER BY id").fetchall()]
        assert _wait_equal(p, want) == want
        tracker = p.server.mirror.freshness
        assert not tracker.dirty_tables()
        assert tracker.lag_seconds("public", "ticks") < 5
    finally:
        if p is not None:
            p.stop()
        pg.stop()
