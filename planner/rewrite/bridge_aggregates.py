"""The aggregate and window-function part of the allowlist (see bridge_functions)."""

from __future__ import annotations

from sqlglot import exp

from .. import pgtypes as T
from ..classify import function_name
from ..reasons import Refuse
from . import numeric_division as nd
from .bridge_common import _int_arg, _int_literal, _wrap_cast
from .numeric_division import fill


# --------------------------------------------------------------- aggregates
def _agg_arg(b, node) -> tuple[exp.Expression, T.PgType]:
    arg = node.this
    if isinstance(arg, exp.Distinct):
        if len(arg.expressions) != 1:
            raise Refuse("unsupported_construct", "aggregate over several DISTINCT columns")
        return arg.expressions[0], b.expr(arg.expressions[0])
    return arg, b.expr(arg)


def a_count(b, node):
    arg = node.this
    if isinstance(arg, exp.Star) or arg is None:
        return T.INT8
    if isinstance(arg, exp.Distinct):
        for e in list(arg.expressions):
            b.expr(e)
    else:
        b.expr(arg)
    return T.INT8


def a_sum(b, node):
    arg, t = _agg_arg(b, node)
    if t.is_float:
        raise Refuse("inexact_float_aggregate", "sum of floating point values")
    if t.name in ("int2", "int4"):
        _wrap_cast(node, "BIGINT")
        return T.INT8
    if t.name == "int8":
        _wrap_cast(node, "DECIMAL(38, 0)")
        return T.numeric(0)
    if t.is_numeric:
        if t.scale is not None:
            return t
        if t.dscale is None or isinstance(node.parent, exp.Window) or _in_filter(node):
            raise Refuse("unsupported_construct", "sum of numerics whose scale varies per row")
        ds = fill("MAX(CASE WHEN _x IS NOT NULL THEN _d END)", _x=arg, _d=t.dscale)
        if isinstance(node.this, exp.Distinct):
            raise Refuse("unsupported_construct", "sum(DISTINCT) of numerics whose scale varies per row")
        return T.numeric(None, t.storage, ds)
    if t.name == "interval":
        raise Refuse("unsupported_construct", "sum of intervals")
    raise Refuse("unsupported_construct", f"sum of {t.name}")


def _in_filter(node) -> bool:
    return isinstance(node.parent, exp.Filter)


def a_avg(b, node):
    arg, t = _agg_arg(b, node)
    if t.is_float:
        raise Refuse("inexact_float_aggregate", "avg of floating point values")
    if not t.is_exact:
        raise Refuse("unsupported_construct", f"avg of {t.name}")
    window = node.parent if isinstance(node.parent, exp.Window) else None
    if isinstance(node.parent, exp.Filter) or isinstance(node.this, exp.Distinct) and window is not None:
        raise Refuse("unsupported_construct", "avg with FILTER")
    arg_sql = node.this
    s = exp.Sum(this=arg_sql.copy())
    c = exp.Count(this=arg_sql.copy())
    if t.is_int:
        ks, ds = 0, 0
    elif t.scale is not None:
        ks, ds = t.storage, t.scale
    else:
        if t.dscale is None or window is not None:
            raise Refuse("unsupported_construct", "avg of numerics whose scale varies per row")
        ks, ds = t.storage, fill("MAX(CASE WHEN _x IS NOT NULL THEN _d END)", _x=arg, _d=t.dscale)
    target = node
    if window is not None:
        sw = window.copy(); sw.set("this", exp.Sum(this=arg_sql.copy()))
        cw = window.copy(); cw.set("this", exp.Count(this=arg_sql.copy()))
        s, c, target = sw, cw, window
    b.env.runtime_checks.add("numeric_division")
    value, rscale = nd.numeric_div(s, ks, t.is_int, ds, c, 0, True, 0)
    target.replace(value)
    return T.numeric(None, nd.RESULT_STORAGE, rscale)


def a_minmax(b, node):
    arg, t = _agg_arg(b, node)
    if t.is_text and not b.env.bytewise:
        raise Refuse("collation_differs", "min/max of text")
    if t.is_numeric and t.scale is None:
        raise Refuse("unsupported_construct", "min/max of numerics whose scale varies per row")
    if t.name in ("unknown", "null", "bool", "interval"):
        raise Refuse("unsupported_construct", f"min/max of {t.name}")
    if t.name == "varchar":
        return T.TEXT          # max(varchar) resolves to max(text)
    return t


def a_bool(b, node):
    _, t = _agg_arg(b, node)
    if t.name != "bool":
        raise Refuse("unsupported_construct", f"bool_and/bool_or of {t.name}")
    return T.BOOL


def a_string_agg(b, node):
    arg = node.this
    if not isinstance(arg, exp.Order):
        raise Refuse("unsupported_construct", "string_agg without ORDER BY (order differs between engines)")
    t = b.expr(arg.this)
    if not t.is_text:
        raise Refuse("unsupported_construct", f"string_agg of {t.name}")
    b.order(arg, None)
    sep = node.args.get("separator")
    if sep is None or not (isinstance(sep, exp.Literal) and sep.is_string):
        raise Refuse("unsupported_construct", "string_agg separator that is not a constant")
    return T.TEXT


def a_filter(b, node):
    t = b.expr(node.this)
    b.boolean(node.expression, "this")
    return t


def a_grouping(b, node):
    for e in list(node.expressions):
        b.expr(e)
    _wrap_cast(node, "INTEGER")
    return T.INT4


# ------------------------------------------------------------------ windows
RANKING = {"RowNumber": T.INT8, "Rank": T.INT8, "DenseRank": T.INT8, "PercentRank": T.FLOAT8, "CumeDist": T.FLOAT8}


def w_window(b, node: exp.Window):
    if node.args.get("alias") is not None and not node.args.get("partition_by") and node.args.get("order") is None \
            and node.args.get("over") is None:
        raise Refuse("unsupported_construct", "named window")
    for e in list(node.args.get("partition_by") or []):
        b.expr(e)
    if node.args.get("order") is not None:
        b.order(node.args["order"], None)
    spec = node.args.get("spec")
    if spec is not None:
        kind = (spec.args.get("kind") or "").upper()
        for side in ("start", "end"):
            v = spec.args.get(side)
            if isinstance(v, str) and v.upper() in ("UNBOUNDED", "CURRENT ROW"):
                continue
            if kind == "ROWS" and _int_literal(v) is not None:
                continue
            if v is None:
                continue
            raise Refuse("unsupported_construct", f"window frame {spec.sql('postgres')}")
        if spec.args.get("exclude"):
            raise Refuse("unsupported_construct", "window frame EXCLUDE")
    fn = node.this
    name = type(fn).__name__
    if name in RANKING:
        return RANKING[name]
    if name == "Ntile":
        _int_arg(b, fn, "this", "ntile")
        _wrap_cast(node, "INTEGER")
        return T.INT4
    if name in ("Lag", "Lead"):
        t = b.expr(fn.this)
        if fn.args.get("offset") is not None and _int_literal(fn.args["offset"]) is None:
            raise Refuse("unsupported_construct", "lag/lead offset that is not a constant")
        if fn.args.get("default") is not None:
            dt = b.expr(fn.args["default"])
            if dt.name == "unknown":
                b.coerce(fn.args["default"], t)
            elif dt.name != t.name or dt.scale != t.scale:
                raise Refuse("unsupported_construct", "lag/lead default of another type")
        return t
    if name in ("FirstValue", "LastValue"):
        return b.expr(fn.this)
    if name in ("Sum", "Count", "Min", "Max", "Avg"):
        return b.expr(fn)
    raise Refuse("unknown_function", f"window function {function_name(fn)}")
