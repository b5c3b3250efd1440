"""Freshness measured from the origin's WAL through a logical replication slot."""

from __future__ import annotations

import math
import time
import uuid

import psycopg
import pytest

from mirror.engine import MirrorEngine


@pytest.fixture
def engine(tmp_path):
    e = MirrorEngine(str(tmp_path / "mirror.duckdb"))
    yield e
    if e.freshness is not None and e.freshness.mode == "logical":
        e.freshness.drop_slot()  # a logical slot would block DROP DATABASE
    e.close()


@pytest.fixture
def two_tables(origin_conn):
    origin_conn.execute("CREATE TABLE a (x int); CREATE TABLE b (x int); INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)")


def _slot():
    return "t_" + uuid.uuid4().hex[:12]


def test_a_change_marks_only_that_table_dirty(origin, fresh_db, origin_conn, two_tables, engine):
    dsn = origin.dsn(fresh_db)
    tracker = engine.track_freshness(dsn, slot=_slot(), start=False)
    engine.sync_blocking(dsn, ["public.*"])
    assert tracker.mode == "logical" and tracker.tracked("public", "a")
    assert tracker.poll_once() == set()
    before = time.time()
    origin_conn.execute("UPDATE a SET x = 2")
    assert tracker.poll_once() == {("public", "a")}
    assert tracker.freshness("public", "a") == (None, True)
    assert tracker.lag_seconds("public", "a") == math.inf
    verified_b, dirty_b = tracker.freshness("public", "b")
    assert not dirty_b and verified_b >= before and tracker.lag_seconds("public", "b") < 5
    engine.sync_blocking(dsn, ["public.*"])  # re-sync includes the change
    assert tracker.freshness("public", "a")[1] is False
    assert tracker.poll_once() == set()


def test_changes_already_in_the_snapshot_do_not_mark_dirty(origin, fresh_db, origin_conn, two_tables, engine):
    dsn = origin.dsn(fresh_db)
    tracker = engine.track_freshness(dsn, slot=_slot(), start=False)
    tracker.ensure_slot()
    origin_conn.execute("INSERT INTO a VALUES (5)")  # after the slot, before the snapshot
    engine.sync_blocking(dsn, ["public.*"])
    assert tracker.poll_once() == set()
    assert tracker.dirty_tables() == set()


@pytest.mark.parametrize("apply", [False, True])
def test_change_committed_during_the_copy_is_applied_or_marks_the_table_dirty(
        origin, fresh_db, origin_conn, two_tables, engine, apply):
    dsn = origin.dsn(fresh_db)
    tracker = engine.track_freshness(dsn, slot=_slot(), start=False, apply=apply)

    def write(table, done, total):
        if table == "public.a" and done:
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("INSERT INTO b VALUES (9)")

    engine.sync_blocking(dsn, ["public.*"], progress=write)
    assert engine.cursor().execute("SELECT count(*) FROM public.b").fetchone()[0] == 1
    if apply:  # the insert is not in b's snapshot: applied from the stream
        assert tracker.poll_once() == set()
        assert engine.cursor().execute("SELECT count(*) FROM public.b").fetchone()[0] == 2
    else:
        assert tracker.poll_once() == {("public", "b")}


def test_dirty_set_survives_a_restart(origin, fresh_db, origin_conn, two_tables, tmp_path):
    dsn, slot, path = origin.dsn(fresh_db), _slot(), str(tmp_path / "m.duckdb")
    with MirrorEngine(path) as e:
        tracker = e.track_freshness(dsn, slot=slot, start=False)
        e.sync_blocking(dsn, ["public.*"])
        origin_conn.execute("DELETE FROM a")
        assert tracker.poll_once() == {("public", "a")}
        tracker.stop()
        e.freshness = None
    with MirrorEngine(path) as e:
        tracker = e.track_freshness(dsn, slot=slot, start=False)
        assert tracker.freshness("public", "a") == (None, True)
        assert tracker.freshness("public", "b")[1] is False
        tracker.drop_slot()


def test_background_poller_advances_verified_time(origin, fresh_db, origin_conn, two_tables, engine):
    dsn = origin.dsn(fresh_db)
    engine.track_freshness(dsn, slot=_slot(), interval=0.05)
    engine.sync_blocking(dsn, ["public.*"])
    t = time.time()
    deadline = time.monotonic() + 5
    while (engine.freshness.freshness("public", "a")[0] or 0) < t and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.freshness.freshness("public", "a")[0] >= t
    origin_conn.execute("INSERT INTO b VALUES (3)")  # applied (b has no key: inserts only)
    cur = engine.cursor()
    while cur.execute("SELECT count(*) FROM public.b").fetchone()[0] != 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cur.execute("SELECT count(*) FROM public.b").fetchone()[0] == 2
    origin_conn.execute("DELETE FROM b")  # b has no key: cannot be applied, dirty until re-snapshotted
    while cur.execute("SELECT count(*) FROM public.b").fetchone()[0] != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cur.execute("SELECT count(*) FROM public.b").fetchone()[0] == 0
    assert not engine.freshness.freshness("public", "a")[1]


def test_without_replication_privilege_lag_counts_from_the_snapshot(origin, fresh_db, origin_conn, two_tables, engine):
    role = "r_" + uuid.uuid4().hex[:8]
    origin_conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        dsn = origin.dsn(fresh_db, user=role, password="pw")
        tracker = engine.track_freshness(dsn, slot=_slot(), start=False)
        result = engine.sync_blocking(dsn, ["public.*"])
        assert tracker.mode == "snapshot" and "replication" in tracker.mode_reason
        assert tracker.freshness("public", "a") == (result.synced_at, False)
        assert tracker.lag_seconds("public", "a") >= 0
        assert tracker.freshness("public", "nope") == (None, True)
    finally:
        origin_conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
