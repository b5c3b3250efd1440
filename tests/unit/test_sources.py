"""Federation sources (mirror/sources.py) without servers: SQLite and Parquet/CSV files
attached to an in-memory DuckDB, the type mapping, copies, and config validation."""

from __future__ import annotations

import sqlite3
import time

import duckdb
import pytest

from mirror.engine import MirrorEngine
from mirror.sources import Federation, FederatedCatalog, pg_type_of, redact
from planner.route import SessionContext, plan
from proxy.config import ConfigError, SourceConfig, from_dict

CTX = SessionContext(search_path=("public",), in_transaction=False)


@pytest.mark.parametrize("duck, pg, oid, typmod", [
    ("INTEGER", "integer", 23, -1), ("BIGINT", "bigint", 20, -1), ("SMALLINT", "smallint", 21, -1),
    ("TINYINT", "smallint", 21, -1), ("UINTEGER", "bigint", 20, -1), ("BOOLEAN", "boolean", 16, -1),
    ("DOUBLE", "double precision", 701, -1), ("FLOAT", "real", 700, -1), ("VARCHAR", "text", 25, -1),
    ("DECIMAL(10,2)", "numeric(10,2)", 1700, (10 << 16 | 2) + 4), ("DATE", "date", 1082, -1),
    ("TIMESTAMP", "timestamp without time zone", 1114, -1),
    ("TIMESTAMP WITH TIME ZONE", "timestamp with time zone", 1184, -1), ("BLOB", "bytea", 17, -1),
    ("UUID", "uuid", 2950, -1), ("INTERVAL", "interval", 1186, -1),
    # read through a cast (a view in the shim catalog)
    ("UBIGINT", "numeric(20,0)", 1700, (20 << 16) + 4), ("HUGEINT", "numeric(38,0)", 1700, (38 << 16) + 4),
    ("TIMESTAMP_NS", "timestamp without time zone", 1114, -1), ("TIMESTAMP_MS", "timestamp without time zone", 1114, -1),
    ("JSON", "text", 25, -1),
])
def test_duckdb_types_map_to_postgres_types(duck, pg, oid, typmod):
    assert pg_type_of(duck)[:4] == (pg, oid, typmod, True)


@pytest.mark.parametrize("duck", ["UHUGEINT", "INTEGER[]", "STRUCT(a INTEGER)", "ENUM('a', 'b')",
                                  "MAP(VARCHAR, INTEGER)", "BIT", "TIME WITH TIME ZONE"])
def test_unmapped_types_are_unfaithful_with_a_note(duck):
    _pg, oid, _tm, faithful, note = pg_type_of(duck)
    assert not faithful and oid == 0 and duck in note


def test_passwords_are_redacted_from_error_texts():
    assert redact('Unable to connect at "host=h password=s3cret user=u"') == \
        'Unable to connect at "host=h password=*** user=u"'
    assert redact("postgresql://app:s3cret@127.0.0.1/db failed") == "postgresql://app:***@127.0.0.1/db failed"
    assert "s3cret" not in redact("password = 's3cret' x")


def test_source_config_is_validated_with_every_problem_named():
    with pytest.raises(ConfigError) as e:
        from_dict({"sources": {"crm": {"kind": "oracle"}, "Bad-Name": {"kind": "sqlite", "path": "x"},
                               "f": {"kind": "parquet"}, "m": {"kind": "mysql"},
                               "a": {"kind": "sqlite", "path": "x", "mirror": "append"},
                               "z": {"kind": "csv", "files": {"t": "x.csv"}, "nope": 1}}})
    text = "\n".join(e.value.problems)
    for want in ("sources.crm.kind", "Bad-Name", "sources.f.files", "sources.m.dsn", "sources.a.watermark",
                 "unknown key sources.z.nope"):
        assert want in text, want


def test_sources_load_with_durations_and_env_secrets(monkeypatch):
    monkeypatch.setenv("CRM_DSN", "host=127.0.0.1 user=root database=crm")
    cfg = from_dict({"sources": {"crm": {"kind": "mysql", "dsn": "env:CRM_DSN", "every": "2m",
                                         "mirror": "full"}}})
    assert cfg.sources["crm"] == SourceConfig(kind="mysql", dsn="host=127.0.0.1 user=root database=crm",
                                              every=120.0, mirror="full")


@pytest.fixture
def files(tmp_path):
    con = duckdb.connect()
    con.execute(f"COPY (SELECT i AS id, 'u' || i AS url, DATE '2024-01-01' + i::INTEGER AS day FROM range(5) t(i)) "
                f"TO '{tmp_path}/clicks.parquet' (FORMAT parquet)")
    con.execute(f"COPY (SELECT i AS id, i * 1.5 AS score FROM range(3) t(i)) TO '{tmp_path}/scores.csv' (HEADER)")
    con.close()
    db = sqlite3.connect(tmp_path / "crm.sqlite")
    db.execute("CREATE TABLE accounts (id INTEGER, plan TEXT, mrr REAL)")
    db.executemany("INSERT INTO accounts VALUES (?, ?, ?)", [(1, "pro", 10.5), (2, None, None), (3, "free", 0.0)])
    db.commit()
    db.close()
    return tmp_path


def _federation(files, **extra):
    eng = MirrorEngine(":memory:")
    sources = {
        "ev": SourceConfig(kind="parquet", files={"clicks": str(files / "clicks.parquet")}),
        "sc": SourceConfig(kind="csv", files={"scores": [str(files / "scores.csv")]}),
        "crm": SourceConfig(kind="sqlite", path=str(files / "crm.sqlite")),
    }
    sources.update(extra)
    fed = Federation(eng, sources)
    fed.start(background=False)
    return eng, fed


def test_files_and_sqlite_are_attached_with_their_tables_and_types(files):
    eng, fed = _federation(files)
    try:
        assert [r[:5] for r in fed.rows()] == [("ev", "parquet", "up", "live", "1"), ("sc", "csv", "up", "live", "1"),
                                               ("crm", "sqlite", "up", "live", "1")]
        clicks = fed.table("ev", None, "clicks")
        assert clicks.schema == "ev.main" and clicks.source == "ev" and clicks.duckdb_catalog == "_src_ev"
        assert [(c.name, c.pg_type) for c in clicks.columns] == [("id", "bigint"), ("url", "text"), ("day", "date")]
        acc = fed.table("crm", "main", "accounts")
        assert [(c.name, c.pg_type) for c in acc.columns] == [("id", "bigint"), ("plan", "text"),
                                                            ("mrr", "double precision")]
        assert fed.table("crm", None, "nope") is None and fed.table("nope", None, "x") is None
    finally:
        fed.stop()
        eng.close()


def test_columns_without_a_postgres_twin_are_read_through_a_cast(files, tmp_path):
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 18446744073709551615::UBIGINT AS big, TIMESTAMP_NS '2024-01-01 10:00:00.123456789' AS ns, "
                f"'{{\"a\": 1}}'::JSON AS j) TO '{tmp_path}/odd.parquet' (FORMAT parquet)")
    con.close()
    eng, fed = _federation(files, odd=SourceConfig(kind="parquet", files={"t": str(tmp_path / "odd.parquet")}))
    try:
        t = fed.table("odd", None, "t")
        assert [(c.name, c.pg_type, c.faithful) for c in t.columns] == [
            ("big", "numeric(20,0)", True), ("ns", "timestamp without time zone", True), ("j", "text", True)]
        assert t.duckdb_catalog == "_pgaccel_shim"
        r = plan("SELECT big, big + 1 AS next, ns, j FROM odd.t", CTX, FederatedCatalog(eng.catalog, fed))
        assert r.reason == "federation", r.detail
        row = eng.cursor().execute(r.sql).fetchone()
        assert [str(v) for v in row] == ["18446744073709551615", "18446744073709551616",
                                         "2024-01-01 10:00:00.123456", '{"a": 1}']
    finally:
        fed.stop()
        eng.close()


def test_a_federated_read_plans_and_runs_with_postgres_semantics(files):
    eng, fed = _federation(files)
    try:
        cat = FederatedCatalog(eng.catalog, fed)
        r = plan("SELECT c.id / 2 AS half, s.score, a.plan FROM ev.clicks c JOIN sc.scores s ON s.id = c.id "
                 "LEFT JOIN crm.accounts a ON a.id = c.id ORDER BY c.id DESC", CTX, cat)
        assert (r.target, r.reason, r.sources) == ("federation", "federation", frozenset({"ev", "sc", "crm"}))
        assert [t for _, t in r.columns] == ["int8", "float8", "text"]
        cur = eng.cursor()
        rows = cur.execute(r.sql).fetchall()
        assert [(h, str(s), p) for h, s, p in rows] == [(1, "3.0", None), (0, "1.5", "pro"), (0, "0.0", None)]
    finally:
        fed.stop()
        eng.close()


def test_a_mirrored_source_is_copied_and_read_from_the_copy(files):
    eng, fed = _federation(files, cp=SourceConfig(kind="parquet", files={"clicks": str(files / "clicks.parquet")},
                                                  mirror="full", every=3600))
    try:
        t = fed.table("cp", None, "clicks")
        assert t.duckdb_schema == "_pgaccel_src" and t.live == ("_src_cp", "main", "clicks")
        assert time.time() - t.synced_at < 60
        cat = FederatedCatalog(eng.catalog, fed)
        r = plan("SELECT count(*) FROM cp.clicks", CTX, cat)
        assert '"_pgaccel_src"' in r.sql and '"_src_cp"' in r.live_sql
        cur = eng.cursor()
        assert cur.execute(r.sql).fetchall() == cur.execute(r.live_sql).fetchall() == [(5,)]
        ((name, lag, _at, mode, _d, rows, _e, _w),) = [x for x in _freshness(fed)]
        assert (name, mode, rows) == ("cp.main.clicks", "source full", 5) and float(lag) < 60
    finally:
        fed.stop()
        eng.close()


def _freshness(fed):
    class _S:
        federation = fed
        mirror = None

    from proxy.admin import freshness_rows
    return freshness_rows(_S())


def test_a_source_that_cannot_be_attached_is_down_not_fatal(files, tmp_path):
    eng, fed = _federation(files, gone=SourceConfig(kind="postgres", dsn="host=127.0.0.1 port=1 user=x password=pw",
                                                    connect_timeout=1))
    try:
        row = [r for r in fed.rows() if r[0] == "gone"][0]
        assert row[2] == "down" and row[6] and "pw" not in row[6]
        assert fed.table("ev", None, "clicks") is not None      # the others work
        cat = FederatedCatalog(eng.catalog, fed)
        r = plan("SELECT * FROM gone.t", CTX, cat)
        assert (r.target, r.reason, r.sql) == ("federation", "source_table_unknown", None)
        from proxy.federated import refusal
        err = refusal(fed, r)
        assert err.sqlstate == "HV00N" and 'source "gone"' in err.message
    finally:
        fed.stop()
        eng.close()


def test_updated_at_and_append_copies_follow_the_source(files):
    db = files / "crm.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE users (id INTEGER, name TEXT, updated INTEGER)")
        c.execute("CREATE TABLE events (id INTEGER, kind TEXT)")
        c.executemany("INSERT INTO users VALUES (?, ?, ?)", [(1, "a", 10), (2, "b", 11)])
        c.executemany("INSERT INTO events VALUES (?, ?)", [(1, "x"), (2, "y")])
    eng, fed = _federation(files, inc=SourceConfig(kind="sqlite", path=str(db), mirror="updated_at",
                                                   watermark={"users": "updated", "accounts": "id"},
                                                   keys={"users": "id", "accounts": "id"}, every=3600),
                           app=SourceConfig(kind="sqlite", path=str(db), mirror="append",
                                            watermark={"events": "id"}, every=3600, tables=["main.events"]))
    try:
        cur = eng.cursor()
        users = lambda: cur.execute('SELECT * FROM "_pgaccel_src"."inc.main.users" ORDER BY id').fetchall()  # noqa: E731
        events = lambda: cur.execute('SELECT * FROM "_pgaccel_src"."app.main.events" ORDER BY id').fetchall()  # noqa: E731
        assert users() == [(1, "a", 10), (2, "b", 11)] and events() == [(1, "x"), (2, "y")]
        with sqlite3.connect(db) as c:
            c.execute("UPDATE users SET name = 'b2', updated = 12 WHERE id = 2")
            c.execute("INSERT INTO users VALUES (3, 'c', 12)")
            c.execute("INSERT INTO events VALUES (3, 'z')")
        assert fed.refresh("inc")["users"] == 2          # only the changed rows are read again
        assert fed.refresh("app") == {"events": 1}
        assert users() == [(1, "a", 10), (2, "b2", 12), (3, "c", 12)]
        assert events() == [(1, "x"), (2, "y"), (3, "z")]
        with sqlite3.connect(db) as c:                   # a new column: the copy is made again in full
            c.execute("ALTER TABLE events ADD COLUMN extra TEXT")
            c.execute("INSERT INTO events VALUES (4, 'w', 'e')")
        fed.relist("app", min_interval=0)
        fed.refresh("app")
        assert events() == [(1, "x", None), (2, "y", None), (3, "z", None), (4, "w", "e")]
        assert [r[2] for r in fed.rows() if r[0] in ("inc", "app")] == ["up", "up"]
    finally:
        fed.stop()
        eng.close()
