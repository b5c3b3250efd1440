"""Bridge rules for arithmetic: + - * / % and unary minus, on numbers and date/times."""

from __future__ import annotations

from sqlglot import exp

from .. import pgtypes as T
from ..pgtypes import PgType
from ..reasons import Refuse
from .bridge_common import _add_ds, _max_ds, cast, ds_of, num_type
from . import numeric_division as nd
from .numeric_division import fill


class ArithmeticRules:
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
        for side, t in ((node.this, lt), (node.expression, rt)):
            if isinstance(side, exp.Cast):        # a parameter typed from context
                side = side.this
            if isinstance(side, (exp.Parameter, exp.Placeholder)) and t.is_exact and not t.is_int:
                # Postgres takes a numeric parameter's display scale from the value sent,
                # which the plan cannot know (amount * $1 with 1.5 prints 3 decimals)
                raise Refuse("unsupported_construct", "numeric parameter in arithmetic")
        if lt.name == "null" or rt.name == "null":
            other = rt if lt.name == "null" else lt
            if other.name in ("null", "unknown"):
                raise Refuse("unsupported_construct", "arithmetic on untyped NULL")
            return other
        if lt.is_int and rt.is_int:
            res = lt if T.INT_RANK[lt.name] >= T.INT_RANK[rt.name] else rt
            # Postgres computes in the wider type; DuckDB types an integer literal by its
            # value (1000 is a SMALLINT beside a smallint column) and would overflow there
            for arg, t in (("this", lt), ("expression", rt)):
                if t.name != res.name and isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
                    node.set(arg, cast(node.args[arg], T.DUCKDB_TYPE[res.name]))
            return res
        if lt.is_exact and rt.is_exact:
            dl, dr = ds_of(lt), ds_of(rt)
            kl, kr = lt.eff_scale(), rt.eff_scale()
            if op == "*":
                if kl + kr > 38:
                    raise Refuse("unsupported_construct", "numeric product scale above 38")
                return num_type(_add_ds(dl, dr), kl + kr)
            return num_type(_max_ds(dl, dr), max(kl, kr))
        if (lt.is_float or lt.is_exact) and (rt.is_float or rt.is_exact):
            # Postgres raises 22003 when float arithmetic overflows to infinity (or
            # underflows to zero); DuckDB returns inf / 0: not translated until guarded
            raise Refuse("unsupported_construct", f"float arithmetic ({lt.name} {op} {rt.name}) without overflow check")
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
        self.env.runtime_checks.add("division_by_zero")
        return fill("CASE WHEN _d = 0 THEN ERROR('division by zero') ELSE _d END", _d=divisor)

    def e_Div(self, node: exp.Div) -> PgType:
        lt, rt = self._operands(node)
        if lt.is_int and rt.is_int:
            res = lt if T.INT_RANK[lt.name] >= T.INT_RANK[rt.name] else rt
            node.replace(exp.IntDiv(this=node.left.copy(), expression=self._nonzero(node.right.copy())))
            return res
        if lt.is_exact and rt.is_exact:
            self.env.runtime_checks.add("numeric_division")
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
