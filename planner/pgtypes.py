"""The small Postgres type model the planner reasons with.

``PgType`` names the Postgres result type of an expression (``int4``, ``numeric``,
``text`` ...). For ``numeric`` it also tracks two scales, because a Postgres numeric
carries its display scale (dscale) *per value* while a DuckDB DECIMAL has one scale
per column:

- ``scale``: the Postgres dscale when it is the same for every value, else None;
- ``dscale``: when ``scale`` is None, a DuckDB expression computing each value's
  dscale (or None when it cannot be known: then nothing that needs it is allowed);
- ``storage``: the scale of the DuckDB DECIMAL that holds the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

INTEGERS = ("int2", "int4", "int8")
INT_RANK = {"int2": 0, "int4": 1, "int8": 2}
FLOATS = ("float4", "float8")
TEXTS = ("text", "varchar")          # bpchar deliberately absent: padding semantics
NUMERICS = INTEGERS + ("numeric",) + FLOATS
DATETIMES = ("date", "timestamp", "timestamptz")

# Result types the executor/encoder is told about (Route.columns), and the
# DuckDB type that carries them.
DUCKDB_TYPE = {
    "int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT",
    "float4": "REAL", "float8": "DOUBLE", "text": "VARCHAR", "varchar": "VARCHAR",
    "bool": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
    "interval": "INTERVAL", "uuid": "UUID", "bytea": "BLOB",
}


@dataclass(frozen=True)
class PgType:
    name: str
    scale: int | None = None
    storage: int | None = None
    dscale: exp.Expression | None = None     # not compared/hashed meaningfully
    length: int | None = None                 # varchar(n)/bpchar(n), informational

    @property
    def is_int(self) -> bool:
        return self.name in INTEGERS

    @property
    def is_numeric(self) -> bool:
        return self.name == "numeric"

    @property
    def is_exact(self) -> bool:
        return self.name in INTEGERS or self.name == "numeric"

    @property
    def is_float(self) -> bool:
        return self.name in FLOATS

    @property
    def is_text(self) -> bool:
        return self.name in TEXTS

    @property
    def static_scale(self) -> bool:
        return self.name != "numeric" or self.scale is not None

    def eff_scale(self) -> int:
        """Storage scale of an exact number (integers: 0)."""
        if self.name in INTEGERS:
            return 0
        assert self.storage is not None
        return self.storage


UNKNOWN = PgType("unknown")     # an untyped string literal or a parameter
NULL = PgType("null")
BOOL = PgType("bool")
INT4 = PgType("int4")
INT8 = PgType("int8")
TEXT = PgType("text")
FLOAT8 = PgType("float8")


def numeric(scale: int | None, storage: int | None = None, dscale: exp.Expression | None = None) -> PgType:
    return PgType("numeric", scale=scale, storage=scale if storage is None else storage, dscale=dscale)


_ALIASES = {
    "smallint": "int2", "int2": "int2", "integer": "int4", "int": "int4", "int4": "int4",
    "bigint": "int8", "int8": "int8", "real": "float4", "float4": "float4",
    "double precision": "float8", "float8": "float8", "float": "float8",
    "text": "text", "character varying": "varchar", "varchar": "varchar",
    "character": "bpchar", "char": "bpchar", "bpchar": "bpchar",
    "boolean": "bool", "bool": "bool", "date": "date",
    "timestamp without time zone": "timestamp", "timestamp": "timestamp",
    "timestamp with time zone": "timestamptz", "timestamptz": "timestamptz",
    "interval": "interval", "json": "json", "jsonb": "jsonb", "uuid": "uuid", "bytea": "bytea",
    "time without time zone": "time", "time": "time", "time with time zone": "timetz",
    "numeric": "numeric", "decimal": "numeric", "name": "name",
}
_TYPE_RE = re.compile(r"^\s*([a-z ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\))?\s*(\[\])?\s*$")


def from_catalog(pg_type: str, typmod: int = -1) -> PgType:
    """PgType of a mirrored column from its catalog type text (format_type style)."""
    text = (pg_type or "").lower().strip()
    text = re.sub(r"\((\d+)\) (with|without) time zone", r" \2 time zone", text)  # timestamp(3) ...
    m = _TYPE_RE.match(text)
    if not m:
        return PgType(text or "unknown")
    base, a, b, array = m.groups()
    if array:
        return PgType(text)
    name = _ALIASES.get(base.strip(), base.strip())
    if name == "numeric":
        if a is not None:
            return numeric(int(b or 0))
        if typmod is not None and typmod >= 4:
            return numeric((typmod - 4) & 0xFFFF)
        return PgType("numeric", scale=None, storage=None)   # unconstrained: per-value scale
    if name in ("varchar", "bpchar") and a is not None:
        return PgType(name, length=int(a))
    return PgType(name)


def duckdb_type(t: PgType) -> exp.DataType:
    from .rewrite.bridge_common import _dtype

    if t.name == "numeric":
        assert t.storage is not None
        return _dtype(f"DECIMAL(38, {t.storage})")
    return _dtype(DUCKDB_TYPE[t.name])


def parse_cast_target(dt: exp.DataType) -> PgType | None:
    """PgType for the target of a CAST written in Postgres SQL (None: not modelled)."""
    T = exp.DataType.Type
    kind = dt.this
    simple = {
        T.SMALLINT: "int2", T.INT: "int4", T.BIGINT: "int8", T.FLOAT: "float4", T.DOUBLE: "float8",
        T.TEXT: "text", T.BOOLEAN: "bool", T.DATE: "date", T.TIMESTAMP: "timestamp",
        T.TIMESTAMPTZ: "timestamptz", T.INTERVAL: "interval",
    }
    if kind in simple:
        if dt.expressions and kind not in (T.TIMESTAMP, T.TIMESTAMPTZ):
            return None
        if dt.expressions:          # timestamp(p): rounding, not modelled
            return None
        return PgType(simple[kind])
    if kind == T.VARCHAR:
        return None if dt.expressions else PgType("varchar")
    if kind == T.DECIMAL:
        params = [p.this for p in dt.expressions]
        if len(params) == 2:
            p, s = int(params[0].name), int(params[1].name)
        elif len(params) == 1:
            p, s = int(params[0].name), 0
        else:
            return None          # unconstrained numeric: value keeps its own scale
        if not (0 <= s <= p <= 38):
            return None
        return PgType("numeric", scale=s, storage=s, length=p)
    return None
