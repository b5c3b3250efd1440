"""Operating the change stream: SHOW pgaccel.freshness rows, retained WAL, `pgaccel slot drop`."""

from __future__ import annotations

import types
import uuid

import pytest

from mirror.engine import MirrorEngine
from proxy.admin import FRESHNESS_COLUMNS, freshness_rows
from proxy.cli import main


@pytest.fixture
def engine(tmp_path):
    e = MirrorEngine(str(tmp_path / "mirror.duckdb"))
    yield e
    if e.freshness is not None and e.freshness.mode == "logical":
        e.freshness.drop_slot()
    e.close()


def test_freshness_rows_show_lag_mode_error_and_retained_wal(origin, fresh_db, origin_conn, engine):
    origin_conn.execute("CREATE TABLE k (id int PRIMARY KEY); CREATE TABLE nokey (x int);"
                        " INSERT INTO nokey VALUES (1)")
    dsn = origin.dsn(fresh_db)
    tracker = engine.track_freshness(dsn, slot="t_" + uuid.uuid4().hex[:12], start=False)
    engine.sync_blocking(dsn, ["public.*"])
    origin_conn.execute("INSERT INTO k VALUES (1); UPDATE nokey SET x = 2")
    tracker.poll_once()
    server = types.SimpleNamespace(mirror=engine, executor=types.SimpleNamespace(freshness=tracker))
    rows = {r[0]: dict(zip(FRESHNESS_COLUMNS, r)) for r in freshness_rows(server)}
    assert rows["public.k"]["mode"] == "logical" and rows["public.k"]["dirty"] == "f"
    assert float(rows["public.k"]["lag_seconds"]) < 5 and rows["public.k"]["last_error"] is None
    assert rows["public.nokey"]["mode"] == "resnapshot" and rows["public.nokey"]["lag_seconds"] == "inf"
    assert "without primary key" in rows["public.nokey"]["last_error"]
    assert rows["public.k"]["retained_wal"] == tracker.retained_wal >= 0


def test_slot_drop_command_and_recovery(origin, fresh_db, origin_conn, engine, tmp_path):
    origin_conn.execute("CREATE TABLE k (id int PRIMARY KEY, v text); INSERT INTO k VALUES (1, 'a')")
    dsn, slot = origin.dsn(fresh_db), "t_" + uuid.uuid4().hex[:12]
    cfg = tmp_path / "pgaccel.toml"
    cfg.write_text(f'[origin]\ndsn = "{dsn}"\n[mirror]\nslot = "{slot}"\n')
    tracker = engine.track_freshness(dsn, slot=slot, start=False)
    engine.sync_blocking(dsn, ["public.*"])
    assert main(["slot", "show", "--config", str(cfg)]) == 0
    assert main(["slot", "drop", "--config", str(cfg)]) == 0
    assert origin_conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s",
                               (slot,)).fetchone()[0] == 0
    assert main(["slot", "show", "--config", str(cfg)]) == 1
    # the tracker notices, re-creates the slot, and re-snapshots what it no longer covers
    origin_conn.execute("UPDATE k SET v = 'lost from the stream'")
    tracker.poll_once()
    assert not tracker.tracked("public", "k")
    tracker.run_once()
    assert tracker.tracked("public", "k")
    assert engine.cursor().execute("SELECT v FROM public.k").fetchone()[0] == "lost from the stream"
    origin_conn.execute("UPDATE k SET v = 'applied'")
    tracker.poll_once()
    assert engine.cursor().execute("SELECT v FROM public.k").fetchone()[0] == "applied"
