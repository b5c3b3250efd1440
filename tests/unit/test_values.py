"""Unit tests for proxy/wire/values.py that need no Postgres: which pairs are
refused, DataRow framing, and decode_param round trips in both formats."""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from proxy.wire.values import (
    EncodeError,
    OutputSettings,
    ParamNotDecodable,
    PgInterval,
    column_encoder,
    decode_param,
    encode_data_rows,
)

S = OutputSettings()


@pytest.mark.parametrize("oid,typmod,arrow_type", [
    (1700, -1, pa.float64()),                    # numeric from double: precision lost
    (1700, (10 << 16 | 1) + 4, pa.decimal128(10, 2)),  # would need rounding
    (23, -1, pa.float64()),
    (700, -1, pa.float64()),                     # float4 from double
    (25, -1, pa.int32()),
    (1114, -1, pa.timestamp("us", tz="UTC")),    # timestamp from timestamptz
    (1184, -1, pa.timestamp("us")),
    (1184, -1, pa.timestamp("ns", tz="UTC")),
    (1007, -1, pa.list_(pa.list_(pa.int32()))),  # 2-D arrays
    (1007, -1, pa.int32()),
    (9999, -1, pa.string()),
])
def test_unfaithful_pairs_are_refused(oid, typmod, arrow_type):
    assert column_encoder(oid, typmod, 0, arrow_type, S) is None
    assert column_encoder(oid, typmod, 1, arrow_type, S) is None


@pytest.mark.parametrize("oid,arrow_type,settings", [
    (1184, pa.timestamp("us", tz="UTC"), OutputSettings(datestyle="SQL, DMY")),
    (1082, pa.date32(), OutputSettings(datestyle="German")),
    (1186, pa.month_day_nano_interval(), OutputSettings(intervalstyle="iso_8601")),
    (1184, pa.timestamp("us", tz="UTC"), OutputSettings(timezone="Not/AZone")),
    (17, pa.binary(), OutputSettings(bytea_output="base64")),
])
def test_unsupported_text_settings_are_refused(oid, arrow_type, settings):
    assert column_encoder(oid, -1, 0, arrow_type, settings) is None
    assert column_encoder(oid, -1, 1, arrow_type, settings) is not None  # binary ignores them


def test_iso_dmy_prints_like_iso_mdy():
    arr = pa.array([0], pa.date32())
    a = column_encoder(1082, -1, 0, pa.date32(), OutputSettings(datestyle="ISO, DMY"))(arr)
    assert a == [b"1970-01-01"]


def test_accepted_pairs():
    assert column_encoder(20, -1, 0, pa.int64(), S) is not None
    assert column_encoder(20, -1, 1, pa.decimal128(38, 0), S) is not None
    assert column_encoder(1700, -1, 0, pa.decimal128(38, 0), S) is not None
    assert column_encoder(1700, -1, 1, pa.int64(), S) is not None
    assert column_encoder(25, -1, 0, pa.dictionary(pa.uint8(), pa.string()), S) is not None


def test_encoders_are_cached():
    assert column_encoder(23, -1, 0, pa.int32(), S) is column_encoder(23, -1, 0, pa.int32(), S)


def test_int8_from_hugeint_overflow_raises():
    enc = column_encoder(20, -1, 1, pa.decimal128(38, 0), S)
    with pytest.raises(EncodeError):
        enc(pa.array([Decimal(2**63)], pa.decimal128(38, 0)))


def test_interval_text_postgres_style():
    enc = column_encoder(1186, -1, 0, pa.month_day_nano_interval(), S)
    vals = pa.array([pa.MonthDayNano([14, 3, 14706789000000]), pa.MonthDayNano([0, 0, -1000000000]),
                     pa.MonthDayNano([0, 0, 0]), None], pa.month_day_nano_interval())
    assert enc(vals) == [b"1 year 2 mons 3 days 04:05:06.789", b"-00:00:01", b"00:00:00", None]


def test_enum_dictionary_prints_its_labels():
    arr = pa.array(["a", None, "b", "a"]).dictionary_encode()
    assert column_encoder(25, -1, 0, arr.type, S)(arr) == [b"a", None, b"b", b"a"]


def test_data_rows_framing_with_nulls_and_slices():
    batch = pa.record_batch([pa.array([1, None, 3], pa.int32()), pa.array(["x", "", None])], names=["a", "b"])
    encs = [column_encoder(23, -1, 0, pa.int32(), S), column_encoder(25, -1, 0, pa.string(), S)]

    def row(*vals):
        body = struct.pack("!h", len(vals))
        for v in vals:
            body += b"\xff\xff\xff\xff" if v is None else struct.pack("!i", len(v)) + v
        return b"D" + struct.pack("!i", len(body) + 4) + body

    assert encode_data_rows(batch, encs) == row(b"1", b"x") + row(None, b"") + row(b"3", None)
    assert encode_data_rows(batch.slice(1), encs) == row(None, b"") + row(b"3", None)
    assert encode_data_rows(batch.slice(0, 0), encs) == b""


def test_data_rows_with_plain_callables():
    batch = pa.record_batch([pa.array([1, 2])], names=["a"])
    out = encode_data_rows(batch, [lambda a: [b"z" if v.as_py() == 1 else None for v in a]])
    assert out == b"D\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x01z" + b"D\x00\x00\x00\x0a\x00\x01\xff\xff\xff\xff"


def test_large_batch_is_chunked_consistently():
    n = 200_000
    batch = pa.record_batch([pa.array(range(n), pa.int64())], names=["a"])
    out = encode_data_rows(batch, [column_encoder(20, -1, 1, pa.int64(), S)])
    assert len(out) == n * (1 + 4 + 2 + 4 + 8)
    assert out[-8:] == struct.pack("!q", n - 1)


# --- decode_param ----------------------------------------------------------------

@pytest.mark.parametrize("oid,text,binary,value", [
    (16, b"t", b"\x01", True),
    (16, b"false", b"\x00", False),
    (21, b"-32768", struct.pack("!h", -32768), -32768),
    (23, b"42", struct.pack("!i", 42), 42),
    (20, b"9223372036854775807", struct.pack("!q", 2**63 - 1), 2**63 - 1),
    (26, b"4294967295", struct.pack("!I", 2**32 - 1), 2**32 - 1),
    (701, b"1.5", struct.pack("!d", 1.5), 1.5),
    (700, b"0.1", struct.pack("!f", 0.1), struct.unpack("!f", struct.pack("!f", 0.1))[0]),
    (701, b"-Infinity", struct.pack("!d", float("-inf")), float("-inf")),
    (1700, b"-12.340", b"\x00\x02\x00\x00\x40\x00\x00\x03\x00\x0c\x0d\x48", Decimal("-12.340")),
    (1700, b"0", b"\x00\x00\x00\x00\x00\x00\x00\x00", Decimal("0")),
    (1700, b"10000", b"\x00\x01\x00\x01\x00\x00\x00\x00\x00\x01", Decimal("10000")),
    (25, "héllo".encode(), "héllo".encode(), "héllo"),
    (3802, b'{"a": 1}', b'\x01{"a": 1}', '{"a": 1}'),
    (114, b"[1]", b"[1]", "[1]"),
    (17, b"\\x00ff", b"\x00\xff", b"\x00\xff"),
    (2950, b"12345678-1234-1234-1234-123456789abc",
     uuid.UUID("12345678-1234-1234-1234-123456789abc").bytes, uuid.UUID("12345678-1234-1234-1234-123456789abc")),
    (1082, b"2024-02-29", struct.pack("!i", 8825), dt.date(2024, 2, 29)),
    (1114, b"2000-01-01 00:00:01.5", struct.pack("!q", 1_500_000), dt.datetime(2000, 1, 1, 0, 0, 1, 500000)),
    (1184, b"2000-01-01 05:30:00+05:30", struct.pack("!q", 0),
     dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)),
    (1083, b"12:34:56.000001", struct.pack("!q", 45296000001), dt.time(12, 34, 56, 1)),
    (1186, b"1 day 02:00:00", struct.pack("!qii", 7_200_000_000, 1, 0), dt.timedelta(days=1, hours=2)),
    (1186, b"1 year 2 mons -3 days", struct.pack("!qii", 0, -3, 14), PgInterval(14, -3, 0)),
    (1186, b"25:00:00", struct.pack("!qii", 90_000_000_000, 0, 0), PgInterval(0, 0, 90_000_000_000)),
    (1007, b"{1,NULL,-3}",
     struct.pack("!iiiii", 1, 1, 23, 3, 1) + struct.pack("!ii", 4, 1) + b"\xff\xff\xff\xff" + struct.pack("!ii", 4, -3),
     [1, None, -3]),
    (1009, b'{a,"b c","",NULL,"NULL","q\\"\\\\"}', None, ["a", "b c", "", None, "NULL", 'q"\\']),
    (1007, b"{}", struct.pack("!iii", 0, 0, 23), []),
])
def test_decode_param_both_formats(oid, text, binary, value):
    assert decode_param(text, oid, 0, timezone="UTC") == value
    if binary is not None:
        assert decode_param(binary, oid, 1) == value
    assert decode_param(None, oid, 0) is None


def test_decode_timestamptz_without_offset_uses_session_zone():
    v = decode_param(b"2021-07-01 12:00:00", 1184, 0, timezone="America/New_York")
    assert v == dt.datetime(2021, 7, 1, 16, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(ParamNotDecodable):
        decode_param(b"2021-07-01 12:00:00", 1184, 0)


@pytest.mark.parametrize("oid,data,fmt", [
    (23, b"abc", 0), (21, b"70000", 0), (1082, b"01/02/2020", 0), (1082, b"infinity", 0),
    (1082, struct.pack("!i", 2**31 - 1), 1), (1114, struct.pack("!q", 2**63 - 1), 1),
    (1007, b"{{1,2},{3,4}}", 0), (23, b"\x00\x01", 1), (16, b"maybe", 0), (1700, b"1e", 0),
    (1186, b"1 fortnight", 0), (9999, b"x", 0),
])
def test_undecodable_params_raise(oid, data, fmt):
    with pytest.raises(ParamNotDecodable):
        decode_param(data, oid, fmt)
