"""Point every table reference at the mirrored table it resolves to.

Classification resolved each unqualified name through ``search_path`` and left
the key of the mirror table on the node (``meta['mirror_table']``). This pass writes the
resolved schema into the AST so column qualification works on explicit names;
``rename_tables_to_mirror`` later swaps in the DuckDB names.
"""

from __future__ import annotations

from sqlglot import exp


def qualify_tables(tree: exp.Expression, env) -> exp.Expression:
    for table in tree.find_all(exp.Table):
        mt = env.mirror_of(table)
        if mt is None:
            continue
        if not table.args.get("alias"):
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name, quoted=True)))
        table.set("catalog", None)      # a source table: its schema is spelled "source.schema"
        table.set("db", exp.to_identifier(mt.schema, quoted=True))
        table.set("this", exp.to_identifier(mt.name, quoted=True))
    return tree


def rename_tables_to_mirror(tree: exp.Expression, env) -> exp.Expression:
    for table in tree.find_all(exp.Table):
        mt = env.mirror_of(table)
        if mt is None:
            continue
        cat = getattr(mt, "duckdb_catalog", "")
        table.set("catalog", exp.to_identifier(cat, quoted=True) if cat else None)
        table.set("db", exp.to_identifier(mt.duckdb_schema, quoted=True))
        table.set("this", exp.to_identifier(mt.duckdb_name, quoted=True))
    return tree
