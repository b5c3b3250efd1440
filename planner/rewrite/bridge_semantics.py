"""Type-directed walk that proves a query's DuckDB meaning equals its Postgres meaning.

Every node is typed with Postgres' rules (``PgType``); a node kind, operator,
function or type combination without a handler here is refused (the statement goes
to the origin). Where the engines differ and the gap is known, the node is
rewritten in place so DuckDB computes the Postgres result:

- ``int / int`` truncates in Postgres: DuckDB ``//`` (which truncates toward zero
  too), with an explicit error on a zero divisor (DuckDB returns NULL).
- numeric division and ``avg`` of exact numbers: exact emulation
  (``numeric_division``), including the per-value display scale.
- ``sum(int2/int4)`` is int8, ``sum(int8)`` numeric, ``length``/``strpos`` int4,
  ``date - date`` int4, ``ntile``/``grouping`` int4: explicit casts.
- untyped literals and parameters take the type of the other operand, as in
  Postgres, and are cast explicitly (ISO date/time literals only).
- ``LIKE`` gets Postgres' default escape character; ``date_trunc`` of a date
  works on timestamptz; ``extract`` returns numeric, ``date_part`` float8.
"""

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


class Bridge:
    """One walk over one statement. ``run`` returns the output columns."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.scopes: list[dict[str, Source]] = []
        self.aliases: list[dict[str, PgType]] = []   # projection aliases per select (for ORDER BY)
        from . import bridge_functions
        self.functions = bridge_functions

    # ------------------------------------------------------------------ queries
    def run(self, tree: exp.Expression) -> list[tuple[str, PgType]]:
        while isinstance(tree, (exp.Subquery, exp.Paren)) and not tree.args.get("alias"):
            tree = tree.this
        if not isinstance(tree, (exp.Select, exp.SetOperation)):
            raise Refuse("unsupported_construct", f"top-level {type(tree).__name__}")
        cols = self.query(tree, top=True)
        return cols

    def query(self, node: exp.Expression, top: bool = False) -> list[tuple[str, PgType]]:
        if isinstance(node, exp.Subquery):
            if node.args.get("alias") is not None and not isinstance(node.parent, (exp.From, exp.Join)):
                pass
            return self.query(node.this, top=top)
        if isinstance(node, exp.Paren):
            return self.query(node.this, top=top)
        with_ = node.args.get("with_") or node.args.get("with")
        saved = dict(self.env.ctes)
        try:
            if with_ is not None:
                self.with_(with_)
            if isinstance(node, exp.Select):
                return self.select(node, top)
            if isinstance(node, exp.SetOperation):
                return self.set_operation(node, top)
        finally:
            self.env.ctes = saved
        raise Refuse("unsupported_construct", f"{type(node).__name__} as a query")

    def with_(self, with_: exp.With) -> None:
        if with_.args.get("recursive"):
            raise Refuse("unsupported_construct", "WITH RECURSIVE")
        for cte in with_.expressions:
            if cte.args.get("materialized") is not None:
                pass
            cols = self.query(cte.this)
            names = [c.name for c in (cte.args["alias"].columns or [])] if cte.args.get("alias") else []
            self.env.ctes[cte.alias_or_name] = Source(self._relation(cols, names))

    @staticmethod
    def _relation(cols: list[tuple[str, PgType]], names: list[str]) -> dict[str, PgType]:
        rel: dict[str, PgType] = {}
        for i, (name, t) in enumerate(cols):
            if names and i < len(names):
                name = names[i]
            if t.is_numeric and t.scale is None:
                t = PgType("numeric", None, t.storage, None)   # per-row scale not visible outside
            rel[name] = t
        return rel

    def set_operation(self, node: exp.SetOperation, top: bool) -> list[tuple[str, PgType]]:
        left = self.query(node.left)
        right = self.query(node.right)
        if len(left) != len(right):
            raise Refuse("unsupported_construct", "set operation with different column counts")
        cols = []
        for (name, lt), (_, rt) in zip(left, right):
            cols.append((name, self._unify_set(lt, rt)))
        if any(t.is_text for _, t in cols) and not self.env.bytewise and not node.args.get("distinct") is False:
            raise Refuse("collation_differs", "set operation on text under a non-bytewise collation")
        self._order_limit(node, {n: t for n, t in cols}, cols)
        return cols

    @staticmethod
    def _unify_set(a: PgType, b: PgType) -> PgType:
        if a.name in ("null", "unknown"):
            return T.TEXT if b.name in ("null", "unknown") else b
        if b.name in ("null", "unknown"):
            return a
        if a.name != b.name or a.scale != b.scale or (a.is_numeric and a.scale is None):
            raise Refuse("unsupported_construct", f"set operation combines {a.name} and {b.name}")
        return a

    def select(self, node: exp.Select, top: bool) -> list[tuple[str, PgType]]:
        for key in ("qualify", "windows", "prewhere", "sample", "laterals", "pivots", "connect", "match"):
            if node.args.get(key):
                raise Refuse("unsupported_construct", f"SELECT with {key}")
        scope: dict[str, Source] = {}
        self.scopes.append(scope)
        self.aliases.append({})
        try:
            from_ = node.args.get("from_") or node.args.get("from")
            if from_ is not None:
                self.source(from_.this, scope)
            for join in node.args.get("joins") or []:
                if join.args.get("using"):
                    raise Refuse("unsupported_construct", "JOIN ... USING")
                if join.args.get("method") or join.kind not in ("", "INNER", "OUTER", "CROSS"):
                    raise Refuse("unsupported_construct", f"{join.kind or join.args.get('method')} JOIN")
                self.source(join.this, scope)
            for join in node.args.get("joins") or []:
                if join.args.get("on") is not None:
                    self.boolean(join, "on")
            if node.args.get("where") is not None:
                self.boolean(node.args["where"], "this")
            group = node.args.get("group")
            if group is not None:
                for key in ("expressions", "grouping_sets", "cube", "rollup"):
                    for g in list(group.args.get(key) or []):
                        self.grouping_item(g)
                if group.args.get("totals"):
                    raise Refuse("unsupported_construct", "WITH TOTALS")
            if node.args.get("having") is not None:
                self.boolean(node.args["having"], "this")
            cols: list[tuple[str, PgType]] = []
            for proj in list(node.expressions):
                if isinstance(proj, exp.Star) or (isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star)):
                    raise Refuse("unsupported_construct", "unexpanded *")
                t = self.expr(proj)
                proj = node.expressions[len(cols)]
                if t.name == "unknown":
                    inner = proj.unalias()
                    if isinstance(inner, (exp.Parameter, exp.Placeholder)):
                        self.coerce(inner, T.TEXT)        # Postgres resolves it as text
                    t = T.TEXT
                elif t.name == "null":
                    t = T.TEXT
                cols.append((proj.alias_or_name, t))
                self.aliases[-1][proj.alias_or_name] = t
            distinct = node.args.get("distinct")
            if distinct is not None:
                on = distinct.args.get("on")
                if on is not None:
                    for e in list(on.expressions if isinstance(on, exp.Tuple) else [on]):
                        self.expr(e)
                if not self.env.bytewise and any(t.is_text for _, t in cols):
                    pass   # equality is bytewise for deterministic collations
            self._order_limit(node, self.aliases[-1], cols)
            if top:
                self._format_outputs(node, cols)
            return cols
        finally:
            self.scopes.pop()
            self.aliases.pop()

    def grouping_item(self, g: exp.Expression) -> None:
        if isinstance(g, (exp.Rollup, exp.Cube, exp.GroupingSets)):
            for e in list(g.expressions):
                self.grouping_item(e)
        elif isinstance(g, (exp.Tuple, exp.Paren)):
            for e in list(g.expressions if isinstance(g, exp.Tuple) else [g.this]):
                self.grouping_item(e)
        else:
            self.expr(g)

    def _order_limit(self, node: exp.Expression, aliases: dict[str, PgType], cols) -> None:
        order = node.args.get("order")
        if order is not None:
            self.order(order, aliases)
        for key in ("limit", "offset"):
            lim = node.args.get(key)
            if lim is None:
                continue
            if isinstance(lim, exp.Fetch):
                if lim.args.get("with_ties") or lim.args.get("percent"):
                    raise Refuse("unsupported_construct", "FETCH ... WITH TIES / PERCENT")
                if lim.args.get("count") is not None:
                    self.int_operand(lim, "count")
                continue
            self.int_operand(lim, "expression")

    def int_operand(self, parent: exp.Expression, key: str) -> None:
        child = parent.args.get(key)
        if child is None:
            return
        t = self.expr(child)
        child = parent.args[key]
        if t.name in ("unknown",):
            self.coerce(child, T.INT8)
        elif not t.is_int and t.name != "null":
            raise Refuse("unsupported_construct", f"LIMIT/OFFSET of type {t.name}")

    def order(self, order: exp.Order, aliases: dict[str, PgType] | None) -> None:
        for item in list(order.expressions):
            target = item.this
            if isinstance(target, exp.Column) and not target.table and aliases and target.name in aliases:
                t = aliases[target.name]
            elif isinstance(target, exp.Literal) and not target.is_string and aliases is not None:
                idx = int(target.name) - 1
                vals = list(aliases.values())
                if not 0 <= idx < len(vals):
                    raise Refuse("unsupported_construct", "ORDER BY position out of range")
                t = vals[idx]
            else:
                t = self.expr(target)
            if t.is_text and not self.env.bytewise:
                raise Refuse("collation_differs", f"ORDER BY text under collation {self.env.catalog.collation!r}")
            if t.name not in T.NUMERICS + T.TEXTS + T.DATETIMES + ("bool", "null", "unknown", "interval", "uuid"):
                raise Refuse("unsupported_construct", f"ORDER BY {t.name}")
            if t.name in ("unknown",):
                raise Refuse("unsupported_construct", "ORDER BY an untyped literal")

    def _format_outputs(self, node: exp.Select, cols: list[tuple[str, PgType]]) -> None:
        """Top level: numerics with a per-row display scale are sent as exact Postgres text."""
        names = [n for n, _ in cols]
        for i, (name, t) in enumerate(cols):
            if not (t.is_numeric and t.scale is None):
                continue
            if t.dscale is None:
                raise Refuse("unsupported_construct", f"output column {name!r}: numeric scale not tracked")
            proj = node.expressions[i]
            inner = proj.unalias()
            original = inner.copy()
            order = node.args.get("order")
            if order is not None:
                for item in order.expressions:
                    ref = item.this
                    if (isinstance(ref, exp.Column) and not ref.table and ref.name == name) or \
                            (isinstance(ref, exp.Literal) and not ref.is_string and int(ref.name) == i + 1):
                        item.set("this", original.copy())
            if node.args.get("distinct") is not None:
                raise Refuse("unsupported_construct", "DISTINCT over a computed numeric")
            inner.replace(nd.format_numeric(original, t.storage, t.dscale))
            if not isinstance(node.expressions[i], exp.Alias):
                node.expressions[i].replace(exp.alias_(node.expressions[i], name, quoted=True))
        del names

    def source(self, node: exp.Expression, scope: dict[str, Source]) -> None:
        alias = node.alias_or_name
        if isinstance(node, exp.Table):
            mt = self.env.mirror_of(node)
            if mt is not None:
                cols = {}
                for c in mt.columns:
                    cols[c.name] = T.from_catalog(c.pg_type, getattr(c, "typmod", -1))
                scope[alias] = Source(cols, mt)
                return
            cte = self.env.ctes.get(node.name)
            if cte is not None and not node.args.get("db"):
                scope[alias] = cte
                return
            raise Refuse("table_not_mirrored", f"{node.sql('postgres')} is not resolved")
        if isinstance(node, exp.Subquery):
            if node.args.get("lateral"):
                raise Refuse("unsupported_construct", "LATERAL")
            cols = self.query(node.this)
            names = [c.name for c in node.args["alias"].columns] if node.args.get("alias") else []
            scope[alias] = Source(self._relation(cols, names))
            return
        raise Refuse("unsupported_construct", f"{type(node).__name__} in FROM")

    # --------------------------------------------------------------- expressions
    def boolean(self, parent: exp.Expression, key: str) -> None:
        t = self.expr(parent.args[key])
        if t.name == "unknown":
            raise Refuse("unsupported_construct", "untyped literal as a condition")
        if t.name not in ("bool", "null"):
            raise Refuse("unsupported_construct", f"condition of type {t.name}")

    def expr(self, node: exp.Expression) -> PgType:
        handler = getattr(self, "e_" + type(node).__name__, None)
        if handler is None:
            return self.functions.call(self, node)
        return handler(node)

    def lookup(self, table: str, name: str) -> tuple[PgType, Source]:
        for scope in reversed(self.scopes):
            src = scope.get(table)
            if src is not None:
                t = src.cols.get(name)
                if t is None:
                    raise Refuse("unresolved_column", f"{table}.{name}")
                return t, src
        raise Refuse("unresolved_column", f"{table}.{name}")

    def e_Column(self, node: exp.Column) -> PgType:
        if isinstance(node.this, exp.Star):
            raise Refuse("unsupported_construct", "unexpanded *")
        if not node.table:
            for aliases in reversed(self.aliases):
                if node.name in aliases:
                    return aliases[node.name]
            raise Refuse("unresolved_column", node.name)
        t, src = self.lookup(node.table, node.name)
        if src.mirror is not None:
            col = src.mirror.column(node.name)
            if col is None:
                raise Refuse("unresolved_column", f"{node.table}.{node.name}")
            if not col.faithful:
                raise Refuse("unfaithful_column",
                             f"{src.mirror.schema}.{src.mirror.name}.{col.name} ({col.pg_type}) is not mirrored faithfully")
        if t.name not in T.NUMERICS + T.TEXTS + T.DATETIMES + ("bool", "interval", "uuid"):
            raise Refuse("unsupported_construct", f"column {node.name} of type {t.name}")
        if t.is_numeric and t.storage is None:
            raise Refuse("unsupported_construct", f"column {node.name}: numeric without a declared scale")
        return t

    def e_Alias(self, node: exp.Alias) -> PgType:
        return self.expr(node.this)

    def e_Paren(self, node: exp.Paren) -> PgType:
        return self.expr(node.this)

    def e_Null(self, node) -> PgType:
        return T.NULL

    def e_Boolean(self, node) -> PgType:
        return T.BOOL

    def e_Parameter(self, node: exp.Parameter) -> PgType:
        return T.UNKNOWN

    def e_Placeholder(self, node) -> PgType:
        return T.UNKNOWN

    def e_Literal(self, node: exp.Literal) -> PgType:
        if node.is_string:
            return T.UNKNOWN
        text = node.name
        if _INT_LIT.match(text):
            v = int(text)
            if v <= 2**31 - 1:
                return T.INT4
            if v <= 2**63 - 1:
                return T.INT8
            if len(text) > 38:
                raise Refuse("unsupported_construct", "integer literal above 38 digits")
            node.replace(cast(exp.Literal.string(text), "DECIMAL(38, 0)"))
            return T.numeric(0)
        m = _DEC_LIT.match(text)
        if m and (m.group(1) or m.group(2)):
            scale = len(m.group(2))
            digits = len(m.group(1).lstrip("0")) + scale
            if digits > 38 or scale > 38:
                raise Refuse("unsupported_construct", "numeric literal above 38 digits")
            if digits > 18 or not m.group(1) or not m.group(2):
                node.replace(cast(exp.Literal.string(text), f"DECIMAL({max(digits, scale, 1)}, {scale})"))
            return T.numeric(scale)
        raise Refuse("unsupported_construct", f"numeric literal {text}")

    def coerce(self, node: exp.Expression, target: PgType) -> None:
        """Give an untyped literal or parameter the type Postgres infers for it."""
        inner = node.unnest() if isinstance(node, exp.Paren) else node
        if isinstance(inner, (exp.Parameter, exp.Placeholder)):
            self._parameter(node, inner, target)
            return
        if not (isinstance(inner, exp.Literal) and inner.is_string):
            raise Refuse("unsupported_construct", "untyped expression")
        text = inner.name
        name = target.name
        if name in T.TEXTS:
            return
        if name in T.INTEGERS and _INT_STR.match(text):
            node.replace(cast(exp.Literal.number(int(text)), T.DUCKDB_TYPE[name]))
            return
        if name == "numeric" and _NUM_STR.match(text):
            node.replace(cast(exp.Literal.string(text.strip()), f"DECIMAL(38, {len(text.strip().partition('.')[2])})"))
            return
        if name == "date" and _DATE_LIT.match(text):
            node.replace(cast(exp.Literal.string(text), "DATE"))
            return
        if name in ("timestamp", "timestamptz") and (_TS_LIT.match(text) or _DATE_LIT.match(text)):
            node.replace(cast(exp.Literal.string(text), T.DUCKDB_TYPE[name]))
            return
        if name == "bool" and text.strip().lower() in ("true", "false", "t", "f"):
            node.replace(exp.Boolean(this=text.strip().lower() in ("true", "t")))
            return
        raise Refuse("unsupported_construct", f"literal {text!r} as {name}")

    def _parameter(self, node: exp.Expression, param: exp.Expression, target: PgType) -> None:
        """A parameter takes the type of its context, as Postgres infers it.

        Postgres gives a parameter compared with numeric(p,s) the type numeric
        (no typmod): it is not rounded to s digits. We cast to DECIMAL(38, 18) and
        record the assumed Postgres type in Route.params so the executor can check
        it against the origin's ParameterDescription (and fall back if they differ).
        """
        if not isinstance(param, exp.Parameter) or not param.name.isdigit():
            raise Refuse("unsupported_construct", f"parameter {param.sql('postgres')}")
        n = int(param.name)
        name = "varchar" if target.name == "varchar" else target.name
        if name == "varchar":
            name = "text"
        if name == "numeric":
            duck = _dtype(f"DECIMAL(38, {PARAM_NUMERIC_SCALE})")
        elif name in T.DUCKDB_TYPE and name not in ("uuid", "bytea", "interval", "float4"):
            duck = _dtype(T.DUCKDB_TYPE[name])
        else:
            raise Refuse("unsupported_construct", f"parameter of type {target.name}")
        prev = self.env.params.get(n)
        if prev is not None and prev != name:
            raise Refuse("unsupported_construct", f"${n} used as {prev} and {name}")
        self.env.params[n] = name
        node.replace(exp.Cast(this=node.copy(), to=duck))

    def e_Cast(self, node: exp.Cast) -> PgType:
        if isinstance(node, exp.TryCast) or node.args.get("format"):
            raise Refuse("unsupported_construct", "cast with format")
        target = T.parse_cast_target(node.to)
        unconstrained_numeric = node.to.this == exp.DataType.Type.DECIMAL and not node.to.expressions
        src = self.expr(node.this)
        if unconstrained_numeric:
            if src.is_int:
                node.set("to", _dtype("DECIMAL(38, 0)"))
                return T.numeric(0)
            if src.is_numeric:
                node.replace(node.this)
                return src
            if src.name == "unknown" and isinstance(node.this, exp.Literal) and _NUM_STR.match(node.this.name):
                scale = len(node.this.name.strip().partition(".")[2])
                node.set("to", _dtype(f"DECIMAL(38, {scale})"))
                return T.numeric(scale)
            raise Refuse("unsupported_construct", f"cast {src.name} to numeric")
        if target is None:
            raise Refuse("unsupported_construct", f"cast to {node.to.sql('postgres')}")
        node.set("to", T.duckdb_type(target) if target.is_numeric else _dtype(T.DUCKDB_TYPE[target.name]))
        if target.is_numeric:
            target = T.numeric(target.scale)
        s, d = src.name, target.name
        if s == "unknown":
            self.coerce(node.this, target)
            if isinstance(node.this, exp.Cast):
                node.replace(node.this)
            return target
        if s == "null" or s == d and not target.is_numeric:
            return target
        ok = (
            (src.is_exact and (target.is_exact)) or                         # int/numeric <-> int/numeric
            (src.is_int and d == "float8") or
            (s == "float4" and d == "float8") or
            (src.is_text and d in ("text", "varchar")) or
            (s == "date" and d in ("timestamp", "timestamptz")) or
            (s in ("timestamp", "timestamptz") and d == "date") or
            (s == "timestamp" and d == "timestamptz") or (s == "timestamptz" and d == "timestamp")
        )
        if src.is_exact and d in T.INTEGERS and src.is_numeric:
            ok = True      # numeric -> int rounds half away from zero in both
        if d in ("text", "varchar") and not src.is_text:
            ok = self._text_cast_ok(src)
        if not ok:
            raise Refuse("unsupported_construct", f"cast {s} to {d}")
        return target

    def _text_cast_ok(self, src: PgType) -> bool:
        if src.is_int or src.name == "bool":
            return True
        if src.is_numeric:
            return src.scale is not None
        if src.name == "date":
            return self.env.ctx.datestyle.upper().startswith("ISO")
        return False

    # arithmetic ------------------------------------------------------------
    def _operands(self, node: exp.Expression) -> tuple[PgType, PgType]:
        lt = self.expr(node.this)
        rt = self.expr(node.expression)
        if lt.name == "unknown" and rt.name not in ("unknown", "null"):
            self.coerce(node.this, rt)
            lt = rt
        elif rt.name == "unknown" and lt.name not in ("unknown", "null"):
            self.coerce(node.expression, lt)
            rt = lt
        return lt, rt

    def _number_result(self, node, lt: PgType, rt: PgType, op: str) -> PgType:
        if lt.name == "null" or rt.name == "null":
            other = rt if lt.name == "null" else lt
            if other.name in ("null", "unknown"):
                raise Refuse("unsupported_construct", "arithmetic on untyped NULL")
            return other
        if lt.is_int and rt.is_int:
            return lt if T.INT_RANK[lt.name] >= T.INT_RANK[rt.name] else rt
        if lt.is_exact and rt.is_exact:
            dl, dr = ds_of(lt), ds_of(rt)
            kl, kr = lt.eff_scale(), rt.eff_scale()
            if op == "*":
                if kl + kr > 38:
                    raise Refuse("unsupported_construct", "numeric product scale above 38")
                return num_type(_add_ds(dl, dr), kl + kr)
            return num_type(_max_ds(dl, dr), max(kl, kr))
        if (lt.is_float or lt.is_exact) and (rt.is_float or rt.is_exact):
            if "float4" in (lt.name, rt.name):
                if lt.name == rt.name:
                    return lt
                raise Refuse("unsupported_construct", "real (float4) mixed with another type")
            return T.FLOAT8
        raise Refuse("unsupported_construct", f"{lt.name} {op} {rt.name}")

    def e_Add(self, node: exp.Add) -> PgType:
        lt, rt = self._operands(node)
        dt = self._datetime_arith(node, lt, rt, "+")
        return dt if dt is not None else self._number_result(node, lt, rt, "+")

    def e_Sub(self, node: exp.Sub) -> PgType:
        lt, rt = self._operands(node)
        dt = self._datetime_arith(node, lt, rt, "-")
        return dt if dt is not None else self._number_result(node, lt, rt, "-")

    def e_Mul(self, node: exp.Mul) -> PgType:
        lt, rt = self._operands(node)
        return self._number_result(node, lt, rt, "*")

    def _datetime_arith(self, node, lt: PgType, rt: PgType, op: str) -> PgType | None:
        l, r = lt.name, rt.name
        if l not in T.DATETIMES + ("interval",) and r not in T.DATETIMES + ("interval",):
            return None
        if op == "+" and l in T.INTEGERS and r == "date":
            return PgType("date")
        if l == "date" and r in T.INTEGERS and r != "int8":
            return PgType("date")
        if l == "date" and r == "date" and op == "-":
            node.replace(cast(node.copy(), "INTEGER"))
            return T.INT4
        if l == "date" and r == "interval" or (op == "+" and l == "interval" and r == "date"):
            return PgType("timestamp")
        if l in ("timestamp", "timestamptz") and r == "interval":
            return lt
        if op == "+" and l == "interval" and r in ("timestamp", "timestamptz"):
            return rt
        if l == r == "timestamp" and op == "-":
            return PgType("interval")
        raise Refuse("unsupported_construct", f"{l} {op} {r}")

    def _nonzero(self, divisor: exp.Expression) -> exp.Expression:
        d = divisor.unnest() if isinstance(divisor, exp.Paren) else divisor
        if isinstance(d, exp.Literal) and not d.is_string and float(d.name) != 0:
            return divisor
        return fill("CASE WHEN _d = 0 THEN ERROR('division by zero') ELSE _d END", _d=divisor)

    def e_Div(self, node: exp.Div) -> PgType:
        lt, rt = self._operands(node)
        if lt.is_int and rt.is_int:
            res = lt if T.INT_RANK[lt.name] >= T.INT_RANK[rt.name] else rt
            node.replace(exp.IntDiv(this=node.left.copy(), expression=self._nonzero(node.right.copy())))
            return res
        if lt.is_exact and rt.is_exact:
            value, rscale = nd.numeric_div(node.left.copy(), lt.eff_scale(), lt.is_int, ds_of(lt),
                                           node.right.copy(), rt.eff_scale(), rt.is_int, ds_of(rt))
            node.replace(value)
            return T.numeric(None, nd.RESULT_STORAGE, rscale)
        res = self._number_result(node, lt, rt, "/")
        node.set("expression", self._nonzero(node.right.copy()))
        node.set("typed", None)
        return res

    def e_Mod(self, node: exp.Mod) -> PgType:
        lt, rt = self._operands(node)
        if not (lt.is_int and rt.is_int):
            raise Refuse("unsupported_construct", f"{lt.name} % {rt.name}")
        node.set("expression", self._nonzero(node.expression.copy()))
        return lt if T.INT_RANK[lt.name] >= T.INT_RANK[rt.name] else rt

    def e_Neg(self, node: exp.Neg) -> PgType:
        t = self.expr(node.this)
        if not (t.is_exact or t.is_float or t.name == "interval"):
            raise Refuse("unsupported_construct", f"-{t.name}")
        return t

    # comparisons -----------------------------------------------------------
    def comparable(self, a: PgType, b: PgType, ordering: bool) -> None:
        if "null" in (a.name, b.name):
            return
        num = lambda t: t.is_exact or t.is_float
        if num(a) and num(b):
            return
        if (a.is_text or a.name == "unknown") and (b.is_text or b.name == "unknown"):
            if ordering and not self.env.bytewise:
                raise Refuse("collation_differs", f"text comparison under collation {self.env.catalog.collation!r}")
            return
        if a.name in ("date", "timestamp") and b.name in ("date", "timestamp"):
            return
        if a.name == b.name and a.name in ("timestamptz", "bool", "interval", "uuid"):
            return
        raise Refuse("unsupported_construct", f"comparison of {a.name} with {b.name}")

    def _compare(self, node: exp.Binary) -> PgType:
        if isinstance(node.right, (exp.Any, exp.All)):
            return self._any_all(node)
        lt, rt = self._operands(node)
        self.comparable(lt, rt, isinstance(node, ORDERING))
        return T.BOOL

    e_EQ = e_NEQ = e_GT = e_GTE = e_LT = e_LTE = e_NullSafeEQ = e_NullSafeNEQ = _compare

    def _any_all(self, node: exp.Binary) -> PgType:
        quant = node.right
        inner = quant.this.unnest() if isinstance(quant.this, exp.Paren) else quant.this
        if isinstance(inner, exp.Array) and isinstance(node, exp.EQ) and isinstance(quant, exp.Any):
            new = exp.In(this=node.left.copy(), expressions=[e.copy() for e in inner.expressions])
            node.replace(new)
            return self.e_In(new)
        if isinstance(inner, (exp.Select, exp.SetOperation)) or isinstance(quant.this, exp.Subquery):
            lt = self.expr(node.left)
            q = quant.this if isinstance(quant.this, exp.Subquery) else quant
            cols = self.query(q.this if isinstance(q, exp.Subquery) else inner)
            if len(cols) != 1:
                raise Refuse("unsupported_construct", "ANY/ALL subquery with several columns")
            self.comparable(lt, cols[0][1], isinstance(node, ORDERING))
            return T.BOOL
        raise Refuse("unsupported_construct", "ANY/ALL over an array expression")

    def e_Between(self, node: exp.Between) -> PgType:
        if node.args.get("symmetric"):
            raise Refuse("unsupported_construct", "BETWEEN SYMMETRIC")
        t = self.expr(node.this)
        for key in ("low", "high"):
            bt = self.expr(node.args[key])
            if bt.name == "unknown" and t.name not in ("unknown", "null"):
                self.coerce(node.args[key], t)
                bt = t
            self.comparable(t, bt, True)
        if t.name == "unknown":
            raise Refuse("unsupported_construct", "BETWEEN on an untyped literal")
        return T.BOOL

    def e_In(self, node: exp.In) -> PgType:
        if node.args.get("unnest") or node.args.get("field"):
            raise Refuse("unsupported_construct", "IN UNNEST")
        t = self.expr(node.this)
        query = node.args.get("query")
        if query is not None:
            cols = self.query(query)
            if len(cols) != 1:
                raise Refuse("unsupported_construct", "IN subquery with several columns")
            self.comparable(t, cols[0][1], False)
            return T.BOOL
        if t.name == "unknown":
            raise Refuse("unsupported_construct", "IN on an untyped literal")
        for e in list(node.expressions):
            et = self.expr(e)
            if et.name == "unknown":
                self.coerce(e, t)
                et = t
            self.comparable(t, et, False)
        return T.BOOL

    def e_Is(self, node: exp.Is) -> PgType:
        self.expr(node.this)
        if not isinstance(node.expression, (exp.Null, exp.Boolean)):
            raise Refuse("unsupported_construct", "IS with a non-constant")
        return T.BOOL

    def _logic(self, node) -> PgType:
        for child in [node.left, node.right] if isinstance(node, exp.Connector) else [node.this]:
            t = self.expr(child)
            if t.name not in ("bool", "null"):
                raise Refuse("unsupported_construct", f"boolean operator on {t.name}")
        return T.BOOL

    e_And = e_Or = e_Not = _logic

    def e_Exists(self, node: exp.Exists) -> PgType:
        self.query(node.this)
        return T.BOOL

    def e_Subquery(self, node: exp.Subquery) -> PgType:
        cols = self.query(node.this)
        if len(cols) != 1:
            raise Refuse("unsupported_construct", "scalar subquery with several columns")
        t = cols[0][1]
        if t.is_numeric and t.scale is None:
            t = PgType("numeric", None, t.storage, None)
        return t

    # conditionals ----------------------------------------------------------
    def unify(self, nodes: list[exp.Expression], types: list[PgType]) -> PgType:
        """Result type of CASE/COALESCE branches (Postgres UNION-style resolution)."""
        known = [t for t in types if t.name not in ("null", "unknown")]
        if not known:
            for n, t in zip(nodes, types):
                if t.name == "unknown":
                    pass
            return T.TEXT if any(t.name == "unknown" for t in types) else T.NULL
        first = known[0]
        if all(t.is_int for t in known):
            res = max(known, key=lambda t: T.INT_RANK[t.name])
        elif all(t.is_exact for t in known):
            res = T.numeric(None, max(t.eff_scale() for t in known))
        elif all(t.is_text for t in known):
            res = first if all(t.name == first.name for t in known) else T.TEXT
        elif all(t.name == first.name for t in known) and not first.is_float:
            res = first
        elif all(t.is_float for t in known) and all(t.name == first.name for t in known):
            res = first
        else:
            raise Refuse("unsupported_construct", "branches of different types: " +
                         ", ".join(sorted({t.name for t in known})))
        for n, t in zip(nodes, types):
            if t.name == "unknown":
                self.coerce(n, res if not res.is_numeric else T.numeric(0))
        return res

    def e_Case(self, node: exp.Case) -> PgType:
        subject = node.args.get("this")
        st = self.expr(subject) if subject is not None else None
        results, types = [], []
        for if_ in node.args["ifs"]:
            if st is not None:
                ct = self.expr(if_.this)
                if ct.name == "unknown":
                    self.coerce(if_.this, st)
                else:
                    self.comparable(st, ct, False)
            else:
                self.boolean(if_, "this")
            types.append(self.expr(if_.args["true"]))
            results.append(if_.args["true"])
        default = node.args.get("default")
        if default is not None:
            types.append(self.expr(default))
            results.append(node.args["default"])
        res = self.unify(results, types)
        if res.is_numeric:
            dss = [ds_of(t) if t.is_exact else None for t in types]
            if all(isinstance(d, int) for d in dss if d is not None) and len({d for d in dss if d is not None}) == 1:
                return num_type(next(d for d in dss if d is not None), res.storage)
            ds_case = node.copy()
            for i, if_ in enumerate(ds_case.args["ifs"]):
                if_.set("true", nd.ds_sql(dss[i]) if dss[i] is not None else exp.Null())
            if ds_case.args.get("default") is not None:
                ds_case.set("default", nd.ds_sql(dss[-1]) if dss[-1] is not None else exp.Null())
            return T.numeric(None, res.storage, ds_case)
        return res

    def e_Coalesce(self, node: exp.Coalesce) -> PgType:
        args = [node.this] + list(node.expressions)
        types = [self.expr(a) for a in args]
        args = [node.this] + list(node.expressions)
        res = self.unify(args, types)
        if res.is_numeric:
            dss = [ds_of(t) if t.is_exact else 0 for t in types]
            if all(isinstance(d, int) for d in dss) and len(set(dss)) == 1:
                return num_type(dss[0], res.storage)
            ifs = [exp.If(this=exp.Not(this=exp.Is(this=a.copy(), expression=exp.Null())), true=nd.ds_sql(d))
                   for a, d in zip(args, dss)]
            return T.numeric(None, res.storage, exp.Case(ifs=ifs))
        return res

    def e_Nullif(self, node: exp.Nullif) -> PgType:
        lt, rt = self._operands(node)
        self.comparable(lt, rt, False)
        return lt

    def _greatest(self, node) -> PgType:
        args = [node.this] + list(node.expressions)
        types = [self.expr(a) for a in args]
        args = [node.this] + list(node.expressions)
        res = self.unify(args, types)
        if res.is_text and not self.env.bytewise:
            raise Refuse("collation_differs", "GREATEST/LEAST of text")
        if res.is_numeric:
            dss = {ds_of(t) if t.is_exact else 0 for t in types if t.name != "null"}
            if len(dss) != 1 or not isinstance(next(iter(dss)), int):
                raise Refuse("unsupported_construct", "GREATEST/LEAST of numerics with different scales")
            return num_type(next(iter(dss)), res.storage)
        if res.is_float and any(t.is_exact for t in types):
            raise Refuse("unsupported_construct", "GREATEST/LEAST mixing float and exact")
        return res

    e_Greatest = e_Least = _greatest

    def e_Interval(self, node: exp.Interval) -> PgType:
        unit = node.args.get("unit")
        value = node.this
        if unit is None or not isinstance(value, exp.Literal) or not _INT_STR.match(value.name):
            raise Refuse("unsupported_construct", f"interval {node.sql('postgres')}")
        u = unit.name.upper()
        if u.endswith("S"):
            u = u[:-1]
        if u not in INTERVAL_UNITS:
            raise Refuse("unsupported_construct", f"interval unit {u}")
        node.set("unit", exp.Var(this=u))
        # DuckDB 1.5 treats interval constants that compare equal ('1 month' and
        # '30 days', '1 day' and '24 hours') as the same expression and evaluates
        # both as one of them. Refuse statements where that could happen.
        months, days, micros = (v * int(value.name) for v in INTERVAL_UNITS[u])
        key = (months * 30 + days) * 86_400_000_000 + micros
        seen = self.env.intervals.setdefault(key, (months, days, micros))
        if seen != (months, days, micros):
            raise Refuse("unsupported_construct",
                         "interval constants that DuckDB considers equal (it merges them)")
        return PgType("interval")
