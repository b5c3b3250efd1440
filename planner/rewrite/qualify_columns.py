"""Qualify every column with its source and expand ``*`` using the mirror schema.

After this pass each column reference names the table alias it comes from (the
bridge needs that to type it) and ``SELECT *`` lists the mirrored columns in
table order, as Postgres would. A column that cannot be resolved is refused:
Postgres will produce the error.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from ..parse import DIALECT
from ..reasons import Refuse


def qualify_columns(tree: exp.Expression, env) -> exp.Expression:
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    for table in tree.find_all(exp.Table):
        mt = env.mirror_of(table)
        if mt is not None:
            mapping.setdefault(mt.schema, {})[mt.name] = {c.name: "INT" for c in mt.columns}
    schema = MappingSchema(mapping, dialect=DIALECT, normalize=False)
    metas = {id(t): t.meta.get("mirror_table") for t in tree.find_all(exp.Table)}
    try:
        out = qualify(tree, dialect=DIALECT, schema=schema, expand_stars=True,
                      validate_qualify_columns=True, quote_identifiers=True, identify=True)
    except OptimizeError as e:
        raise Refuse("unresolved_column", str(e).split(". Line")[0]) from None
    except SqlglotError as e:
        raise Refuse("unsupported_construct", f"qualification failed: {e}") from None
    for t in out.find_all(exp.Table):
        if t.meta.get("mirror_table") is None and id(t) in metas and metas[id(t)] is not None:
            t.meta["mirror_table"] = metas[id(t)]
    return out

