"""psycopg 3 cannot tell pgaccel from Postgres.

Differential: every check makes the same calls once directly on the origin and
once through pgaccel (same database, one after the other) and compares what the
client sees: values, raw wire bytes, column names/OIDs/typmods, SQLSTATEs and
error fields, transaction status, notices, notifications, parameter statuses.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, pq, sql

from tests.conftest import scratch_database

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def db(origin):
    """One database for this module (creating one per test costs more than the tests)."""
    with scratch_database(origin, "psycopg") as name:
        yield name


@pytest.fixture(scope="module")
def dsns(origin, proxy, db):
    return {"direct": origin.dsn(db), "pgaccel": proxy.dsn(db)}


@pytest.fixture(scope="module")
def ro(dsns):
    """Long-lived autocommit connections, for checks that leave no state behind."""
    conns = {k: psycopg.connect(v, autocommit=True) for k, v in dsns.items()}
    try:
        yield conns
    finally:
        for c in conns.values():
            c.close()


def each(dsns, fn, **connect_kw):
    """Run ``fn(conn)`` on a new connection directly, then through pgaccel: {side: result}."""
    out = {}
    for side, dsn in dsns.items():
        connect_kw.setdefault("autocommit", True)
        with psycopg.connect(dsn, **connect_kw) as conn:
            out[side] = fn(conn)
    return out


def same(results: dict):
    """Assert both sides saw the same thing; return it."""
    assert results["pgaccel"] == results["direct"]
    return results["direct"]


def raw(conn, query: str, fmt: int, params=()):
    """What arrived on the wire for ``query``: status, columns (name, oid, typmod, format,
    size) and every value as the bytes Postgres sent."""
    enc = conn.info.encoding
    res = conn.pgconn.exec_params(query.encode(enc), [None if p is None else p.encode(enc) for p in params],
                                  result_format=fmt)
    assert res.status == pq.ExecStatus.TUPLES_OK, res.error_message
    cols = [(res.fname(i), res.ftype(i), res.fmod(i), res.fformat(i), res.fsize(i), res.ftable(i),
             res.ftablecol(i)) for i in range(res.nfields)]
    rows = [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)]
    return res.command_status, cols, rows


def diag(e: psycopg.Error) -> dict:
    d = e.diag
    fields = ("sqlstate", "severity", "severity_nonlocalized", "message_primary", "message_detail",
              "message_hint", "statement_position", "internal_position", "internal_query", "context",
              "schema_name", "table_name", "column_name", "datatype_name", "constraint_name",
              "source_file", "source_line", "source_function")
    return {f: getattr(d, f) for f in fields} | {"class": type(e).__name__}


def fail(conn, query: str, params=None) -> dict:
    with pytest.raises(psycopg.Error) as ei:
        conn.execute(query, params)
    return diag(ei.value)


# --------------------------------------------------------------------------- values and wire bytes

# One SELECT per type family; several rows each, edge cases included.
TYPE_QUERIES = {
    "int2": "SELECT v::int2 AS v FROM (VALUES ('0'), ('-32768'), ('32767'), (NULL)) t(v)",
    "int4": "SELECT v::int4 AS v FROM (VALUES ('0'), ('-2147483648'), ('2147483647'), (NULL)) t(v)",
    "int8": "SELECT v::int8 AS v FROM (VALUES ('0'), ('-9223372036854775808'), ('9223372036854775807')) t(v)",
    "numeric": "SELECT v::numeric AS v, v::numeric(30,4) AS v4 FROM (VALUES ('0'), ('12345.6789'),"
               " ('-0.00001'), ('1e20'), ('NaN')) t(v)",
    "numeric_special": "SELECT v::numeric AS v FROM (VALUES ('Infinity'), ('-Infinity'), "
                       "('123456789012345678901234567890.123456789')) t(v)",
    "float4": "SELECT v::float4 AS v FROM (VALUES ('1.5'), ('0.1'), ('-3.4e38'), ('NaN'), ('Infinity'),"
              " ('-Infinity'), ('-0')) t(v)",
    "float8": "SELECT v::float8 AS v FROM (VALUES ('1.5'), ('0.1'), ('1e308'), ('NaN'), ('Infinity'),"
              " ('-Infinity'), ('5e-324')) t(v)",
    "text": "SELECT v::text AS v FROM (VALUES (''), ('héllo wörld ☃'), (E'tab\\there'), ('quote''s'), (NULL)) t(v)",
    "varchar": "SELECT v::varchar(20) AS v, v::varchar AS vu, v::char(5) AS c5, v::name AS n "
               "FROM (VALUES ('abc'), ('ünïcode')) t(v)",
    "bool": "SELECT v::bool AS v FROM (VALUES ('t'), ('f'), (NULL)) t(v)",
    "date": "SELECT v::date AS v FROM (VALUES ('2024-02-29'), ('1970-01-01'), ('0044-03-15 BC'),"
            " ('infinity'), ('-infinity')) t(v)",
    "time": "SELECT v::time AS v, v::time(2) AS v2, (v || '+05:30')::timetz AS tz "
            "FROM (VALUES ('00:00'), ('12:34:56.789012'), ('23:59:59.999999')) t(v)",
    "timestamp": "SELECT v::timestamp AS v, v::timestamp(0) AS v0 FROM (VALUES ('2024-02-29 12:34:56.789012'),"
                 " ('1900-01-01 00:00'), ('infinity')) t(v)",
    "timestamptz": "SELECT v::timestamptz AS v FROM (VALUES ('2024-02-29 12:34:56.789012+00'),"
                   " ('1999-12-31 23:59:59-08'), ('-infinity')) t(v)",
    "interval": "SELECT v::interval AS v, v::interval day to second AS ds FROM (VALUES ('1 year 2 mons 3 days'),"
                " ('-04:05:06.789'), ('0'), ('100 days 25:00:00')) t(v)",
    "uuid": "SELECT v::uuid AS v FROM (VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),"
            " ('00000000-0000-0000-0000-000000000000')) t(v)",
    "json": "SELECT v::json AS v FROM (VALUES ('{\"b\": 1,  \"a\": [true, null]}'), ('\"s\"'), ('[]')) t(v)",
    "jsonb": "SELECT v::jsonb AS v FROM (VALUES ('{\"b\": 1,  \"a\": [true, null]}'), ('3.50'), ('{}')) t(v)",
    "bytea": "SELECT v AS v FROM (VALUES ('\\x'::bytea), ('\\x00ff10'::bytea), (convert_to('héllo', 'UTF8'))) t(v)",
    "arrays": "SELECT '{1,2,NULL}'::int4[] AS i, '{{1,2},{3,4}}'::int8[] AS i2d, "
              "'{\"a b\",NULL,\"\",\"q\\\"\"}'::text[] AS t, '{1.5,NaN}'::numeric[] AS n, "
              "ARRAY['2024-01-01'::date] AS d, '{}'::int4[] AS e, '[0:1]={7,8}'::int2[] AS lb, "
              "ARRAY[true, false] AS b, ARRAY['{\"k\": 1}'::jsonb] AS j, "
              "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid] AS u",
    "table_columns": "SELECT c.relname, c.oid > 0 AS has_oid, c.relkind FROM pg_class c "
                     "WHERE c.relname = 'pg_class'",
}


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
@pytest.mark.parametrize("name", list(TYPE_QUERIES))
def test_raw_result_bytes_and_column_descriptions_match(ro, name, fmt):
    same({side: raw(conn, TYPE_QUERIES[name], fmt) for side, conn in ro.items()})


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("name", list(TYPE_QUERIES))
def test_cursor_values_match(ro, name, binary):
    def fetch(conn):
        with conn.cursor(binary=binary) as cur:
            cur.execute(TYPE_QUERIES[name])
            desc = [d.name for d in cur.description], [d.type_code for d in cur.description]
            try:
                # repr: NaN != NaN, and the Python types must match too
                return desc, repr(cur.fetchall())
            except psycopg.DataError as e:   # BC dates, 24:00, infinity: not Python values
                return desc, repr(e)

    same({side: fetch(conn) for side, conn in ro.items()})


def test_table_columns_carry_table_oid_and_attnum(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tcols; CREATE TABLE tcols (a int, b text)")
        st, cols, rows = raw(conn, "SELECT b, a FROM tcols", 1)
        oid = conn.execute("SELECT 'tcols'::regclass::oid").fetchone()[0]
        return [(c[0], c[5] == oid, c[6]) for c in cols]

    assert same(each(dsns, go)) == [(b"b", True, 2), (b"a", True, 1)]


def test_binary_parameters_round_trip(ro):
    import datetime as dt
    import decimal

    params = [1, 2**40, decimal.Decimal("1.25"), 1.5, "text", True, dt.date(2024, 2, 29),
              dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
              dt.timedelta(days=3, seconds=5), uuid.UUID(int=7), b"\x00\x01", [1, 2, 3], ["a", None]]
    q = "SELECT " + ", ".join(["%b"] * len(params))

    def go(conn):
        with conn.cursor(binary=True) as cur:
            return repr(cur.execute(q, params).fetchone())

    same({side: go(conn) for side, conn in ro.items()})


# --------------------------------------------------------------------------- prepared statements


def test_explicit_prepare_creates_a_server_side_statement(dsns):
    def go(conn):
        out = []
        for i in range(3):
            out.append(conn.execute("SELECT %s::int + 1, %s::text", [i, f"x{i}"], prepare=True).fetchone())
        stmts = conn.execute("SELECT name, statement, parameter_types::text FROM pg_prepared_statements "
                             "ORDER BY name").fetchall()
        return out, stmts

    out, stmts = same(each(dsns, go))
    assert out == [(1, "x0"), (2, "x1"), (3, "x2")]
    assert [s[1] for s in stmts] == ["SELECT $1::int + 1, $2::text"]


def test_prepare_threshold_switches_to_named_statements(dsns):
    def go(conn):
        conn.prepare_threshold = 2
        out = [conn.execute("SELECT %s::int * 2", [i]).fetchone()[0] for i in range(6)]
        n = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        return out, n

    assert same(each(dsns, go)) == ([0, 2, 4, 6, 8, 10], 1)


def test_prepared_statement_invalidated_by_ddl_is_replanned(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tprep; CREATE TABLE tprep (a int); INSERT INTO tprep VALUES (1)")
        r1 = conn.execute("SELECT * FROM tprep WHERE a = %s", [1], prepare=True).fetchall()
        conn.execute("ALTER TABLE tprep ADD COLUMN b text DEFAULT 'new'")
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM tprep WHERE a = %s", [1], prepare=True)
            return r1, cur.fetchall(), [d.name for d in cur.description]

    assert same(each(dsns, go)) == ([(1,)], [(1, "new")], ["a", "b"])


def test_executemany_inserts_every_row(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tmany; CREATE TABLE tmany (id int PRIMARY KEY, v text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO tmany VALUES (%s, %s)", [(i, f"v{i}") for i in range(200)])
            rc = cur.rowcount
        return rc, conn.execute("SELECT count(*), sum(id), max(v) FROM tmany").fetchone()

    assert same(each(dsns, go)) == (200, (200, 19900, "v99"))


def test_executemany_returning_gives_every_result(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tmanyr; CREATE TABLE tmanyr (id serial, v text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO tmanyr (v) VALUES (%s) RETURNING id, v", [(f"v{i}",) for i in range(5)],
                            returning=True)
            rows = []
            while True:
                rows.extend(cur.fetchall())
                if not cur.nextset():
                    break
        return rows

    assert same(each(dsns, go)) == [(i + 1, f"v{i}") for i in range(5)]


def test_pipeline_mode_runs_queued_statements_in_order(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tpipe; CREATE TABLE tpipe (id int PRIMARY KEY, v text)")
        with conn.pipeline():
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO tpipe VALUES (%s, %s)", [(i, f"v{i}") for i in range(100)])
            c1 = conn.execute("SELECT count(*) FROM tpipe")
            c2 = conn.execute("UPDATE tpipe SET v = v || '!' WHERE id < %s", [10])
            c3 = conn.execute("SELECT v FROM tpipe WHERE id = %s", [3])
        return c1.fetchone(), c2.rowcount, c3.fetchone()

    assert same(each(dsns, go)) == ((100,), 10, ("v3!",))


def test_pipeline_error_aborts_the_rest_of_the_batch(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tpipe2; CREATE TABLE tpipe2 (id int PRIMARY KEY)")
        got = []
        with pytest.raises(psycopg.Error) as ei:
            with conn.pipeline():
                conn.execute("INSERT INTO tpipe2 VALUES (1)")
                conn.execute("INSERT INTO tpipe2 VALUES (1)")
                conn.execute("INSERT INTO tpipe2 VALUES (2)")
        got.append(diag(ei.value))
        got.append(conn.execute("SELECT array_agg(id ORDER BY id) FROM tpipe2").fetchone())
        got.append(conn.info.transaction_status)
        return got

    same(each(dsns, go))


# --------------------------------------------------------------------------- server-side cursors


def test_named_cursor_fetchmany_streams_all_rows(dsns):
    def go(conn):
        chunks = []
        with conn.transaction():
            with conn.cursor(name="cur1") as cur:
                cur.itersize = 50
                cur.execute("SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
                while rows := cur.fetchmany(128):
                    chunks.append((len(rows), rows[0], rows[-1]))
                names = conn.execute("SELECT name, is_holdable FROM pg_cursors").fetchall()
        return chunks, names

    chunks, names = same(each(dsns, go, autocommit=False))
    assert sum(c[0] for c in chunks) == 1000
    assert names == [("cur1", False)]


def test_named_cursor_scroll_and_binary(dsns):
    def go(conn):
        with conn.transaction():
            with conn.cursor(name="cur2", scrollable=True, binary=True) as cur:
                cur.execute("SELECT g, g::numeric / 7 FROM generate_series(1, 100) g")
                a = cur.fetchmany(3)
                cur.scroll(50, mode="absolute")
                b = cur.fetchone()
                cur.scroll(-10)
                return repr((a, b, cur.fetchone()))

    same(each(dsns, go, autocommit=False))


def test_withhold_cursor_survives_commit(dsns):
    def go(conn):
        with conn.cursor(name="held", withhold=True) as cur:
            cur.execute("SELECT g FROM generate_series(1, 10) g")
            conn.commit()
            return cur.fetchall(), conn.info.transaction_status

    same(each(dsns, go, autocommit=False))


# --------------------------------------------------------------------------- COPY

ROWS = [(i, f"name {i}", None if i % 7 == 0 else i * 1.5) for i in range(500)]


def _copy_table(conn, table):
    conn.execute(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int, name text, x float8)")


def test_copy_from_stdin_text_reports_row_count(dsns):
    def go(conn):
        _copy_table(conn, "tcopy")
        with conn.cursor() as cur:
            with cur.copy("COPY tcopy FROM STDIN") as copy:
                for r in ROWS:
                    copy.write_row(r)
            rc = cur.rowcount
        return rc, conn.execute("SELECT count(*), count(x), sum(id) FROM tcopy").fetchone()

    assert same(each(dsns, go)) == (500, (500, 428, 124750))


def test_copy_from_stdin_binary_reports_row_count(dsns):
    def go(conn):
        _copy_table(conn, "tcopyb")
        with conn.cursor() as cur:
            with cur.copy("COPY tcopyb FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text", "float8"])
                for r in ROWS:
                    copy.write_row(r)
            rc = cur.rowcount
        return rc, conn.execute("SELECT count(*), count(x), sum(x) FROM tcopyb").fetchone()

    assert same(each(dsns, go))[0] == 500


def test_copy_from_stdin_raw_blocks(dsns):
    data = "".join(f"{i}\tn{i}\t\\N\n" for i in range(3000)).encode()

    def go(conn):
        _copy_table(conn, "tcopyr")
        with conn.cursor() as cur:
            with cur.copy("COPY tcopyr FROM STDIN") as copy:
                for i in range(0, len(data), 1000):   # frame boundaries mid-row
                    copy.write(data[i:i + 1000])
            return cur.rowcount

    assert same(each(dsns, go)) == 3000


@pytest.mark.parametrize("fmt", ["text", "binary", "csv"])
def test_copy_to_stdout_bytes_match(dsns, origin, db, fmt):
    with psycopg.connect(origin.dsn(db), autocommit=True) as conn:
        _copy_table(conn, "tcopyout")
        with conn.cursor().copy("COPY tcopyout FROM STDIN") as copy:
            for r in ROWS:
                copy.write_row(r)

    def go(conn):
        with conn.cursor() as cur:
            with cur.copy(f"COPY (SELECT * FROM tcopyout ORDER BY id) TO STDOUT (FORMAT {fmt})") as copy:
                data = b"".join(bytes(b) for b in copy)
            return data, cur.rowcount

    data, rc = same(each(dsns, go))
    assert rc == 500 and len(data) > 5000


def test_copy_from_stdin_bad_data_fails_with_same_error(dsns):
    def go(conn):
        _copy_table(conn, "tcopybad")
        with pytest.raises(psycopg.Error) as ei:
            with conn.cursor().copy("COPY tcopybad FROM STDIN") as copy:
                copy.write("1\ta\t1.0\nnot-an-int\tb\t2\n")
        d = diag(ei.value)
        return d, conn.execute("SELECT count(*) FROM tcopybad").fetchone(), conn.info.transaction_status

    d, n, _ = same(each(dsns, go))
    assert d["sqlstate"] == "22P02" and n == (0,)


def test_copy_aborted_by_client_rolls_back(dsns):
    def go(conn):
        _copy_table(conn, "tcopyabort")
        with pytest.raises(ZeroDivisionError):
            with conn.cursor().copy("COPY tcopyabort FROM STDIN") as copy:
                copy.write_row((1, "a", 1.0))
                1 / 0
        return conn.execute("SELECT count(*) FROM tcopyabort").fetchone(), conn.info.transaction_status

    assert same(each(dsns, go)) == ((0,), pq.TransactionStatus.IDLE)


# --------------------------------------------------------------------------- cancel


@pytest.fixture(scope="module")
def proxy_process(origin):
    """pgaccel in a process of its own (``python -m proxy serve``).

    libpq's blocking PQcancel, behind psycopg's ``conn.cancel()``, holds the GIL
    while it waits for the server to close the cancel connection: against the
    in-thread ``proxy`` fixture that deadlocks the test, not pgaccel."""
    from proxy.localpg import free_port, wait_port

    port = free_port()
    repo = Path(__file__).resolve().parents[2]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--listen", f"127.0.0.1:{port}",
                             "--origin", origin.url()], cwd=repo, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_port("127.0.0.1", port, timeout=30)
        except OSError:
            log.seek(0)
            pytest.fail("pgaccel process did not start:\n" + log.read().decode(errors="replace"))
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _cancel_during_sleep(conn, how):
    timer = threading.Timer(0.3, getattr(conn, how))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(errors.QueryCanceled) as ei:
            conn.execute("SELECT pg_sleep(10)")
    finally:
        timer.cancel()
    elapsed = time.monotonic() - t0
    assert elapsed < 3, f"cancel took {elapsed:.1f}s"
    after = conn.execute("SELECT 42").fetchone()
    return ei.value.sqlstate, ei.value.diag.message_primary, after, conn.info.transaction_status


def test_blocking_cancel_stops_a_running_query_and_the_session_stays_usable(origin, db, proxy_process):
    dsns = {"direct": origin.dsn(db), "pgaccel": origin.dsn(db).replace(f"port={origin.port}",
                                                                        f"port={proxy_process}")}
    assert same(each(dsns, lambda conn: _cancel_during_sleep(conn, "cancel"))) == (
        "57014", "canceling statement due to user request", (42,), pq.TransactionStatus.IDLE)


def test_cancel_safe_stops_a_running_query_and_the_session_stays_usable(dsns):
    assert same(each(dsns, lambda conn: _cancel_during_sleep(conn, "cancel_safe"))) == (
        "57014", "canceling statement due to user request", (42,), pq.TransactionStatus.IDLE)


def test_cancel_when_idle_is_harmless(dsns):
    def go(conn):
        conn.cancel_safe()
        return conn.execute("SELECT 1").fetchone()

    assert same(each(dsns, go)) == (1,)


def test_cancel_inside_transaction_leaves_it_failed(dsns):
    def go(conn):
        conn.execute("SELECT 1")
        timer = threading.Timer(0.3, conn.cancel_safe)
        timer.start()
        with pytest.raises(errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(10)")
        st = conn.info.transaction_status
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        return st, conn.execute("SELECT 1").fetchone()

    assert same(each(dsns, go, autocommit=False)) == (pq.TransactionStatus.INERROR, (1,))


# --------------------------------------------------------------------------- LISTEN / NOTIFY


def _listen_and_notify(listen_dsn, notify_dsn, channel):
    with psycopg.connect(listen_dsn, autocommit=True) as lconn, \
            psycopg.connect(notify_dsn, autocommit=True) as nconn:
        lconn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        nconn.execute("SELECT pg_notify(%s, %s)", [channel, "payload one"])
        nconn.execute(sql.SQL("NOTIFY {}, 'payload two'").format(sql.Identifier(channel)))
        got = list(lconn.notifies(timeout=5, stop_after=2))
        return [(n.channel, n.payload) for n in got]


def test_notify_through_pgaccel_reaches_listener_through_pgaccel(dsns):
    got = _listen_and_notify(dsns["pgaccel"], dsns["pgaccel"], "chan_pp")
    assert got == [("chan_pp", "payload one"), ("chan_pp", "payload two")]


def test_notify_through_pgaccel_reaches_direct_listener(dsns):
    got = _listen_and_notify(dsns["direct"], dsns["pgaccel"], "chan_dp")
    assert got == [("chan_dp", "payload one"), ("chan_dp", "payload two")]


def test_notify_direct_reaches_listener_through_pgaccel(dsns):
    got = _listen_and_notify(dsns["pgaccel"], dsns["direct"], "chan_pd")
    assert got == [("chan_pd", "payload one"), ("chan_pd", "payload two")]


def test_notification_arrives_while_listener_is_in_a_query(dsns):
    def go(conn):
        conn.execute("LISTEN chan_q")
        with psycopg.connect(dsns["direct"], autocommit=True) as other:
            other.execute("NOTIFY chan_q, 'during'")
        conn.execute("SELECT 1")  # the notification arrives with this query's answer
        return [(n.channel, n.payload) for n in conn.notifies(timeout=2, stop_after=1)]

    assert same(each(dsns, go)) == [("chan_q", "during")]




def test_notification_pid_is_the_notifiers_backend_pid(dsns):
    """Clients tell their own notifications from others' by comparing the pid in the
    Notification with their own backend pid (BackendKeyData / pg_backend_pid())."""
    def go(conn):
        conn.execute("LISTEN chan_self")
        conn.execute("NOTIFY chan_self, 'me'")
        n = next(conn.notifies(timeout=2, stop_after=1))
        return n.pid == conn.info.backend_pid

    same(each(dsns, go))


def test_backend_pid_matches_pg_backend_pid(dsns):
    same(each(dsns, lambda conn: conn.info.backend_pid == conn.execute("SELECT pg_backend_pid()").fetchone()[0]))


# --------------------------------------------------------------------------- transactions


def test_transaction_status_follows_begin_commit_rollback(dsns):
    def go(conn):
        st = [conn.info.transaction_status]
        conn.execute("BEGIN")
        st.append(conn.info.transaction_status)
        conn.execute("SELECT 1")
        st.append(conn.info.transaction_status)
        conn.execute("COMMIT")
        st.append(conn.info.transaction_status)
        conn.execute("BEGIN")
        with pytest.raises(errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        st.append(conn.info.transaction_status)
        conn.execute("ROLLBACK")
        st.append(conn.info.transaction_status)
        return st

    T = pq.TransactionStatus
    assert same(each(dsns, go)) == [T.IDLE, T.INTRANS, T.INTRANS, T.IDLE, T.INERROR, T.IDLE]


def test_rollback_discards_and_commit_keeps(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS ttx; CREATE TABLE ttx (a int)")
        conn.commit()
        conn.execute("INSERT INTO ttx VALUES (1)")
        conn.rollback()
        conn.execute("INSERT INTO ttx VALUES (2)")
        conn.commit()
        with conn.transaction():
            conn.execute("INSERT INTO ttx VALUES (3)")
        return conn.execute("SELECT array_agg(a ORDER BY a) FROM ttx").fetchone()

    assert same(each(dsns, go, autocommit=False)) == ([2, 3],)


def test_error_in_transaction_makes_next_statement_in_failed_sql_transaction(dsns):
    def go(conn):
        conn.execute("SELECT 1")
        first = fail(conn, "SELECT * FROM no_such_table_tx")
        second = fail(conn, "SELECT 1")
        status = conn.info.transaction_status
        conn.rollback()
        return first["sqlstate"], second, status, conn.execute("SELECT 2").fetchone()

    first, second, status, after = same(each(dsns, go, autocommit=False))
    assert (first, second["sqlstate"], second["class"]) == ("42P01", "25P02", "InFailedSqlTransaction")
    assert status == pq.TransactionStatus.INERROR and after == (2,)


def test_savepoints_roll_back_partially(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tsp; CREATE TABLE tsp (a int PRIMARY KEY)")
        conn.commit()
        conn.execute("INSERT INTO tsp VALUES (1)")
        conn.execute("SAVEPOINT s1")
        conn.execute("INSERT INTO tsp VALUES (2)")
        err = fail(conn, "INSERT INTO tsp VALUES (2)")
        st1 = conn.info.transaction_status
        conn.execute("ROLLBACK TO SAVEPOINT s1")
        st2 = conn.info.transaction_status
        conn.execute("INSERT INTO tsp VALUES (3)")
        conn.execute("RELEASE SAVEPOINT s1")
        # psycopg's nested transaction() blocks are savepoints too
        with pytest.raises(errors.UniqueViolation):
            with conn.transaction():
                conn.execute("INSERT INTO tsp VALUES (4)")
                conn.execute("INSERT INTO tsp VALUES (1)")
        conn.commit()
        return err["sqlstate"], st1, st2, conn.execute("SELECT array_agg(a ORDER BY a) FROM tsp").fetchone()

    T = pq.TransactionStatus
    assert same(each(dsns, go, autocommit=False)) == ("23505", T.INERROR, T.INTRANS, ([1, 3],))


def test_read_only_transaction_rejects_writes(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tro; CREATE TABLE tro (a int)")
        conn.execute("BEGIN READ ONLY")
        d = fail(conn, "INSERT INTO tro VALUES (1)")
        conn.execute("ROLLBACK")
        return d

    assert same(each(dsns, go))["sqlstate"] == "25006"


# --------------------------------------------------------------------------- errors


def test_unique_violation_keeps_sqlstate_and_constraint(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tuniq; CREATE TABLE tuniq (id int CONSTRAINT tuniq_pk PRIMARY KEY)")
        conn.execute("INSERT INTO tuniq VALUES (1)")
        return fail(conn, "INSERT INTO tuniq VALUES (%s)", [1])

    d = same(each(dsns, go))
    assert (d["sqlstate"], d["constraint_name"], d["table_name"], d["class"]) == \
        ("23505", "tuniq_pk", "tuniq", "UniqueViolation")
    assert d["message_detail"] == "Key (id)=(1) already exists."


def test_syntax_error_keeps_sqlstate_and_position(ro):
    d = same({side: fail(conn, "SELECT 1 FROM WHERE x") for side, conn in ro.items()})
    assert (d["sqlstate"], d["statement_position"]) == ("42601", "15")


def test_syntax_error_in_extended_protocol_keeps_position(ro):
    d = same({side: fail(conn, "SELECT %s FROM WHERE x", [1]) for side, conn in ro.items()})
    assert d["sqlstate"] == "42601" and d["statement_position"] is not None


def test_undefined_table_keeps_sqlstate_and_position(ro):
    d = same({side: fail(conn, "SELECT * FROM public.no_such_table") for side, conn in ro.items()})
    assert (d["sqlstate"], d["statement_position"], d["class"]) == ("42P01", "15", "UndefinedTable")


def test_division_by_zero_keeps_sqlstate(ro):
    d = same({side: fail(conn, "SELECT 1 / %s", [0]) for side, conn in ro.items()})
    assert (d["sqlstate"], d["message_primary"]) == ("22012", "division by zero")


def test_not_null_and_check_violations_keep_column_and_constraint(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tchk; "
                     "CREATE TABLE tchk (a int NOT NULL, b int CONSTRAINT b_pos CHECK (b > 0))")
        return fail(conn, "INSERT INTO tchk VALUES (NULL, 1)"), fail(conn, "INSERT INTO tchk VALUES (1, -1)")

    nn, chk = same(each(dsns, go))
    assert (nn["sqlstate"], nn["column_name"]) == ("23502", "a")
    assert (chk["sqlstate"], chk["constraint_name"]) == ("23514", "b_pos")


def test_plpgsql_raise_exception_keeps_custom_fields(ro):
    q = ("DO $$ BEGIN RAISE EXCEPTION 'custom %', 7 USING ERRCODE = 'P0042', DETAIL = 'the detail', "
         "HINT = 'the hint'; END $$")
    d = same({side: fail(conn, q) for side, conn in ro.items()})
    assert (d["sqlstate"], d["message_primary"], d["message_detail"], d["message_hint"]) == \
        ("P0042", "custom 7", "the detail", "the hint")
    assert d["context"]


def test_session_usable_after_an_error(ro):
    def go(conn):
        fail(conn, "SELECT no_such_column")
        return conn.execute("SELECT 'ok'").fetchone(), conn.info.transaction_status

    same({side: go(conn) for side, conn in ro.items()})


# --------------------------------------------------------------------------- notices, parameter status


def test_notices_from_do_block_arrive_in_order(ro):
    def go(conn):
        got = []
        handler = lambda d: got.append((d.severity, d.sqlstate, d.message_primary, d.message_detail))  # noqa: E731
        conn.add_notice_handler(handler)
        try:
            conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful' USING DETAIL = 'd';"
                         " RAISE INFO 'info'; END $$")
        finally:
            conn.remove_notice_handler(handler)
        return got

    assert same({side: go(conn) for side, conn in ro.items()}) == [
        ("NOTICE", "00000", "hello 42", None), ("WARNING", "01000", "careful", "d"),
        ("INFO", "00000", "info", None)]


def test_notice_from_ddl_arrives(dsns):
    def go(conn):
        got = []
        conn.add_notice_handler(lambda d: got.append((d.severity, d.message_primary)))
        conn.execute("DROP TABLE IF EXISTS surely_missing_table")
        return got

    assert same(each(dsns, go)) == [("NOTICE", 'table "surely_missing_table" does not exist, skipping')]


def test_initial_parameter_statuses_match(dsns):
    keys = ["server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone",
            "integer_datetimes", "standard_conforming_strings", "is_superuser", "session_authorization",
            "default_transaction_read_only", "in_hot_standby"]
    same(each(dsns, lambda conn: {k: conn.info.parameter_status(k) for k in keys}))


def test_application_name_stays_empty_when_client_sets_none(dsns):
    def go(conn):
        return conn.info.parameter_status("application_name"), conn.execute("SHOW application_name").fetchone()

    assert same(each(dsns, go)) == ("", ("",))


def test_application_name_from_startup_is_kept(dsns):
    def go(conn):
        return conn.info.parameter_status("application_name"), conn.execute("SHOW application_name").fetchone()

    assert same(each(dsns, go, application_name="my-app")) == ("my-app", ("my-app",))


@pytest.mark.parametrize("setting,value", [("TimeZone", "Asia/Kolkata"), ("application_name", "probe-app"),
                                           ("DateStyle", "SQL, DMY"), ("IntervalStyle", "iso_8601")])
def test_set_is_reflected_in_parameter_status(dsns, setting, value):
    def go(conn):
        conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(setting), sql.Literal(value)))
        shown = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()[0]
        return conn.info.parameter_status(setting), shown

    assert same(each(dsns, go))[0] == value


def test_set_local_parameter_status_reverts_on_rollback(dsns):
    def go(conn):
        conn.execute("BEGIN")
        conn.execute("SET LOCAL TimeZone = 'Europe/Paris'")
        inside = conn.info.parameter_status("TimeZone")
        conn.execute("ROLLBACK")
        return inside, conn.info.parameter_status("TimeZone")

    inside, after = same(each(dsns, go))
    assert inside == "Europe/Paris" and after != inside


def test_timezone_setting_changes_timestamptz_output(dsns):
    def go(conn):
        conn.execute("SET TimeZone = 'America/New_York'")
        return raw(conn, "SELECT '2024-07-01 12:00:00+00'::timestamptz", 0)

    assert same(each(dsns, go))[2] == [[b"2024-07-01 08:00:00-04"]]


# --------------------------------------------------------------------------- simple query edge cases


def test_multiple_statements_in_one_simple_query_give_every_result(ro):
    q = "SELECT 1 AS a; SELECT 'x' AS b, 2.5 AS c; CREATE TEMP TABLE IF NOT EXISTS tmpm (a int); " \
        "INSERT INTO tmpm VALUES (1), (2)"

    def go(conn):
        out = []
        with conn.cursor() as cur:
            cur.execute(q)
            while True:
                out.append((cur.statusmessage, cur.rowcount,
                            cur.fetchall() if cur.description else None,
                            [d.name for d in cur.description or []]))
                if not cur.nextset():
                    break
        return out

    out = same({side: go(conn) for side, conn in ro.items()})
    assert [o[0] for o in out] == ["SELECT 1", "SELECT 1", "CREATE TABLE", "INSERT 0 2"]


def test_multiple_statements_stop_at_first_error(dsns):
    def go(conn):
        conn.execute("DROP TABLE IF EXISTS tmulti; CREATE TABLE tmulti (a int)")
        d = fail(conn, "INSERT INTO tmulti VALUES (1); SELECT 1/0; INSERT INTO tmulti VALUES (2)")
        return d["sqlstate"], conn.execute("SELECT count(*) FROM tmulti").fetchone()

    # one implicit transaction: the first insert is rolled back too
    assert same(each(dsns, go)) == ("22012", (0,))


def test_empty_query_gives_empty_query_response(ro):
    def go(conn):
        return [(r.status, r.command_status) for r in
                (conn.pgconn.exec_(b""), conn.pgconn.exec_(b"  ;  "), conn.pgconn.exec_params(b"", []),
                 conn.pgconn.exec_(b"-- only a comment"), conn.pgconn.exec_(b"/* block */ ;"))]

    assert same({side: go(conn) for side, conn in ro.items()})[0][0] == pq.ExecStatus.EMPTY_QUERY


def test_command_tags_match(dsns):
    def go(conn):
        tags = []
        with conn.cursor() as cur:
            for q in ["DROP TABLE IF EXISTS ttag", "CREATE TABLE ttag (a int)",
                      "INSERT INTO ttag SELECT generate_series(1, 5)", "UPDATE ttag SET a = a + 1 WHERE a > 2",
                      "DELETE FROM ttag WHERE a = 1", "SELECT * FROM ttag", "BEGIN", "COMMIT",
                      "MERGE INTO ttag USING (SELECT 6 AS a) s ON ttag.a = s.a WHEN MATCHED THEN DELETE",
                      "TRUNCATE ttag", "VACUUM ttag", "SET search_path = public", "RESET ALL",
                      "DISCARD PLANS"]:
                cur.execute(q)
                tags.append((cur.statusmessage, cur.rowcount))
        return tags

    same(each(dsns, go))


def test_large_result_arrives_whole(ro):
    q = "SELECT g, repeat('x', 100) || g FROM generate_series(1, 50000) g"
    got = same({side: raw(conn, q, 1)[2][-1] for side, conn in ro.items()})
    assert got[1].endswith(b"50000")


def test_large_parameter_and_value_round_trip(ro):
    big = "y" * (3 << 20)   # 3 MB: bigger than any read buffer

    def go(conn):
        return conn.execute("SELECT length(%s::text), md5(%s::text)", [big, big]).fetchone()

    assert same({side: go(conn) for side, conn in ro.items()})[0] == len(big)


def test_error_midway_through_a_result_arrives_after_the_rows_sent(ro):
    def go(conn):
        res = conn.pgconn.exec_(b"SELECT 1 / (5000 - g) FROM generate_series(1, 10000) g")
        return res.status, res.error_field(psycopg.pq.DiagnosticField.SQLSTATE), res.ntuples

    status, state, _ = same({side: go(conn) for side, conn in ro.items()})
    assert (status, state) == (pq.ExecStatus.FATAL_ERROR, b"22012")


def test_single_row_mode_streams_the_same_rows(ro):
    def go(conn):
        with conn.cursor() as cur:
            return [r for r in cur.stream("SELECT g, g::text FROM generate_series(1, 2000) g")]

    assert len(same({side: go(conn) for side, conn in ro.items()})) == 2000


def test_non_ascii_identifiers_and_comments(ro):
    q = 'SELECT 1 AS "é☃", \'ü\' AS "naïve" -- trailing ☃ comment'
    same({side: raw(conn, q, 0) for side, conn in ro.items()})


def test_latin1_client_encoding_converts_the_same(dsns):
    def go(conn):
        r = raw(conn, "SELECT 'café' AS v, convert_to('café', 'LATIN1') AS b", 0)
        return conn.info.encoding, conn.info.parameter_status("client_encoding"), r

    enc, pstatus, (_, _, rows) = same(each(dsns, go, client_encoding="latin1"))
    assert pstatus == "LATIN1" and rows[0][0] == "café".encode("latin1")


def test_invalid_utf8_in_query_fails_like_postgres(ro):
    def go(conn):
        res = conn.pgconn.exec_(b"SELECT '\xff\xfe'")
        return res.status, res.error_field(psycopg.pq.DiagnosticField.SQLSTATE), conn.execute("SELECT 1").fetchone()

    assert same({side: go(conn) for side, conn in ro.items()})[1] == b"22021"


def test_large_notify_payload_arrives_whole(dsns):
    payload = "p" * 7990

    def go(conn):
        conn.execute("LISTEN chan_big")
        conn.execute("SELECT pg_notify('chan_big', %s)", [payload])
        return [(n.channel, len(n.payload)) for n in conn.notifies(timeout=2, stop_after=1)]

    assert same(each(dsns, go)) == [("chan_big", 7990)]


def test_statement_timeout_cancels_like_postgres(dsns):
    def go(conn):
        conn.execute("SET statement_timeout = '150ms'")
        d = fail(conn, "SELECT pg_sleep(5)")
        return d["sqlstate"], d["message_primary"], conn.execute("SELECT 1").fetchone()

    assert same(each(dsns, go)) == ("57014", "canceling statement due to statement timeout", (1,))


def test_temp_objects_and_discard_within_a_session(dsns):
    def go(conn):
        conn.execute("CREATE TEMP TABLE tmp_s (a int)")
        conn.execute("INSERT INTO tmp_s VALUES (1)")
        conn.execute("SELECT * FROM tmp_s", prepare=True)
        before = conn.execute("SELECT count(*) FROM tmp_s").fetchone()
        conn.execute("DISCARD ALL")
        after = fail(conn, "SELECT * FROM tmp_s")
        return before, after["sqlstate"]

    assert same(each(dsns, go)) == ((1,), "42P01")
