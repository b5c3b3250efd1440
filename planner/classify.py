"""Classification of a parsed read: which tables it reads and what it calls.

Pure inspection: nothing here mutates the AST. Each check raises ``Refuse`` with
the reason that sends the statement to the origin; the order of the checks is the
order of the routing policy in ``route.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from .parse import RENAMED_BACK
from .reasons import Refuse

CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})

# Functions with side effects or state that only the origin has.
ORIGIN_ONLY_FUNCTIONS = frozenset({
    "nextval", "currval", "setval", "lastval", "set_config", "current_setting",
    "current_user", "session_user", "user", "current_role", "current_schema", "current_schemas",
    "current_database", "current_catalog", "version", "inet_client_addr", "inet_server_addr",
    "inet_client_port", "inet_server_port", "to_regclass", "to_regtype", "to_regproc",
    "obj_description", "col_description", "format_type", "row_security_active", "dblink",
    "lo_import", "lo_export", "query_to_xml", "table_to_xml", "nextval_for",
})
ORIGIN_ONLY_PREFIXES = ("pg_", "txid_", "has_", "lo_", "dblink", "xpath")
ORIGIN_ONLY_CLASSES = (exp.CurrentUser, exp.CurrentSchema)

# Volatile or time-dependent: different on the mirror (and on every call).
VOLATILE_FUNCTIONS = frozenset({
    "random", "setseed", "now", "clock_timestamp", "statement_timestamp",
    "transaction_timestamp", "timeofday", "gen_random_uuid", "uuid_generate_v1",
    "uuid_generate_v4", "localtime", "localtimestamp", "current_date", "current_time",
    "current_timestamp", "age",
})
VOLATILE_CLASSES = tuple(c for c in (
    exp.Rand, exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime,
    getattr(exp, "CurrentDatetime", None), getattr(exp, "Uuid", None),
    getattr(exp, "Randn", None), getattr(exp, "Localtime", None), getattr(exp, "Localtimestamp", None),
) if c is not None)

WRITE_NODES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop,
               exp.Alter, exp.TruncateTable, exp.Copy)


def function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        return RENAMED_BACK.get(name, name)
    return node.sql_name().lower()


@dataclass
class Classification:
    """What a read statement touches; `tables` maps each real table node to its mirror table."""

    tables: list[tuple[exp.Table, object]] = field(default_factory=list)
    names: frozenset[tuple[str, str]] = frozenset()        # origin (mirrored) tables
    sources: frozenset[str] = frozenset()                   # federation sources read


def check_not_write(tree: exp.Expression) -> None:
    for node in tree.walk():
        if isinstance(node, WRITE_NODES):
            kind = "ddl_statement" if isinstance(node, (exp.Create, exp.Drop, exp.Alter)) else "write_statement"
            raise Refuse(kind, f"contains {type(node).__name__.upper()}")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise Refuse("ddl_statement", "SELECT INTO creates a table")
        if isinstance(node, exp.Command):
            raise Refuse("unsupported_construct", f"unparsed command {node.name!r}")


def _real_tables(tree: exp.Expression) -> list[exp.Table]:
    found: list[exp.Table] = []
    seen: set[int] = set()
    for scope in traverse_scope(tree):
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and id(source) not in seen:
                seen.add(id(source))
                found.append(source)
    # Tables that scope analysis does not list as sources (defensive): any exp.Table
    # that is not a CTE reference is still a table read.
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for t in tree.find_all(exp.Table):
        if id(t) in seen:
            continue
        if not t.args.get("db") and t.name.lower() in cte_names:
            continue
        seen.add(id(t))
        found.append(t)
    return found


def _folded(ident) -> str:
    """An identifier as Postgres resolves it: unquoted names fold to lower case."""
    if isinstance(ident, exp.Identifier):
        return ident.name if ident.quoted else ident.name.lower()
    return ident.name if ident is not None else ""


def source_of(t: exp.Table, sources) -> tuple[str, str | None] | None:
    """(source, schema or None for its default schema) when a table node names a
    federation source: ``NAME.schema.table`` or ``NAME.table``."""
    if not sources:
        return None
    if t.args.get("catalog") is not None:
        name = _folded(t.args["catalog"])
        return (name, _folded(t.args.get("db"))) if name in sources else None
    if t.args.get("db") is not None:
        name = _folded(t.args["db"])
        return (name, None) if name in sources else None
    return None


def references_sources(tree: exp.Expression, catalog) -> frozenset[str]:
    sources = getattr(catalog, "sources", None)
    if not sources:
        return frozenset()
    found = set()
    for t in tree.find_all(exp.Table):
        s = source_of(t, sources)
        if s is not None:
            found.add(s[0])
    return frozenset(found)


def resolve_tables(tree: exp.Expression, ctx, catalog, live_origin: bool = False) -> Classification:
    """``live_origin`` (a query across sources): an origin table the mirror lacks may be
    read live (``catalog.origin_table``)."""
    tables = _real_tables(tree)
    out = Classification()
    names: set[tuple[str, str]] = set()
    sources = getattr(catalog, "sources", None)
    lookup = getattr(catalog, "origin_table", catalog.get) if live_origin else catalog.get
    used: set[str] = set()
    for t in tables:
        if not isinstance(t.this, exp.Identifier):
            raise Refuse("unsupported_construct", f"table function {t.this.sql('postgres')[:40]}")
        src = source_of(t, sources)
        if src is not None:
            used.add(src[0])
            mt = catalog.source_table(src[0], src[1], _folded(t.this))
            if mt is None:
                where = f"{src[0]}.{src[1]}" if src[1] is not None else src[0]
                raise Refuse("source_table_unknown", f'relation "{where}.{_folded(t.this)}" does not exist')
            out.tables.append((t, mt))
            continue
        if t.args.get("catalog"):
            raise Refuse("table_not_mirrored", f"database-qualified name {t.sql('postgres')}")
        name = t.name
        schema = t.db
        if schema:
            if schema.lower() in CATALOG_SCHEMAS or schema.lower().startswith("pg_temp"):
                raise Refuse("catalog_query", f"reads {schema}.{name}")
            mt = lookup(schema, name)
            if mt is None:
                raise Refuse("table_not_mirrored", f"{schema}.{name} is not mirrored")
        else:
            if name.lower().startswith("pg_"):
                raise Refuse("catalog_query", f"reads {name} (pg_catalog is searched first)")
            if ctx.has_temp_objects:
                raise Refuse("session_temp_objects", f"{name} may name a temporary table")
            mt = None
            for s in ctx.search_path:
                if s in CATALOG_SCHEMAS:
                    continue
                mt = lookup(s, name)
                if mt is not None:
                    break
            if mt is None:
                raise Refuse("table_not_mirrored",
                             f"{name} is not mirrored in search_path {','.join(ctx.search_path)}")
        if getattr(mt, "rls_enabled", False):
            raise Refuse("row_level_security", f"{mt.schema}.{mt.name} has row-level security")
        out.tables.append((t, mt))
        names.add((mt.schema, mt.name))
    out.names = frozenset(names)
    out.sources = frozenset(used)
    return out


def check_functions(tree: exp.Expression) -> None:
    """Origin-only and volatile functions, by name; the allowlist comes later."""
    volatile = None
    for node in tree.find_all(exp.Func):
        name = function_name(node)
        if isinstance(node, ORIGIN_ONLY_CLASSES) or name in ORIGIN_ONLY_FUNCTIONS \
                or name.startswith(ORIGIN_ONLY_PREFIXES):
            raise Refuse("origin_only_function", f"{name}() depends on origin state")
        if volatile is None and (isinstance(node, VOLATILE_CLASSES) or name in VOLATILE_FUNCTIONS):
            volatile = name
    if volatile:
        raise Refuse("volatile_function", f"{volatile}() is volatile or time-dependent")

