"""Rewrite passes from a Postgres read to the equivalent DuckDB query.

Each pass is a small pure function ``(tree, env) -> tree`` working on the
planner's private copy of the AST; ``RULES`` fixes their order. A pass that meets
something it cannot translate faithfully raises ``Refuse`` and the statement goes
to the origin.
"""

from __future__ import annotations

from sqlglot import exp

from .bridge_semantics import Bridge, Env
from .name_output_columns import name_output_columns
from .order_nulls_explicit import order_nulls_explicit
from .qualify_columns import qualify_columns
from .qualify_tables import qualify_tables, rename_tables_to_mirror


def bridge_semantics(tree: exp.Expression, env: Env) -> exp.Expression:
    """Type the query with Postgres rules; refuse or rewrite where DuckDB differs."""
    cols = Bridge(env).run(tree)
    env.columns = tuple((name, t.name) for name, t in cols)
    if env.params and sorted(env.params) != list(range(1, max(env.params) + 1)):
        from ..reasons import Refuse
        raise Refuse("unsupported_construct", "parameters $1..$n are not all used in typed positions")
    return tree


RULES = (
    name_output_columns,
    qualify_tables,
    qualify_columns,
    order_nulls_explicit,
    bridge_semantics,
    rename_tables_to_mirror,
)


def apply_rules(tree: exp.Expression, env: Env) -> exp.Expression:
    for rule in RULES:
        tree = rule(tree, env)
    return tree


def to_duckdb_sql(tree: exp.Expression) -> str:
    """Generate DuckDB SQL with every ORDER BY item's NULL placement spelled out.

    sqlglot omits ``NULLS LAST`` for DuckDB (its default), but DuckDB's default is
    a setting (``default_null_order``); the mirror SQL must not depend on it. Items
    are rendered innermost first so nested ORDER BYs are explicit too.
    """
    items = [o for o in tree.find_all(exp.Ordered)]
    for item in reversed(items):        # find_all is pre-order: reversed = children first
        text = item.this.sql(dialect="duckdb")
        direction = "DESC" if item.args.get("desc") else "ASC"
        nulls = "NULLS FIRST" if item.args.get("nulls_first") else "NULLS LAST"
        item.replace(exp.Var(this=f"{text} {direction} {nulls}"))
    return tree.sql(dialect="duckdb")


__all__ = ["RULES", "Env", "apply_rules", "to_duckdb_sql"]
