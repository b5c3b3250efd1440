"""Give every top-level output column the name Postgres gives it.

Postgres names an unaliased output column after the column, function or type it
finds (``FigureColname`` in ``parser/parse_target.c``): ``count(*)`` is ``count``,
``x::text`` is ``x``, ``'a'::text`` is ``text``, ``CASE`` is ``case``, a scalar
subquery takes its own first column's name, and anything else is ``?column?``.
DuckDB names them differently, so we alias them all before other passes rewrite
the expressions.
"""

from __future__ import annotations

from sqlglot import exp

from ..classify import function_name

_CAST_NAMES = {
    "INT": "int4", "SMALLINT": "int2", "BIGINT": "int8", "TEXT": "text", "VARCHAR": "varchar",
    "DECIMAL": "numeric", "DOUBLE": "float8", "FLOAT": "float4", "BOOLEAN": "bool", "DATE": "date",
    "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamptz", "INTERVAL": "interval", "CHAR": "bpchar",
}
_SPECIAL = {
    exp.Coalesce: "coalesce", exp.Nullif: "nullif", exp.Greatest: "greatest",
    exp.Least: "least", exp.Exists: "exists", exp.Array: "array", exp.Extract: "extract",
    exp.CurrentDate: "current_date", exp.CurrentTimestamp: "current_timestamp",
    exp.Substring: "substring", exp.StrPosition: "position", exp.Trim: "btrim",
    exp.GroupConcat: "string_agg", exp.LogicalAnd: "bool_and", exp.LogicalOr: "bool_or",
    exp.TimestampTrunc: "date_trunc", exp.DateTrunc: "date_trunc", exp.Interval: "interval",
}


def figure_colname(node: exp.Expression) -> str | None:
    name, _ = _figure(node)
    return name


def _figure(node: exp.Expression) -> tuple[str | None, int]:
    """(name, strength) as FigureColnameInternal: 2 = a real name, 1 = a type name or
    keyword ("case"), 0 = "?column?"."""
    if isinstance(node, exp.Case):
        default = node.args.get("default")
        if default is not None:
            name, strength = _figure(default)
            if strength > 1:
                return name, strength
        return "case", 1
    if isinstance(node, exp.Cast):
        name, strength = _figure(node.this)
        if strength > 1:
            return name, strength
        kind = node.to.this.name
        return _CAST_NAMES.get(kind, kind.lower()), 1
    name = _simple(node)
    if name is None:
        return None, 2
    return name, 0 if name == "?column?" else 2


def _simple(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Column):
        return None if isinstance(node.this, exp.Star) else node.name
    if isinstance(node, exp.Paren):
        return figure_colname(node.this)
    if isinstance(node, exp.Boolean):
        return "bool"
    if isinstance(node, exp.Window):
        return figure_colname(node.this)
    if isinstance(node, (exp.Filter,)):
        return figure_colname(node.this)
    if isinstance(node, exp.Subquery):
        q = node.this
        if isinstance(q, exp.Select) and q.expressions:
            first = q.expressions[0]
            return first.alias if isinstance(first, exp.Alias) else (figure_colname(first) or "?column?")
        return "?column?"
    if isinstance(node, exp.Pad):
        return "lpad" if node.args.get("is_left") else "rpad"
    if isinstance(node, exp.Trim):
        pos = (node.args.get("position") or "").upper()
        return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(pos, "btrim")
    for cls, name in _SPECIAL.items():
        if isinstance(node, cls):
            return name
    if isinstance(node, exp.Count):
        return "count"
    if isinstance(node, (exp.Binary, exp.Unary, exp.Predicate, exp.Like, exp.ILike)):
        return "?column?"
    if isinstance(node, exp.Func):
        return function_name(node)
    return "?column?"


def name_output_columns(tree: exp.Expression, env) -> exp.Expression:
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.left
    if isinstance(select, exp.Subquery):
        select = select.unnest()
    if not isinstance(select, exp.Select):
        return tree
    for proj in list(select.expressions):
        if isinstance(proj, exp.Alias) or isinstance(proj, exp.Star):
            continue
        name = figure_colname(proj)
        if name is None:
            continue
        if isinstance(proj, exp.Column) and name == proj.name:
            continue
        proj.replace(exp.alias_(proj.copy(), name, quoted=True))
    return tree
