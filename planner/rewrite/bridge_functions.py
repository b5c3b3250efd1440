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
from . import bridge_aggregates as agg
from .bridge_common import _cast, _int_arg, _int_literal, _text_arg, _wrap_cast
from .numeric_division import fill

_SAFE_REGEX = re.compile(r"^([A-Za-z0-9 _.*+?^$|()\[\],:/@#%&=<>!-]|\{\d+(,\d*)?\})*$")
EXTRACT_FIELDS = {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "QUARTER", "DOW", "ISODOW", "DOY", "WEEK", "ISOYEAR"}
DATE_FIELDS = {"YEAR", "MONTH", "DAY", "QUARTER", "DOW", "ISODOW", "DOY", "WEEK", "ISOYEAR"}
TRUNC_UNITS = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"}


# ------------------------------------------------------------------ scalars
def _ascii_only(b, node: exp.Expression, texts: list[exp.Expression]) -> None:
    """Case mapping is identical in both engines for ASCII only (DuckDB/utf8proc
    upper-cases 'ß' to 'ẞ', libc leaves it; other code points differ by Unicode
    version). Wrap ``node`` so DuckDB raises on non-ASCII input (byte length !=
    character length): the executor then falls back to the origin."""
    checks = [t for t in texts if not (isinstance(t, exp.Literal) and t.name.isascii())]
    if not checks:
        return
    cond = " OR ".join(f"STRLEN(_t{i}) <> LENGTH(_t{i})" for i in range(len(checks)))
    guarded = fill(f"CASE WHEN {cond} THEN ERROR('pgaccel: case mapping of non-ASCII text') ELSE _v END",
                   _v=node, **{f"_t{i}": t for i, t in enumerate(checks)})
    node.replace(guarded)
    b.env.runtime_checks.add("ascii_case_mapping")


def f_lower(b, node):
    _text_arg(b, node, "this", "lower/upper")
    _ascii_only(b, node, [node.this])
    return T.TEXT


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


def f_concat_ws(b, node):
    """concat_ws(sep, ...): NULL arguments are skipped and a NULL separator gives NULL, in
    both engines; integers are appended as their text."""
    for i, e in enumerate(list(node.expressions)):
        t = b.expr(e)
        if t.is_int and i > 0:
            e.replace(exp.Cast(this=e.copy(), to=exp.DataType.build("VARCHAR")))
        elif not (t.is_text or t.name in ("unknown", "null")):
            raise Refuse("unsupported_construct", f"concat_ws of {t.name}")
    return T.TEXT


def f_octet_length(b, node):
    """octet_length(text): bytes of the UTF-8 text (the database encoding) = DuckDB's strlen."""
    if len(node.expressions) != 1:
        raise Refuse("unsupported_construct", "octet_length arity")
    t = b.expr(node.expressions[0])
    if not t.is_text:
        raise Refuse("unsupported_construct", f"octet_length of {t.name}")
    node.replace(_cast(exp.Anonymous(this="strlen", expressions=[node.expressions[0].copy()]), "INTEGER"))
    return T.INT4


def f_dpipe(b, node):
    types = {key: b.expr(node.args[key]) for key in ("this", "expression")}
    if not any(t.is_text or t.name == "unknown" for t in types.values()):
        raise Refuse("unsupported_construct", f"|| of {types['this'].name} and {types['expression'].name}")
    for key, t in types.items():
        if t.is_int:
            # text || integer: Postgres appends the integer's output, as DuckDB's VARCHAR cast
            node.set(key, exp.Cast(this=node.args[key], to=exp.DataType.build("VARCHAR")))
        elif not (t.is_text or t.name in ("unknown", "null")):
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
    if isinstance(node, exp.RegexpILike):
        _ascii_only(b, node, [node.this, pat])
    return T.BOOL


def f_like(b, node):
    if isinstance(node.expression, (exp.Any, exp.All)):
        raise Refuse("unsupported_construct", "LIKE ANY/ALL")
    _text_arg(b, node, "this", "LIKE")
    _text_arg(b, node, "expression", "LIKE")
    pat = node.expression
    if isinstance(pat, (exp.Parameter, exp.Placeholder)):
        b.coerce(pat, T.TEXT)
    target = node
    literal_plain = isinstance(pat, exp.Literal) and pat.is_string and "\\" not in pat.name
    if isinstance(node.parent, exp.Escape):
        target = node.parent
    elif not literal_plain:
        # Postgres' default escape is a backslash, DuckDB has none. A literal pattern
        # without backslashes means the same either way, and DuckDB's fast LIKE path
        # only applies without ESCAPE (Q13: 0.50 s -> 0.11 s).
        target = exp.Escape(this=node.copy(), expression=exp.Literal.string("\\"))
        node.replace(target)
    like = target.this if isinstance(target, exp.Escape) else target
    if isinstance(like, exp.ILike):
        _ascii_only(b, target, [like.this, like.expression])
    return T.BOOL


def f_escape(b, node):
    esc = node.expression
    if not (isinstance(esc, exp.Literal) and esc.is_string and len(esc.name) == 1):
        raise Refuse("unsupported_construct", "LIKE ESCAPE that is not one character")
    if not isinstance(node.this, (exp.Like, exp.ILike)):
        raise Refuse("unsupported_construct", "ESCAPE")
    return f_like(b, node.this)


def _epoch_us(arg: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="epoch_us", expressions=[arg])


def f_extract(b, node):
    field = node.this.name.upper()
    t = b.expr(node.expression)
    if field == "EPOCH" and t.name in ("timestamp", "timestamptz"):
        # Postgres: numeric seconds with 6 decimals (timestamp: as if UTC), exactly the
        # microseconds DuckDB counts, scaled by a DECIMAL product (no division, no float)
        us = _cast(_epoch_us(node.expression.copy()), "DECIMAL(38, 0)")
        node.replace(exp.Mul(this=us, expression=_cast(exp.Literal.number("0.000001"), "DECIMAL(7, 6)")))
        return T.numeric(6)
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
    if field == "EPOCH" and t.name in ("timestamp", "timestamptz"):
        # float8 of the exact seconds: microseconds (exact in a double below 2^53) / 1e6 is
        # the correctly rounded quotient, as Postgres's numeric-to-float8 conversion
        node.replace(exp.Div(this=_cast(_epoch_us(args[1].copy()), "DOUBLE"),
                             expression=_cast(exp.Literal.number("1000000"), "DOUBLE")))
        return T.FLOAT8
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
        if unit.name.upper() in ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR"):
            # Postgres truncates the date's local midnight; for whole days and longer that
            # is the midnight of the truncated date: truncate the DATE (cheap), then cast
            node.replace(_cast(node.copy(), "TIMESTAMPTZ"))
        else:
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


CLASS_HANDLERS: dict = {
    "Count": agg.a_count, "Sum": agg.a_sum, "Avg": agg.a_avg, "Min": agg.a_minmax, "Max": agg.a_minmax,
    "LogicalAnd": agg.a_bool, "LogicalOr": agg.a_bool, "GroupConcat": agg.a_string_agg,
    "Filter": agg.a_filter, "Grouping": agg.a_grouping, "Window": agg.w_window,
    "Lower": f_lower, "Upper": f_lower, "Length": f_length, "Substring": f_substring, "Trim": f_trim,
    "Replace": f_replace, "Left": f_left, "Right": f_left, "StrPosition": f_strpos, "Concat": f_concat,
    "DPipe": f_dpipe, "ConcatWs": f_concat_ws, "SplitPart": f_split_part, "MD5": f_md5, "Pad": f_pad, "Repeat": f_repeat,
    "Abs": f_abs, "Ceil": f_ceil, "Floor": f_ceil, "Round": f_round, "Sign": f_sign,
    "RegexpLike": f_regexp, "RegexpILike": f_regexp, "Like": f_like, "ILike": f_like, "Escape": f_escape,
    "Extract": f_extract, "TimestampTrunc": f_date_trunc, "DateTrunc": f_date_trunc,
    "DateFromParts": f_make_date,
}
ANONYMOUS_HANDLERS: dict = {
    "pgaccel__every": None,   # set below (needs _renamed)
    "pgaccel__date_part": f_date_part, "pgaccel__substr": f_substr, "make_date": f_make_date,
    "octet_length": f_octet_length,
    "pgaccel__mod": _renamed(exp.Mod, lambda b, n: b.e_Mod(n), a="this", b="expression"),
    "pgaccel__strpos": _renamed(exp.StrPosition, f_strpos, a="this", b="substr"),
    "pgaccel__ceiling": _renamed(exp.Ceil, f_ceil, a="this"),
    "pgaccel__char_length": _renamed(exp.Length, f_length, a="this"),
    "pgaccel__character_length": _renamed(exp.Length, f_length, a="this"),
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


ANONYMOUS_HANDLERS["pgaccel__every"] = _renamed(exp.LogicalAnd, agg.a_bool, a="this")
