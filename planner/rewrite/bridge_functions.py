"""The function allowlist: functions, aggregates and window functions whose DuckDB
result equals Postgres' for the argument types given, with the rewrite that makes
it so. Anything not listed here is refused (``unknown_function``); a listed
function with other argument types is refused as ``unsupported_construct``.
"""

from __future__ import annotations

import re

from sqlglot import exp

from .. import pgtypes as T
from ..classify import function_name
from ..pgtypes import PgType
from ..reasons import Refuse
from . import numeric_division as nd
from .numeric_division import fill

_SAFE_REGEX = re.compile(r"^([A-Za-z0-9 _.*+?^$|()\[\],:/@#%&=<>!-]|\{\d+(,\d*)?\})*$")
EXTRACT_FIELDS = {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "QUARTER", "DOW", "ISODOW", "DOY", "WEEK", "ISOYEAR"}
DATE_FIELDS = {"YEAR", "MONTH", "DAY", "QUARTER", "DOW", "ISODOW", "DOY", "WEEK", "ISOYEAR"}
TRUNC_UNITS = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"}


def _cast(node: exp.Expression, duck: str) -> exp.Expression:
    from .bridge_semantics import _dtype

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


# ------------------------------------------------------------------ scalars
def f_lower(b, node):
    _text_arg(b, node, "this", "lower")
    return T.TEXT


def f_upper(b, node):
    # DuckDB (utf8proc) upper-cases 'ß' to 'ẞ'; Postgres (libc) leaves it.
    raise Refuse("unsupported_construct", "upper() of non-ASCII text differs between engines")


def f_length(b, node):
    _text_arg(b, node, "this", "length")
    _wrap_cast(node, "INTEGER")
    return T.INT4


def f_substring(b, node):
    _text_arg(b, node, "this", "substring")
    start = _int_literal(node.args.get("start"))
    length = node.args.get("length")
    if start is None or start < 1:
        raise Refuse("unsupported_construct", "substring start that is not a positive constant")
    if length is not None:
        n = _int_literal(length)
        if n is None or n < 0:
            raise Refuse("unsupported_construct", "substring length that is not a constant >= 0")
    return T.TEXT


def f_trim(b, node):
    _text_arg(b, node, "this", "trim")
    if node.args.get("expression") is not None:
        _text_arg(b, node, "expression", "trim")
    if node.args.get("collation"):
        raise Refuse("unsupported_construct", "trim with collation")
    return T.TEXT


def f_replace(b, node):
    for key in ("this", "expression", "replacement"):
        _text_arg(b, node, key, "replace")
    return T.TEXT


def f_left(b, node):
    _text_arg(b, node, "this", "left/right")
    _int_arg(b, node, "expression", "left/right")
    return T.TEXT


def f_strpos(b, node):
    _text_arg(b, node, "this", "position")
    _text_arg(b, node, "substr", "position")
    if node.args.get("position") is not None or node.args.get("occurrence") is not None:
        raise Refuse("unsupported_construct", "position with a start")
    _wrap_cast(node, "INTEGER")
    return T.INT4


def f_concat(b, node):
    for e in list(node.expressions):
        t = b.expr(e)
        if not (t.is_text or t.name in ("unknown", "null") or t.is_int):
            raise Refuse("unsupported_construct", f"concat of {t.name}")
    return T.TEXT


def f_dpipe(b, node):
    for key in ("this", "expression"):
        t = b.expr(node.args[key])
        if not (t.is_text or t.name in ("unknown", "null")):
            raise Refuse("unsupported_construct", f"|| with {t.name}")
    return T.TEXT


def f_split_part(b, node):
    _text_arg(b, node, "this", "split_part")
    _text_arg(b, node, "delimiter", "split_part")
    idx = _int_literal(node.args.get("part_index"))
    if idx is None or idx == 0:
        raise Refuse("unsupported_construct", "split_part index that is not a non-zero constant")
    return T.TEXT


def f_md5(b, node):
    _text_arg(b, node, "this", "md5")
    return T.TEXT


def f_pad(b, node):
    _text_arg(b, node, "this", "lpad/rpad")
    _int_arg(b, node, "expression", "lpad/rpad")
    if node.args.get("fill_pattern") is not None:
        _text_arg(b, node, "fill_pattern", "lpad/rpad")
    else:
        node.set("fill_pattern", exp.Literal.string(" "))
    return T.TEXT


def f_repeat(b, node):
    _text_arg(b, node, "this", "repeat")
    _int_arg(b, node, "times", "repeat")
    return T.TEXT


def f_abs(b, node):
    t = b.expr(node.this)
    if not (t.is_exact or t.name == "float8"):
        raise Refuse("unsupported_construct", f"abs of {t.name}")
    return t


def f_ceil(b, node):
    t = b.expr(node.this)
    if node.args.get("decimals") is not None or node.args.get("to") is not None:
        raise Refuse("unsupported_construct", "ceil/floor with a scale")
    if t.is_numeric:
        return T.numeric(0) if t.scale is not None or t.dscale is not None else T.numeric(0)
    if t.name == "float8":
        return t
    raise Refuse("unsupported_construct", f"ceil/floor of {t.name} (Postgres resolves ints to float8)")


def f_round(b, node):
    t = b.expr(node.this)
    if not t.is_numeric:
        raise Refuse("unsupported_construct", f"round of {t.name} (float rounds half-even in Postgres)")
    dec = node.args.get("decimals")
    n = 0 if dec is None else _int_literal(dec)
    if n is None:
        raise Refuse("unsupported_construct", "round with a non-constant scale")
    if n > t.storage:
        # DuckDB cannot add digits by rounding; Postgres pads the scale.
        node.replace(_cast(node.this.copy(), f"DECIMAL(38, {n})"))
        return T.numeric(n)
    return T.numeric(max(n, 0))


def f_sign(b, node):
    t = b.expr(node.this)
    if t.is_numeric:
        _wrap_cast(node, "DECIMAL(38, 0)")
        return T.numeric(0)
    if t.name == "float8":
        _wrap_cast(node, "DOUBLE")
        return t
    raise Refuse("unsupported_construct", f"sign of {t.name}")


def f_mod(b, node):
    return b.e_Mod(node)


def f_regexp(b, node):
    _text_arg(b, node, "this", "regular expression")
    pat = node.args.get("expression")
    if not (isinstance(pat, exp.Literal) and pat.is_string and _SAFE_REGEX.match(pat.name)):
        raise Refuse("unsupported_construct", "regular expression outside the common ARE/RE2 subset")
    if node.args.get("flag") is not None:
        raise Refuse("unsupported_construct", "regular expression flags")
    return T.BOOL


def f_like(b, node):
    if isinstance(node.expression, (exp.Any, exp.All)):
        raise Refuse("unsupported_construct", "LIKE ANY/ALL")
    _text_arg(b, node, "this", "LIKE")
    _text_arg(b, node, "expression", "LIKE")
    pat = node.expression
    if isinstance(pat, (exp.Parameter, exp.Placeholder)):
        b.coerce(pat, T.TEXT)
    if not isinstance(node.parent, exp.Escape):
        node.replace(exp.Escape(this=node.copy(), expression=exp.Literal.string("\\")))
    return T.BOOL


def f_escape(b, node):
    esc = node.expression
    if not (isinstance(esc, exp.Literal) and esc.is_string and len(esc.name) == 1):
        raise Refuse("unsupported_construct", "LIKE ESCAPE that is not one character")
    if not isinstance(node.this, (exp.Like, exp.ILike)):
        raise Refuse("unsupported_construct", "ESCAPE")
    return f_like(b, node.this)


def f_extract(b, node):
    field = node.this.name.upper()
    t = b.expr(node.expression)
    fields = DATE_FIELDS if t.name == "date" else EXTRACT_FIELDS
    if t.name not in T.DATETIMES or field not in fields:
        raise Refuse("unsupported_construct", f"extract({field} from {t.name})")
    _wrap_cast(node, "DECIMAL(38, 0)")
    return T.numeric(0)


def f_date_part(b, node):
    args = node.expressions
    if len(args) != 2 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
        raise Refuse("unsupported_construct", "date_part with a non-constant field")
    field = args[0].name.upper()
    t = b.expr(args[1])
    fields = DATE_FIELDS if t.name == "date" else EXTRACT_FIELDS
    if t.name not in T.DATETIMES or field not in fields:
        raise Refuse("unsupported_construct", f"date_part({field}, {t.name})")
    node.replace(_cast(exp.Anonymous(this="date_part", expressions=[a.copy() for a in args]), "DOUBLE"))
    return T.FLOAT8


def f_date_trunc(b, node):
    unit = node.args.get("unit")
    if unit is None or unit.name.upper() not in TRUNC_UNITS:
        raise Refuse("unsupported_construct", "date_trunc unit")
    if node.args.get("zone") is not None:
        raise Refuse("unsupported_construct", "date_trunc with a time zone")
    t = b.expr(node.this)
    if t.name == "date":
        node.set("this", _cast(node.this.copy(), "TIMESTAMPTZ"))
        return PgType("timestamptz")
    if t.name in ("timestamp", "timestamptz"):
        return t
    raise Refuse("unsupported_construct", f"date_trunc of {t.name}")


def f_substr(b, node):
    args = node.expressions
    if len(args) not in (2, 3):
        raise Refuse("unsupported_construct", "substr arity")
    new = exp.Substring(this=args[0].copy(), start=args[1].copy(),
                        length=args[2].copy() if len(args) == 3 else None)
    node.replace(new)
    return f_substring(b, new)


def f_make_date(b, node):
    if len(node.expressions) != 3:
        raise Refuse("unsupported_construct", "make_date arity")
    for i in range(3):
        t = b.expr(node.expressions[i])
        if t.name not in ("int2", "int4"):
            raise Refuse("unsupported_construct", f"make_date of {t.name}")
    return PgType("date")


def _renamed(cls, handler, **keys):
    """Handle a renamed function (see parse.RENAMED_FUNCTIONS) as sqlglot's class."""
    def h(b, node):
        args = node.expressions
        names = list(keys)
        if len(args) != len(names):
            raise Refuse("unsupported_construct", f"{node.name} arity")
        new = cls(**{keys[n]: a.copy() for n, a in zip(names, args)})
        node.replace(new)
        t = handler(b, new)
        return t
    return h


# --------------------------------------------------------------- aggregates
def _agg_arg(b, node) -> tuple[exp.Expression, PgType]:
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
    value, rscale = nd.numeric_div(s, ks, t.is_int, ds, c, 0, True, 0)
    target.replace(value)
    return T.numeric(None, nd.RESULT_STORAGE, rscale)


def a_minmax(b, node):
    arg, t = _agg_arg(b, node)
    if t.is_text and not b.env.bytewise:
        raise Refuse("collation_differs", "min/max of text")
    if t.is_numeric and t.scale is None:
        raise Refuse("unsupported_construct", "min/max of numerics whose scale varies per row")
    if t.name in ("unknown", "null", "bool"):
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


CLASS_HANDLERS = {
    "Lower": f_lower, "Upper": f_upper, "Length": f_length, "Substring": f_substring, "Trim": f_trim,
    "Replace": f_replace, "Left": f_left, "Right": f_left, "StrPosition": f_strpos, "Concat": f_concat,
    "DPipe": f_dpipe, "SplitPart": f_split_part, "MD5": f_md5, "Pad": f_pad, "Repeat": f_repeat,
    "Abs": f_abs, "Ceil": f_ceil, "Floor": f_ceil, "Round": f_round, "Sign": f_sign,
    "RegexpLike": f_regexp, "RegexpILike": f_regexp, "Like": f_like, "ILike": f_like, "Escape": f_escape,
    "Extract": f_extract, "TimestampTrunc": f_date_trunc, "DateTrunc": f_date_trunc,
    "DateFromParts": f_make_date,
    "Count": a_count, "Sum": a_sum, "Avg": a_avg, "Min": a_minmax, "Max": a_minmax,
    "LogicalAnd": a_bool, "LogicalOr": a_bool, "GroupConcat": a_string_agg, "Filter": a_filter,
    "Grouping": a_grouping, "Window": w_window,
}
ANONYMOUS_HANDLERS = {
    "pgaccel__date_part": f_date_part, "pgaccel__substr": f_substr, "make_date": f_make_date,
    "pgaccel__mod": _renamed(exp.Mod, lambda b, n: b.e_Mod(n), a="this", b="expression"),
    "pgaccel__strpos": _renamed(exp.StrPosition, f_strpos, a="this", b="substr"),
    "pgaccel__ceiling": _renamed(exp.Ceil, f_ceil, a="this"),
    "pgaccel__char_length": _renamed(exp.Length, f_length, a="this"),
    "pgaccel__character_length": _renamed(exp.Length, f_length, a="this"),
    "pgaccel__every": _renamed(exp.LogicalAnd, a_bool, a="this"),
}


def call(b, node: exp.Expression) -> PgType:
    handler = CLASS_HANDLERS.get(type(node).__name__)
    if handler is None and isinstance(node, exp.Anonymous):
        handler = ANONYMOUS_HANDLERS.get(node.name.lower())
    if handler is not None:
        return handler(b, node)
    if isinstance(node, exp.Func):
        raise Refuse("unknown_function", f"{function_name(node)}() is not on the allowlist")
    raise Refuse("unsupported_construct", f"{type(node).__name__} ({node.sql('postgres')[:60]})")
