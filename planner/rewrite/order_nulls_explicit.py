"""Make NULL ordering explicit on every ORDER BY item (queries, windows, aggregates).

Postgres sorts NULLs as larger than any value: ``ASC`` means ``NULLS LAST`` and
``DESC`` means ``NULLS FIRST``. DuckDB's default is ``NULLS LAST`` either way (and
is configurable), so every item gets an explicit choice that the DuckDB SQL spells
out.
"""

from __future__ import annotations

from sqlglot import exp


def order_nulls_explicit(tree: exp.Expression, env) -> exp.Expression:
    for item in tree.find_all(exp.Ordered):
        if item.args.get("nulls_first") is None:
            item.set("nulls_first", bool(item.args.get("desc")))
    return tree
