"""Result values: Arrow arrays (from the DuckDB mirror or the cache) as the exact
bytes Postgres puts in a DataRow, in text (format 0) and binary (format 1); and
client parameters (Bind values) as Python values to bind into a DuckDB query.

Pure: no I/O. Byte-identical to Postgres 15 output is the contract, checked by
differential tests against a real Postgres (tests/e2e/test_values_differential.py).

The type the client sees (OID + typmod) comes from the origin's RowDescription; the
Arrow type is what DuckDB produced. ``column_encoder`` returns None when that pair
cannot be printed faithfully (e.g. numeric from a double, float4 from a double,
an unsupported DateStyle/IntervalStyle/TimeZone): the caller then relays the query
to the origin. Encoders work column-at-a-time with pyarrow.compute; Python per-value
work is kept to the rare cases listed in "slow paths" below.

What DuckDB 1.5.5 gives in Arrow (``cursor.execute(sql).to_arrow_table()``; ``.arrow()``
and ``fetch_record_batch()`` return a RecordBatchReader in 1.5):

    =====================  ==========================================================
    DuckDB type            Arrow type
    =====================  ==========================================================
    BOOLEAN                bool
    SMALLINT/INT/BIGINT    int16 / int32 / int64 (U* types: uint*)
    HUGEINT                decimal128(38, 0)  (also sum(INT), sum(BIGINT))
    DECIMAL(p,s)           decimal128(p, s)   (sum(DECIMAL(p,s)) -> decimal128(38, s);
                                               DECIMAL*DECIMAL -> scale s1+s2;
                                               avg(DECIMAL) -> double)
    FLOAT / DOUBLE         float / double
    VARCHAR                string
    JSON                   string   (no extension type)
    UUID                   string   (lowercase, hyphenated)
    BLOB, BIT              binary
    DATE                   date32[day]   (+-infinity = +-2147483647)
    TIME, TIMETZ           time64[us]    (TIMETZ loses its offset!)
    TIMESTAMP              timestamp[us] (+-infinity = +-(2**63-1))
    TIMESTAMP_S/_MS/_NS    timestamp[s] / [ms] / [ns]
    TIMESTAMPTZ            timestamp[us, tz=Etc/UTC]  (whatever the DuckDB TimeZone)
    INTERVAL               month_day_nano_interval
    ENUM                   dictionary<values=string, indices=uint8..>
    T[]  (LIST)            list<l: T>
    T[n] (ARRAY)           fixed_size_list<T>[n]
    =====================  ==========================================================

Supported (target OID <- Arrow type); every other pair gives None:

    bool <- bool;  int2/int4/int8/oid <- any integer (and int8 <- decimal128(p,0)),
    values out of the target's range raise EncodeError at encode time;
    float4 <- float;  float8 <- float, double;
    numeric <- decimal128(p,s) when the typmod scale is -1 (computed column: printed
    with scale s, as Postgres keeps the computed dscale) or >= s (padded); <- integers;
    text/varchar/name/json/jsonb/"char" <- string, large_string, dictionary<string>;
    bpchar <- same, blank-padded to the typmod length;  uuid <- string, binary(16);
    bytea <- binary, large_binary, binary(n);  date <- date32;  time <- time64, time32;
    timestamp <- timestamp[s|ms|us] without tz;  timestamptz <- timestamp[s|ms|us, tz];
    interval <- month_day_nano_interval (whole microseconds), duration[s|ms|us];
    one-dimensional arrays of all the above <- list / large_list / fixed_size_list.

Settings: DateStyle must start with ISO (``ISO, MDY`` == ``ISO, DMY`` for output);
IntervalStyle must be ``postgres``; TimeZone must be a zone zoneinfo knows (IANA
name, ``UTC``...); bytea_output ``hex`` or ``escape``. Otherwise None for the
types they affect (date/timestamp/timestamptz, interval, timestamptz, bytea text).

Slow paths (Python per value): float text outside 1e-4 <= |x| < 1e10 (1e6 for
float4), NaN/Infinity and any float text when extra_float_digits <= 0; timestamps
outside 1901..2036 (timestamptz) / years 1..9999 (timestamp, date); interval text
and binary; numeric binary; bytea escape output; uuid binary.
"""

from __future__ import annotations

import array
import datetime as _dt
import math
import re
import struct
import uuid as _uuid
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

# ---------------------------------------------------------------------------
# OIDs

BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID, JSON = 16, 17, 18, 19, 20, 21, 23, 25, 26, 114
FLOAT4, FLOAT8, BPCHAR, VARCHAR, DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 700, 701, 1042, 1043, 1082, 1083, 1114, 1184
INTERVAL, NUMERIC, UUID, JSONB = 1186, 1700, 2950, 3802

ARRAY_ELEM = {
    1000: BOOL, 1005: INT2, 1007: INT4, 1016: INT8, 1009: TEXT, 1015: VARCHAR, 1014: BPCHAR,
    1021: FLOAT4, 1022: FLOAT8, 1231: NUMERIC, 1182: DATE, 1115: TIMESTAMP, 1185: TIMESTAMPTZ,
    2951: UUID, 199: JSON, 3807: JSONB, 1001: BYTEA, 1183: TIME, 1187: INTERVAL,
    1002: CHAR, 1003: NAME, 1028: OID,
}
ELEM_ARRAY = {v: k for k, v in ARRAY_ELEM.items()}

_STRINGY = {TEXT, VARCHAR, NAME, JSON, JSONB, BPCHAR, CHAR}

PG_EPOCH_DAYS = 10957                      # 2000-01-01 - 1970-01-01
PG_EPOCH_US = PG_EPOCH_DAYS * 86_400_000_000
US_PER_DAY = 86_400_000_000
I32_MAX, I32_MIN = 2**31 - 1, -2**31
I64_MAX, I64_MIN = 2**63 - 1, -2**63


@dataclass(frozen=True)
class OutputSettings:
    """Session settings that change how values are printed (text format)."""

    timezone: str = "UTC"
    datestyle: str = "ISO, MDY"
    intervalstyle: str = "postgres"
    extra_float_digits: int = 1
    bytea_output: str = "hex"


class EncodeError(ValueError):
    """A value cannot be sent as the client's column type (e.g. int8 overflow).

    Raised while encoding; the caller should answer from the origin instead."""


class ParamNotDecodable(ValueError):
    """A parameter cannot be turned into an equivalent DuckDB value (bad syntax,
    infinity, BC dates, non-ISO date formats...). Relay the statement to the origin:
    it gives the right answer or the right error."""


@dataclass(frozen=True)
class PgInterval:
    """An interval with months or with days and time that a timedelta would merge.

    ``str()`` is a DuckDB interval literal: bind it as ``CAST(? AS INTERVAL)``."""

    months: int
    days: int
    microseconds: int

    def __str__(self) -> str:
        return f"{self.months} months {self.days} days {self.microseconds} microseconds"


# ---------------------------------------------------------------------------
# Encoders

class Encoder:
    """Callable: Arrow array -> list of bytes/None. ``arrow(arr)`` gives the same as
    a binary Arrow array (nulls kept), which ``encode_data_rows`` uses."""

    __slots__ = ("arrow", "name")

    def __init__(self, fn: Callable[[pa.Array], pa.Array], name: str = "") -> None:
        self.arrow = fn
        self.name = name

    def __call__(self, arr: pa.Array) -> list[bytes | None]:
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return self.arrow(arr).to_pylist()

    def __repr__(self) -> str:
        return f"Encoder({self.name})"


def column_encoder(type_oid: int, typmod: int, fmt: int, arrow_type: pa.DataType,
                   settings: OutputSettings = OutputSettings()) -> Encoder | None:
    """An encoder for one result column, or None when it cannot be done faithfully."""
    try:
        return _column_encoder(type_oid, typmod, fmt, arrow_type, settings)
    except TypeError:  # unhashable arrow type/settings: no caching
        return _build(type_oid, typmod, fmt, arrow_type, settings)


@lru_cache(maxsize=1024)
def _column_encoder(type_oid, typmod, fmt, arrow_type, settings):
    return _build(type_oid, typmod, fmt, arrow_type, settings)


def _build(oid: int, typmod: int, fmt: int, t: pa.DataType, s: OutputSettings) -> Encoder | None:
    if fmt not in (0, 1):
        return None
    if oid in ARRAY_ELEM:
        return _array_encoder(ARRAY_ELEM[oid], typmod, fmt, t, s)
    fn = _scalar_fn(oid, typmod, fmt, t, s)
    return None if fn is None else Encoder(fn, f"{oid}/{fmt}/{t}")


def _scalar_fn(oid, typmod, fmt, t, s):
    if pa.types.is_dictionary(t):
        inner = _scalar_fn(oid, typmod, fmt, t.value_type, s)
        if inner is None:
            return None
        return lambda arr: inner(_decode_dict(arr))
    text = fmt == 0
    if oid == BOOL:
        if not pa.types.is_boolean(t):
            return None
        return _bool_text if text else _bool_bin
    if oid in (INT2, INT4, INT8, OID):
        return _int_fn(oid, fmt, t)
    if oid in (FLOAT4, FLOAT8):
        return _float_fn(oid, fmt, t, s)
    if oid == NUMERIC:
        return _numeric_fn(typmod, fmt, t)
    if oid in _STRINGY:
        return _string_fn(oid, typmod, fmt, t)
    if oid == UUID:
        return _uuid_fn(fmt, t)
    if oid == BYTEA:
        return _bytea_fn(fmt, t, s)
    if oid in (DATE, TIMESTAMP, TIMESTAMPTZ):
        if text and not s.datestyle.replace(" ", "").upper().startswith("ISO"):
            return None
        if oid == DATE:
            if not pa.types.is_date32(t):
                return None
            return _date_text if text else _date_bin
        if not pa.types.is_timestamp(t) or t.unit == "ns":
            return None
        if (t.tz is None) != (oid == TIMESTAMP):
            return None
        if not text:
            return _timestamp_bin
        if oid == TIMESTAMP:
            return _timestamp_text_fn(None)
        if _zone(s.timezone) is None:
            return None
        return _timestamp_text_fn(s.timezone)
    if oid == TIME:
        if not (pa.types.is_time64(t) or pa.types.is_time32(t)) or t.unit == "ns":
            return None
        return _time_text if text else _time_bin
    if oid == INTERVAL:
        if not (pa.types.is_interval(t) or (pa.types.is_duration(t) and t.unit != "ns")):
            return None
        if text and s.intervalstyle != "postgres":
            return None
        return _interval_text if text else _interval_bin
    return None


def _decode_dict(arr):
    return arr.dictionary_decode() if isinstance(arr, pa.DictionaryArray) else arr


# --- helpers ---------------------------------------------------------------

_EMPTY_BIN = pa.array([], pa.binary())


def _as_binary(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_binary(t):
        return arr
    if pa.types.is_string(t):
        return arr.view(pa.binary())
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return arr.cast(pa.string()).view(pa.binary())
    return arr.cast(pa.binary())


def _as_string(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_binary(t):
        return arr.view(pa.string())
    return arr.cast(pa.string())


_SWAP = {2: "h", 4: "i", 8: "q"}


def _be_fixed(arr: pa.Array, width: int) -> pa.Array:
    """Fixed-width numeric array (already of the right width) -> binary big-endian values."""
    n = len(arr)
    if n == 0:
        return _EMPTY_BIN
    buf = arr.buffers()[1]
    start = arr.offset * width
    a = array.array(_SWAP[width])
    a.frombytes(memoryview(buf)[start:start + n * width])
    a.byteswap()
    out = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(a)])
    out = out.cast(pa.binary())
    if arr.null_count:
        out = pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.binary()))
    return out


def _be_ints(values: pa.Array, width: int) -> pa.Array:
    """Integer array (no nulls) -> big-endian binary of `width` bytes each."""
    return _be_fixed(values.cast(pa.int16() if width == 2 else pa.int32() if width == 4 else pa.int64()), width)


def _int_values(arr: pa.Array) -> pa.Array:
    """The physical integer view of a date/time/timestamp array."""
    t = arr.type
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return arr.view(pa.int32())
    return arr.view(pa.int64())


def _per_value(arr: pa.Array, f) -> pa.Array:
    return pa.array([None if v is None else f(v) for v in arr.to_pylist()], pa.binary())


def _per_value_raw(arr: pa.Array, f) -> pa.Array:
    """Like _per_value but f gets the physical int (date/time/timestamp) value."""
    ints = _int_values(arr).to_pylist()
    return pa.array([None if v is None else f(v) for v in ints], pa.binary())


# --- bool ------------------------------------------------------------------

_T, _F = pa.scalar(b"t", pa.binary()), pa.scalar(b"f", pa.binary())
_B1, _B0 = pa.scalar(b"\x01", pa.binary()), pa.scalar(b"\x00", pa.binary())


def _bool_text(arr):
    return pc.if_else(arr, _T, _F)


def _bool_bin(arr):
    return pc.if_else(arr, _B1, _B0)


# --- integers --------------------------------------------------------------

_INT_WIDTH = {INT2: 2, INT4: 4, INT8: 8}
_INT_TYPE = {INT2: pa.int16(), INT4: pa.int32(), INT8: pa.int64(), OID: pa.uint32()}


def _int_fn(oid, fmt, t):
    target = _INT_TYPE[oid]
    if pa.types.is_integer(t):
        pass
    elif oid == INT8 and pa.types.is_decimal(t) and t.scale == 0:
        pass
    else:
        return None

    def checked(arr):
        try:
            return arr.cast(target)
        except (pa.ArrowInvalid, OverflowError) as e:
            raise EncodeError(f"value out of range for type oid {oid}: {e}") from None

    if fmt == 0:
        if t == target or (pa.types.is_integer(t) and t.bit_width < target.bit_width
                           and (pa.types.is_signed_integer(t) or oid == OID)):
            return lambda arr: _as_binary(pc.cast(arr, pa.string()))
        return lambda arr: _as_binary(pc.cast(checked(arr), pa.string()))
    if oid == OID:
        return lambda arr: _be_fixed(checked(arr).view(pa.int32()), 4)
    w = _INT_WIDTH[oid]
    return lambda arr: _be_fixed(checked(arr), w)


# --- floats ----------------------------------------------------------------

_F_NAN = {"nan": b"NaN", "inf": b"Infinity", "-inf": b"-Infinity"}


def _float_fn(oid, fmt, t, s):
    if oid == FLOAT4:
        if not pa.types.is_float32(t):
            return None
        if fmt == 1:
            return lambda arr: _be_fixed(arr.view(pa.int32()), 4)
        return _float_text_fn(True, s.extra_float_digits)
    if not (pa.types.is_float32(t) or pa.types.is_float64(t)):
        return None
    if fmt == 1:
        return lambda arr: _be_fixed(arr.cast(pa.float64()).view(pa.int64()), 8)
    fn = _float_text_fn(False, s.extra_float_digits)
    if pa.types.is_float32(t):
        return lambda arr: fn(arr.cast(pa.float64()))
    return fn


def _float_text_fn(single: bool, efd: int):
    if efd > 0:
        hi = 1e6 if single else 1e10
        slow = _float4_shortest if single else _float8_shortest

        def enc(arr):
            out = _as_binary(pc.cast(arr, pa.string()))
            a = pc.abs(arr)
            fast = pc.or_(pc.and_(pc.greater_equal(a, 1e-4), pc.less(a, hi)), pc.equal(a, 0))
            fast = pc.fill_null(fast, True)
            if pc.all(fast).as_py():
                return out
            slow_mask = pc.invert(fast)
            vals = pc.filter(arr, slow_mask).to_pylist()
            return pc.replace_with_mask(out, slow_mask, pa.array([slow(v) for v in vals], pa.binary()))
        return enc
    prec = (6 if single else 15) + efd
    prec = max(prec, 1)
    fmt_s = f"%.{prec}g"

    def one(v):
        if v != v or v in (float("inf"), float("-inf")):
            return _F_NAN[repr(v)]
        return (fmt_s % v).encode()
    return lambda arr: _per_value(arr, one)


def _pg_shortest(digits: str, exp10: int, neg: bool, maxfixed: int) -> bytes:
    """Format shortest digits d1d2...dn (value = 0.d1d2..dn * 10**exp10) as PG's ryu
    output: fixed notation when -4 <= exponent < maxfixed, else d.ddde+XX."""
    e = exp10 - 1  # scientific exponent
    sign = "-" if neg else ""
    if -4 <= e < maxfixed:
        if e < 0:
            s = "0." + "0" * (-e - 1) + digits
        elif len(digits) <= e + 1:
            s = digits + "0" * (e + 1 - len(digits))
        else:
            s = digits[:e + 1] + "." + digits[e + 1:]
    else:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        s = f"{m}e{'-' if e < 0 else '+'}{abs(e):02d}"
    return (sign + s).encode()


def _split_repr(r: str) -> tuple[str, int]:
    """'1.2345e-07' / '123.45' / '1e+16' -> (significant digits, exp10 of 0.ddd form)."""
    if "e" in r:
        m, e = r.split("e")
        e = int(e)
    else:
        m, e = r, 0
    if "." in m:
        ip, fp = m.split(".")
    else:
        ip, fp = m, ""
    digits = (ip + fp)
    exp10 = len(ip) + e
    stripped = digits.lstrip("0")
    exp10 -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    return digits, exp10


def _float8_shortest(v: float) -> bytes:
    if v != v or v in (float("inf"), float("-inf")):
        return _F_NAN[repr(v)]
    if v == 0:
        return b"-0" if str(v).startswith("-") else b"0"
    a = abs(v)
    r = repr(a)
    if a >= 2.0 ** 53:
        r = _strictly_inside(a, r, math.nextafter(a, 0.0), math.nextafter(a, math.inf), 17)
    digits, exp10 = _split_repr(r)
    return _pg_shortest(digits, exp10, v < 0, 15)


def _strictly_inside(a: float, r: str, below: float, above: float, maxdigits: int) -> str:
    """Postgres builds Ryu with acceptBounds false: a shortest candidate lying exactly
    on the rounding boundary is not taken; use the next longer one that is inside."""
    fa = Fraction(a)
    lo = (fa + Fraction(below)) / 2
    hi = (fa + Fraction(above)) / 2 if above != math.inf else fa + (fa - lo)
    if lo < Fraction(r) < hi:
        return r
    ndig = len(_split_repr(r)[0])
    for p in range(ndig + 1, maxdigits + 1):
        c = "%.*e" % (p - 1, a)
        if lo < Fraction(c) < hi:
            return c
    return "%.*e" % (maxdigits - 1, a)


_F32 = struct.Struct("<f")
_U32 = struct.Struct("<I")


def _f32_neighbours(a: float) -> tuple[float, float]:
    bits = _U32.unpack(_F32.pack(a))[0]
    below = _F32.unpack(_U32.pack(bits - 1))[0]
    above = _F32.unpack(_U32.pack(bits + 1))[0] if bits + 1 < 0x7F800000 else math.inf
    return below, above


def _float4_shortest(v: float) -> bytes:
    if v != v or v in (float("inf"), float("-inf")):
        return _F_NAN[repr(v)]
    if v == 0:
        return b"-0" if str(v).startswith("-") else b"0"
    a = abs(v)
    packed = _F32.pack(a)
    for p in range(1, 10):
        r = "%.*e" % (p - 1, a)
        try:
            if _F32.pack(float(r)) == packed:
                break
        except OverflowError:
            continue
    if a >= 1e6:
        below, above = _f32_neighbours(a)
        r = _strictly_inside(a, r, below, above, 9)
    digits, exp10 = _split_repr(r)
    return _pg_shortest(digits, exp10, v < 0, 6)


# --- numeric ---------------------------------------------------------------

def _typmod_scale(typmod: int) -> int | None:
    if typmod < 4:
        return None
    scale = (((typmod - 4) & 0x7FF) ^ 1024) - 1024
    return max(scale, 0)


def _numeric_fn(typmod, fmt, t):
    target = _typmod_scale(typmod)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        # the planner computed the exact Postgres text (e.g. avg(), numeric division)
        if target is not None:
            return None
        if fmt == 0:
            return _as_binary
        return lambda arr: _per_value(arr, _numeric_text_send)
    if pa.types.is_integer(t):
        scale = 0
    elif pa.types.is_decimal(t):
        scale = t.scale
        if scale < 0:
            return None
    else:
        return None
    dscale = scale if target is None else target
    if dscale < scale:
        return None
    if fmt == 1:
        return _numeric_bin_fn(scale, dscale, pa.types.is_decimal(t))
    if dscale == scale:
        if scale == 0:
            return lambda arr: _as_binary(pc.cast(arr, pa.string()))
        return _decimal_text
    prec = (t.precision if pa.types.is_decimal(t) else 20) + dscale - scale
    dt = pa.decimal128(prec, dscale) if prec <= 38 else pa.decimal256(min(prec, 76), dscale)
    return lambda arr: _decimal_text(pc.cast(arr, dt))


def _decimal_text(arr):
    """Arrow prints decimals below 1e-6 in scientific notation ('0E-10'): fix those."""
    out = pc.cast(arr, pa.string())
    sci = pc.fill_null(pc.match_substring(out, "E"), False)
    if pc.any(sci).as_py():
        vals = pc.filter(out, sci).to_pylist()
        out = pc.replace_with_mask(out, sci, pa.array([format(Decimal(v), "f") for v in vals], pa.string()))
    return _as_binary(out)


def _numeric_bin_fn(scale, dscale, is_decimal):
    if is_decimal:
        def enc(arr):
            n = len(arr)
            if n == 0:
                return _EMPTY_BIN
            width = arr.type.byte_width
            buf = memoryview(arr.buffers()[1])[arr.offset * width:(arr.offset + n) * width]
            fb = int.from_bytes
            valid = arr.is_valid().to_pylist() if arr.null_count else None
            out = []
            for i in range(n):
                if valid is not None and not valid[i]:
                    out.append(None)
                else:
                    out.append(_numeric_send(fb(buf[i * width:(i + 1) * width], "little", signed=True), scale, dscale))
            return pa.array(out, pa.binary())
        return enc
    return lambda arr: _per_value(arr, lambda v: _numeric_send(v, 0, dscale))


_NUMH = struct.Struct("!hhHH")


def _numeric_text_send(text: str) -> bytes:
    """numeric_send of a value given as Postgres numeric text (keeps its scale)."""
    d = Decimal(text)
    if not d.is_finite():
        return _NUMH.pack(0, 0, 0xC000 if d.is_nan() else (0xD000 if d > 0 else 0xF000), 0)
    sign, digits, exp = d.as_tuple()
    scale = max(0, -exp)
    unscaled = int("".join(map(str, digits)) or "0") * (10 ** max(0, exp))
    return _numeric_send(-unscaled if sign else unscaled, scale, scale)


def _numeric_send(unscaled: int, scale: int, dscale: int) -> bytes:
    """PG numeric_send of unscaled * 10**-scale, displayed with dscale digits."""
    if unscaled == 0:
        return _NUMH.pack(0, 0, 0, dscale)
    sign = 0x4000 if unscaled < 0 else 0
    u = -unscaled if unscaled < 0 else unscaled
    # align the fraction to whole base-10000 digits
    pad = (-scale) % 4
    u *= 10 ** pad
    frac_groups = (scale + pad) // 4
    groups = []
    while u:
        u, r = divmod(u, 10000)
        groups.append(r)
    groups.reverse()
    weight = len(groups) - frac_groups - 1
    # strip trailing zero groups (leading ones cannot occur)
    while groups and groups[-1] == 0:
        groups.pop()
    return _NUMH.pack(len(groups), weight, sign, dscale) + struct.pack(f"!{len(groups)}H", *groups)


# --- strings ---------------------------------------------------------------

def _string_fn(oid, typmod, fmt, t):
    if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)):
        return None
    if oid == BPCHAR and typmod >= 5:
        width = typmod - 4

        def pad(arr):
            return _as_binary(pc.utf8_rpad(_as_string(arr), width=width, padding=" "))
        return pad
    if oid == JSONB and fmt == 1:
        return lambda arr: pc.binary_join_element_wise(b"\x01", _as_binary(arr), b"")
    if oid == CHAR and fmt == 1:
        return lambda arr: _per_value(arr, _char_send)
    return _as_binary


_OCT = re.compile(r"\\([0-3][0-7][0-7])")


def _char_send(v: str) -> bytes:
    m = _OCT.fullmatch(v)
    if m:
        return bytes([int(m.group(1), 8)])
    return v.encode()[:1] or b"\x00"


# --- uuid ------------------------------------------------------------------

def _uuid_fn(fmt, t):
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if fmt == 0:
            return lambda arr: _as_binary(pc.utf8_lower(_as_string(arr)))
        return lambda arr: _per_value(arr, lambda v: _uuid.UUID(v).bytes)
    if pa.types.is_fixed_size_binary(t) and t.byte_width == 16:
        if fmt == 1:
            return lambda arr: arr.cast(pa.binary())
        return lambda arr: _per_value(arr, lambda v: str(_uuid.UUID(bytes=v)).encode())
    if isinstance(t, pa.ExtensionType) and pa.types.is_fixed_size_binary(t.storage_type):
        inner = _uuid_fn(fmt, t.storage_type)
        return None if inner is None else (lambda arr: inner(arr.storage))
    return None


# --- bytea -----------------------------------------------------------------

def _bytea_fn(fmt, t, s):
    if not (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
            or pa.types.is_binary_view(t)):
        return None
    if fmt == 1:
        return _as_binary
    if s.bytea_output == "hex":
        return lambda arr: _per_value(_as_binary(arr), _bytea_hex)
    if s.bytea_output == "escape":
        return lambda arr: _per_value(_as_binary(arr), _bytea_escape)
    return None


def _bytea_hex(v: bytes) -> bytes:
    return b"\\x" + v.hex().encode()


_ESC = [bytes([b]) if 0x20 <= b < 0x7F and b != 0x5C else (b"\\\\" if b == 0x5C else b"\\%03o" % b)
        for b in range(256)]


def _bytea_escape(v: bytes) -> bytes:
    return b"".join([_ESC[b] for b in v])


# --- date / time / timestamp -------------------------------------------------

def _date_bin(arr):
    d = arr.view(pa.int32())
    shifted = pc.subtract(d, PG_EPOCH_DAYS)
    out = pc.if_else(pc.equal(d, I32_MAX), pa.scalar(I32_MAX, pa.int32()),
                     pc.if_else(pc.equal(d, -I32_MAX), pa.scalar(I32_MIN, pa.int32()), shifted))
    return _be_fixed(out.cast(pa.int32()), 4)


def _ts_micros(arr) -> pa.Array:
    """timestamp[s|ms|us] -> int64 microseconds since 1970 (infinity kept as +-(2**63-1))."""
    ints = arr.view(pa.int64())
    unit = arr.type.unit
    if unit == "us":
        return ints
    mult = 1_000_000 if unit == "s" else 1000
    inf = pc.or_(pc.equal(ints, I64_MAX), pc.equal(ints, -I64_MAX))
    return pc.if_else(inf, ints, pc.multiply(ints, mult))


def _timestamp_bin(arr):
    us = _ts_micros(arr)
    out = pc.if_else(pc.equal(us, I64_MAX), I64_MAX,
                     pc.if_else(pc.equal(us, -I64_MAX), I64_MIN, pc.subtract(us, PG_EPOCH_US)))
    return _be_fixed(out, 8)


def _time_micros(arr):
    if pa.types.is_time32(arr.type):
        mult = 1_000_000 if arr.type.unit == "s" else 1000
        return pc.multiply(arr.view(pa.int32()).cast(pa.int64()), mult)
    return arr.view(pa.int64())


def _time_bin(arr):
    return _be_fixed(_time_micros(arr), 8)


def _pad(ints, width):
    return pc.utf8_lpad(pc.cast(ints, pa.string()), width=width, padding="0")


def _frac(us):
    """'.ffffff' trimmed of trailing zeros, '' when zero."""
    f = pc.utf8_rtrim(_pad(us, 6), characters="0")
    return pc.if_else(pc.equal(us, 0), "", pc.binary_join_element_wise(".", f, ""))


def _hms(tod_us):
    """Time of day in microseconds (0..86400e6) -> 'HH:MM:SS[.ffffff]' strings."""
    secs = pc.divide(tod_us, 1_000_000)
    us = pc.subtract(tod_us, pc.multiply(secs, 1_000_000))
    h = pc.divide(secs, 3600)
    rem = pc.subtract(secs, pc.multiply(h, 3600))
    m = pc.divide(rem, 60)
    sec = pc.subtract(rem, pc.multiply(m, 60))
    return pc.binary_join_element_wise(_pad(h, 2), ":", _pad(m, 2), ":", _pad(sec, 2), _frac(us), "")


def _ymd(year, month, day):
    """Arrow year (astronomical: 0 = 1 BC), month, day -> 'YYYY-MM-DD' and BC flags."""
    bc = pc.less_equal(year, 0)
    y = pc.if_else(bc, pc.subtract(1, year), year)
    return pc.binary_join_element_wise(_pad(y, 4), "-", _pad(month, 2), "-", _pad(day, 2), ""), bc


def _date_text(arr):
    d = arr.view(pa.int32())
    # fast range: 0001-01-01 .. 9999-12-31
    fast = pc.and_(pc.greater_equal(d, -719162), pc.less_equal(d, 2932896))
    fast = pc.fill_null(fast, True)
    safe = pc.if_else(fast, d, pa.scalar(0, pa.int32())).view(pa.date32())
    ymd, _ = _ymd(pc.year(safe), pc.month(safe), pc.day(safe))
    out = _as_binary(ymd)
    if arr.null_count:
        out = pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.binary()))
    if not pc.all(fast).as_py():
        slow_mask = pc.invert(fast)
        vals = pc.filter(d, slow_mask).to_pylist()
        out = pc.replace_with_mask(out, slow_mask, pa.array([_date_out(v) for v in vals], pa.binary()))
    return out


def _civil(days: int) -> tuple[int, int, int]:
    """Days since 1970-01-01 -> proleptic Gregorian (astronomical year, month, day)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def _ymd_py(days: int) -> tuple[str, bool]:
    y, m, d = _civil(days)
    bc = y <= 0
    return f"{(1 - y) if bc else y:04d}-{m:02d}-{d:02d}", bc


def _date_out(days: int) -> bytes:
    if days == I32_MAX:
        return b"infinity"
    if days == -I32_MAX or days == I32_MIN:
        return b"-infinity"
    s, bc = _ymd_py(days)
    return (s + " BC").encode() if bc else s.encode()


def _hms_py(tod: int) -> str:
    secs, us = divmod(tod, 1_000_000)
    h, rem = divmod(secs, 3600)
    m, sec = divmod(rem, 60)
    s = f"{h:02d}:{m:02d}:{sec:02d}"
    if us:
        s += ("." + f"{us:06d}").rstrip("0")
    return s


def _tz_suffix(off: int) -> str:
    """UTC offset in seconds -> '+HH', '+HH:MM' or '+HH:MM:SS' as Postgres prints it."""
    sign = "-" if off < 0 else "+"
    off = abs(off)
    h, rem = divmod(off, 3600)
    m, s = divmod(rem, 60)
    out = f"{sign}{h:02d}"
    if m or s:
        out += f":{m:02d}"
    if s:
        out += f":{s:02d}"
    return out


@lru_cache(maxsize=64)
def _zone(name: str):
    if name.upper() in ("UTC", "ETC/UTC", "GMT", "Z", "ZULU", "UCT", "UNIVERSAL"):
        return _dt.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_US400 = 146097 * US_PER_DAY            # 400 Gregorian years repeat exactly
_LO_PY = -62135596800 * 1_000_000 + 400 * 366 * US_PER_DAY
_HI_PY = 253402300799 * 1_000_000 - 400 * 366 * US_PER_DAY


def _utc_offset(us: int, zone) -> int:
    """Offset (seconds) of `zone` at UTC instant `us` (µs since 1970), any year."""
    if zone is _dt.timezone.utc:
        return 0
    if us < -5364662400 * 1_000_000:        # before 1800: all zones are on LMT
        us = -5364662400 * 1_000_000
    while us > _HI_PY:                      # far future: rules repeat every 400 years
        us -= _US400
    dt = _EPOCH + _dt.timedelta(microseconds=us)
    return int(dt.astimezone(zone).utcoffset().total_seconds())


def _ts_out(us: int, zone) -> bytes:
    if us == I64_MAX:
        return b"infinity"
    if us == -I64_MAX or us == I64_MIN:
        return b"-infinity"
    off = 0 if zone is None else _utc_offset(us, zone)
    local = us + off * 1_000_000
    days, tod = divmod(local, US_PER_DAY)
    ymd, bc = _ymd_py(days)
    s = ymd + " " + _hms_py(tod)
    if zone is not None:
        s += _tz_suffix(off)
    if bc:
        s += " BC"
    return s.encode()


# fast ranges (µs since 1970): timestamp: 0001-01-01 .. 9999-12-31;
# timestamptz: 1901-12-14 .. 2036-12-31, where Arrow's tz database agrees with
# zoneinfo (Arrow ignores the POSIX-rule footer of TZif files after 2037).
_TS_FAST = (-62135596800 * 1_000_000, 253402300799 * 1_000_000)
_TSTZ_FAST = (-2147483648 * 1_000_000, 2114380800 * 1_000_000)


def _timestamp_text_fn(tzname: str | None):
    zone = None if tzname is None else _zone(tzname)
    utc = zone is _dt.timezone.utc
    lo, hi = _TSTZ_FAST if (zone is not None and not utc) else _TS_FAST

    def enc(arr):
        us = _ts_micros(arr)
        fast = pc.fill_null(pc.and_(pc.greater_equal(us, lo), pc.less_equal(us, hi)), True)
        safe = pc.if_else(fast, us, 0)
        if zone is None or utc:
            local = safe
            off = None
        else:
            tsz = safe.cast(pa.timestamp("us", tz=tzname))
            local = pc.local_timestamp(tsz).view(pa.int64())
            off = pc.divide(pc.subtract(local, safe), 1_000_000)
        days = pc.divide(local, US_PER_DAY)  # truncates: make it floor
        days = pc.subtract(days, pc.if_else(pc.greater(pc.multiply(days, US_PER_DAY), local), 1, 0))
        tod = pc.subtract(local, pc.multiply(days, US_PER_DAY))
        dts = local.cast(pa.timestamp("us"))
        ymd, bc = _ymd(pc.year(dts), pc.month(dts), pc.day(dts))
        parts = [ymd, " ", _hms(tod)]
        if zone is not None:
            parts.append(_tz_arrow(off) if off is not None else "+00")
        parts.append(pc.if_else(bc, " BC", ""))
        parts.append("")
        out = _as_binary(pc.binary_join_element_wise(*parts))
        if arr.null_count:
            out = pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.binary()))
        if not pc.all(fast).as_py():
            slow_mask = pc.invert(fast)
            vals = pc.filter(us, slow_mask).to_pylist()
            out = pc.replace_with_mask(out, slow_mask, pa.array([_ts_out(v, zone) for v in vals], pa.binary()))
        return out
    return enc


def _tz_arrow(off):
    """Offset seconds (int64 array) -> '+HH[:MM[:SS]]' strings."""
    neg = pc.less(off, 0)
    a = pc.abs(off)
    h = pc.divide(a, 3600)
    rem = pc.subtract(a, pc.multiply(h, 3600))
    m = pc.divide(rem, 60)
    s = pc.subtract(rem, pc.multiply(m, 60))
    mm = pc.if_else(pc.or_(pc.not_equal(m, 0), pc.not_equal(s, 0)),
                    pc.binary_join_element_wise(":", _pad(m, 2), ""), "")
    ss = pc.if_else(pc.not_equal(s, 0), pc.binary_join_element_wise(":", _pad(s, 2), ""), "")
    return pc.binary_join_element_wise(pc.if_else(neg, "-", "+"), _pad(h, 2), mm, ss, "")


def _time_text(arr):
    us = _time_micros(arr)
    out = _as_binary(_hms(pc.fill_null(us, 0)))
    if arr.null_count:
        out = pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.binary()))
    return out


# --- interval --------------------------------------------------------------

def _interval_parts(arr):
    """-> list of (months, days, micros) or None."""
    if pa.types.is_duration(arr.type):
        mult = {"s": 1_000_000, "ms": 1000, "us": 1}[arr.type.unit]
        return [None if v is None else (0, 0, v * mult) for v in arr.view(pa.int64()).to_pylist()]
    out = []
    for v in arr.to_pylist():
        if v is None:
            out.append(None)
        else:
            if v.nanoseconds % 1000:
                raise EncodeError("interval with sub-microsecond part")
            out.append((v.months, v.days, v.nanoseconds // 1000))
    return out


_IV = struct.Struct("!qii")


def _interval_bin(arr):
    return pa.array([None if p is None else _IV.pack(p[2], p[1], p[0]) for p in _interval_parts(arr)],
                    pa.binary())


def _interval_text(arr):
    return pa.array([None if p is None else _interval_out(*p) for p in _interval_parts(arr)], pa.binary())


def _trunc_div(a: int, b: int) -> tuple[int, int]:
    q = abs(a) // b
    q = -q if a < 0 else q
    return q, a - q * b


def _interval_out(months: int, days: int, micros: int) -> bytes:
    """EncodeInterval, IntervalStyle postgres."""
    year, mon = _trunc_div(months, 12)
    hour, rem = _trunc_div(micros, 3_600_000_000)
    minute, rem = _trunc_div(rem, 60_000_000)
    sec, fsec = _trunc_div(rem, 1_000_000)
    out = []
    is_zero = True
    is_before = False
    for value, unit in ((year, "year"), (mon, "mon"), (days, "day")):
        if value == 0:
            continue
        out.append(f"{'' if is_zero else ' '}{'+' if is_before and value > 0 else ''}"
                   f"{value} {unit}{'' if value == 1 else 's'}")
        is_before = value < 0
        is_zero = False
    if is_zero or hour or minute or sec or fsec:
        minus = hour < 0 or minute < 0 or sec < 0 or fsec < 0
        s = f"{'' if is_zero else ' '}{'-' if minus else ('+' if is_before else '')}" \
            f"{abs(hour):02d}:{abs(minute):02d}:{abs(sec):02d}"
        if fsec:
            s += ("." + f"{abs(fsec):06d}").rstrip("0")
        out.append(s)
    return "".join(out).encode()


# --- arrays ----------------------------------------------------------------

_NEEDS_QUOTE = r'(^$)|[{}",\\ \t\n\r\x0b\x0c]|(^[Nn][Uu][Ll][Ll]$)'
_NEVER_QUOTED = {BOOL, INT2, INT4, INT8, OID, FLOAT4, FLOAT8, NUMERIC, UUID, TIME}


def _array_encoder(elem_oid, typmod, fmt, t, s):
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
        return None
    vt = t.value_type
    if pa.types.is_list(vt) or pa.types.is_large_list(vt) or pa.types.is_fixed_size_list(vt):
        return None  # multi-dimensional: not attempted
    elem = _scalar_fn(elem_oid, typmod, fmt, vt, s)
    if elem is None:
        return None
    if fmt == 0:
        needs_check = elem_oid not in _NEVER_QUOTED

        def enc(arr):
            offsets, values, mask = _list_parts(arr)
            ev = _as_string(elem(values))
            if needs_check and len(ev):
                needs = pc.fill_null(pc.match_substring_regex(ev, _NEEDS_QUOTE), False)
                if pc.any(needs).as_py():
                    esc = pc.replace_substring_regex(ev, r'(["\\])', r'\\\1')
                    ev = pc.if_else(needs, pc.binary_join_element_wise('"', esc, '"', ""), ev)
            ev = pc.fill_null(ev, "NULL")
            lst = pa.ListArray.from_arrays(offsets, ev, mask=mask)
            joined = pc.binary_join(lst, ",")
            return _as_binary(pc.binary_join_element_wise("{", joined, "}", ""))
        return Encoder(enc, f"array {elem_oid}/0/{t}")
    oid_be = struct.pack("!i", elem_oid)
    empty_hdr = pa.scalar(b"\x00\x00\x00\x00\x00\x00\x00\x00" + oid_be, pa.binary())

    def enc_bin(arr):
        offsets, values, mask = _list_parts(arr)
        ev = elem(values)
        items = _length_prefixed(ev)
        lst = pa.ListArray.from_arrays(offsets, items, mask=mask)
        body = pc.binary_join(lst, b"")
        sizes = pc.subtract(offsets[1:], offsets[:-1]) if len(offsets) > 1 else pa.array([], pa.int32())
        nulls = pc.cumulative_sum(pc.cast(ev.is_null(), pa.int32())) if len(ev) else pa.array([], pa.int32())
        nulls = pa.concat_arrays([pa.array([0], pa.int32()), nulls.cast(pa.int32())])
        has_null = pc.cast(pc.greater(pc.subtract(pc.take(nulls, offsets[1:]), pc.take(nulls, offsets[:-1])), 0),
                           pa.int32())
        hdr = pc.binary_join_element_wise(b"\x00\x00\x00\x01", _be_ints(has_null, 4), oid_be,
                                          _be_ints(sizes, 4), b"\x00\x00\x00\x01", b"")
        hdr = pc.if_else(pc.equal(sizes, 0), empty_hdr, hdr)
        out = pc.binary_join_element_wise(hdr, body, b"")
        if mask is not None:
            out = pc.if_else(mask, pa.scalar(None, pa.binary()), out)
        return out
    return Encoder(enc_bin, f"array {elem_oid}/1/{t}")


def _list_parts(arr):
    """-> (int32 offsets starting at 0, child values for exactly those, null mask or None)."""
    if pa.types.is_fixed_size_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    if pa.types.is_large_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    offsets = arr.offsets
    start = offsets[0].as_py()
    end = offsets[-1].as_py()
    values = arr.values.slice(start, end - start)
    if start:
        offsets = pc.subtract(offsets, start)
    mask = arr.is_null() if arr.null_count else None
    return offsets, values, mask


# ---------------------------------------------------------------------------
# DataRow

_NULL_LEN = pa.scalar(b"\xff\xff\xff\xff", pa.binary())


def _length_prefixed(vals: pa.Array) -> pa.Array:
    """binary values -> int32 length + bytes, or b'\\xff\\xff\\xff\\xff' for NULL (never null)."""
    if len(vals) == 0:
        return _EMPTY_BIN
    lens = pc.binary_length(vals)
    out = pc.binary_join_element_wise(_be_ints(pc.fill_null(lens, 0), 4), vals, b"")
    if vals.null_count:
        out = pc.fill_null(out, _NULL_LEN)
    return out


CHUNK_ROWS = 65536


def encode_data_rows(batch: pa.RecordBatch, encoders: list) -> bytes:
    """The DataRow frames ('D', int32 length, int16 ncols, values) of every row."""
    n = batch.num_rows
    ncols = batch.num_columns
    if ncols != len(encoders):
        raise ValueError("one encoder per column is needed")
    if n == 0:
        return b""
    if ncols == 0:
        return (b"D\x00\x00\x00\x06\x00\x00") * n
    out = []
    for start in range(0, n, CHUNK_ROWS):
        part = batch.slice(start, min(CHUNK_ROWS, n - start))
        out.append(_encode_chunk(part, encoders))
    return b"".join(out)


SMALL_ROWS = 64
_I32 = struct.Struct("!i")


def _encode_small(batch: pa.RecordBatch, encoders: list) -> bytes:
    """Few rows: the same value bytes (each column's encoder), framed in Python; the
    Arrow kernels' fixed cost per call outweighs the per-row work below ~64 rows."""
    cols = [enc.arrow(col).to_pylist() if isinstance(enc, Encoder) else enc(col)
            for col, enc in zip(batch.columns, encoders)]
    head = struct.pack("!h", batch.num_columns)
    pack = _I32.pack
    out = []
    for row in zip(*cols):
        parts = [head]
        for v in row:
            if v is None:
                parts.append(b"\xff\xff\xff\xff")
            else:
                parts.append(pack(len(v)))
                parts.append(v)
        body = b"".join(parts)
        out.append(b"D" + pack(len(body) + 4) + body)
    return b"".join(out)


def _encode_chunk(batch: pa.RecordBatch, encoders: list) -> bytes:
    if batch.num_rows <= SMALL_ROWS:
        return _encode_small(batch, encoders)
    ncols = batch.num_columns
    cols = []
    total = None
    for col, enc in zip(batch.columns, encoders):
        if isinstance(enc, Encoder):
            vals = enc.arrow(col)
        else:
            vals = pa.array(enc(col), pa.binary())
        lens = pc.fill_null(pc.binary_length(vals), 0)
        total = lens if total is None else pc.add(total, lens)
        cols.append(_length_prefixed(vals))
    total = pc.add(total, 4 + 2 + 4 * ncols)
    hdr = pc.binary_join_element_wise(b"D", _be_ints(total, 4), struct.pack("!h", ncols), b"")
    rows = pc.binary_join_element_wise(hdr, *cols, b"")
    if pa.types.is_large_binary(rows.type):
        raise EncodeError("result chunk too large")
    data = rows.buffers()[2]
    end = pc.sum(pc.binary_length(rows)).as_py()
    return data.to_pybytes()[:end] if data.size != end else data.to_pybytes()


# ---------------------------------------------------------------------------
# Parameters

def decode_param(data: bytes | None, type_oid: int, fmt: int, *, timezone: str | None = None) -> object:
    """A Bind parameter -> the Python value to bind into a DuckDB query.

    ``timezone`` (the session's TimeZone) is needed for text timestamptz values
    without an offset. Raises ParamNotDecodable when the value cannot be
    represented faithfully (relay to origin)."""
    if data is None:
        return None
    try:
        if fmt == 1:
            return _decode_bin(bytes(data), type_oid)
        if fmt == 0:
            return _decode_text(bytes(data).decode("utf-8"), type_oid, timezone)
    except ParamNotDecodable:
        raise
    except (ValueError, struct.error, IndexError, OverflowError, ArithmeticError, UnicodeDecodeError) as e:
        raise ParamNotDecodable(f"cannot decode parameter of type {type_oid}: {e}") from None
    raise ParamNotDecodable(f"unknown format code {fmt}")


def _nd(msg: str):
    raise ParamNotDecodable(msg)


_INT_RANGE = {INT2: (-2**15, 2**15 - 1), INT4: (-2**31, 2**31 - 1), INT8: (-2**63, 2**63 - 1),
              OID: (0, 2**32 - 1)}
_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False}


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "0"):
        return v == "1"
    if v in ("on", "off", "of"):
        if v == "of":
            _nd("ambiguous boolean")
        return v == "on"
    if v:
        for w, b in _BOOL_WORDS.items():
            if w.startswith(v):
                return b
    _nd(f"invalid boolean {s!r}")


_DATE_RE = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?")
_TS_RE = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
                    r"\s*(Z|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?)?\s*", re.I)


def _micro(frac: str | None) -> int:
    if not frac:
        return 0
    if len(frac) <= 6:
        return int(frac.ljust(6, "0"))
    _nd("more than 6 fractional digits")  # PG rounds: let it


def _parse_offset(s: str) -> _dt.timezone:
    if s.upper() == "Z":
        return _dt.timezone.utc
    sign = -1 if s[0] == "-" else 1
    body = s[1:].replace(":", "")
    if len(body) <= 2:
        h, m, sec = int(body), 0, 0
    else:
        if len(body) % 2:
            body = "0" + body
        h, m, sec = int(body[:2]), int(body[2:4]), int(body[4:6] or 0)
    return _dt.timezone(sign * _dt.timedelta(hours=h, minutes=m, seconds=sec))


def _parse_ts(s: str, with_tz: bool, tzname: str | None):
    m = _TS_RE.fullmatch(s)
    if not m:
        _nd(f"not an ISO timestamp: {s!r}")
    y, mo, d, hh, mi, ss, frac, off = m.groups()
    if hh is None and off is not None:
        _nd("offset without time")
    base = _dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), _micro(frac))
    if not with_tz:
        if off is not None:
            pass  # PG ignores an offset given for timestamp without time zone
        return base
    if off is not None:
        return base.replace(tzinfo=_parse_offset(off)).astimezone(_dt.timezone.utc)
    zone = _zone(tzname) if tzname else None
    if zone is None:
        _nd("timestamptz without offset and no session TimeZone")
    if zone is _dt.timezone.utc:
        return base.replace(tzinfo=zone)
    return base.replace(tzinfo=zone).astimezone(_dt.timezone.utc)


_IV_UNITS = {
    "year": (12, 0, 0), "years": (12, 0, 0), "y": (12, 0, 0), "yr": (12, 0, 0), "yrs": (12, 0, 0),
    "mon": (1, 0, 0), "mons": (1, 0, 0), "month": (1, 0, 0), "months": (1, 0, 0),
    "week": (0, 7, 0), "weeks": (0, 7, 0), "w": (0, 7, 0),
    "day": (0, 1, 0), "days": (0, 1, 0), "d": (0, 1, 0),
    "hour": (0, 0, 3_600_000_000), "hours": (0, 0, 3_600_000_000), "h": (0, 0, 3_600_000_000),
    "hr": (0, 0, 3_600_000_000), "hrs": (0, 0, 3_600_000_000),
    "minute": (0, 0, 60_000_000), "minutes": (0, 0, 60_000_000), "min": (0, 0, 60_000_000),
    "mins": (0, 0, 60_000_000), "m": (0, 0, 60_000_000),
    "second": (0, 0, 1_000_000), "seconds": (0, 0, 1_000_000), "sec": (0, 0, 1_000_000),
    "secs": (0, 0, 1_000_000), "s": (0, 0, 1_000_000),
    "millisecond": (0, 0, 1000), "milliseconds": (0, 0, 1000), "ms": (0, 0, 1000),
    "microsecond": (0, 0, 1), "microseconds": (0, 0, 1), "us": (0, 0, 1),
}
_IV_TOKEN = re.compile(r"\s*(?:([+-]?\d+)\s*([a-z]+)|([+-]?)(\d+):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?)", re.I)


def _parse_interval(s: str):
    s = s.strip()
    if s.startswith("@"):
        s = s[1:]
    if s.lower().endswith(" ago") or not s:
        _nd("unsupported interval syntax")
    months = days = micros = 0
    pos = 0
    while pos < len(s):
        m = _IV_TOKEN.match(s, pos)
        if not m or m.end() == pos:
            _nd(f"unsupported interval syntax: {s!r}")
        num, unit, sign, hh, mi, ss, frac = m.groups()
        if num is not None:
            u = _IV_UNITS.get(unit.lower())
            if u is None:
                _nd(f"unknown interval unit {unit!r}")
            v = int(num)
            months += v * u[0]
            days += v * u[1]
            micros += v * u[2]
        else:
            t = (int(hh) * 3600 + int(mi) * 60 + int(ss or 0)) * 1_000_000 + _micro(frac)
            micros += -t if sign == "-" else t
        pos = m.end()
        while pos < len(s) and s[pos] in " ,":
            pos += 1
    return _interval_value(months, days, micros)


def _interval_value(months: int, days: int, micros: int):
    if months == 0 and 0 <= micros < US_PER_DAY:
        return _dt.timedelta(days=days, microseconds=micros)
    return PgInterval(months, days, micros)


def _parse_bytea_text(s: str) -> bytes:
    if s.startswith("\\x"):
        return bytes.fromhex(s[2:])
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        c = b[i]
        if c != 0x5C:
            out.append(c)
            i += 1
        elif b[i + 1:i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif re.fullmatch(rb"[0-3][0-7][0-7]", b[i + 1:i + 4]):
            out.append(int(b[i + 1:i + 4], 8))
            i += 4
        else:
            _nd("invalid bytea escape")
    return bytes(out)


def _decode_text(s: str, oid: int, tzname: str | None):
    if oid in ARRAY_ELEM:
        elem = ARRAY_ELEM[oid]
        return [None if e is None else _decode_text(e, elem, tzname) for e in _parse_array_text(s)]
    if oid in (TEXT, VARCHAR, NAME, BPCHAR, JSON, JSONB, CHAR):
        return s
    if oid == BOOL:
        return _parse_bool(s)
    if oid in _INT_RANGE:
        v = int(s.strip())
        lo, hi = _INT_RANGE[oid]
        if not lo <= v <= hi:
            _nd("integer out of range")
        return v
    if oid in (FLOAT4, FLOAT8):
        v = s.strip()
        low = v.lower()
        if low in ("nan", "+nan", "-nan"):
            return float("nan")
        if low.lstrip("+-") in ("inf", "infinity"):
            return float("-inf") if low.startswith("-") else float("inf")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?", low):
            _nd("invalid float")
        f = float(v)
        if oid == FLOAT4:
            f = _F32.unpack(_F32.pack(f))[0]
        return f
    if oid == NUMERIC:
        v = s.strip()
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?|nan", v, re.I):
            _nd("invalid numeric")
        return Decimal(v)
    if oid == DATE:
        m = _DATE_RE.fullmatch(s)
        if not m:
            _nd(f"not an ISO date: {s!r}")
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        return _parse_ts(s, oid == TIMESTAMPTZ, tzname)
    if oid == TIME:
        m = _TIME_RE.fullmatch(s.strip())
        if not m:
            _nd(f"invalid time {s!r}")
        h, mi, sec, frac = m.groups()
        return _dt.time(int(h), int(mi), int(sec or 0), _micro(frac))
    if oid == INTERVAL:
        return _parse_interval(s)
    if oid == UUID:
        return _uuid.UUID(s.strip())
    if oid == BYTEA:
        return _parse_bytea_text(s)
    _nd(f"unsupported parameter type {oid}")


def _parse_array_text(s: str) -> list[str | None]:
    """'{a,"b c",NULL}' -> ['a', 'b c', None]; one dimension only."""
    s = s.strip()
    if not (s.startswith("{") and s.endswith("}")):
        _nd("array value must start with '{'")
    body = s[1:-1]
    out: list[str | None] = []
    if body.strip() == "":
        return out
    i, n = 0, len(body)
    while True:
        while i < n and body[i] in " \t\n\r\v\f":
            i += 1
        if i < n and body[i] == "{":
            _nd("multi-dimensional arrays are not supported")
        if i < n and body[i] == '"':
            i += 1
            buf = []
            while i < n and body[i] != '"':
                if body[i] == "\\":
                    i += 1
                if i >= n:
                    _nd("unterminated quoted array element")
                buf.append(body[i])
                i += 1
            if i >= n:
                _nd("unterminated quoted array element")
            i += 1
            while i < n and body[i] in " \t\n\r\v\f":
                i += 1
            out.append("".join(buf))
        else:
            buf = []
            escaped_any = False
            while i < n and body[i] != ",":
                if body[i] in '{}"':
                    _nd("malformed array literal")
                if body[i] == "\\":
                    i += 1
                    escaped_any = True
                    if i >= n:
                        _nd("malformed array literal")
                buf.append(body[i])
                i += 1
            v = "".join(buf).strip(" \t\n\r\v\f")
            if not v:
                _nd("malformed array literal")
            out.append(None if (v.upper() == "NULL" and not escaped_any) else v)
        if i >= n:
            break
        if body[i] != ",":
            _nd("malformed array literal")
        i += 1
    return out


_BIN_FIXED = {BOOL: "!?", INT2: "!h", INT4: "!i", INT8: "!q", OID: "!I", FLOAT4: "!f", FLOAT8: "!d"}
_PG_EPOCH_DATE = _dt.date(2000, 1, 1)
_PG_EPOCH_DT = _dt.datetime(2000, 1, 1)


def _decode_bin(b: bytes, oid: int):
    if oid in ARRAY_ELEM:
        return _decode_array_bin(b, ARRAY_ELEM[oid])
    if oid in _BIN_FIXED:
        f = _BIN_FIXED[oid]
        if len(b) != struct.calcsize(f):
            _nd("wrong binary length")
        if oid == BOOL and b not in (b"\x00", b"\x01"):
            _nd("invalid bool")
        return struct.unpack(f, b)[0]
    if oid in (TEXT, VARCHAR, NAME, BPCHAR, JSON):
        return b.decode("utf-8")
    if oid == JSONB:
        if b[:1] != b"\x01":
            _nd("unsupported jsonb version")
        return b[1:].decode("utf-8")
    if oid == CHAR:
        if len(b) > 1:
            _nd("char too long")
        return b.rstrip(b"\x00").decode("latin-1")
    if oid == BYTEA:
        return b
    if oid == UUID:
        return _uuid.UUID(bytes=b)
    if oid == NUMERIC:
        return _numeric_recv(b)
    if oid == DATE:
        (d,) = struct.unpack("!i", b)
        if d in (I32_MAX, I32_MIN):
            _nd("infinite date")
        return _PG_EPOCH_DATE + _dt.timedelta(days=d)
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        (us,) = struct.unpack("!q", b)
        if us in (I64_MAX, I64_MIN):
            _nd("infinite timestamp")
        v = _PG_EPOCH_DT + _dt.timedelta(microseconds=us)
        return v.replace(tzinfo=_dt.timezone.utc) if oid == TIMESTAMPTZ else v
    if oid == TIME:
        (us,) = struct.unpack("!q", b)
        if not 0 <= us < US_PER_DAY:
            _nd("time out of Python range")
        secs, frac = divmod(us, 1_000_000)
        return _dt.time(secs // 3600, secs // 60 % 60, secs % 60, frac)
    if oid == INTERVAL:
        us, days, months = _IV.unpack(b)
        return _interval_value(months, days, us)
    _nd(f"unsupported parameter type {oid}")


def _numeric_recv(b: bytes) -> Decimal:
    ndigits, weight, sign, dscale = _NUMH.unpack_from(b, 0)
    if sign == 0xC000:
        return Decimal("NaN")
    if sign in (0xD000, 0xF000):
        return Decimal("Infinity") if sign == 0xD000 else Decimal("-Infinity")
    if len(b) != 8 + 2 * ndigits:
        _nd("wrong numeric length")
    digits = struct.unpack_from(f"!{ndigits}H", b, 8)
    v = 0
    for d in digits:
        v = v * 10000 + d
    exp = (weight - ndigits + 1) * 4
    if exp > -dscale:
        v *= 10 ** (exp + dscale)
    elif exp < -dscale:
        q, r = divmod(v, 10 ** (-dscale - exp))
        if r:
            _nd("numeric digits beyond dscale")
        v = q
    return Decimal((1 if sign == 0x4000 else 0, tuple(int(c) for c in str(v)), -dscale))


def _decode_array_bin(b: bytes, elem: int) -> list:
    ndim, _flags, _eoid = struct.unpack_from("!iii", b, 0)
    if ndim == 0:
        return []
    if ndim != 1:
        _nd("multi-dimensional arrays are not supported")
    size, _lb = struct.unpack_from("!ii", b, 12)
    pos = 20
    out = []
    for _ in range(size):
        (n,) = struct.unpack_from("!i", b, pos)
        pos += 4
        if n == -1:
            out.append(None)
        else:
            out.append(_decode_bin(b[pos:pos + n], elem))
            pos += n
    if pos != len(b):
        _nd("trailing bytes in array")
    return out
