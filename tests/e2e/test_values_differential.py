"""Differential tests for proxy/wire/values.py: the bytes Postgres sends for a value
(text and binary) against what our encoders produce from the same values loaded
into DuckDB, whose Arrow output is what the mirror gives us."""

from __future__ import annotations

import struct
import uuid

import duckdb
import psycopg
import pyarrow as pa
import pytest

from proxy.wire.values import OutputSettings, column_encoder, decode_param, encode_data_rows

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"]


@pytest.fixture(scope="module")
def pg(origin):
    name = "t_values_" + uuid.uuid4().hex[:8]
    origin.psql(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(origin.dsn(name), autocommit=True) as conn:
            yield conn
    finally:
        origin.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def duck():
    con = duckdb.connect()
    yield con
    con.close()


def pg_raw(conn, sql: str, fmt: int):
    """-> (oids, typmods, rows of raw bytes) exactly as Postgres sent them."""
    res = conn.pgconn.exec_params(sql.encode(), [], result_format=fmt)
    assert res.status in (psycopg.pq.ExecStatus.TUPLES_OK,), res.error_message
    oids = [res.ftype(i) for i in range(res.nfields)]
    mods = [res.fmod(i) for i in range(res.nfields)]
    rows = [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)]
    return oids, mods, rows


def lit(v):
    return "NULL" if v is None else "'" + v.replace("'", "''") + "'"


def values_sql(pgtype: str, vals) -> str:
    rows = ", ".join(f"({lit(v)})" for v in vals)
    return f"SELECT v::{pgtype} AS v FROM (VALUES {rows}) t(v)"


# How each Postgres type reaches DuckDB in these tests: via its text (CAST in DuckDB)
# or, for dates and times (DuckDB mis-parses BC and infinities), via the integers
# of the binary form, as an Arrow array passed through DuckDB.
def to_duckdb(duck, pgtype: str, duck_type: str, text_vals, bin_vals) -> pa.Array:
    base = pgtype.split("(")[0].strip().lower()
    if base in ("date",):
        ints = []
        for b in bin_vals:
            if b is None:
                ints.append(None)
                continue
            d = struct.unpack("!i", b)[0]
            ints.append(2**31 - 1 if d == 2**31 - 1 else -(2**31 - 1) if d == -2**31 else d + 10957)
        arr = pa.array(ints, pa.int32()).view(pa.date32())
    elif base in ("timestamp", "timestamptz", "timestamp with time zone"):
        ints = []
        for b in bin_vals:
            if b is None:
                ints.append(None)
                continue
            u = struct.unpack("!q", b)[0]
            ints.append(2**63 - 1 if u == 2**63 - 1 else -(2**63 - 1) if u == -2**63 else u + 946684800000000)
        tz = "UTC" if base != "timestamp" else None
        arr = pa.array(ints, pa.int64()).view(pa.timestamp("us", tz=tz))
    elif base == "time":
        arr = pa.array([None if b is None else struct.unpack("!q", b)[0] for b in bin_vals],
                       pa.int64()).view(pa.time64("us"))
    elif base == "interval":
        vals = []
        for b in bin_vals:
            if b is None:
                vals.append(None)
            else:
                us, d, m = struct.unpack("!qii", b)
                vals.append(pa.MonthDayNano([m, d, us * 1000]))
        arr = pa.array(vals, pa.month_day_nano_interval())
    elif base in ("float8", "float4", "bytea"):
        if base == "bytea":
            vals = [None if b is None else bytes(b) for b in bin_vals]
            arr = pa.array(vals, pa.binary())
        else:
            f = "!d" if base == "float8" else "!f"
            arr = pa.array([None if b is None else struct.unpack(f, b)[0] for b in bin_vals],
                           pa.float64() if base == "float8" else pa.float32())
    else:
        strs = pa.array([None if v is None else v.decode() for v in text_vals], pa.string())
        tbl = pa.table({"v": strs})  # noqa: F841 (read by DuckDB)
        return duck.execute(f"SELECT CAST(v AS {duck_type}) AS v FROM tbl").to_arrow_table().column(0).combine_chunks()
    tbl = pa.table({"v": arr})  # noqa: F841
    return duck.execute("SELECT v FROM tbl").to_arrow_table().column(0).combine_chunks()


def check(pg, duck, pgtype, duck_type, vals, settings=OutputSettings(), expect_arrow=None):
    sql = values_sql(pgtype, vals)
    _, _, text_rows = pg_raw(pg, sql, 0)
    oids, mods, bin_rows = pg_raw(pg, sql, 1)
    text_vals = [r[0] for r in text_rows]
    bin_vals = [r[0] for r in bin_rows]
    arr = to_duckdb(duck, pgtype, duck_type, text_vals, bin_vals)
    if expect_arrow is not None:
        assert arr.type == expect_arrow
    for fmt, expected in ((0, text_vals), (1, bin_vals)):
        enc = column_encoder(oids[0], mods[0], fmt, arr.type, settings)
        assert enc is not None, (pgtype, fmt, arr.type)
        got = enc(arr)
        assert got == expected, (pgtype, fmt, [(e, g) for e, g in zip(expected, got) if e != g][:5])
        # and as DataRows
        rows = encode_data_rows(pa.record_batch([arr], names=["v"]), [enc])
        assert rows == b"".join(_datarow([v]) for v in expected)
    # decode_param accepts what Postgres sends and gives the same value both ways
    for t, b in zip(text_vals, bin_vals):
        if t is None or settings.extra_float_digits < 1:
            continue
        try:
            vt = decode_param(t, oids[0], 0, timezone=settings.timezone)
        except ValueError:
            continue  # not representable (infinity, BC...): relayed to origin
        vb = decode_param(b, oids[0], 1)
        if vt != vt and vb != vb:  # NaN
            continue
        assert vt == vb, (pgtype, t, vt, vb)


def _datarow(vals):
    body = struct.pack("!h", len(vals))
    for v in vals:
        body += b"\xff\xff\xff\xff" if v is None else struct.pack("!i", len(v)) + v
    return b"D" + struct.pack("!i", len(body) + 4) + body


INTS = ["0", "1", "-1", None, "32767", "-32768"]
FLOATS = ["0", "-0", "1", "-1", "0.1", "1e15", "1e14", "123456789012345", "1e16", "1e-5", "1e-4", "0.0001234",
          "NaN", "Infinity", "-Infinity", "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308",
          "3.141592653589793", "1e22", "123456.789", "9999999999", "10000000000", None, "-2.5e-7", "0.3",
          "100", "1234567890123456789"]
FLOATS4 = ["0", "-0", "1", "0.1", "1e6", "100000", "999999", "1e-5", "0.0001", "3.4028235e38", "1.4e-45",
           "1.17549435e-38", "NaN", "Infinity", "-Infinity", "3.1415927", "-123.456", None, "16777217", "0.3"]

SCALAR_CASES = [
    ("bool", "BOOLEAN", ["t", "f", None]),
    ("int2", "SMALLINT", INTS),
    ("int4", "INTEGER", INTS + ["2147483647", "-2147483648"]),
    ("int8", "BIGINT", INTS + ["9223372036854775807", "-9223372036854775808"]),
    ("oid", "UINTEGER", ["0", "4294967295", "12345", None]),
    ("float8", "DOUBLE", FLOATS),
    ("float4", "FLOAT", FLOATS4),
    ("text", "VARCHAR", ["", "a", "héllo ☃", "with 'quote'", 'dq"', "back\\slash", "NULL", " sp ", None,
                         "line\nbreak", "tab\t"]),
    ("varchar(10)", "VARCHAR", ["", "abc", "ünï", None]),
    ("name", "VARCHAR", ["pg_class", "", None]),
    ("char(5)", "VARCHAR", ["a", "", "abcde", "ü", None]),
    ("bpchar", "VARCHAR", ["a ", "", None]),
    ('"char"', "VARCHAR", ["a", "", None]),
    ("json", "JSON", ['{"b": 1, "a":[1,2]}', "[]", "null", '"x"', None]),
    ("jsonb", "JSON", ['{"b": 1, "a":[1,2],  "c": {"x": null}}', "[]", "null", '"ü"', "1.50", None]),
    ("uuid", "UUID", ["12345678-1234-1234-1234-123456789ABC", "00000000-0000-0000-0000-000000000000", None]),
    ("bytea", "BLOB", ["\\x", "\\x00ff10", "\\x5c27", None]),
    ("numeric(15,2)", "DECIMAL(15,2)", ["0", "1", "-1", "0.5", "-0.05", "1234567890123.45", "-9999999999999.99",
                                        "100", "10000", "0.01", None]),
    ("numeric(38,10)", "DECIMAL(38,10)", ["0", "1.5", "-12345678901234567890.0123456789", "0.0000000001", None]),
    ("numeric(5,0)", "DECIMAL(5,0)", ["0", "12345", "-10000", "10000", None]),
    ("numeric(18,4)", "DECIMAL(18,4)", ["1.2345", "10000000000000", "-0.0001", "99999.9999", None]),
    ("numeric(10,3)", "INTEGER", ["1", "-5", "0", None]),
    ("date", "DATE", ["2000-01-01", "1970-01-01", "1999-12-31", "0001-01-01", "0044-03-15 BC", "4713-01-01 BC",
                      "9999-12-31", "10000-01-01", "5874897-12-31", "infinity", "-infinity", "2024-02-29", None]),
    ("time", "TIME", ["00:00:00", "23:59:59.999999", "12:34:56.5", "24:00:00", "01:02:03.000100", None]),
    ("timestamp", "TIMESTAMP", ["2000-01-01 00:00:00", "1970-01-01", "2020-02-29 12:34:56.789", "1969-12-31 23:59:59.999999",
                                "0001-01-01 00:00:00", "0044-03-15 12:00:00 BC", "4713-01-01 00:00:00 BC",
                                "200000-12-31 23:59:59.999999", "infinity", "-infinity", "1900-01-01 00:00:00.1",
                                None]),
    ("interval", "INTERVAL", ["0", "1 year 2 mons 3 days 04:05:06.789", "-1 second", "1 mon -1 day", "-1 year -2 mons",
                              "1 day -00:00:01", "-1 days +01:00:00", "25:00:00", "1 year", "1 mon", "1 day",
                              "-178000000 years", "00:00:00.000001", "-2 days -04:00:00", "1 year -1 mon", None]),
]


@pytest.mark.parametrize("pgtype,duck_type,vals", SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
def test_scalar_values_match_postgres_bytes(pg, duck, pgtype, duck_type, vals):
    check(pg, duck, pgtype, duck_type, vals)


TSTZ = ["2000-01-01 00:00:00+00", "2021-03-14 06:59:59.999999+00", "2021-03-14 07:00:00+00",  # NY DST start
        "2021-11-07 05:30:00+00", "2021-11-07 06:00:00+00", "2021-10-03 16:29:59+00", "2021-10-03 16:30:00+00",
        "2021-04-03 16:30:00+00", "1883-11-18 12:00:00+00", "1800-01-01 00:00:00+00", "1900-01-01 00:00:00.5+00",
        "1945-08-15 00:00:00+00", "2038-07-01 00:00:00+00", "2100-07-01 12:00:00+00", "2100-01-01 12:00:00+00",
        "0044-03-15 12:00:00+00 BC", "9999-12-31 23:59:59.999999+00", "12000-06-01 00:00:00+00",
        "infinity", "-infinity", "1970-01-01 00:00:00+00", "1969-12-31 23:59:59.999+00", None]


@pytest.mark.parametrize("zone", ZONES)
def test_timestamptz_in_session_zone_matches_postgres(pg, duck, zone):
    pg.execute(f"SET TimeZone = '{zone}'")
    try:
        check(pg, duck, "timestamptz", "TIMESTAMPTZ", TSTZ, OutputSettings(timezone=zone))
    finally:
        pg.execute("RESET TimeZone")


@pytest.mark.parametrize("efd", [0, -3, 3, 1, -15])
def test_float_text_follows_extra_float_digits(pg, duck, efd):
    pg.execute(f"SET extra_float_digits = {efd}")
    try:
        check(pg, duck, "float8", "DOUBLE", FLOATS, OutputSettings(extra_float_digits=efd))
        check(pg, duck, "float4", "FLOAT", FLOATS4, OutputSettings(extra_float_digits=efd))
    finally:
        pg.execute("RESET extra_float_digits")


def test_random_floats_print_as_postgres(pg, duck):
    import random
    rnd = random.Random(7)
    vals = [repr(rnd.uniform(-1, 1) * 10 ** rnd.randint(-30, 30)) for _ in range(300)]
    vals += [repr(struct.unpack("!d", rnd.getrandbits(64).to_bytes(8, "big"))[0]) for _ in range(200)]
    vals = [v for v in vals if v not in ("nan", "inf", "-inf")]
    check(pg, duck, "float8", "DOUBLE", vals)
    f4 = [repr(struct.unpack("!f", struct.pack("!f", float(v)))[0]) for v in vals[:300] if abs(float(v)) < 3e38]
    check(pg, duck, "float4", "FLOAT", f4)


def test_bytea_escape_output_matches_postgres(pg, duck):
    pg.execute("SET bytea_output = 'escape'")
    try:
        check(pg, duck, "bytea", "BLOB", ["\\x", "\\x00ff10415c7e7f80", None],
              OutputSettings(bytea_output="escape"))
    finally:
        pg.execute("RESET bytea_output")


# --- arrays -------------------------------------------------------------------

ARRAY_CASES = [
    ("int4", "INTEGER", [["1", "2", None], [], None, ["-2147483648"]]),
    ("int2", "SMALLINT", [["1"], []]),
    ("int8", "BIGINT", [["9223372036854775807", None]]),
    ("bool", "BOOLEAN", [["t", "f", None], []]),
    ("text", "VARCHAR", [["a", "", None, "NULL", "null", "b c", 'q"', "back\\", "{x}", "a,b", "ü", " ", "x\ty"], [],
                         None, [None]]),
    ("varchar", "VARCHAR", [["x", "y z"]]),
    ("bpchar(3)", "VARCHAR", [["a", "ab"]]),
    ("float8", "DOUBLE", [["1.5", "NaN", "-Infinity", "1e20", None]]),
    ("float4", "FLOAT", [["1.5", "0.1"]]),
    ("numeric(10,2)", "DECIMAL(10,2)", [["1.5", "-2", None], []]),
    ("date", "DATE", [["2020-01-01", "infinity", None, "0044-03-15 BC"]]),
    ("timestamp", "TIMESTAMP", [["2020-01-01 00:00:00", "2020-01-01 01:02:03.5", None]]),
    ("timestamptz", "TIMESTAMPTZ", [["2020-01-01 00:00:00+00", None]]),
    ("uuid", "UUID", [["12345678-1234-1234-1234-123456789abc", None]]),
    ("json", "JSON", [['{"a": 1}', "[1, 2]", None]]),
    ("jsonb", "JSON", [['{"a": 1}', '"s"', None]]),
    ("bytea", "BLOB", [["\\x0102", None, "\\x"]]),
    ("time", "TIME", [["01:02:03", None]]),
    ("interval", "INTERVAL", [["1 day", "-00:00:01", None]]),
]


@pytest.mark.parametrize("elem,duck_type,arrays", ARRAY_CASES, ids=[c[0] for c in ARRAY_CASES])
def test_array_values_match_postgres_bytes(pg, duck, elem, duck_type, arrays):
    exprs = []
    for a in arrays:
        if a is None:
            exprs.append(f"NULL::{elem}[]")
        else:
            exprs.append(f"ARRAY[{', '.join(lit(v) + '::' + elem for v in a)}]::{elem}[]")
    sql = "SELECT v FROM (VALUES " + ", ".join(f"({e})" for e in exprs) + ") t(v)"
    _, _, text_rows = pg_raw(pg, sql, 0)
    oids, mods, bin_rows = pg_raw(pg, sql, 1)
    # elements through the scalar path, then lists of them
    flat = [v for a in arrays if a for v in a]
    esql = values_sql(elem, flat) if flat else None
    if esql:
        _, _, et = pg_raw(pg, esql, 0)
        _, _, eb = pg_raw(pg, esql, 1)
        elems = to_duckdb(duck, elem, duck_type, [r[0] for r in et], [r[0] for r in eb])
    else:
        elems = pa.array([], pa.int32())
    offsets = [0]
    for a in arrays:
        offsets.append(offsets[-1] + (len(a) if a else 0))
    mask = pa.array([a is None for a in arrays])
    larr = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), elems, mask=mask)
    tbl = pa.table({"v": larr})  # noqa: F841
    larr = duck.execute("SELECT v FROM tbl").to_arrow_table().column(0).combine_chunks()
    for fmt, rows in ((0, text_rows), (1, bin_rows)):
        expected = [r[0] for r in rows]
        enc = column_encoder(oids[0], mods[0], fmt, larr.type, OutputSettings())
        assert enc is not None, (elem, fmt, larr.type)
        assert enc(larr) == expected
        # sliced arrays too
        assert enc(larr.slice(1)) == expected[1:]
    for t, b in zip(text_rows, bin_rows):
        if t[0] is None:
            continue
        try:
            vt = decode_param(t[0], oids[0], 0, timezone="UTC")
        except ValueError:
            continue
        vb = decode_param(b[0], oids[0], 1)
        assert [x for x in vt if x == x] == [x for x in vb if x == x]


# --- computed columns ------------------------------------------------------------

def test_aggregates_and_arithmetic_print_like_postgres(pg, duck):
    pg.execute("DROP TABLE IF EXISTS money_t")
    pg.execute("CREATE TABLE money_t (a numeric(15,2), b numeric(15,2), i int4, j int8, f float8)")
    pg.execute("INSERT INTO money_t VALUES (1.10, 2.25, 1, 10, 0.1), (-3.33, 0.05, 2, 20, 0.2), "
               "(1000000.99, 7, 3, 9223372036854775807, 1e20), (NULL, NULL, NULL, NULL, NULL)")
    duck.execute("CREATE OR REPLACE TABLE money_t (a DECIMAL(15,2), b DECIMAL(15,2), i INTEGER, j BIGINT, f DOUBLE)")
    duck.execute("INSERT INTO money_t VALUES (1.10, 2.25, 1, 10, 0.1), (-3.33, 0.05, 2, 20, 0.2), "
                 "(1000000.99, 7, 3, 9223372036854775807, 1e20), (NULL, NULL, NULL, NULL, NULL)")
    queries = [
        "SELECT sum(a), sum(b), count(*), count(a), sum(i), sum(j), sum(f) FROM money_t",
        "SELECT a * b, a + b, a - b, -a, a * 2, i + 1, j FROM money_t ORDER BY i",
        "SELECT sum(a * b), sum(a) * 2, max(a), min(b) FROM money_t",
    ]
    for q in queries:
        for fmt in (0, 1):
            oids, mods, rows = pg_raw(pg, q, fmt)
            tbl = duck.execute(q).to_arrow_table()
            encs = [column_encoder(o, m, fmt, f.type, OutputSettings()) for o, m, f in zip(oids, mods, tbl.schema)]
            assert all(e is not None for e in encs), (q, list(zip(oids, tbl.schema.types, encs)))
            got = [list(r) for r in zip(*[e(c.combine_chunks()) for e, c in zip(encs, tbl.columns)])]
            assert got == rows, (q, fmt)


def test_avg_of_numeric_from_duckdb_double_is_refused(duck):
    t = duck.execute("SELECT avg(x::DECIMAL(15,2)) FROM range(3) r(x)").to_arrow_table().schema.types[0]
    assert t == pa.float64()
    assert column_encoder(1700, -1, 0, t, OutputSettings()) is None
