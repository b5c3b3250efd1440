"""Answering a "federation" route: a read that names a source table (mirror/sources.py).

The origin cannot parse, describe or run such a statement (it does not know the
sources), so pgaccel does all of it: the RowDescription comes from the planner's
Postgres typing of the output columns (``Route.columns``), parameters are typed by
the client or the planner, and the query runs once in DuckDB. There is no
fallback: what cannot run gets an error, with a SQLSTATE a Postgres client expects:

- a refused statement (volatile function, unmirrored origin table, ...): 0A000;
- an unknown source table: 42P01;
- a source that is down or refuses the login: HV00N (fdw_unable_to_establish_connection,
  the class postgres_fdw uses), naming the source; other sessions and other
  statements are not affected;
- a failed transaction: 25P02, as Postgres would say.

Origin tables in a federated read are read from the mirror after the same
privilege/identity check as a mirror read; if the mirror (or a source's copy) is
older than the allowed staleness, or the session wrote since, the whole query
reads live instead (``Route.live_sql``: source scanners and the origin itself).
"""

from __future__ import annotations

import dataclasses
import logging
import time

from .errors import PgError
from .wire import codes as c
from .wire.messages import Field

log = logging.getLogger(__name__)

UNAVAILABLE = "HV00N"
UNDEFINED_TABLE = "42P01"
IN_FAILED_TRANSACTION = "25P02"

# Postgres type names of Route.columns -> (OID, typlen)
TYPES = {"bool": (16, 1), "bytea": (17, -1), "int8": (20, 8), "int2": (21, 2), "int4": (23, 4),
         "text": (25, -1), "json": (114, -1), "float4": (700, 4), "float8": (701, 8),
         "bpchar": (1042, -1), "varchar": (1043, -1), "date": (1082, 4), "time": (1083, 8),
         "timestamp": (1114, 8), "timestamptz": (1184, 8), "interval": (1186, 16),
         "numeric": (1700, -1), "uuid": (2950, 16), "jsonb": (3802, -1), "unknown": (25, -1)}


def refusal(fed, route) -> PgError:
    """The error for a federation route the planner refused."""
    down = [s for s in sorted(route.sources) if fed is not None and not fed.states[s].up] \
        if fed is not None else []
    if down:
        st = fed.states[down[0]]
        return PgError(f'source "{down[0]}" is unavailable: {st.error or "not connected"}', sqlstate=UNAVAILABLE)
    if route.reason == "source_table_unknown":
        return PgError(route.detail, sqlstate=UNDEFINED_TABLE)
    return PgError(f"pgaccel cannot run this query across sources ({route.reason}): {route.detail}",
                   sqlstate=c.FEATURE_NOT_SUPPORTED,
                   hint="A query naming a source table runs in DuckDB; see EXPLAIN (ROUTE).")


def fields_for(route, formats=()) -> tuple[Field, ...]:
    out = []
    for i, (name, pgtype) in enumerate(route.columns):
        oid, size = TYPES.get(pgtype, (0, 0))
        if not oid:
            raise PgError(f"pgaccel cannot describe column {name!r} of type {pgtype} across sources",
                          sqlstate=c.FEATURE_NOT_SUPPORTED)
        fmt = formats[0] if len(formats) == 1 else (formats[i] if formats else 0)
        out.append(Field(name, 0, 0, oid, size, -1, fmt))
    return tuple(out)


def param_oids(route, declared=()) -> tuple[int, ...]:
    """ParameterDescription: what the client declared, else what the planner assumed."""
    out = []
    for i, p in enumerate(route.params):
        d = declared[i] if i < len(declared) else 0
        out.append(d or TYPES.get(p, (25, 0))[0])
    return tuple(out)


async def relisted(ex, s, sql: str, route):
    """A route refused for a table or column the source may have gained since it was
    listed: list the source again (rate-limited) and decide again."""
    fed = ex.server.federation
    if route.sql is None and fed is not None:
        changed = []
        if route.reason in ("source_table_unknown", "unresolved_column"):
            changed = [await ex.server.duck.run(fed.relist, src) for src in sorted(route.sources)]
        if route.reason in ("table_not_mirrored", "unresolved_column") and fed.origin_alias \
                and time.time() - fed.origin_listed_at > 5.0:
            before = fed.version
            await ex.server.duck.run(fed.list_origin)
            changed.append(fed.version != before)
        if any(changed):
            return s.decide(sql)
    return route


async def prepare(ex, s, sql: str, route, extended: bool):
    """Checks before running; returns the route to run (``sql`` set to what runs)."""
    from .executor import Fallback

    fed = ex.server.federation
    if s.status == c.TX_FAILED:
        raise PgError("current transaction is aborted, commands ignored until end of transaction block",
                      sqlstate=IN_FAILED_TRANSACTION)
    if s.settings_dirty:
        await ex._refresh_settings(s, extended)
    route = s.decide(sql)
    if route.target != "federation":
        raise PgError("the statement no longer reads a source after a settings change; run it again",
                      sqlstate=c.FEATURE_NOT_SUPPORTED)
    route = await relisted(ex, s, sql, route)
    if route.sql is None:
        raise refusal(fed, route)
    from mirror.sources import SourceUnavailable

    user = s.session_vars.get("current_user") or s.user
    for src in sorted(route.sources):
        allowed_roles = fed.states[src].cfg.roles
        if allowed_roles and user not in allowed_roles:
            raise PgError(f'permission denied for source "{src}"', sqlstate="42501")
    live = False
    if route.tables:
        try:
            await ex.check_tables(s, route.tables, extended)
        except Fallback as f:
            if f.reason == "no_privilege":
                raise PgError("permission denied: the role may not read every origin table of this query",
                              sqlstate="42501")
            raise PgError(f"an origin table of this query changed since it was mirrored: {f.detail}",
                          sqlstate=c.FEATURE_NOT_SUPPORTED)
        mirror = ex.server.mirror
        mirrored = frozenset(t for t in route.tables if mirror is not None and mirror.catalog.get(*t) is not None)
        try:
            if mirrored:
                ex.check_freshness(s, dataclasses.replace(route, tables=mirrored))
        except Fallback as f:
            log.debug("session %d: origin tables read live (%s: %s)", s.id, f.reason, f.detail)
            live = True
    allowed = ex.allowed_staleness(s)
    now = time.time()
    for src in route.sources:
        st = fed.states[src]
        if st.copies and any(now - at > allowed for at, _, _ in st.copies.values()):
            live = True
    for src in sorted(route.sources):
        try:
            fed.check_up(src, copies_ok=not live)
        except SourceUnavailable as e:
            raise PgError(str(e), sqlstate=UNAVAILABLE)
    if live:
        if route.live_sql is None or (route.tables and not fed.origin_alias):
            raise PgError("an origin table in this query is staler in the mirror than allowed, and the "
                          "origin cannot be read live here", sqlstate=c.FEATURE_NOT_SUPPORTED)
        return dataclasses.replace(route, sql=route.live_sql)
    return route


def run_error(fed, route, msg: str) -> PgError:
    """A DuckDB error while running a federated query, as the client's error."""
    for src in sorted(route.sources):
        st = fed.states[src]
        if st.cfg.kind in ("postgres", "mysql"):
            problem = fed.ping(src)
            if problem is not None:
                fed.mark_down(src, problem)
                return PgError(f'source "{src}" is unavailable: {problem}', sqlstate=UNAVAILABLE)
    low = msg.lower()
    if "division by zero" in low:
        return PgError("division by zero", sqlstate="22012")
    if "out of range" in low or "overflow" in low:
        return PgError(f"value out of range: {msg}", sqlstate="22003")
    if "conversion error" in low or "could not convert" in low:
        return PgError(f"invalid input: {msg}", sqlstate="22P02")
    return PgError(f"query across sources failed: {msg}", sqlstate=c.INTERNAL_ERROR)
