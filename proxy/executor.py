"""Carrying out a Route that pgaccel answers itself (admin statements, mirror
reads), and falling back to the origin when the mirror cannot answer.

Runs only while the session is in LOCAL mode (the origin's answers are
captured, see session.py). The contract: a statement is executed exactly once
— on the mirror, or, when anything stops the mirror before the first row is
sent (DuckDB error, a column type the encoder cannot render identically, no
privilege, settings changed the route), on the origin.

For a mirror read the origin still does the cheap part: it parses and
describes the statement (so names, type OIDs, typmods, parameter types and
syntax errors are exactly Postgres's) and answers ``has_table_privilege``.
DuckDB does the expensive part: scanning and aggregating.
"""

from __future__ import annotations

import itertools
import logging
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass

from . import admin
from .errors import PgError
from .federated import OriginRejected
from .observe import STATS, StatementEvent
from .session import LocalPortal, Statement, _cstr_at
from .wire import codes as c
from .wire.framing import frame
from .wire.messages import (BindComplete, CloseComplete, CommandComplete, NoData,
                            ParameterDescription, ParseComplete, PortalSuspended, ReadyForQuery,
                            RowDescription, decode_backend, decode_frontend, Field)

log = logging.getLogger(__name__)

ROWS_PER_BATCH = 2048
_BIND_COMPLETE = BindComplete().encode()
# Postgres type names the planner uses for parameters -> OIDs (ParameterDescription)
_TYPE_OIDS = {"bool": 16, "bytea": 17, "name": 19, "int8": 20, "int2": 21, "int4": 23, "text": 25,
              "oid": 26, "json": 114, "float4": 700, "float8": 701, "unknown": 705, "bpchar": 1042,
              "varchar": 1043, "date": 1082, "time": 1083, "timestamp": 1114, "timestamptz": 1184,
              "interval": 1186, "numeric": 1700, "uuid": 2950, "jsonb": 3802}
_ABORT = frame(c.F_EXECUTE, b"pgaccel_abort_implicit_tx\0\0\0\0\0")


class Fallback(Exception):
    """The mirror cannot answer this one; run it on the origin. Carries a reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Execution:
    """A running mirror query: the DuckDB reader and the encoders."""

    reader: object
    encoders: list
    cursor: object
    pending: object = None   # next RecordBatch to send (prefetched, or left over after a row limit)
    pending_data: bytes | None = None   # the DataRows of ``pending`` when already encoded
    rows: int = 0
    exhausted: bool = False
    timed_out: bool = False  # the session's statement_timeout fired while this ran

    def cancel(self) -> None:
        try:
            self.cursor.interrupt()
        except Exception:
            pass


class Executor:
    def __init__(self, server) -> None:
        self.server = server
        self.describe_memo: dict[tuple, tuple] = {}
        self.freshness = None

    async def start(self) -> None:
        eng = self.server.mirror
        self.freshness = getattr(eng, "freshness", None) if eng is not None else None

    def stop(self) -> None:
        self.freshness = None

    def forget_descriptions(self) -> None:
        self.describe_memo.clear()

    # ------------------------------------------------------------------ checks shared by both protocols

    async def _refresh_settings(self, s, extended: bool) -> None:
        sql = ("SELECT current_setting('search_path'), current_setting('extra_float_digits'), "
               "current_user, array_to_string(current_schemas(false), ','), "
               "(SELECT count(*) FROM unnest(current_schemas(true)) x WHERE x::text LIKE 'pg_temp%'), "
               "current_setting('bytea_output'), current_setting('lc_monetary'), current_setting('lc_numeric'), "
               "current_setting('lc_time'), current_setting('statement_timeout')")
        rows = await (self._internal_extended(s, sql) if extended else s.internal_query(sql))
        sp, efd, user, schemas, ntemp, bytea, lcm, lcn, lct, timeout = rows[0]
        s.session_vars["statement_timeout_s"] = _pg_duration(timeout)
        sv = s.session_vars
        sv["search_path"] = sp
        sv["extra_float_digits"] = efd
        sv["current_user"] = user
        sv["search_path_list"] = tuple(x for x in schemas.split(",") if x) if schemas else ()
        sv["has_temp"] = ntemp != "0"
        sv["bytea_output"] = bytea
        sv["lc_monetary"], sv["lc_numeric"], sv["lc_time"] = lcm, lcn, lct
        s.settings_dirty = False
        s.ctx_cache = None

    async def _internal_extended(self, s, sql: str) -> list[tuple]:
        """Run a query that cannot fail without ending the client's implicit transaction
        and without touching its unnamed statement or portal."""
        from .wire.messages import Bind, Close, Execute, Parse

        data = (Parse("pgaccel_s", sql).encode() + Bind("pgaccel_p", "pgaccel_s").encode() +
                Execute("pgaccel_p").encode() + Close(b"P", "pgaccel_p").encode() +
                Close(b"S", "pgaccel_s").encode())
        s.upstream.writer.write(data + frame(c.F_FLUSH, b""))
        rows, closes = [], 0
        while closes < 2:
            t, body = await s.origin_frame()
            if t == c.B_DATA_ROW:
                m = decode_backend(t, body)
                rows.append(tuple(None if v is None else v.decode() for v in m.values))
            elif t == c.B_CLOSE_COMPLETE:
                closes += 1
            elif t == c.B_ERROR:
                err = decode_backend(t, body)
                raise PgError(err.message or "internal query failed", sqlstate=err.sqlstate)
        return rows

    async def _check_route(self, s, sql: str, extended: bool):
        """Re-decide with fresh settings; check privileges and freshness. Returns the
        route to use for the mirror, or raises Fallback."""
        if s.settings_dirty:
            await self._refresh_settings(s, extended)
        route = s.decide(sql)
        if route.target != "mirror":
            raise Fallback(route.reason, route.detail)
        if s.session_vars.get("pgaccel.mirror", "on").lower() in ("off", "false", "0"):
            raise Fallback("mirror_disabled_for_session")
        self.check_freshness(s, route)
        if route.tables:
            await self.check_tables(s, route.tables, extended)
        return route

    async def check_tables(self, s, tables, extended: bool) -> None:
        """One round trip: the role may read each table; the name resolves, through the
        session's search_path, to the very table the mirror copied (same OID: not
        dropped and re-created, not shadowed by an unmirrored table earlier in the path).
        Raises Fallback."""
        cat = self.server.catalog
        lookup = getattr(cat, "origin_table", cat.get)   # federation: origin tables read live too
        checks = []
        for sc, t in sorted(tables):
            mt = lookup(sc, t)
            oid = mt.table_oid if mt is not None else 0
            q, bare = _lit(_qual(sc, t)), _lit('"' + t.replace('"', '""') + '"')
            checks.append(f"coalesce(has_table_privilege(to_regclass({q}), 'SELECT'), false)")
            checks.append(f"coalesce(to_regclass({q})::oid = {oid} AND "
                          f"coalesce(to_regclass({bare})::oid, {oid}) = {oid}, false)")
        q = "SELECT " + ", ".join(checks)
        rows = await (self._internal_extended(s, q) if extended else s.internal_query(q))
        vals = rows[0]
        if not all(v == "t" for v in vals[0::2]):
            raise Fallback("no_privilege", "the role may not read every table from the mirror")
        if self.server.result_cache is not None:
            self.server.result_cache.note_privileges(s, tables, True)
        if not all(v == "t" for v in vals[1::2]):
            raise Fallback("table_changed", "a table name resolves to another table than the mirror's")

    def allowed_staleness(self, s) -> float:
        from .config import parse_duration

        allowed = self.server.config.mirror.max_staleness
        v = s.session_vars.get("pgaccel.max_staleness")
        if v is not None:
            allowed = parse_duration(v)
        return float("inf") if allowed < 0 else allowed

    def check_freshness(self, s, route) -> None:
        allowed = self.allowed_staleness(s)
        tr = self.freshness
        now = time.time()
        for sc, t in route.tables:
            if tr is not None:
                lag = tr.lag_seconds(sc, t)
            else:
                tab = self.server.mirror.catalog.get(sc, t)
                lag = now - tab.synced_at if tab is not None else float("inf")
            # read your writes: the mirror must be verified as of a moment after this
            # session's last committed write (a poll starting later sees that commit)
            if now - lag < s.last_write_at:
                raise Fallback("read_your_writes", f"{sc}.{t} not yet verified past this session's last write")
            if lag > allowed:
                if lag == float("inf"):
                    raise Fallback("mirror_stale", f"{sc}.{t} has changes on the origin the mirror lacks")
                raise Fallback("mirror_stale", f"{sc}.{t} lags {lag:.1f}s, allowed {allowed:g}s")

    def _settings(self, s):
        from proxy.wire.values import OutputSettings

        ctx = s.context()
        return OutputSettings(timezone=ctx.timezone, datestyle=ctx.datestyle,
                              intervalstyle=ctx.intervalstyle,
                              extra_float_digits=ctx.extra_float_digits,
                              bytea_output=s.session_vars.get("bytea_output", "hex"))

    # ------------------------------------------------------------------ DuckDB execution

    def _cursor(self, s):
        if s.mirror_cursor is None:
            cur = self.server.duck.cursor()
            _install_functions(cur)
            s.mirror_cursor = cur
            s.mirror_tz = None
            s.mirror_prepared = OrderedDict()
        return s.mirror_cursor

    async def _start(self, s, route, params, fields, formats) -> Execution:
        from proxy.wire.values import column_encoder

        cur = self._cursor(s)
        ctx = s.context()
        settings = self._settings(s)

        def run():
            if s.mirror_tz != ctx.timezone:
                cur.execute(f"SET TimeZone = {_lit(ctx.timezone)}")
                s.mirror_tz = ctx.timezone
            if params or route.target != "mirror":
                # federated SQL reads other sources: DuckDB binds their file lists and
                # schemas when it plans, so it is planned afresh every time
                cur.execute(route.sql, list(params) if params else None)
            else:
                _execute_prepared(cur, s.mirror_prepared, route.sql, ctx.timezone)
            if route.runtime_checks:
                # a guard may fire on any row: run to completion before answering
                reader = cur.to_arrow_table().to_reader(ROWS_PER_BATCH)
            else:
                reader = cur.to_arrow_reader(ROWS_PER_BATCH)
            # the first two batches in the same worker-thread hop: a result of one batch
            # (most analytic answers) needs no further hop to learn that it has ended
            first = _next_batch(reader)
            second = _next_batch(reader) if first is not None else None
            if second is not None:
                import pyarrow as pa

                first = pa.concat_batches([first, second])
            return reader, first, second is None

        handle = Execution(None, [], cur)
        s.executing_local = handle
        timer = _arm_timeout(s, handle)
        try:
            reader, first, exhausted = await self.server.duck.run(run)
        except Exception as e:
            msg = str(e).split("\n")[0][:300]
            if "INTERRUPT" in msg.upper():
                raise _canceled(handle)
            raise Fallback("mirror_error", msg)
        finally:
            s.executing_local = None
            if timer is not None:
                timer.cancel()
        schema = reader.schema
        if fields is None or len(schema) != len(fields):
            raise Fallback("result_shape_differs",
                           f"mirror returned {len(schema)} columns, origin describes "
                           f"{0 if fields is None else len(fields)}")
        encoders = []
        for i, f in enumerate(fields):
            fmt = formats[0] if len(formats) == 1 else (formats[i] if formats else 0)
            enc = column_encoder(f.type_oid, f.type_modifier, fmt, schema.field(i).type, settings)
            if enc is None:
                raise Fallback("type_not_encodable",
                               f"column {f.name}: {schema.field(i).type} as type {f.type_oid}")
            encoders.append(enc)
        handle.reader, handle.encoders = reader, encoders
        # encode the first batch now (once: _stream sends these bytes): an EncodeError
        # here still falls back cleanly
        if first is not None:
            from proxy.wire.values import EncodeError, encode_data_rows

            try:
                handle.pending_data = encode_data_rows(first, encoders)
            except EncodeError as e:
                raise Fallback("value_not_encodable", str(e)[:200])
        handle.pending = first
        handle.exhausted = exhausted
        return handle

    async def _stream(self, s, ex: Execution, max_rows: int, sink=None) -> bool:
        """Send DataRows; True when the result is exhausted, False when suspended.
        ``sink``: a caching.Capture that also gets every byte sent."""
        timer = _arm_timeout(s, ex)
        try:
            return await self._stream_rows(s, ex, max_rows, sink)
        finally:
            if timer is not None:
                timer.cancel()

    async def _stream_rows(self, s, ex: Execution, max_rows: int, sink) -> bool:
        from proxy.wire.values import encode_data_rows

        w = s.writer
        sent = 0
        loop_run = self.server.duck.run
        while True:
            if ex.timed_out:
                raise _canceled(ex)
            batch, data = ex.pending, ex.pending_data
            ex.pending = ex.pending_data = None
            if batch is None and ex.exhausted:
                return True
            if batch is None:
                s.executing_local = ex
                try:
                    batch = await loop_run(_next_batch, ex.reader)
                except Exception as e:
                    msg = str(e).split("\n")[0]
                    if "INTERRUPT" in msg.upper():
                        raise _canceled(ex)
                    raise PgError(f"mirror query failed: {msg}", sqlstate=c.INTERNAL_ERROR)
                finally:
                    s.executing_local = None
                if batch is None:
                    return True
            if max_rows and sent + batch.num_rows > max_rows:
                take = max_rows - sent
                ex.pending = batch.slice(take)
                batch, data = batch.slice(0, take), None
            if batch.num_rows:
                try:
                    if data is None:
                        data = encode_data_rows(batch, ex.encoders)
                except Exception as e:
                    raise PgError(f"pgaccel could not encode a mirror result value: {e}",
                                  sqlstate=c.INTERNAL_ERROR)
                w.write(data)
                if sink is not None:
                    sink.add(data)
                sent += batch.num_rows
                ex.rows += batch.num_rows
                if w.transport.get_write_buffer_size() > 262144:
                    await s.drain_client()
            if max_rows and sent >= max_rows:
                if ex.pending is None:
                    nxt = await loop_run(_next_batch, ex.reader)
                    if nxt is None:
                        ex.exhausted = True
                        return True
                    ex.pending = nxt
                return False

    # ------------------------------------------------------------------ simple protocol

    async def run_simple(self, s, sql: str, route) -> bool:
        """Answer a simple Query from the result cache or the mirror. False: relay it to
        the origin instead."""
        rc = self.server.result_cache
        kc = None
        if rc is not None and s.status == c.TX_IDLE and \
                s.session_vars.get("pgaccel.cache", "on").lower() not in ("off", "false", "0", "no"):
            if s.settings_dirty:
                await self._refresh_settings(s, extended=False)
            if s.decide(sql).target == "mirror" and rc.usable(s):
                kc = rc.key_for(s, sql)
        if kc is not None:
            key = kc[0]
            probed, s.cache_probe = s.cache_probe == key, None
            r = None if probed else rc.lookup(s, key)
            if r is not None:
                self._send_hit(s, r, sql)
                return True
            if key in rc.flight:
                payload = await self._join(s, rc, key)
                if payload is not None:
                    self._send_joined(s, payload, sql)
                    return True
            state = {"fallback": None}
            ran_here, payload = await self._single_flight(
                rc, s, key, lambda: self._simple_on_mirror(s, sql, kc, state))
            if ran_here:
                if state["fallback"] is not None:
                    s.fallback_reason = state["fallback"]
                    return False
                return True
            if payload is not None:
                rc.counts["joined"] += 1
                self._send_joined(s, payload, sql)
                return True
            kc = None
        state = {"mine": True, "fallback": None}
        await self._simple_on_mirror(s, sql, kc, state)
        if state["fallback"] is not None:
            s.fallback_reason = state["fallback"]
            return False
        return True

    @staticmethod
    async def _single_flight(rc, s, key, compute) -> tuple[bool, bytes | None]:
        """Run ``compute`` once for every session asking for ``key`` at the same time.
        Returns (ran_here, payload): ran_here when this session computed it (its errors
        propagate); otherwise the payload another session computed, or None if that failed."""
        ran = False

        async def mine():
            nonlocal ran
            ran = True
            return await compute()
        try:
            payload = await rc.flight.run(key, mine, not_before=rc.not_before(s))
        except Exception:
            if ran:
                raise
            return False, None
        return ran, payload

    def _send_joined(self, s, payload: bytes, sql: str) -> None:
        s.cache_answered = True
        s.writer.write(payload + ReadyForQuery(s.status).encode())
        STATS.statement(StatementEvent(s.id, "cache", "cache_joined", 0.0, sql[:200]))

    def _send_hit(self, s, r, sql: str) -> None:
        s.cache_answered = True
        s.writer.write(r.entry.payload + ReadyForQuery(s.status).encode())
        STATS.statement(StatementEvent(s.id, "cache", "cache_hit" if r.state == "fresh" else "cache_stale_hit",
                                       0.0, sql[:200], rows=r.entry.rows))

    async def _join(self, s, rc, key):
        """Wait for another session's computation of ``key``; its payload or None."""
        try:
            payload = await rc.flight.run(key, _none, not_before=rc.not_before(s))
        except Exception:
            return None
        if payload is not None:
            rc.counts["joined"] += 1
        return payload

    async def _simple_on_mirror(self, s, sql: str, kc, state) -> bytes | None:
        """The mirror answers (and, with ``kc``, the answer is stored). Sets
        state["fallback"] when the origin must answer instead; returns the payload."""
        from .caching import Capture, Recipe

        rc = self.server.result_cache
        try:
            route = await self._check_route(s, sql, extended=False)
            fields = await self._describe_simple(s, sql)
            ticket = rc.ticket(route) if kc is not None else None
            ex = await self._start(s, route, (), fields, ())
        except Fallback as f:
            state["fallback"] = f.reason
            STATS.counters["mirror_fallbacks"] += 1
            log.debug("session %d: mirror fallback (%s: %s) for %s", s.id, f.reason, f.detail, sql[:120])
            return None
        w = s.writer
        sink = Capture(rc.cfg.max_entry_bytes) if kc is not None else None
        head = RowDescription(fields).encode()
        w.write(head)
        if sink is not None:
            sink.add(head)
        try:
            await self._stream(s, ex, 0, sink)
        except PgError as e:
            w.write(e.response().encode())
            w.write(ReadyForQuery(s.status).encode())
            return None
        tail = CommandComplete(f"SELECT {ex.rows}").encode()
        w.write(tail)
        w.write(ReadyForQuery(s.status).encode())
        STATS.counters["mirror_rows"] += ex.rows
        if sink is None:
            return None
        sink.add(tail)
        payload = sink.payload()
        rc.store(s, kc[0], kc[1], payload, ticket, ex.rows, sql,
                 Recipe(sql, route, (), tuple(fields), (), self._settings(s), s.context().timezone))
        return payload

    async def _describe_simple(self, s, sql: str):
        key = (sql, s.session_vars.get("search_path"), self.server.catalog.version)
        hit = self.describe_memo.get(key)
        if hit is not None:
            return hit
        from .wire.messages import Describe, Parse, Sync

        s.upstream.writer.write(Parse("", sql).encode() + Describe(b"S", "").encode() + Sync().encode())
        fields, err = None, None
        while True:
            t, body = await s.origin_frame()
            if t == c.B_ROW_DESCRIPTION:
                fields = decode_backend(t, body).fields
            elif t == c.B_ERROR:
                err = decode_backend(t, body)
            elif t == c.B_READY_FOR_QUERY:
                s.status = body[:1]
                break
        if err is not None:
            raise Fallback("origin_rejects", err.message or "")
        if fields is None:
            raise Fallback("no_result")
        if len(self.describe_memo) > 10000:
            self.describe_memo.clear()
        self.describe_memo[key] = fields
        return fields

    # ------------------------------------------------------------------ extended protocol

    async def run_batch(self, s, batch: list[tuple[bytes, bytes]]) -> None:
        st = _BatchState()
        for t, fb in batch:
            if st.failed and t != c.F_SYNC:
                continue
            try:
                if t == c.F_PARSE:
                    await self._on_parse(s, st, fb)
                elif t == c.F_BIND:
                    await self._on_bind(s, st, fb)
                elif t == c.F_DESCRIBE:
                    await self._on_describe(s, st, fb)
                elif t == c.F_EXECUTE:
                    await self._on_execute(s, st, fb)
                elif t == c.F_CLOSE:
                    await self._on_close(s, st, fb)
                elif t == c.F_SYNC:
                    await self._on_sync(s, st)
                elif t == c.F_FLUSH:
                    pass
            except PgError as e:
                if e.sqlstate.startswith("08"):
                    raise
                s.writer.write(e.response().encode())
                STATS.errors[e.sqlstate] += 1
                st.failed = True
                if isinstance(e, OriginRejected):
                    st.forwarded = True      # the origin failed it already: its Sync answers
                elif st.forwarded or s.status == c.TX_IN_BLOCK:
                    # make the origin abandon its transaction (implicit, or the client's
                    # block: Postgres fails it on any error), and answer Sync with its status
                    st.forwarded = True
                    await s.origin_roundtrip(_ABORT, until=(), forward=False)

    async def fail_transaction(self, s) -> None:
        """An error pgaccel answered inside the client's transaction block: fail the
        origin's transaction too (as Postgres would), so later statements get 25P02
        until ROLLBACK. Simple protocol: waits for the origin's ReadyForQuery."""
        await s.origin_roundtrip(_ABORT, until=(), forward=False)
        await s.origin_sync()

    async def _forward(self, s, st, fb: bytes, until: tuple[bytes, ...]) -> list:
        st.forwarded = True
        got = await s.origin_roundtrip(fb, until, forward=True)
        if got and got[-1][0] == c.B_ERROR:
            st.failed = True
        return got

    def answer_cached_batch(self, s, batch: list[tuple[bytes, bytes]]) -> bool:
        """The synchronous fast path of an extended-protocol cache hit: a batch of exactly
        Bind, [Describe portal], Execute (no row limit), Sync whose answer is stored and
        servable. Writes BindComplete, [RowDescription], the stored rows, ReadyForQuery and
        returns True; returns False having written nothing otherwise."""
        rc = self.server.result_cache
        if rc is None or s.status != c.TX_IDLE or s.settings_dirty or s.pending or s.unsynced:
            return False
        types = [t for t, _ in batch]
        if types != [c.F_BIND, c.F_EXECUTE, c.F_SYNC] and \
                types != [c.F_BIND, c.F_DESCRIBE, c.F_EXECUTE, c.F_SYNC]:
            return False
        if s.session_vars.get("pgaccel.cache", "on").lower() in ("off", "false", "0", "no"):
            return False
        m = decode_frontend(c.F_BIND, batch[0][1][5:])
        ex = decode_frontend(c.F_EXECUTE, batch[-2][1][5:])
        if ex.portal != m.portal or ex.max_rows:
            return False
        describe = len(batch) == 4
        if describe:
            d = decode_frontend(c.F_DESCRIBE, batch[1][1][5:])
            if d.kind != b"P" or d.name != m.portal:
                return False
        stmt = s.statements.get(m.statement)
        if stmt is None or stmt.local or s.decide_statement(stmt).target != "mirror" or not rc.usable(s):
            return False
        kc = rc.key_for(s, stmt.sql, m.params, m.param_formats, stmt.param_types, m.result_formats)
        if kc is None:
            return False
        r = rc.lookup(s, kc[0])
        if r is None:
            return False
        from .caching import split_payload

        head, body = split_payload(r.entry.payload)
        if not head:
            return False
        s.portals.pop(m.portal, None)
        s.writer.write(b"".join((_BIND_COMPLETE, head if describe else b"", body,
                                 ReadyForQuery(s.status).encode())))
        STATS.statement(StatementEvent(s.id, "cache", "cache_hit" if r.state == "fresh" else "cache_stale_hit",
                                       0.0, stmt.sql[:200], rows=r.entry.rows))
        return True

    async def _on_parse(self, s, st, fb: bytes) -> None:
        m = decode_frontend(c.F_PARSE, fb[5:])
        route = s.decide(m.query)
        if route.target == "federation":
            from . import federated

            if route.sql is None:
                route = await federated.relisted(self, s, m.query, route)
            if route.sql is None:
                raise federated.refusal(self.server.federation, route)
            described = await federated.describe(self, s, route, m.param_types, extended=True)
            if m.statement and m.statement in s.statements:
                raise PgError(f'prepared statement "{m.statement}" already exists', sqlstate="42P05")
            s.statements[m.statement] = Statement(m.query, m.param_types, local=True, described=described)
            s.local_statements += 1
            s.writer.write(ParseComplete().encode())
            return
        if route.target == "admin":
            if m.statement and m.statement in s.statements:
                raise PgError(f'prepared statement "{m.statement}" already exists', sqlstate="42P05")
            s.statements[m.statement] = Statement(m.query, m.param_types, local=True)
            s.local_statements += 1
            s.writer.write(ParseComplete().encode())
            return
        s._track_relayed(c.F_PARSE, fb)
        await self._forward(s, st, fb, (c.B_PARSE_COMPLETE,))
        if st.failed:
            s.statements.pop(m.statement, None)

    async def _on_bind(self, s, st, fb: bytes) -> None:
        m = decode_frontend(c.F_BIND, fb[5:])
        stmt = s.statements.get(m.statement)
        s.portals.pop(m.portal, None)
        if stmt is not None and stmt.local:
            route = s.decide(stmt.sql)
            params = self._federated_params(s, stmt, route, m) if route.target == "federation" else ()
            s.portals[m.portal] = LocalPortal(stmt, route, params, m.result_formats, fb)
            s.writer.write(BindComplete().encode())
            return
        if stmt is not None and not st.wrote and self.server.mirror is not None:
            portal = await self._mirror_portal(s, st, stmt, m, fb)
            if portal is not None:
                s.portals[m.portal] = portal
                s.writer.write(BindComplete().encode())
                return
        if stmt is not None:
            r = s.decide(stmt.sql)
            s._note_origin(r, stmt.sql)
            if r.kind != "read":
                st.wrote = True
        await self._forward(s, st, fb, (c.B_BIND_COMPLETE,))

    async def _mirror_portal(self, s, st, stmt: Statement, m, fb: bytes) -> LocalPortal | None:
        if s.decide(stmt.sql).target != "mirror":
            return None
        from proxy.wire.values import decode_param

        rc = self.server.result_cache
        kc = None
        if rc is not None and s.status == c.TX_IDLE and \
                s.session_vars.get("pgaccel.cache", "on").lower() not in ("off", "false", "0", "no"):
            if s.settings_dirty:
                await self._refresh_settings(s, extended=True)
            if s.decide(stmt.sql).target == "mirror" and rc.usable(s):
                kc = rc.key_for(s, stmt.sql, m.params, m.param_formats, stmt.param_types, m.result_formats)
            if kc is not None:
                r = rc.lookup(s, kc[0])
                if r is not None:
                    from .caching import split_payload

                    head, body = split_payload(r.entry.payload)
                    if head:
                        return LocalPortal(stmt, None, (), m.result_formats, fb, cached=(head, body, r),
                                           cache=kc)

        try:
            route = await self._check_route(s, stmt.sql, extended=True)
            if stmt.described is None:
                stmt.described = await self._describe_statement(s, m.statement)
            ptypes, fields = stmt.described
            if len(m.params) != len(ptypes):
                return None  # the origin produces the right error
            if route.params and not all(_param_ok(_TYPE_OIDS.get(p, -1), o)
                                        for p, o in zip(route.params, ptypes)):
                raise Fallback("parameter_types_differ",
                               f"planned for {route.params}, the origin says {ptypes}")
            from proxy.wire.values import PgInterval

            params = []
            tz = s.context().timezone
            for i, v in enumerate(m.params):
                try:
                    val = decode_param(v, ptypes[i], m.param_format(i), timezone=tz)
                except Exception:
                    raise Fallback("parameter_not_decodable")
                if isinstance(val, PgInterval):
                    raise Fallback("parameter_not_decodable", "interval with months or mixed signs")
                params.append(val)
            if fields is None:
                return None
        except Fallback as f:
            STATS.counters["mirror_fallbacks"] += 1
            log.debug("session %d: mirror fallback at bind (%s: %s)", s.id, f.reason, f.detail)
            return None
        return LocalPortal(stmt, route, tuple(params), m.result_formats, fb, cache=kc)

    async def _describe_statement(self, s, name: str):
        from .wire.messages import Describe

        got = await s.origin_roundtrip(Describe(b"S", name).encode(), (c.B_ROW_DESCRIPTION, c.B_NO_DATA),
                                       forward=False)
        ptypes, fields = (), None
        for t, body in got:
            if t == c.B_PARAMETER_DESCRIPTION:
                ptypes = decode_backend(t, body).type_oids
            elif t == c.B_ROW_DESCRIPTION:
                fields = decode_backend(t, body).fields
            elif t == c.B_ERROR:
                raise Fallback("origin_rejects", decode_backend(t, body).message or "")
        return ptypes, fields

    async def _on_describe(self, s, st, fb: bytes) -> None:
        kind = fb[5:6]
        name, _ = _cstr_at(fb, 6)
        if kind == b"P" and name in s.portals:
            lp = s.portals[name]
            if lp.statement.local and lp.route.target == "federation":
                fields = lp.statement.described[1]
                s.writer.write((RowDescription(_with_formats(fields, lp.result_formats)) if fields is not None
                                else NoData()).encode())
                return
            if lp.statement.local:
                cols = admin.columns_for(lp.route)
                if cols:
                    res = admin.AdminResult(cols, [], "")
                    s.writer.write(RowDescription(res.fields(lp.result_formats)).encode())
                else:
                    s.writer.write(NoData().encode())
                return
            if lp.cached is not None:
                s.writer.write(lp.cached[0])
                return
            fields = lp.statement.described[1]
            s.writer.write(RowDescription(_with_formats(fields, lp.result_formats)).encode())
            return
        stmt = s.statements.get(name) if kind == b"S" else None
        if stmt is not None and stmt.local and s.decide(stmt.sql).target == "federation":
            from . import federated

            route = s.decide(stmt.sql)
            if route.sql is None:
                raise federated.refusal(self.server.federation, route)
            ptypes, fields = stmt.described
            s.writer.write(ParameterDescription(ptypes).encode())
            s.writer.write((RowDescription(fields) if fields is not None else NoData()).encode())
            return
        if stmt is not None and stmt.local:
            route = s.decide(stmt.sql)
            s.writer.write(ParameterDescription(tuple(stmt.param_types)).encode())
            cols = admin.columns_for(route)
            if cols:
                s.writer.write(RowDescription(admin.AdminResult(cols, [], "").fields()).encode())
            else:
                s.writer.write(NoData().encode())
            return
        await self._forward(s, st, fb, (c.B_ROW_DESCRIPTION, c.B_NO_DATA))

    async def _on_execute(self, s, st, fb: bytes) -> None:
        name, p = _cstr_at(fb, 5)
        max_rows = struct.unpack_from("!i", fb, p)[0]
        lp = s.portals.get(name)
        if lp is None:
            await self._forward(s, st, fb, (c.B_COMMAND_COMPLETE, c.B_EMPTY_QUERY, c.B_PORTAL_SUSPENDED))
            return
        t0 = time.perf_counter()
        if lp.statement.local and lp.route.target == "federation":
            await self._execute_federated(s, lp, max_rows, t0)
            return
        if lp.statement.local:
            if lp.done:
                s.writer.write(CommandComplete("SELECT 0").encode())
                return
            res = admin.run(s, lp.statement.sql, lp.route)
            s.writer.write(res.data_rows())
            s.writer.write(CommandComplete(res.tag).encode())
            lp.done = True
            STATS.statement(StatementEvent(s.id, "admin", lp.route.reason,
                                           (time.perf_counter() - t0) * 1000, lp.statement.sql[:200]))
            return
        if lp.done:
            s.writer.write(CommandComplete("SELECT 0").encode())
            return
        if lp.cached is not None:
            head, body, r = lp.cached
            if not max_rows:
                s.writer.write(body)
                lp.done = True
                STATS.statement(StatementEvent(s.id, "cache", "cache_hit" if r.state == "fresh" else
                                               "cache_stale_hit", (time.perf_counter() - t0) * 1000,
                                               lp.statement.sql[:200], rows=r.entry.rows))
                return
            # a cached portal read in row-limited chunks: the origin runs it
            await self._portal_to_origin(s, st, lp, name, fb, t0, "cache_row_limit")
            return
        rc = self.server.result_cache
        if lp.execution is None and lp.cache is not None and not max_rows and rc is not None:
            ran_here, payload = await self._single_flight(
                rc, s, lp.cache[0],
                lambda: self._execute_on_mirror(s, st, lp, name, fb, max_rows, t0, capture=True))
            if ran_here:
                return
            if payload is not None:
                from .caching import split_payload

                rc.counts["joined"] += 1
                s.writer.write(split_payload(payload)[1])
                lp.done = True
                STATS.statement(StatementEvent(s.id, "cache", "cache_joined",
                                               (time.perf_counter() - t0) * 1000, lp.statement.sql[:200]))
                return
        await self._execute_on_mirror(s, st, lp, name, fb, max_rows, t0, capture=False)

    async def _portal_to_origin(self, s, st, lp, name: str, fb: bytes, t0: float, reason: str) -> None:
        """Create the portal on the origin (swallowing its BindComplete) and run it there."""
        s.portals.pop(name, None)
        st.forwarded = True
        got = await s.origin_roundtrip(lp.bind_frame, (c.B_BIND_COMPLETE,), forward=False)
        if got and got[-1][0] == c.B_ERROR:
            s.writer.write(frame(*got[-1]))
            st.failed = True
            return
        await self._forward(s, st, fb, (c.B_COMMAND_COMPLETE, c.B_EMPTY_QUERY, c.B_PORTAL_SUSPENDED))
        STATS.statement(StatementEvent(s.id, "origin", reason,
                                       (time.perf_counter() - t0) * 1000, lp.statement.sql[:200]))

    async def _execute_on_mirror(self, s, st, lp, name: str, fb: bytes, max_rows: int, t0: float,
                                 capture: bool) -> bytes | None:
        """Run (or resume) a mirror portal; with ``capture`` store the whole result. The
        payload when stored, else None."""
        rc = self.server.result_cache
        sink = ticket = None
        if lp.execution is None:
            try:
                if capture:
                    ticket = rc.ticket(lp.route)
                lp.execution = await self._start(s, lp.route, lp.params, lp.statement.described[1],
                                                 lp.result_formats)
            except Fallback as f:
                STATS.counters["mirror_fallbacks"] += 1
                log.debug("session %d: mirror fallback at execute (%s: %s)", s.id, f.reason, f.detail)
                await self._portal_to_origin(s, st, lp, name, fb, t0, f.reason)
                return None
            if capture:
                from .caching import Capture

                sink = Capture(rc.cfg.max_entry_bytes)
                sink.add(RowDescription(_with_formats(lp.statement.described[1], lp.result_formats)).encode())
        done = await self._stream(s, lp.execution, max_rows, sink)
        if done:
            tail = CommandComplete(f"SELECT {lp.execution.rows}").encode()
            s.writer.write(tail)
            STATS.counters["mirror_rows"] += lp.execution.rows
            lp.done = True
            STATS.statement(StatementEvent(s.id, "mirror", lp.route.reason,
                                           (time.perf_counter() - t0) * 1000, lp.statement.sql[:200],
                                           rows=lp.execution.rows))
            if sink is not None:
                from .caching import Recipe

                sink.add(tail)
                payload = sink.payload()
                fields = _with_formats(lp.statement.described[1], lp.result_formats)
                rc.store(s, lp.cache[0], lp.cache[1], payload, ticket, lp.execution.rows, lp.statement.sql,
                         Recipe(lp.statement.sql, lp.route, lp.params, tuple(fields), tuple(lp.result_formats),
                                self._settings(s), s.context().timezone))
                return payload
        else:
            s.writer.write(PortalSuspended().encode())
        return None

    # ------------------------------------------------------------------ federation (proxy/federated.py)

    async def run_federated_simple(self, s, sql: str, route) -> None:
        from . import federated

        route = await federated.prepare(self, s, sql, route, extended=False)
        _, fields = await federated.describe(self, s, route)
        if fields is None:
            raise PgError("pgaccel: the statement returns no rows", sqlstate=c.FEATURE_NOT_SUPPORTED)
        ex = await self._start_federated(s, route, (), fields, ())
        s.writer.write(RowDescription(fields).encode())
        await self._stream(s, ex, 0)
        s.writer.write(CommandComplete(f"SELECT {ex.rows}").encode())
        s.writer.write(ReadyForQuery(s.status).encode())
        STATS.counters["federation_rows"] += ex.rows

    async def _start_federated(self, s, route, params, fields, formats) -> Execution:
        from . import federated

        try:
            return await self._start(s, route, params, fields, formats)
        except Fallback as f:
            if f.reason == "mirror_error":
                raise await self.server.duck.run(federated.run_error, self.server.federation, route, f.detail)
            raise PgError(f"pgaccel cannot send this result across sources ({f.reason}): {f.detail}",
                          sqlstate=c.FEATURE_NOT_SUPPORTED)

    def _federated_params(self, s, stmt: Statement, route, m) -> tuple:
        from proxy.wire.values import decode_param

        from . import federated

        if route.sql is None:
            raise federated.refusal(self.server.federation, route)
        oids = stmt.described[0]         # the origin's ParameterDescription of the shadow (at Parse)
        want = len(oids)
        if len(m.params) != want:
            raise PgError(f"bind message supplies {len(m.params)} parameters, but prepared statement "
                          f"\"{m.statement}\" requires {want}", sqlstate=c.PROTOCOL_VIOLATION)
        tz = s.context().timezone
        out = []
        for i, v in enumerate(m.params):
            try:
                out.append(decode_param(v, oids[i], m.param_format(i), timezone=tz))
            except Exception as e:
                raise PgError(f"invalid value for parameter ${i + 1}: {e}", sqlstate="22P02")
        return tuple(out)

    async def _execute_federated(self, s, lp, max_rows: int, t0: float) -> None:
        from . import federated

        if lp.done:
            s.writer.write(CommandComplete("SELECT 0").encode())
            return
        if lp.execution is None:
            route = await federated.prepare(self, s, lp.statement.sql, lp.route, extended=True)
            fields = lp.statement.described[1]
            lp.execution = await self._start_federated(s, route, lp.params, _with_formats(fields, lp.result_formats),
                                                       lp.result_formats)
        done = await self._stream(s, lp.execution, max_rows)
        if not done:
            s.writer.write(PortalSuspended().encode())
            return
        s.writer.write(CommandComplete(f"SELECT {lp.execution.rows}").encode())
        lp.done = True
        STATS.counters["federation_rows"] += lp.execution.rows
        STATS.statement(StatementEvent(s.id, "federation", lp.route.reason, (time.perf_counter() - t0) * 1000,
                                       lp.statement.sql[:200], rows=lp.execution.rows))

    # ------------------------------------------------------------------ background recomputation

    async def compute_detached(self, recipe, cur, limit: int):
        """Recompute a cached result on the mirror without a session (stale refresh,
        prewarm). Returns (payload or None, rows, cursor to keep)."""
        from proxy.wire.values import EncodeError, column_encoder, encode_data_rows

        eng = self.server.mirror
        if cur is None:
            cur = eng.cursor()
            _install_functions(cur)
        route, fields = recipe.route, recipe.fields

        def run():
            cur.execute(f"SET TimeZone = {_lit(recipe.timezone)}")
            cur.execute(route.sql, list(recipe.params) if recipe.params else None)
            return cur.to_arrow_table()

        try:
            table = await eng.run(run)
        except Exception as e:
            log.debug("cache refresh on the mirror failed: %s", str(e).split("\n")[0][:200])
            return None, 0, cur
        if len(table.schema) != len(fields):
            return None, 0, cur
        encoders = []
        for i, f in enumerate(fields):
            enc = column_encoder(f.type_oid, f.type_modifier, f.format, table.schema.field(i).type, recipe.settings)
            if enc is None:
                return None, 0, cur
            encoders.append(enc)
        parts = [RowDescription(fields).encode()]
        size = len(parts[0])
        try:
            for batch in table.to_batches(ROWS_PER_BATCH):
                data = encode_data_rows(batch, encoders)
                size += len(data)
                if size > limit:
                    return None, 0, cur
                parts.append(data)
        except (EncodeError, Exception):
            return None, 0, cur
        parts.append(CommandComplete(f"SELECT {table.num_rows}").encode())
        return b"".join(parts), table.num_rows, cur

    async def _on_close(self, s, st, fb: bytes) -> None:
        kind = fb[5:6]
        name, _ = _cstr_at(fb, 6)
        if kind == b"P" and name in s.portals:
            s.portals.pop(name)
            s.writer.write(CloseComplete().encode())
            return
        stmt = s.statements.get(name) if kind == b"S" else None
        if stmt is not None and stmt.local:
            s.statements.pop(name)
            s.local_statements -= 1
            s.writer.write(CloseComplete().encode())
            return
        s._track_relayed(c.F_CLOSE, fb)
        await self._forward(s, st, fb, (c.B_CLOSE_COMPLETE,))

    async def _on_sync(self, s, st) -> None:
        if st.forwarded:
            await s.origin_roundtrip(frame(c.F_SYNC, b""), (c.B_READY_FOR_QUERY,), forward=True)
        else:
            s.writer.write(ReadyForQuery(s.status).encode())
        if s.status == c.TX_IDLE:
            s.portals.clear()  # portals end with the (implicit) transaction
        st.failed = st.forwarded = st.wrote = False


@dataclass
class _BatchState:
    forwarded: bool = False
    failed: bool = False
    wrote: bool = False


_INTEGERS = frozenset((20, 21, 23))


def _param_ok(planned: int, declared: int) -> bool:
    """A parameter typed ``declared`` by the client can be bound where the planner assumed
    ``planned``: equal, or both integers (values are decoded exactly, and one out of the
    planned type's range makes DuckDB's cast fail, which falls back to the origin)."""
    return planned == declared or (planned in _INTEGERS and declared in _INTEGERS)


def _pg_duration(text: str) -> float:
    """Seconds of a Postgres duration setting as SHOW prints it ("0", "500ms", "5s", "1min")."""
    import re

    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$", text or "")
    if not m:
        return 0.0
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400, None: 1e-3}[m.group(2)]
    return float(m.group(1)) * unit


def _arm_timeout(s, handle: Execution):
    """The session's statement_timeout over a DuckDB run: interrupt it when it fires."""
    seconds = s.session_vars.get("statement_timeout_s") or 0.0
    if seconds <= 0:
        return None
    import asyncio

    def fire():
        handle.timed_out = True
        handle.cancel()
    return asyncio.get_running_loop().call_later(seconds, fire)


def _canceled(handle: Execution) -> PgError:
    if handle.timed_out:
        return PgError("canceling statement due to statement timeout", sqlstate=c.QUERY_CANCELED)
    return PgError("canceling statement due to user request", sqlstate=c.QUERY_CANCELED)


PREPARED_PER_SESSION = 32
_prepared_names = itertools.count(1)


def _execute_prepared(cur, prepared: OrderedDict, sql: str, timezone: str) -> None:
    """Run a mirror statement without parameters through a DuckDB prepared statement
    kept on the session's cursor (the last PREPARED_PER_SESSION), so running it again is
    not parsed, bound and optimised again (2-7 ms for a TPC-H query).

    Keyed by the SQL and the TimeZone it was planned under: DuckDB folds constants
    that depend on the time zone when it plans, and a prepared statement keeps them. A
    catalog change (a sync swapping a table in) makes DuckDB re-plan it by itself. A
    statement whose run fails is dropped, so the next run prepares it afresh."""
    key = (sql, timezone)
    name = prepared.get(key)
    if name is None:
        name = f"pgaccel_stmt_{next(_prepared_names)}"
        cur.execute(f"PREPARE {name} AS {sql}")
        prepared[key] = name
        while len(prepared) > PREPARED_PER_SESSION:
            _, old = prepared.popitem(last=False)
            cur.execute(f"DEALLOCATE {old}")
    else:
        prepared.move_to_end(key)
    try:
        cur.execute(f"EXECUTE {name}")
    except Exception:
        prepared.pop(key, None)
        try:
            cur.execute(f"DEALLOCATE {name}")
        except Exception:
            pass
        raise


def _install_functions(cur) -> None:
    """The planner's DuckDB functions. They are database-wide: a second session's
    cursor finds them registered by the first (and they outlive its cursor)."""
    from planner import install_macros

    try:
        install_macros(cur)
    except Exception as e:
        if "already exists" not in str(e):
            raise


async def _none():
    return None


def _next_batch(reader):
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _with_formats(fields, formats):
    if not formats:
        return fields
    out = []
    for i, f in enumerate(fields):
        fmt = formats[0] if len(formats) == 1 else formats[i]
        out.append(Field(f.name, f.table_oid, f.column, f.type_oid, f.type_size, f.type_modifier, fmt))
    return tuple(out)


def _qual(schema: str, table: str) -> str:
    return '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
