"""Shared pieces of the type-directed bridge: the walk's environment, literal
patterns, and display-scale arithmetic for numerics."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from sqlglot import exp

from .. import pgtypes as T
from ..pgtypes import PgType
from ..reasons import Refuse
from . import numeric_division as nd
from .numeric_division import fill

PARAM_NUMERIC_SCALE = 18
INTERVAL_UNITS = {   # unit -> (months, days, microseconds) per 1
    "YEAR": (12, 0, 0), "MONTH": (1, 0, 0), "WEEK": (0, 7, 0), "DAY": (0, 1, 0),
    "HOUR": (0, 0, 3_600_000_000), "MINUTE": (0, 0, 60_000_000), "SECOND": (0, 0, 1_000_000),
}
_INT_LIT = re.compile(r"^\d+$")
_DEC_LIT = re.compile(r"^(\d*)\.(\d*)$")
_DATE_LIT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS_LIT = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
_INT_STR = re.compile(r"^\s*[-+]?\d{1,18}\s*$")
_NUM_STR = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*$")
_FLOAT_STR = re.compile(r"^\s*([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?(inf|infinity)|nan)\s*$", re.I)

ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE)
EQUALITY = (exp.EQ, exp.NEQ, exp.NullSafeEQ, exp.NullSafeNEQ)


@dataclass
class Source:
    cols: dict[str, PgType]
    mirror: object | None = None      # MirrorTable for a real table


@dataclass
class Env:
    ctx: object
    catalog: object
    bytewise: bool
    columns: tuple[tuple[str, str], ...] = ()
    params: dict[int, str] = field(default_factory=dict)     # $n -> Postgres type assumed
    intervals: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    mirror_tables: dict[tuple[str, str], object] = field(default_factory=dict)
    runtime_checks: set[str] = field(default_factory=set)

    def mirror_of(self, table: exp.Table):
        """The MirrorTable a table node was resolved to (None: a CTE or derived table)."""
        key = table.meta.get("mirror_table")
        return None if key is None else self.mirror_tables[key]
    ctes: dict[str, Source] = field(default_factory=dict)


@lru_cache(maxsize=256)
def _dtype_template(sql: str) -> exp.DataType:
    return exp.DataType.build(sql, dialect="duckdb")


def _dtype(sql: str) -> exp.DataType:
    return _dtype_template(sql).copy()


def cast(node: exp.Expression, duck: str) -> exp.Expression:
    return exp.Cast(this=node, to=_dtype(duck))


def ds_of(t: PgType) -> exp.Expression | int:
    """Display scale of an exact number, as a constant or a DuckDB expression."""
    if t.is_int:
        return 0
    if t.scale is not None:
        return t.scale
    if t.dscale is None:
        raise Refuse("unsupported_construct", "numeric whose display scale cannot be tracked")
    return t.dscale


def _max_ds(a: exp.Expression | int, b: exp.Expression | int) -> exp.Expression | int:
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    return fill("GREATEST(_a, _b)", _a=nd.ds_sql(a), _b=nd.ds_sql(b))


def _add_ds(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return fill("(_a + _b)", _a=nd.ds_sql(a), _b=nd.ds_sql(b))


def num_type(ds: exp.Expression | int, storage: int) -> PgType:
    if isinstance(ds, int):
        if ds == storage:
            return T.numeric(ds)
        return T.numeric(None, storage, exp.Literal.number(ds))
    return T.numeric(None, storage, ds)


# ---------------------------------------------------- argument helpers for function rules
def _cast(node: exp.Expression, duck: str) -> exp.Expression:
    return exp.Cast(this=node, to=_dtype(duck))


def _outer(node: exp.Expression) -> exp.Expression:
    """An aggregate's outermost wrapper: FILTER (...) and OVER (...) belong to it."""
    while isinstance(node.parent, (exp.Filter, exp.Window)) and node.parent.this is node:
        node = node.parent
    return node


def _wrap_cast(node: exp.Expression, duck: str) -> None:
    node = _outer(node)
    node.replace(_cast(node.copy(), duck))


def _text_arg(b, parent: exp.Expression, key: str, what: str) -> None:
    child = parent.args.get(key)
    t = b.expr(child)
    if t.name in ("unknown", "null") or t.is_text:
        return
    raise Refuse("unsupported_construct", f"{what} of {t.name}")


def _int_literal(node: exp.Expression | None) -> int | None:
    if node is None:
        return None
    n = node
    if isinstance(n, exp.Neg) and isinstance(n.this, exp.Literal) and not n.this.is_string:
        return -int(n.this.name)
    if isinstance(n, exp.Literal) and not n.is_string and n.name.isdigit():
        return int(n.name)
    return None


def _int_arg(b, parent, key, what) -> None:
    child = parent.args.get(key)
    if child is None:
        return
    t = b.expr(child)
    if t.name == "unknown":
        b.coerce(parent.args[key], T.INT4)
    elif not (t.is_int and t.name != "int8"):
        raise Refuse("unsupported_construct", f"{what} with a {t.name} argument")
