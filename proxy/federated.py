"""Answering a "federation" route: a read that names a source table (mirror/sources.py).

The origin cannot run such a statement (it does not know the sources), but it can
parse and describe its *shadow* (``Route.shadow``: each source table replaced by an
empty subquery with the same column names and Postgres types), so the client gets
Postgres's own RowDescription, ParameterDescription and parse errors. The query runs
once in DuckDB. There is no fallback: what cannot run gets an error, with a SQLSTATE
a Postgres client expects:

- an error Postgres itself raises (an unknown function, a type mismatch, an ambiguous
  column ...): the origin's own error, from parsing the *shadow* of the statement;
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

log = logging.getLogger(__name__)

UNAVAILABLE = "HV00N"
UNDEFINED_TABLE = "42P01"
IN_FAILED_TRANSACTION = "25P02"


class OriginRejected(PgError):
    """The origin's own error for a statement it parsed or described (the shadow of a
    federated read): sent to the client with the origin's fields, minus the position
    (which points into the shadow text). In the extended protocol the origin now
    discards messages until Sync."""

    def __init__(self, err) -> None:
        super().__init__(err.message or "error", sqlstate=err.sqlstate)
        self.fields = tuple((k, v) for k, v in err.fields if k not in ("P", "q"))

    def response(self):
        from .wire.messages import ErrorResponse

        return ErrorResponse(self.fields)


async def describe(ex, s, route, param_types=(), extended: bool = False):
    """(parameter OIDs, RowDescription fields or None) of a federated read: the origin
    parses and describes ``route.shadow`` (source tables as empty typed subqueries), so
    names, type OIDs, typmods and errors are Postgres's own. Memoised like mirror reads."""
    from .wire.framing import frame
    from .wire.messages import Close, Describe, Parse, decode_backend

    key = ("federation", route.shadow, tuple(param_types), s.session_vars.get("search_path"),
           ex.server.catalog.version)
    hit = ex.describe_memo.get(key)
    if hit is not None:
        return hit
    data = (Parse("pgaccel_fed", route.shadow, tuple(param_types)).encode() +
            Describe(b"S", "pgaccel_fed").encode() + Close(b"S", "pgaccel_fed").encode())
    s.upstream.writer.write(data + frame(c.F_FLUSH if extended else c.F_SYNC, b""))
    ptypes, fields, err = (), None, None
    while True:
        t, body = await s.origin_frame()
        if t == c.B_PARAMETER_DESCRIPTION:
            ptypes = decode_backend(t, body).type_oids
        elif t == c.B_ROW_DESCRIPTION:
            fields = decode_backend(t, body).fields
        elif t == c.B_ERROR:
            err = decode_backend(t, body)
            if extended:
                break                   # the origin skips the rest until the client's Sync
        elif t == c.B_CLOSE_COMPLETE and extended:
            break
        elif t == c.B_READY_FOR_QUERY:
            s.status = body[:1]
            break
    if err is not None:
        raise OriginRejected(err)
    if len(ex.describe_memo) > 10000:
        ex.describe_memo.clear()
    ex.describe_memo[key] = (tuple(ptypes), fields)
    return ex.describe_memo[key]


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
    if route.tables and s.status == c.TX_IN_BLOCK:
        # origin tables read outside the transaction: only what a READ COMMITTED statement
        # of a transaction that has not written would see anyway
        q = "SELECT current_setting('transaction_isolation'), pg_current_xact_id_if_assigned() IS NULL"
        iso, clean = (await (ex._internal_extended(s, q) if extended else s.internal_query(q)))[0]
        if iso != "read committed" or clean != "t":
            why = f"its isolation is {iso}" if iso != "read committed" else "it has written"
            raise PgError(f"pgaccel cannot run a query across sources that reads origin tables in this "
                          f"transaction: {why}", sqlstate=c.FEATURE_NOT_SUPPORTED,
                          hint="Run it outside the transaction, or before the transaction's first write.")
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
        st = fed.states[src]
        if st.cfg.kind == "mysql" and (live or not st.copies):
            await ex.server.duck.run(fed.probe, src, 0.0)
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
    if "division by zero" in msg.lower():
        return PgError("division by zero", sqlstate="22012")     # the planner's guard: Postgres raises it too
    # Anything else DuckDB raises (an overflow Postgres' wider arithmetic would not hit, a
    # guard on non-ASCII case mapping, ...): a mirror read would fall back to the origin
    # here; across sources there is no fallback, so it is a refusal, not a Postgres error.
    return PgError(f"pgaccel cannot compute this query across sources: {msg}",
                   sqlstate=c.FEATURE_NOT_SUPPORTED)
