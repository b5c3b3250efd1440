"""Bridge rules for predicates and conditionals: comparisons, IN/ANY/EXISTS, boolean
logic, CASE/COALESCE/NULLIF/GREATEST, scalar subqueries and interval literals."""

from __future__ import annotations

from sqlglot import exp

from .. import pgtypes as T
from ..pgtypes import PgType
from ..reasons import Refuse
from .bridge_common import INTERVAL_UNITS, ORDERING, Env, Source, _INT_STR, ds_of, num_type
from . import numeric_division as nd


class ConditionRules:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.scopes: list[dict[str, Source]] = []
        self.aliases: list[dict[str, PgType]] = []   # projection aliases per select (for ORDER BY)
        from . import bridge_functions
        self.functions = bridge_functions

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
        if "interval" in (a.name, b.name):
            # Postgres compares intervals by one linear value ('1 mon' = '30 days'),
            # DuckDB field by field
            raise Refuse("unsupported_construct", "interval comparison")
        if a.name == b.name and a.name in ("timestamptz", "bool", "uuid"):
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
