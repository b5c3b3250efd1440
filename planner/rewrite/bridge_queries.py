"""Bridge rules for queries: SELECT, set operations, CTEs, FROM sources, ORDER BY/LIMIT,
and the top-level output columns."""

from __future__ import annotations

from sqlglot import exp

from .. import pgtypes as T
from ..pgtypes import PgType
from ..reasons import Refuse
from .bridge_common import Source
from .bridge_implied_filters import add_implied_filters
from . import numeric_division as nd


class QueryRules:
    def run(self, tree: exp.Expression) -> list[tuple[str, PgType]]:
        while isinstance(tree, (exp.Subquery, exp.Paren)) and not tree.args.get("alias"):
            tree = tree.this
        if not isinstance(tree, (exp.Select, exp.SetOperation)):
            raise Refuse("unsupported_construct", f"top-level {type(tree).__name__}")
        cols = self.query(tree, top=True)
        add_implied_filters(tree)
        return cols

    def query(self, node: exp.Expression, top: bool = False) -> list[tuple[str, PgType]]:
        if isinstance(node, exp.Subquery):
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
            if distinct is not None and any(t.name == "interval" for _, t in cols):
                raise Refuse("unsupported_construct", "DISTINCT over an interval")
            if distinct is not None:
                on = distinct.args.get("on")
                if on is not None:      # equality only: bytewise for deterministic collations
                    for e in list(on.expressions if isinstance(on, exp.Tuple) else [on]):
                        self.expr(e)
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
        elif self.expr(g).name == "interval":
            raise Refuse("unsupported_construct", "GROUP BY an interval (Postgres: '1 mon' = '30 days')")

    def _order_limit(self, node: exp.Expression, aliases: dict[str, PgType], cols) -> None:
        order = node.args.get("order")
        if order is not None:
            self.order(order, aliases)
        for key in ("limit", "offset"):
            lim = node.args.get(key)
            if lim is None:
                continue
            if isinstance(lim, exp.Fetch):
                opts = lim.args.get("limit_options")
                if lim.args.get("with_ties") or lim.args.get("percent") or (
                        opts is not None and (opts.args.get("with_ties") or opts.args.get("percent"))):
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
            if t.name not in T.NUMERICS + T.TEXTS + T.DATETIMES + ("bool", "null", "unknown", "uuid"):
                raise Refuse("unsupported_construct", f"ORDER BY {t.name}")
            if t.name in ("unknown",):
                raise Refuse("unsupported_construct", "ORDER BY an untyped literal")

    def _format_outputs(self, node: exp.Select, cols: list[tuple[str, PgType]]) -> None:
        """Top level: numerics with a per-row display scale are sent as exact Postgres text."""
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
