"""Changes on the origin are applied to the DuckDB mirror through the logical slot:
after each kind of change the mirror equals the origin (sorted rows compared, per table)."""

from __future__ import annotations

import hashlib
import math
import os
import random
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from mirror.engine import MirrorEngine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def engine(tmp_path):
    e = MirrorEngine(str(tmp_path / "mirror.duckdb"))
    yield e
    if e.freshness is not None and e.freshness.mode == "logical":
        e.freshness.drop_slot()  # a logical slot would block DROP DATABASE
    e.close()


def _slot():
    return "t_" + uuid.uuid4().hex[:12]


def _exprs(col):
    """(Postgres, DuckDB) expressions giving equal Python values for one mirror column."""
    q = '"' + col.name.replace('"', '""') + '"'
    d = col.duckdb_type
    if d == "TIMESTAMPTZ":
        return f"(extract(epoch from {q}) * 1000000)::bigint", f"epoch_us({q})"
    if d == "DATE":  # psycopg cannot load BC dates
        return f"{q} - date '2000-01-01'", f"date_diff('day', DATE '2000-01-01', {q})"
    if d == "TIMESTAMP":
        return f"(extract(epoch from {q}) * 1000000)::bigint", f"epoch_us({q})"
    if d == "FLOAT":
        return f"{q}::float8", q
    if d == "INTERVAL":
        return (f"(extract(year from {q}) * 12 + extract(month from {q}))::int || ' ' || extract(day from {q})::int"
                f" || ' ' || ((extract(hour from {q}) * 3600 + extract(minute from {q}) * 60) * 1000000"
                f" + extract(microseconds from {q}))::bigint",
                f"(datepart('year', {q}) * 12 + datepart('month', {q}))::VARCHAR || ' ' || datepart('day', {q})::VARCHAR"
                f" || ' ' || (datepart('hour', {q}) * 3600000000 + datepart('minute', {q}) * 60000000"
                f" + datepart('microseconds', {q}))::VARCHAR")
    if d == "VARCHAR":  # the type's output text
        return f"CASE WHEN {q} IS NOT NULL THEN format('%s', {q}) END", q
    return q, q


def _norm(v):
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def table_rows(pg, duck, catalog, schema, name):
    t = catalog.get(schema, name)
    pairs = [_exprs(c) for c in t.columns]
    qn = f'"{schema}"."{name}"'
    want = pg.execute(f"SELECT {', '.join(p for p, _ in pairs)} FROM {qn}").fetchall()
    got = duck.execute(f"SELECT {', '.join(d for _, d in pairs)} FROM {qn}").fetchall()
    canon = lambda rows: sorted((repr(tuple(_norm(v) for v in r)) for r in rows))  # noqa: E731
    return canon(want), canon(got)


def assert_mirror_equals_origin(pg, engine, tables=None):
    duck = engine.cursor()
    try:
        for (s, n) in sorted(tables or engine.catalog.tables):
            want, got = table_rows(pg, duck, engine.catalog, s, n)
            if want != got:
                missing = set(want) - set(got)
                extra = set(got) - set(want)
                raise AssertionError(f"{s}.{n}: {len(want)} rows on the origin, {len(got)} in the mirror; "
                                     f"missing {sorted(missing)[:3]} extra {sorted(extra)[:3]}")
            assert hashlib.md5("\n".join(want).encode()).digest() == hashlib.md5("\n".join(got).encode()).digest()
    finally:
        duck.close()


def setup(origin, fresh_db, engine, ddl, origin_conn, **options):
    origin_conn.execute(ddl)
    dsn = origin.dsn(fresh_db)
    tracker = engine.track_freshness(dsn, slot=_slot(), start=False, **options)
    result = engine.sync_blocking(dsn, ["public.*"])
    assert tracker.mode == "logical" and not [c for c in result.copies if c.error], result.copies
    return tracker


def test_inserts_updates_deletes_and_key_changes_are_applied(origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine,
                    "CREATE TABLE t (id int PRIMARY KEY, name text, n numeric(10,2), big text);"
                    "CREATE TABLE pair (a int, b text, v int, PRIMARY KEY (a, b));"
                    "INSERT INTO t SELECT g, 'n' || g, g / 3.0, NULL FROM generate_series(1, 100) g;"
                    "INSERT INTO pair VALUES (1, 'x', 1), (2, 'y', 2)", origin_conn)
    origin_conn.execute("INSERT INTO t VALUES (1000, 'it''s', 1.5, NULL), (1001, NULL, NULL, NULL)")
    origin_conn.execute("UPDATE t SET name = 'upd' WHERE id <= 10")
    origin_conn.execute("UPDATE t SET id = id + 5000 WHERE id BETWEEN 11 AND 20")  # the key changes
    origin_conn.execute("DELETE FROM t WHERE id BETWEEN 21 AND 30")
    origin_conn.execute("UPDATE pair SET b = 'z' WHERE a = 1; UPDATE pair SET v = 5 WHERE a = 2")
    # insert, update and delete of the same key inside one poll
    origin_conn.execute("INSERT INTO t VALUES (2000, 'a', 1, NULL); UPDATE t SET name = 'b' WHERE id = 2000;"
                        " DELETE FROM t WHERE id = 2000; INSERT INTO t VALUES (2000, 'c', 2, NULL)")
    # a value stored out of line (TOAST) and left unchanged by later updates
    origin_conn.execute("UPDATE t SET big = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)"
                        " WHERE id IN (31, 32)")
    assert tracker.poll_once() == set()
    origin_conn.execute("UPDATE t SET name = 'toast kept' WHERE id = 31")
    origin_conn.execute("UPDATE t SET id = 9031 WHERE id = 32")
    origin_conn.execute("UPDATE t SET n = 7 WHERE id = 9031")
    t0 = time.time()
    assert tracker.poll_once() == set()
    assert tracker.dirty_tables() == set()
    assert_mirror_equals_origin(origin_conn, engine)
    verified, dirty = tracker.freshness("public", "t")
    assert not dirty and verified >= t0 and tracker.lag_seconds("public", "t") < 5
    assert tracker.last_changed == {("public", "t")}
    assert tracker.retained_wal is not None and tracker.retained_wal >= 0


def test_truncate_and_multi_table_transactions(origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine,
                    "CREATE TABLE a (id int PRIMARY KEY, x int); CREATE TABLE b (id int PRIMARY KEY, x int);"
                    "CREATE TABLE c (id bigint PRIMARY KEY); INSERT INTO a SELECT g, g FROM generate_series(1, 50) g;"
                    "INSERT INTO b SELECT g, g FROM generate_series(1, 50) g", origin_conn)
    with origin_conn.transaction():
        origin_conn.execute("INSERT INTO a VALUES (100, 1); UPDATE b SET x = -x WHERE id < 10; INSERT INTO c VALUES (1)")
    with origin_conn.transaction():
        origin_conn.execute("INSERT INTO a VALUES (101, 1); TRUNCATE a, b; INSERT INTO b VALUES (7, 7)")
    origin_conn.execute("INSERT INTO a VALUES (5, 5)")
    tracker.poll_once()
    assert tracker.dirty_tables() == set()
    assert_mirror_equals_origin(origin_conn, engine)
    assert engine.cursor().execute("SELECT count(*) FROM public.b").fetchone()[0] == 1
    # a rolled-back transaction leaves no trace
    with pytest.raises(ZeroDivisionError):
        with origin_conn.transaction():
            origin_conn.execute("INSERT INTO a VALUES (6, 6)")
            raise ZeroDivisionError
    tracker.poll_once()
    assert_mirror_equals_origin(origin_conn, engine)


TYPED = """CREATE TABLE ty (id serial PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, n numeric(38,10),
  t text, vc varchar(5), c char(4), b bool, d date, tm time, ts timestamp, tz timestamptz, iv interval,
  u uuid, j json, jb jsonb, byt bytea, ia int4[], ta text[], na numeric(6,2)[], da date[], ba bytea[],
  m money, ip inet, r int4range, bits bit(3), un numeric)"""
TYPED_ROWS = [
    "(1, 9223372036854775807, 1.1, 0.1, 1234567890123456789012345678.0123456789, '', 'ab', 'ab', true,"
    " '2024-02-29', '23:59:59.999999', '2024-02-29 12:34:56.123456', '2024-06-01 12:00:00+05:30',"
    " '1 year 2 mons -3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"b\": 1,  \"a\": [2]}',"
    " '{\"b\": 1,  \"a\": [2]}', '\\x00ff10', '{1,NULL,3}', '{\"a b\",NULL,\"\",\"q\\\"x\",it''s}', '{1.5,-2}',"
    " '{2020-01-01,NULL}', '{\"\\\\x00ff\",NULL}', 12.5, '10.0.0.1', '[1,5)', '101', 1.50)",
    "(-32768, -1, 'NaN', '-Infinity', -0.5, E'tab\\there\\nnl ☃', 'abcde', 'é', false, '0044-03-15 BC',"
    " '00:00:00', '1900-01-01 00:00:00', '1970-01-01 00:00:00+00', '-1 mon 40 days -00:00:00.000001',"
    " NULL, 'null', '[]', '', '{}', '{}', '{}', '{}', '{}', -1, '::1', 'empty', '000', 'NaN')",
    "(NULL, NULL, 'Infinity', 5e-324, 0, 'null', NULL, '', NULL, '0001-01-01', NULL,"
    " '0010-01-01 01:02:03 BC', '2000-01-01 00:00:00.5+00', '36 hours', NULL, NULL, NULL, NULL, NULL,"
    " '{NULL}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]


def test_every_type_arrives_as_the_snapshot_would_store_it(origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine, TYPED, origin_conn)
    cols = "i2, i8, f4, f8, n, t, vc, c, b, d, tm, ts, tz, iv, u, j, jb, byt, ia, ta, na, da, ba, m, ip, r, bits, un"
    for row in TYPED_ROWS:
        origin_conn.execute(f"INSERT INTO ty ({cols}) VALUES {row}")
    tracker.poll_once()
    assert tracker.dirty_tables() == set(), tracker.table_errors
    assert_mirror_equals_origin(origin_conn, engine)
    # the same rows copied by a snapshot are stored identically (byte for byte as DuckDB text)
    other = MirrorEngine(":memory:")
    try:
        other.sync_blocking(origin.dsn(fresh_db), ["public.ty"])
        q = f"SELECT {', '.join(f'{c}::VARCHAR' for c in cols.split(', '))} FROM public.ty ORDER BY id"
        assert engine.cursor().execute(q).fetchall() == other.cursor().execute(q).fetchall()
    finally:
        other.close()
    origin_conn.execute("UPDATE ty SET c = 'x', iv = '1 day', tz = now() WHERE id = 1; DELETE FROM ty WHERE id = 2")
    tracker.poll_once()
    assert_mirror_equals_origin(origin_conn, engine)


def test_a_value_the_column_cannot_hold_resnapshots_the_table(origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine, "CREATE TABLE d (id int PRIMARY KEY, d date);"
                    "INSERT INTO d VALUES (1, '2020-01-01')", origin_conn)
    origin_conn.execute("INSERT INTO d VALUES (2, 'infinity')")
    assert tracker.poll_once() == {("public", "d")}
    assert tracker.lag_seconds("public", "d") == math.inf
    assert "faithful" in tracker.table_errors[("public", "d")]
    assert tracker.resnapshot_pending() == [("public", "d")]
    assert not engine.catalog.get("public", "d").column("d").faithful
    assert tracker.dirty_tables() == set()
    origin_conn.execute("INSERT INTO d VALUES (3, '-infinity'), (4, '2021-01-01')")
    tracker.poll_once()
    assert tracker.dirty_tables() == set()
    assert engine.cursor().execute("SELECT count(*) FROM public.d").fetchone()[0] == 4


def test_a_large_transaction_and_many_small_ones(origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine, "CREATE TABLE big (id int PRIMARY KEY, v text);"
                    "CREATE TABLE small (id int PRIMARY KEY, v int)", origin_conn, batch_changes=2000)
    origin_conn.execute("INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 100000) g")
    for i in range(300):
        origin_conn.execute("INSERT INTO small VALUES (%s, %s)", (i, i))
    origin_conn.execute("UPDATE big SET v = 'x' WHERE id % 7 = 0; DELETE FROM big WHERE id % 11 = 0")
    polls = 0
    t = time.monotonic()
    while True:
        tracker.poll_once()
        polls += 1
        if not tracker._more:
            break
    took = time.monotonic() - t
    assert polls >= 2  # batch_changes splits the stream at transaction boundaries
    assert tracker.dirty_tables() == set()
    assert_mirror_equals_origin(origin_conn, engine)
    assert took < 30


def test_schema_changes_resnapshot_the_table(origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine, "CREATE TABLE s (id int PRIMARY KEY, x int);"
                    "CREATE TABLE keep (id int PRIMARY KEY); INSERT INTO s VALUES (1, 1)", origin_conn,
                    resnapshot_backoff=0)
    origin_conn.execute("INSERT INTO s VALUES (2, 2); ALTER TABLE s ADD COLUMN y text DEFAULT 'd';"
                        " INSERT INTO s VALUES (3, 3, 'three'); INSERT INTO keep VALUES (1)")
    assert tracker.poll_once() == {("public", "s")}
    assert tracker.freshness("public", "s") == (None, True)  # dirty meanwhile: queries go to the origin
    assert "columns changed" in tracker.table_errors[("public", "s")]
    assert not tracker.freshness("public", "keep")[1]
    assert tracker.resnapshot_pending() == [("public", "s")]
    assert [c.name for c in engine.catalog.get("public", "s").columns] == ["id", "x", "y"]
    origin_conn.execute("UPDATE s SET y = 'new' WHERE id = 1")
    tracker.poll_once()
    assert tracker.dirty_tables() == set()
    assert_mirror_equals_origin(origin_conn, engine)
    # a retyped column
    origin_conn.execute("ALTER TABLE s ALTER COLUMN x TYPE numeric(8,3); INSERT INTO s VALUES (4, 4.125, 'q')")
    tracker.run_once()
    assert engine.catalog.get("public", "s").column("x").duckdb_type == "DECIMAL(8,3)"
    assert tracker.dirty_tables() == set()
    assert_mirror_equals_origin(origin_conn, engine)
    # dropped and re-created under the same name
    origin_conn.execute("DROP TABLE s; CREATE TABLE s (id int PRIMARY KEY, z text); INSERT INTO s VALUES (9, 'z')")
    assert tracker.poll_once() == {("public", "s")}
    assert "re-created" in tracker.table_errors[("public", "s")]
    tracker.resnapshot_pending()
    assert tracker.dirty_tables() == set()
    assert_mirror_equals_origin(origin_conn, engine)
    # dropped for good: leaves the mirror
    origin_conn.execute("DROP TABLE s")
    tracker.run_once()
    assert engine.catalog.get("public", "s") is None and tracker.dirty_tables() == set()


def test_tables_without_a_key_take_inserts_and_resnapshot_on_updates(origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine, "CREATE TABLE ev (at int, what text);"
                    "CREATE TABLE full_ident (x int); ALTER TABLE full_ident REPLICA IDENTITY FULL;"
                    "INSERT INTO ev VALUES (1, 'a'), (1, 'a')", origin_conn)
    origin_conn.execute("INSERT INTO ev VALUES (2, 'b'), (2, 'b'); INSERT INTO full_ident VALUES (1)")
    assert tracker.poll_once() == set()
    assert_mirror_equals_origin(origin_conn, engine)
    origin_conn.execute("DELETE FROM ev WHERE at = 1; DELETE FROM full_ident")
    assert tracker.poll_once() == {("public", "ev"), ("public", "full_ident")}
    assert "without primary key" in tracker.table_errors[("public", "ev")]
    tracker.resnapshot_pending()
    assert tracker.dirty_tables() == set()
    assert_mirror_equals_origin(origin_conn, engine)


def test_a_crash_after_the_commit_and_before_the_slot_advances_applies_nothing_twice(
        origin, fresh_db, origin_conn, engine):
    tracker = setup(origin, fresh_db, engine, "CREATE TABLE ev (at int, what text)", origin_conn)
    origin_conn.execute("INSERT INTO ev VALUES (1, 'a')")

    def crash(changed, verified_at):
        raise RuntimeError("killed between the DuckDB commit and the slot advance")

    tracker.add_listener(crash)
    with pytest.raises(RuntimeError):
        tracker.poll_once()
    tracker._listeners.clear()
    seen = []
    tracker.add_listener(lambda changed, at: seen.append(changed))
    origin_conn.execute("INSERT INTO ev VALUES (2, 'b')")
    tracker.poll_once()
    assert seen == [{("public", "ev")}]  # reported again, applied once
    assert_mirror_equals_origin(origin_conn, engine)
    assert engine.cursor().execute("SELECT count(*) FROM public.ev").fetchone()[0] == 2


CHILD = r"""
import sys, time
sys.path.insert(0, {root!r})
from mirror.engine import MirrorEngine
e = MirrorEngine({path!r})
tr = e.track_freshness({dsn!r}, slot={slot!r}, start=False, batch_changes=500)
if not e.catalog.tables:
    e.sync_blocking({dsn!r}, ["public.*"])
print("ready", flush=True)
while True:
    tr.run_once()
    time.sleep(0.01)
"""


def test_kill_9_while_applying_a_write_stream_loses_and_doubles_nothing(origin, fresh_db, origin_conn, tmp_path):
    dsn, slot, path = origin.dsn(fresh_db), _slot(), str(tmp_path / "k.duckdb")
    origin_conn.execute("CREATE TABLE acc (id int PRIMARY KEY, bal bigint, note text);"
                        "CREATE TABLE log (n bigint, what text);"
                        "INSERT INTO acc SELECT g, 0, '' FROM generate_series(1, 200) g")
    stop = threading.Event()
    errors = []

    def writer():
        rnd = random.Random(7)
        n = 0
        try:
            with psycopg.connect(dsn, autocommit=True) as c:
                while not stop.is_set():
                    n += 1
                    with c.transaction():
                        a, b = rnd.randint(1, 200), rnd.randint(1, 200)
                        c.execute("UPDATE acc SET bal = bal - 1, note = %s WHERE id = %s", (str(n), a))
                        c.execute("UPDATE acc SET bal = bal + 1 WHERE id = %s", (b,))
                        c.execute("INSERT INTO log VALUES (%s, 'x'), (%s, 'y')", (n, n))
                        if n % 50 == 0:
                            c.execute("DELETE FROM log WHERE n < %s", (n - 100,))
                        if n % 97 == 0:
                            c.execute("INSERT INTO acc VALUES (%s, 0, 'new') ON CONFLICT DO NOTHING", (1000 + n,))
                            c.execute("UPDATE acc SET id = id + 100000 WHERE id = %s", (1000 + n,))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def child():
        p = subprocess.Popen([sys.executable, "-c", CHILD.format(root=ROOT, path=path, dsn=dsn, slot=slot)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return p

    th = threading.Thread(target=writer)
    th.start()
    rnd = random.Random(11)
    kills = 0
    try:
        p = child()
        assert p.stdout.readline().strip() == "ready"
        while kills < 6:
            time.sleep(rnd.uniform(0.05, 0.8))
            p.kill()  # SIGKILL at a random point: mid-poll, mid-commit, mid-advance...
            p.wait()
            kills += 1
            p = child()
            assert p.stdout.readline().strip() == "ready"
    finally:
        stop.set()
        th.join()
    assert not errors
    time.sleep(0.5)
    p.kill()
    p.wait()
    with MirrorEngine(path) as e:
        tracker = e.track_freshness(dsn, slot=slot, start=False)
        for _ in range(50):
            tracker.run_once()
            if not tracker._more and not tracker.dirty_tables():
                break
        with psycopg.connect(dsn, autocommit=True) as c:
            assert_mirror_equals_origin(c, e)
            assert c.execute("SELECT count(*) FROM log").fetchone()[0] > 100
        tracker.drop_slot()
