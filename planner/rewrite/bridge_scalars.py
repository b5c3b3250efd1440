"""Bridge rules for leaves and casts: columns, literals, parameters, and CAST."""

from __future__ import annotations

import re

from sqlglot import exp

from .. import pgtypes as T
from ..pgtypes import PgType
from ..reasons import Refuse
from .bridge_common import (PARAM_NUMERIC_SCALE, Source, _DATE_LIT, _DEC_LIT, _FLOAT_STR, _INT_LIT, _INT_STR,
                            _NUM_STR, _TS_LIT, _dtype, cast)

_UUID_LIT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ScalarRules:
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
        if t.name not in T.NUMERICS + T.TEXTS + T.DATETIMES + ("bool", "interval", "uuid", "bytea", "time"):
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
        if name in ("float8", "float4") and _FLOAT_STR.match(text):
            node.replace(cast(exp.Literal.string(text.strip()), T.DUCKDB_TYPE[name]))
            return
        if name == "uuid" and _UUID_LIT.match(text):
            node.replace(cast(exp.Literal.string(text.lower()), "UUID"))
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
        precision = None
        if node.to.this == exp.DataType.Type.DECIMAL and node.to.expressions:
            precision = int(node.to.expressions[0].name)
        node.set("to", T.duckdb_type(target) if target.is_numeric else _dtype(T.DUCKDB_TYPE[target.name]))
        if target.is_numeric:
            if precision is not None and target.storage is not None:
                if precision > 38 or target.storage > precision:
                    raise Refuse("unsupported_construct", f"cast to numeric({precision}, ...)")
                # through DECIMAL(p, s) first: a value too wide for numeric(p, s) raises
                # (Postgres: 22003 numeric field overflow), so the executor falls back
                node.set("this", exp.Cast(this=node.this, to=_dtype(f"DECIMAL({precision}, {target.storage})")))
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
