"""Mode watermark: append / updated_at / full tables polled without logical replication."""

from __future__ import annotations

import datetime
import math
import time

import psycopg
import pytest

from mirror.watermark import WatermarkConfigError, parse_specs
from tests.conftest import start_proxy

SCHEMA = """
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, code char(4), m mood,
                     amount numeric(10, 2), at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE users (id int PRIMARY KEY, name text, score float8,
                    updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE prices (sku text, price numeric(10, 2));
CREATE TABLE other (x int);
INSERT INTO events (kind, code, m, amount) SELECT 'seed', 'ab', 'ok', g / 3.0 FROM generate_series(1, 50) g;
INSERT INTO users (id, name, score) SELECT g, 'u' || g, g * 1.5 FROM generate_series(1, 20) g;
INSERT INTO prices VALUES ('a', 1), ('b', 2);
INSERT INTO other VALUES (1);
"""

ORDER = {"events": "id", "users": "id", "prices": "sku"}


@pytest.fixture
def wm(origin, fresh_db, origin_conn, tmp_path):
    origin_conn.execute(SCHEMA)
    p = start_proxy(origin, origin={"dsn": origin.url(fresh_db)}, mirror={
        "enabled": True, "path": str(tmp_path / "m.duckdb"), "mode": "watermark",
        "poll_interval": "100ms", "max_staleness": "-1",
        "watermark": {
            "public.events": {"kind": "append", "column": "id", "overlap": "0.3s"},
            "users": {"kind": "updated_at", "column": "updated_at", "key": "id", "deletes_every": "0s",
                      "priority": 10,
                      "overlap": "0.3s"},
            "public": {"prices": {"kind": "full", "every": "1h"}},
        }})
    try:
        yield p, fresh_db
    finally:
        p.stop()


TS = {"events": "at", "users": "updated_at"}   # timestamptz compared as epoch microseconds
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _mirror_rows(p, table):
    cur = p.server.mirror.cursor()
    try:
        star = f"* REPLACE (epoch_us(\"{TS[table]}\") AS \"{TS[table]}\")" if table in TS else "*"
        return cur.execute(f"SELECT {star} FROM public.{table} ORDER BY {ORDER[table]}").fetchall()
    finally:
        cur.close()


def _origin_rows(conn, table):
    return [tuple((v - EPOCH) // datetime.timedelta(microseconds=1) if isinstance(v, datetime.datetime) else v
                  for v in r)
            for r in conn.execute(f"SELECT * FROM {table} ORDER BY {ORDER[table]}").fetchall()]


def _equal(p, conn, table):
    return _mirror_rows(p, table) == _origin_rows(conn, table)


def test_the_specs_are_parsed_and_checked():
    s = parse_specs({"public.a": {"kind": "append", "column": "id"},
                     "b": {"kind": "updated_at", "column": "u", "key": ["k1", "k2"], "deletes_every": "-1"},
                     "s": {"c": {"kind": "full"}}}, 0.25)
    assert s[("public", "a")]["every"] == 0.25
    assert s[("public", "b")]["key"] == ("k1", "k2") and s[("public", "b")]["deletes_every"] < 0
    assert s[("s", "c")]["every"] == 300
    assert s[("public", "a")]["priority"] == 0
    assert parse_specs({"a": {"kind": "full", "priority": 5}}, 0.25)[("public", "a")]["priority"] == 5
    for bad in ({"a": {"kind": "nope"}}, {"a": {"kind": "append"}},
                {"a": {"kind": "updated_at", "column": "u"}}, {"a": {"kind": "full", "evry": "1s"}},
                {"a": {"kind": "full", "every": "soon"}}, {"a": {"kind": "full", "priority": "high"}}):
        with pytest.raises(WatermarkConfigError):
            parse_specs(bad, 0.25)


def test_tables_due_together_are_polled_highest_priority_first(wm):
    p, _ = wm
    tr = p.server.mirror.freshness
    with tr._lock:     # the tracker's own thread may poll right after (and set last_poll_order)
        tr.poll_once(force=True)
        order = list(tr.last_poll_order)
    assert order[0] == ("public", "users")
    assert set(order) == {("public", "users"), ("public", "events"), ("public", "prices")}


def test_append_updated_at_and_full_tables_follow_the_origin(wm, origin_conn):
    p, _ = wm
    tr = p.server.mirror.freshness
    assert tr.mode == "watermark"
    for t in ORDER:
        assert _equal(p, origin_conn, t), t

    origin_conn.execute("INSERT INTO events (kind, code, m, amount) SELECT 'new', 'xyz', 'sad', g / 7.0"
                        " FROM generate_series(1, 30) g")
    origin_conn.execute("UPDATE users SET name = 'changed', score = -1, updated_at = clock_timestamp()"
                        " WHERE id % 3 = 0")
    origin_conn.execute("INSERT INTO users (id, name) VALUES (100, 'new')")
    origin_conn.execute("DELETE FROM users WHERE id IN (1, 2)")
    origin_conn.execute("INSERT INTO prices VALUES ('c', 3); UPDATE prices SET price = 10 WHERE sku = 'a'")
    before = time.time()
    tr.poll_once(force=True)
    for t in ORDER:
        assert _equal(p, origin_conn, t), t
    assert len(_mirror_rows(p, "events")) == 80 and len(_mirror_rows(p, "users")) == 19
    for t in ("events", "users"):
        verified, dirty = tr.freshness("public", t)
        assert not dirty and verified >= before and tr.lag_seconds("public", t) < 5
    # a table not listed keeps its snapshot: freshness is the snapshot's time
    assert tr.freshness("public", "other")[0] == p.server.mirror.catalog.get("public", "other").synced_at

    # polling again changes nothing; the background poller keeps up on its own
    assert tr.poll_once(force=True) - {("public", "prices")} == set()
    origin_conn.execute("INSERT INTO events (kind) VALUES ('bg')")
    origin_conn.execute("UPDATE users SET name = 'bg', updated_at = clock_timestamp() WHERE id = 5")
    origin_conn.execute("DELETE FROM users WHERE id = 6")
    deadline = time.time() + 5
    while not (_equal(p, origin_conn, "events") and _equal(p, origin_conn, "users")):
        assert time.time() < deadline, "the background poller did not catch up"
        time.sleep(0.05)

    with psycopg.connect(p.dsn(wm[1]), autocommit=True) as c:
        rows = {r[0]: r for r in c.execute("SHOW pgaccel.freshness").fetchall()}
        assert rows["public.events"][3] == "watermark-append"
        assert rows["public.users"][3] == "watermark-updated_at"
        assert rows["public.prices"][3] == "watermark-full"


def test_a_schema_change_re_snapshots_the_table(wm, origin_conn):
    p, _ = wm
    tr = p.server.mirror.freshness
    with tr.paused():   # hold the background poller so the dirty state is observable
        origin_conn.execute("ALTER TABLE events ADD COLUMN extra int DEFAULT 7")
        tr._check_schema(p.server.mirror.catalog, [("public", "events")])
        assert tr.freshness("public", "events") == (None, True)
        assert tr.lag_seconds("public", "events") == math.inf
    tr.poll_once(force=True)
    assert not tr.freshness("public", "events")[1]
    assert p.server.mirror.catalog.get("public", "events").column("extra") is not None
    assert _equal(p, origin_conn, "events")
    origin_conn.execute("INSERT INTO events (kind, extra) VALUES ('after', 8)")
    tr.poll_once(force=True)
    assert _equal(p, origin_conn, "events")


def test_a_session_counts_the_row_it_just_inserted(wm):
    p, db = wm
    with psycopg.connect(p.dsn(db), autocommit=True) as c:
        assert c.execute("EXPLAIN (ROUTE) SELECT count(*) FROM events").fetchone()[0] == "mirror"
        assert c.execute("SELECT count(*) FROM events").fetchone() == (50,)
        for n in range(51, 56):
            c.execute("INSERT INTO events (kind) VALUES ('click')")
            assert c.execute("SELECT count(*) FROM events").fetchone() == (n,)
        c.execute("UPDATE users SET name = 'me', updated_at = clock_timestamp() WHERE id = 3")
        assert c.execute("SELECT name FROM users WHERE id = 3").fetchone() == ("me",)
        c.execute("DELETE FROM users WHERE id = 4")
        assert c.execute("SELECT count(*) FROM users WHERE id = 4").fetchone() == (0,)
        # once polled past the write, the mirror answers again (and agrees)
        deadline = time.time() + 5
        while c.execute("EXPLAIN (ROUTE) SELECT count(*) FROM events").fetchone()[0] != "mirror":
            assert time.time() < deadline
            time.sleep(0.05)
        assert c.execute("SELECT count(*) FROM events").fetchone() == (55,)
