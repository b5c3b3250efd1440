"""Routing: for each statement, decide where it runs.

Policy
======

pgaccel answers from the mirror only what it has *positively recognised* as a pure
read whose DuckDB translation is proven to give the Postgres result. Everything
else goes to the origin, which is always correct; sending a statement to the
origin is never an error, only a missed acceleration.

1. **pgaccel's own commands** are answered by pgaccel (target ``admin``):
   ``EXPLAIN (ROUTE) <stmt>`` reports the route of the inner statement;
   ``SET/RESET/SHOW pgaccel.<name>`` reads or changes a pgaccel session setting.
2. **A query string that does not tokenise** goes to the origin (``parse_failed``):
   the origin produces the syntax error the client expects.
3. **Several statements in one string** (``a; b`` over the simple protocol) go to
   the origin as sent (``multiple_statements``); we never split them.
4. **The statement kind is read from its leading keywords**, not from the AST
   (sqlglot parses ``LISTEN x`` as a column alias and drops ``FOR UPDATE``).
   Writes (INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY/CALL/DO), DDL and privilege
   changes, transaction control, SET/RESET/SHOW, EXPLAIN and every other utility
   command go to the origin with their kind. Only SELECT/WITH/VALUES/TABLE are
   read candidates.
5. **A read inside an explicit transaction** goes to the origin
   (``in_transaction``): it must see the transaction's snapshot and its writes.
6. **A read candidate must parse** into exactly one sqlglot statement without
   errors or ``Command`` fallbacks, must contain no data-modifying CTE and no
   SELECT INTO (``write_statement``/``ddl_statement``), and no locking clause.
7. **Every table it reads must be mirrored.** Unqualified names resolve through
   ``search_path`` with ``pg_catalog`` searched first (so ``pg_*`` names are
   catalog reads) and ``pg_temp`` first when the session has temporary objects
   (then we cannot know, and relay). Catalog schemas, unmirrored tables, views and
   table functions, and tables with row-level security go to the origin.
8. **Functions**: anything with side effects or origin-only state (``nextval``,
   ``pg_*``, ``set_config``, ``current_setting``, ``txid_*``, advisory locks …) and
   anything volatile or time-dependent (``random()``, ``now()``,
   ``current_date`` …) goes to the origin. The rest must be on the allowlist.
9. **A read that reads no table** goes to the origin (``no_tables``): nothing to
   gain.
10. **Translation**: the rewrite passes in ``rewrite.RULES`` qualify names, type
    the query with Postgres' rules and rewrite the known semantic gaps. Any node,
    function, type combination or column they cannot prove equivalent — or a
    column the mirror does not copy faithfully, or text ordering under a
    collation DuckDB does not reproduce — sends the statement to the origin with
    the reason the pass gave.
11. Only then the route is ``mirror`` (``mirror_eligible``) with the DuckDB SQL,
    the tables read and the Postgres types of the output columns.

Freshness (``mirror_stale``) and caching (``cache_hit``) are decided after this, by
the executor, from the tables a mirror route reads.

Decisions are memoised by (statement text, session context, catalog version): a
hit is one dict lookup. ``decide`` never raises; an internal error is reported as
``parse_failed``/``unsupported_construct`` to the origin.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType
from sqlglot.errors import SqlglotError

from . import classify, parse
from .reasons import Refuse
from .rewrite import Env, apply_rules, to_duckdb_sql

log = logging.getLogger(__name__)

BYTEWISE_COLLATIONS = frozenset({"c", "posix", "c.utf8", "c.utf-8", "ucs_basic", "pg_c_utf8"})


@dataclass(frozen=True)
class SessionContext:
    search_path: tuple[str, ...]
    in_transaction: bool
    timezone: str = "UTC"
    datestyle: str = "ISO, MDY"
    intervalstyle: str = "postgres"
    extra_float_digits: int = 1
    has_temp_objects: bool = False
    user: str = ""


@dataclass(frozen=True)
class Route:
    target: str                      # "origin" | "mirror" | "admin" | "federation"
    reason: str
    detail: str = ""
    sql: str | None = None           # for "mirror": the DuckDB SQL ($1, $2 … parameters)
    tables: frozenset[tuple[str, str]] = frozenset()
    kind: str = ""                   # read | write | ddl | transaction | set | show | other | explain_route | pgaccel_set | pgaccel_show
    # For "mirror": (name, Postgres type) of each output column, e.g. ("avg", "numeric").
    # A numeric column whose DuckDB value is a VARCHAR carries the exact Postgres text.
    columns: tuple[tuple[str, str], ...] = field(default=())
    # For "mirror": the Postgres type the translation assumed for $1, $2 … (e.g. "int4",
    # "numeric", "text"). The executor must fall back when the origin's
    # ParameterDescription says otherwise (a client may declare parameter types).
    params: tuple[str, ...] = field(default=())
    # For "mirror": guards in the DuckDB SQL that may raise at run time so the executor
    # falls back ("numeric_division", "division_by_zero", "ascii_case_mapping"). When
    # non-empty, fetch the whole result before sending the first row: a guard that
    # fires mid-stream must still fall back, not reach the client as an error.
    runtime_checks: tuple[str, ...] = field(default=())
    # For "federation": the sources the statement reads, and the DuckDB SQL reading every
    # table live (source scanners, the origin through ``_pgaccel_origin``) for when a
    # mirrored copy is too stale. A "federation" route without ``sql`` is a refusal:
    # the client gets an error (the origin cannot run a query that names a source).
    sources: frozenset[str] = field(default=frozenset())
    live_sql: str | None = None
    # For "federation": the statement with each source table replaced by an empty typed
    # subquery (same name and column types): the origin parses and describes it, so the
    # client gets Postgres's own column types, parameter types and errors.
    shadow: str | None = None


def origin(reason: str, kind: str, detail: str = "", tables=frozenset()) -> Route:
    return Route("origin", reason, detail, None, frozenset(tables), kind)


def is_bytewise(collation: str) -> bool:
    return (collation or "").lower() in BYTEWISE_COLLATIONS


def _combined_kind(kinds: list[str]) -> str:
    return max(kinds, key=parse.KIND_RANK.index)


def plan(sql: str, ctx: SessionContext, catalog) -> Route:
    """The routing policy (see module docstring), uncached."""
    # 2. tokenise
    try:
        lexed = parse.lex(sql)
    except SqlglotError as e:
        return origin("parse_failed", "other", f"tokenizer: {e}")
    if not lexed.statements:
        return origin("empty_statement", "other")
    # 3. several statements
    if len(lexed.statements) > 1:
        kinds = [parse.statement_kind(s)[0] for s in lexed.statements]
        return origin("multiple_statements", _combined_kind(kinds), f"{len(kinds)} statements")
    tokens = lexed.statements[0]
    # 1. pgaccel's own commands
    inner = parse.explain_route_inner(sql)
    if inner is not None:
        return Route("admin", "explain_route", inner, kind="explain_route")
    setting = parse.pgaccel_setting(sql)
    if setting is not None:
        return Route("admin", "pgaccel_setting", setting[1], kind=setting[0])
    # 4. statement kind from leading keywords
    kind, reason = parse.statement_kind(tokens)
    if kind != "read":
        return origin(reason, kind, " ".join(parse.leading_words(tokens, 2)))
    # 6. parse, no writes, no locks
    try:
        tree = parse.parse_read(sql, tokens)
    except (SqlglotError, ValueError, RecursionError) as e:
        return origin("parse_failed", "read", str(e).splitlines()[0][:200])
    try:
        classify.check_not_write(tree)
    except Refuse as r:
        return origin(r.reason, "write" if r.reason == "write_statement" else
                      "ddl" if r.reason == "ddl_statement" else "read", r.detail)
    # federation: a read naming a source table runs in DuckDB or not at all
    srcs = classify.references_sources(tree, catalog)
    if srcs:
        return _plan_federated(tree, tokens, ctx, catalog, srcs)
    if parse.has_locking_clause(tokens):
        return origin("locking_clause", "read", "FOR UPDATE/SHARE")
    # 5. transactions
    if ctx.in_transaction:
        return origin("in_transaction", "read")
    # 7-9. tables and functions
    try:
        found = classify.resolve_tables(tree, ctx, catalog)
        classify.check_functions(tree)
        if not found.tables:
            raise Refuse("no_tables", "reads no table")
    except Refuse as r:
        return origin(r.reason, "read", r.detail)
    # 10. translation, on a private copy
    tables = found.names
    work = tree.copy()
    # Mark each real table of the copy with the key of its mirror table (a tuple of
    # strings: cheap to carry through the AST copies the passes make).
    marks = {id(t): (mt.schema, mt.name) for t, mt in found.tables}
    for src, dst in zip(tree.walk(), work.walk()):
        if isinstance(src, exp.Table) and id(src) in marks:
            dst.meta["mirror_table"] = marks[id(src)]
    env = Env(ctx=ctx, catalog=catalog, bytewise=is_bytewise(getattr(catalog, "collation", "")),
              mirror_tables={(mt.schema, mt.name): mt for _, mt in found.tables})
    try:
        work = apply_rules(work, env)
        duck = to_duckdb_sql(work)
    except Refuse as r:
        return origin(r.reason, "read", r.detail, tables)
    except (SqlglotError, RecursionError) as e:
        return origin("unsupported_construct", "read", f"translation failed: {e}", tables)
    # 11. mirror
    params = tuple(env.params[i] for i in range(1, len(env.params) + 1))
    return Route("mirror", "mirror_eligible", "", duck, tables, "read", env.columns, params,
                 tuple(sorted(env.runtime_checks)))


ORIGIN_LIVE_CATALOG = "_pgaccel_origin"


def _refused(reason: str, detail: str, srcs) -> Route:
    return Route("federation", reason, detail, None, frozenset(), "read", sources=frozenset(srcs))


def _plan_federated(tree, tokens, ctx, catalog, srcs) -> Route:
    """A read that names a source table (see mirror/sources.py). Same checks and the same
    translation as a mirror read; what cannot run in DuckDB is refused with the reason."""
    if parse.has_locking_clause(tokens):
        return _refused("locking_clause", "FOR UPDATE/SHARE cannot lock source rows", srcs)
    try:
        found = classify.resolve_tables(tree, ctx, catalog, live_origin=True)
        classify.check_functions(tree)
    except Refuse as r:
        return _refused(r.reason, r.detail, srcs)
    # in a transaction block the executor checks, on the origin, that the transaction is
    # READ COMMITTED and has not written: then reading origin tables now (mirror within
    # the staleness allowed, or live) is what the statement would see there
    work = tree.copy()
    marks = {id(t): (mt.schema, mt.name) for t, mt in found.tables}
    for src, dst in zip(tree.walk(), work.walk()):
        if isinstance(src, exp.Table) and id(src) in marks:
            dst.meta["mirror_table"] = marks[id(src)]
    mirror_tables = {(mt.schema, mt.name): mt for _, mt in found.tables}
    env = Env(ctx=ctx, catalog=catalog, bytewise=is_bytewise(getattr(catalog, "collation", "")),
              mirror_tables=mirror_tables)
    try:
        work = apply_rules(work, env)
        _nulls_first_as_key(work)
        live_tree = work.copy()
        duck = to_duckdb_sql(work)
        live = None
        if any(getattr(mt, "live", ()) or not getattr(mt, "source", "") for mt in mirror_tables.values()):
            for t in live_tree.find_all(exp.Table):
                key = t.meta.get("mirror_table")
                mt = mirror_tables.get(key) if key is not None else None
                if mt is None or (mt.source and not mt.live):
                    continue
                cat, sch, name = mt.live if mt.source else (ORIGIN_LIVE_CATALOG, mt.schema, mt.name)
                t.set("catalog", exp.to_identifier(cat, quoted=True))
                t.set("db", exp.to_identifier(sch, quoted=True))
                t.set("this", exp.to_identifier(name, quoted=True))
            live = to_duckdb_sql(live_tree)
    except Refuse as r:
        return _refused(r.reason, r.detail, srcs)
    except (SqlglotError, RecursionError) as e:
        return _refused("unsupported_construct", f"translation failed: {e}", srcs)
    params = tuple(env.params[i] for i in range(1, len(env.params) + 1))
    try:
        shadow = _shadow(tree, found.tables)
    except (SqlglotError, RecursionError) as e:
        return _refused("unsupported_construct", f"cannot describe it on the origin: {e}", srcs)
    return Route("federation", "federation", ", ".join(sorted(srcs)), duck, found.names, "read", env.columns,
                 params, tuple(sorted(env.runtime_checks)), frozenset(srcs), live, shadow)


def _nulls_first_as_key(tree) -> None:
    """``ORDER BY x [DESC] NULLS FIRST`` -> ``ORDER BY (x IS NULL) DESC, x [DESC] NULLS LAST``:
    the same order. The Postgres and MySQL scanners (DuckDB 1.5.5) turn the Top-N filter
    of ``NULLS FIRST ... LIMIT n`` into ``WHERE x IS NULL`` and return too few rows."""
    for order in list(tree.find_all(exp.Order)):
        if isinstance(order.parent, exp.SetOperation):
            continue            # a UNION's ORDER BY names output columns only
        sel = order.parent if isinstance(order.parent, exp.Select) else None
        aliases = {e.alias: e.this for e in sel.expressions if isinstance(e, exp.Alias)} if sel else {}
        items, changed = [], False
        for o in order.expressions:
            if isinstance(o, exp.Ordered) and o.args.get("nulls_first"):
                key = o.this
                if isinstance(key, exp.Column) and not key.table and key.name in aliases:
                    key = aliases[key.name]     # an output name: in an expression it would not resolve
                items.append(exp.Ordered(this=exp.Is(this=key.copy(), expression=exp.Null()),
                                         desc=True, nulls_first=False))
                o.set("nulls_first", False)
                changed = True
            items.append(o)
        if changed:
            order.set("expressions", items)


def _shadow(tree, tables) -> str:
    """The statement for the origin to parse and describe: every source table becomes
    ``(SELECT CAST(NULL AS <type>) AS <column>, ... WHERE false) AS <its name>``."""
    source_nodes = {id(t): mt for t, mt in tables if getattr(mt, "source", "")}
    work = tree.copy()
    pairs = [(dst, source_nodes[id(src)]) for src, dst in zip(tree.walk(), work.walk())
             if isinstance(src, exp.Table) and id(src) in source_nodes]
    for node, mt in pairs:
        cols = ", ".join(
            f"CAST(NULL AS {c.pg_type if c.faithful else 'text'}) AS \"{c.name.replace(chr(34), chr(34) * 2)}\""
            for c in mt.columns) or "1 AS \"?column?\""
        sub = sqlglot.parse_one(f"SELECT {cols} WHERE false", dialect="postgres")
        alias = node.args.get("alias")
        if alias is None or not alias.name:
            alias = exp.TableAlias(this=exp.to_identifier(node.name, quoted=True))
        node.replace(exp.Subquery(this=sub, alias=alias.copy()))
    return work.sql(dialect="postgres")


_LITERALS = frozenset((TokenType.STRING, TokenType.NUMBER, TokenType.NATIONAL_STRING,
                       TokenType.BIT_STRING, TokenType.HEX_STRING, TokenType.BYTE_STRING))


# Origin reasons no literal value can change (a regex pattern or a date literal can:
# those routes are not shared between literals).
_SHAPE_SAFE_REASONS = frozenset((
    "in_transaction", "session_temp_objects", "no_tables", "catalog_query", "table_not_mirrored",
    "unfaithful_column", "row_level_security", "volatile_function", "origin_only_function",
    "unknown_function", "locking_clause", "write_statement", "ddl_statement"))


def statement_shape(sql: str):
    """The statement with its literal values blanked: a key under which an *origin*
    decision may be reused (no literal turns an origin route into a mirror route)."""
    lexed = parse.lex(sql)
    return tuple((t.token_type, "" if t.token_type in _LITERALS else t.text)
                 for st in lexed.statements for t in st) + (len(lexed.statements),)


class Planner:
    """Memoised routing decisions. ``decide`` is a dict lookup on a hit."""

    def __init__(self, memo_size: int = 20000) -> None:
        self.memo_size = memo_size
        self._memo: OrderedDict = OrderedDict()
        self._shapes: OrderedDict = OrderedDict()
        self.shape_hits = 0
        self.hits = 0
        self.misses = 0

    def decide(self, sql: str, ctx: SessionContext, catalog) -> Route:
        key = (sql, ctx, getattr(catalog, "version", None))
        route = self._memo.get(key)
        if route is not None:
            self.hits += 1
            self._memo.move_to_end(key)
            return route
        self.misses += 1
        try:
            # Dashboards and pgbench send the same statement with other literals: a
            # statement whose shape was already routed to the origin is not parsed again.
            try:
                shape_key = (statement_shape(sql), ctx, key[2])
            except SqlglotError:
                shape_key = None
            route = self._shapes.get(shape_key) if shape_key is not None else None
            if route is not None:
                self.shape_hits += 1
            else:
                route = plan(sql, ctx, catalog)
                if shape_key is not None and route.target == "origin" and route.kind == "read" \
                        and route.reason in _SHAPE_SAFE_REASONS:
                    self._shapes[shape_key] = route
                    if len(self._shapes) > self.memo_size:
                        self._shapes.popitem(last=False)
        except Exception as e:          # never raise: the origin is always correct
            log.exception("planner failed on a statement; routing to origin")
            route = origin("unsupported_construct", "other", f"planner error: {type(e).__name__}: {e}")
        self._memo[key] = route
        if len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)
        return route
