"""One client session: startup, authentication, and the query loop.

States and transitions::

    STARTING ──SSLRequest──▶ STARTING (TLS wrapped, or 'N')
    STARTING ──CancelRequest──▶ (forward cancel, close)
    STARTING ──StartupMessage──▶ AUTHENTICATING ──ok──▶ READY ; ──fail──▶ CLOSED (28P01)
    READY ──frames──▶ RELAYING (bytes go to the origin; the pump relays answers)
    READY ──batch needing local work──▶ LOCAL (pump captured: origin answers come to us,
          local results are written by the session) ──Sync/Query done──▶ READY
    any ──Terminate / EOF / protocol violation (08P01) / origin lost (08006)──▶ CLOSED

Two tasks per session: this one reads the client, the *pump* reads the origin.
In RELAYING the pump forwards origin frames to the client as raw bytes,
counting ReadyForQuery frames to know when the origin has answered everything
(``pending`` falls to zero). The session only switches to LOCAL when
``pending`` is zero, so answers always reach the client in request order.

Extended-protocol batches (frames up to Sync or Flush) are held until complete
and then either relayed whole or processed message by message in LOCAL mode
when any of them is answered by pgaccel (an admin statement, or a read routed
to the mirror). Parse is always sent to the origin too (so the origin can
describe it and run it later, e.g. inside a transaction); mirror-routed
Bind/Describe/Execute of a portal are answered locally.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import ssl
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import admin
from .errors import (InvalidAuthorization, InvalidPassword, OriginUnavailable, PgError,
                     ProtocolError, TooManyConnections)
from .observe import STATS, StatementEvent
from .origin import Upstream, UpstreamError, query_rows, send_cancel
from .wire import codes as c
from .wire.framing import FrameReader, ProtocolViolation, frame
from .wire.messages import (AUTH_OK_FRAME, Authentication, BackendKeyData, CancelRequest,
                            GSSENCRequest, ParameterStatus, PasswordMessage,
                            ReadyForQuery, SSLRequest, StartupMessage, decode_backend,
                            decode_startup)

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger(__name__)

_I16 = struct.Struct("!h")
_HDR = struct.Struct("!Bi")
_SYNC = frame(c.F_SYNC, b"")
_FLUSH = frame(c.F_FLUSH, b"")
HOLD_LIMIT = 1 << 20  # an incomplete extended batch larger than this is relayed as it comes

# Frames that end an extended-protocol batch
_BATCH_END = (c.F_SYNC, c.F_FLUSH)
_COPY_FRAMES = (c.F_COPY_DATA, c.F_COPY_DONE, c.F_COPY_FAIL)
_EXTENDED = (c.F_PARSE, c.F_BIND, c.F_DESCRIBE, c.F_EXECUTE, c.F_CLOSE, c.F_SYNC, c.F_FLUSH)


# origin reads that may still change tables (user functions, DO/CALL, unparsed text)
_MAY_WRITE = frozenset({"parse_failed", "multiple_statements", "unknown_function", "origin_only_function",
                        "session_command"})


def _cstr_at(b: bytes, pos: int) -> tuple[str, int]:
    end = b.index(b"\0", pos)
    return b[pos:end].decode("utf-8", "surrogateescape"), end + 1


@dataclass
class Statement:
    """A prepared statement as the client named it."""

    sql: str
    param_types: tuple[int, ...] = ()
    local: bool = False            # answered by pgaccel only (admin statement): not on the origin
    described: tuple | None = None  # (ParameterDescription oids, RowDescription fields or None)
    route: object = None            # planner decision, valid for route_key
    route_key: tuple | None = None


@dataclass
class LocalPortal:
    statement: Statement
    route: object
    params: tuple = ()
    result_formats: tuple[int, ...] = ()
    bind_frame: bytes = b""
    execution: object = None       # running executor.Execution when suspended
    done: bool = False
    cached: tuple | None = None    # result cache hit: (RowDescription frame, rest of the payload, Lookup)
    cache: tuple | None = None     # (CacheKey, Cacheability) when the result may be stored


class Session:
    def __init__(self, server: "Server", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.cfg = server.config
        self.reader = reader
        self.writer = writer
        self.id = server.next_session_id()
        self.pid = -self.id        # replaced by the origin backend's pid once connected
        self.secret = int.from_bytes(os.urandom(4), "big", signed=True)
        self.peer = writer.get_extra_info("peername")
        self.fr = FrameReader(max_message=self.cfg.server.max_message_size, startup=True)
        self.startup: dict[str, str] = {}
        self.user = ""
        self.database = ""
        self.upstream: Upstream | None = None
        self.origin_proto: _OriginProtocol | None = None
        self.origin_tr = None
        self.origin_paused = False
        self.o_hold = bytearray()           # an incomplete origin frame
        self.o_need = 0                      # bytes o_hold needs before it is worth a look
        self.client_tr = None
        self.client_proto: _ClientProtocol | None = None
        self.client_pauses: set[str] = set()
        self.worker: asyncio.Task | None = None
        self.done: asyncio.Future | None = None
        self.pending = 0                      # ReadyForQuery frames the origin still owes
        self.quiet = asyncio.Event()
        self.quiet.set()
        self.unsynced = False                 # a batch ended with Flush was relayed
        self.capture: asyncio.Queue | None = None
        self.pump_fr = FrameReader(max_message=1 << 31 - 1)
        self.inflight: collections.deque[tuple] = collections.deque()   # (t0, reason, sql) per RFQ owed
        self._batch_note: tuple | None = None
        self.status = c.TX_IDLE
        self.statements: dict[str, Statement] = {}
        self.portals: dict[str, LocalPortal] = {}
        self.local_statements = 0            # statements answered by pgaccel only
        self.batch: list[tuple[bytes, bytes]] = []   # (type, whole frame bytes)
        self.batch_bytes = 0
        self.batch_local = False
        self.batch_relaying = False          # part of the current batch already went to the origin
        self.settings_dirty = True
        self.ctx_cache = None
        self.privileges: dict[tuple[str, str], tuple[float, bool]] = {}
        self.closing = False
        self.executing_local = None          # executor handle while a local query runs (for cancel)
        self.session_vars: dict[str, str] = {}
        self.mirror_cursor = None
        # result cache (proxy/caching.py)
        self.cache_scope = None               # (planner context, KeyScope) it was built for
        self.cache_probe = None               # key the fast path just missed (not looked up twice)
        self.cache_answered = False           # the last local statement was a cache hit
        self.last_write_at = 0.0              # wall time of this session's last settled write
        self.write_pending = 0                # 1: a write, 2: DDL relayed, not yet settled

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        STATS.clients_active += 1
        STATS.counters["client_connections"] += 1
        try:
            if not await self._startup():
                return
            self.server.sessions[self.pid] = self
            log.info("session %d: user=%s database=%s from %s ready", self.id, self.user, self.database,
                     self.peer)
            await self._serve()
        except _Quiet:
            pass
        except ProtocolViolation as e:
            log.warning("session %d: protocol violation: %s", self.id, e)
            STATS.errors[c.PROTOCOL_VIOLATION] += 1
            await self._fatal(ProtocolError(str(e)))
        except PgError as e:
            log.warning("session %d: %s (%s)", self.id, e.message, e.sqlstate)
            STATS.errors[e.sqlstate] += 1
            await self._fatal(e)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as e:
            log.info("session %d: client connection lost: %s", self.id, e)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session %d: internal error", self.id)
            await self._fatal(PgError("internal error in pgaccel", sqlstate=c.INTERNAL_ERROR,
                                      severity="FATAL"))
        finally:
            await self._close()

    async def _fatal(self, err: PgError) -> None:
        try:
            self.writer.write(err.response().encode())
            await asyncio.wait_for(self.writer.drain(), 2)
        except Exception:
            pass

    async def _close(self) -> None:
        self.closing = True
        STATS.clients_active -= 1
        if self.server.sessions.get(self.pid) is self:
            del self.server.sessions[self.pid]
        if self.worker is not None:
            self.worker.cancel()
        self._detach_origin()
        if self.mirror_cursor is not None:
            try:
                self.mirror_cursor.close()
            except Exception:
                pass
        up, self.upstream = self.upstream, None
        if up is not None:
            STATS.upstreams_active -= 1
            if self.pending or self.capture is not None or self.unsynced:
                up.close()
            else:
                up.status = self.status
                await self.server.release_upstream(up, pooled=self.cfg.auth.method != "passthrough")
        try:
            self.writer.close()
        except Exception:
            pass
        log.info("session %d: closed", self.id)

    async def _read_client_frame(self) -> tuple[bytes, bytes]:
        while True:
            f = self.fr.next_frame()
            if f is not None:
                return f
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionResetError("client closed the connection")
            self.fr.feed(data)

    # ------------------------------------------------------------------ startup

    async def _startup(self) -> bool:
        tls_done = False
        while True:
            _, body = await asyncio.wait_for(self._read_client_frame(), 60)
            msg = decode_startup(body)
            if isinstance(msg, SSLRequest):
                if tls_done:
                    raise ProtocolViolation("SSLRequest after TLS was established")
                ctx = self.server.ssl_context
                if ctx is None:
                    self.writer.write(b"N")
                    self.fr.expect_startup()
                    continue
                self.writer.write(b"S")
                await self.writer.drain()
                if self.fr.buffered:
                    raise ProtocolViolation("received unencrypted data after SSL request")
                await self.writer.start_tls(ctx)
                tls_done = True
                STATS.counters["tls_sessions"] += 1
                self.fr.expect_startup()
                continue
            if isinstance(msg, GSSENCRequest):
                self.writer.write(b"N")
                self.fr.expect_startup()
                continue
            if isinstance(msg, CancelRequest):
                await self.server.cancel(msg.process_id, msg.secret_key)
                return False
            assert isinstance(msg, StartupMessage)
            if self.cfg.tls.mode == "require" and not tls_done:
                raise InvalidAuthorization("pgaccel requires TLS (sslmode=require)")
            return await self._login(msg)

    async def _login(self, msg: StartupMessage) -> bool:
        params = dict(msg.params)
        self.user = params.get("user", "")
        if not self.user:
            raise InvalidAuthorization("no PostgreSQL user name specified in startup packet")
        self.database = params.setdefault("database", self.user)
        if params.get("replication"):
            raise PgError("pgaccel does not proxy replication connections",
                          sqlstate=c.FEATURE_NOT_SUPPORTED, severity="FATAL")
        self.startup = params
        if not self.server.admit():
            raise TooManyConnections("sorry, too many clients already")
        method = self.cfg.auth.method
        users = self.cfg.auth.users
        if method == "passthrough":
            up = await self._connect_upstream(relay=True)
        else:
            if method == "scram-sha-256":
                await self._auth_scram(users.get(self.user))
            elif method == "md5":
                await self._auth_md5(users.get(self.user))
            STATS.counters["auth_ok"] += 1
            up = self.server.pool.acquire(self._pool_key())
            if up is None:
                up = await self._connect_upstream(relay=False)
            self.writer.write(AUTH_OK_FRAME)
        log.info("session %d: authenticated user=%s method=%s", self.id, self.user, method)
        self.upstream = up
        STATS.upstreams_active += 1
        out = [ParameterStatus(k, v).encode() for k, v in up.params.items()]
        # the client sees its origin backend's pid (pg_backend_pid(), NOTIFY senders) and
        # pgaccel's own secret: a cancel is matched here and forwarded with the origin's key
        self.pid = up.pid
        out.append(BackendKeyData(self.pid, self.secret).encode())
        out.append(ReadyForQuery(c.TX_IDLE).encode())
        self.writer.write(b"".join(out))
        await self.writer.drain()
        self._attach_origin()
        return True

    def _pool_key(self) -> tuple:
        return (self.user, self.database, tuple(sorted(self.startup.items())))

    async def _connect_upstream(self, relay: bool) -> Upstream:
        host, port = self.server.origin_addr
        startup = dict(self.startup)
        password = None if relay else self.cfg.auth.users.get(self.user, self.server.origin_password
                                                             if self.user == self.server.origin_user else None)
        try:
            up = await Upstream.connect(host, port, startup, password=password,
                                        relay=self._relay_auth if relay else None,
                                        timeout=self.cfg.origin.connect_timeout)
        except UpstreamError as e:
            # the origin refused (wrong password, no such database...): its error, unchanged
            sqlstate = e.error.sqlstate or ""
            STATS.errors[sqlstate] += 1
            log.warning("session %d: origin refused login for user=%s: %s (%s)", self.id, self.user,
                        e.error.message, sqlstate)
            self.writer.write(e.raw)
            await self.writer.drain()
            raise _Quiet() from None
        up.key = self._pool_key()
        if relay:
            STATS.counters["auth_ok"] += 1
        return up

    async def _relay_auth(self, auth_frame: bytes, expects_reply: bool) -> bytes | None:
        self.writer.write(auth_frame)
        await self.writer.drain()
        if not expects_reply:
            return None
        t, body = await asyncio.wait_for(self._read_client_frame(), 60)
        if t != c.F_PASSWORD:
            raise ProtocolViolation(f"expected password response, got message type {t!r}")
        return body

    async def _auth_scram(self, password: str | None) -> None:
        from .auth import ScramServer

        self.writer.write(Authentication.sasl(["SCRAM-SHA-256"]).encode())
        await self.writer.drain()
        t, body = await asyncio.wait_for(self._read_client_frame(), 60)
        if t != c.F_PASSWORD:
            raise ProtocolViolation("expected SASL response")
        mech, data = PasswordMessage(body).sasl_initial()
        if mech != "SCRAM-SHA-256" or data is None:
            raise InvalidPassword(f"unsupported SASL mechanism {mech!r}")
        srv = ScramServer(self.user, password)
        self.writer.write(Authentication(c.AUTH_SASL_CONTINUE, srv.first(data)).encode())
        await self.writer.drain()
        t, body = await asyncio.wait_for(self._read_client_frame(), 60)
        if t != c.F_PASSWORD:
            raise ProtocolViolation("expected SASL response")
        try:
            final = srv.final(body, self.user)
        except InvalidPassword:
            log.warning("session %d: password authentication failed for user=%s", self.id, self.user)
            STATS.counters["auth_failed"] += 1
            raise
        self.writer.write(Authentication(c.AUTH_SASL_FINAL, final).encode())

    async def _auth_md5(self, password: str | None) -> None:
        from .auth import check_md5

        salt = os.urandom(4)
        self.writer.write(Authentication(c.AUTH_MD5, salt).encode())
        await self.writer.drain()
        t, body = await asyncio.wait_for(self._read_client_frame(), 60)
        if t != c.F_PASSWORD:
            raise ProtocolViolation("expected password message")
        try:
            check_md5(self.user, password, salt, PasswordMessage(body).password())
        except InvalidPassword:
            log.warning("session %d: password authentication failed for user=%s", self.id, self.user)
            STATS.counters["auth_failed"] += 1
            raise

    # ------------------------------------------------------------------ the pump (origin -> client)

    def _attach_origin(self) -> None:
        """From now on origin bytes arrive in ``_on_origin_data`` (no task, no StreamReader)."""
        up = self.upstream
        tr = up.writer.transport
        self.origin_proto = _OriginProtocol(self)
        up.stream_protocol = tr.get_protocol()
        tr.set_protocol(self.origin_proto)
        self.origin_tr = tr

    def _detach_origin(self) -> None:
        up = self.upstream
        if up is not None and getattr(up, "stream_protocol", None) is not None:
            try:
                self.origin_tr.set_protocol(up.stream_protocol)
                if self.origin_paused:
                    self.origin_tr.resume_reading()
            except Exception:
                up.broken = True

    def _on_origin_data(self, data: bytes) -> None:
        """Relay origin bytes to the client as they come, looking only at frame headers.

        Only ReadyForQuery (transaction status, pending count), ParameterStatus and
        ErrorResponse are decoded; other frames are only skipped over. An incomplete
        frame waits in ``o_hold`` (appended to, not re-scanned, until ``o_need`` bytes),
        so the client only ever receives whole frames and an error can follow them.
        """
        STATS.bytes_from_origin += len(data)
        if self.capture is not None:
            fr = self.pump_fr
            fr.feed(data)
            while (f := fr.next_frame()) is not None:
                self.capture.put_nowait(f)
            return
        if self.o_hold:
            hold = self.o_hold
            hold += data
            if len(hold) < self.o_need:
                return
            data = bytes(hold)
            self.o_hold = bytearray()
        n = len(data)
        pos = 0
        nz = 0
        unpack = _HDR.unpack_from
        while pos + 5 <= n:
            t, ln = unpack(data, pos)
            if ln < 4:
                raise ProtocolViolation(f"invalid message length {ln} from the origin")
            end = pos + 1 + ln
            if end > n:
                break
            if t == 90:        # 'Z' ReadyForQuery
                nz += 1
                self.status = data[pos + 5:pos + 6]
            elif t == 83:      # 'S' ParameterStatus
                self._on_parameter_status(data[pos + 5:end])
            elif t == 69:      # 'E' ErrorResponse
                self._on_origin_error(data[pos + 5:end])
            pos = end
        if pos < n:            # keep an incomplete frame: clients only ever see whole frames
            rest = data[pos:]
            self.o_hold = bytearray(rest)
            self.o_need = 1 + unpack(rest, 0)[1] if len(rest) >= 5 else 5
            out = data[:pos]
        else:
            out = data
        w = self.writer
        if out:
            w.write(out)
        if not self.origin_paused and w.transport.get_write_buffer_size() > 262144:
            # the client reads slower than the origin sends: stop reading the origin
            self.origin_paused = True
            self.origin_tr.pause_reading()
            asyncio.get_running_loop().create_task(self._resume_origin())
        if nz:
            self._completed(nz)

    async def _resume_origin(self) -> None:
        try:
            await self.drain_client()
        except Exception:
            return
        self.origin_paused = False
        if not self.upstream or self.upstream.broken:
            return
        self.origin_tr.resume_reading()

    def _on_origin_lost(self, exc: BaseException | None) -> None:
        up = self.upstream
        if up is not None:
            up.broken = True
        if self.capture is not None:
            self.capture.put_nowait(None)
        if self.closing:
            return
        log.warning("session %d: lost the origin connection%s", self.id, f": {exc}" if exc else "")
        STATS.errors[c.CONNECTION_FAILURE] += 1
        try:
            self.writer.write(OriginUnavailable(
                "server closed the connection unexpectedly (pgaccel lost its origin connection)"
            ).response().encode())
            self.writer.close()
        except Exception:
            pass
        if self.done is not None:
            self._finish()

    async def drain_origin(self) -> None:
        await self.origin_proto.drain()

    def _completed(self, n: int) -> None:
        if self.write_pending:
            self._writes_settled()
        now = time.perf_counter()
        for _ in range(n):
            if self.inflight:
                t0, reason, sql = self.inflight.popleft()
                STATS.origin_statement(self.id, reason, now - t0, sql)
        self.pending -= n
        if self.pending <= 0:
            self.pending = 0
            self.quiet.set()

    def _writes_settled(self) -> None:
        """A ReadyForQuery after a write (or DDL) this session sent: the cache bumps the
        tables now, and again when the transaction ends."""
        rc = self.server.result_cache
        ddl = self.write_pending == 2
        if self.status == c.TX_IDLE:
            self.write_pending = 0
            self.last_write_at = time.time()
        if rc is not None:
            rc.write_settled(self, everything=True, ddl=ddl)

    def _on_parameter_status(self, body: bytes) -> None:
        name, p = _cstr_at(body, 0)
        value, _ = _cstr_at(body, p)
        self.upstream.params[name] = value
        self.ctx_cache = None

    def _on_origin_error(self, body: bytes) -> None:
        try:
            err = decode_backend(c.B_ERROR, body)
            STATS.errors[err.sqlstate or "?"] += 1
            log.debug("session %d: origin error %s: %s", self.id, err.sqlstate, err.message)
        except ProtocolViolation:
            pass

    # ------------------------------------------------------------------ the query loop (client -> origin)

    # Client bytes arrive in ``_on_client_data`` (a transport protocol, no task per
    # chunk). Relaying is synchronous; when pgaccel must answer something itself the
    # rest of the work moves to a task (``_work``) and further client bytes wait in
    # the frame buffer until it is done, so requests are handled strictly in order.

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        self.client_tr = self.writer.transport
        self.client_proto = _ClientProtocol(self)
        leftover = bytes(getattr(self.reader, "_buffer", b""))
        self.client_tr.set_protocol(self.client_proto)
        if leftover:
            self.fr.feed(leftover)
        if self.fr.buffered:
            loop.call_soon(self._drive)
        await self.done

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _fail(self, err: BaseException) -> None:
        if isinstance(err, ProtocolViolation):
            err = ProtocolError(str(err))
        if isinstance(err, PgError):
            log.warning("session %d: %s (%s)", self.id, err.message, err.sqlstate)
        elif isinstance(err, (ConnectionError, OSError)):
            log.info("session %d: connection lost: %s", self.id, err)
            err = None
        else:
            log.error("session %d: internal error", self.id, exc_info=err)
            err = PgError("internal error in pgaccel", sqlstate=c.INTERNAL_ERROR, severity="FATAL")
        if err is not None:
            STATS.errors[err.sqlstate] += 1
            try:
                self.writer.write(err.response().encode())
            except Exception:
                pass
        try:
            self.client_tr.close()
        except Exception:
            pass
        self._finish()

    def _on_client_data(self, data: bytes) -> None:
        STATS.bytes_from_clients += len(data)
        self.fr.feed(data)
        if self.worker is not None:
            if self.fr.buffered > 4 * HOLD_LIMIT:
                self._pause_client("backlog")
            return
        self._drive()

    def _drive(self) -> None:
        if self.worker is not None or self.done.done():
            return
        try:
            raw, frames = self.fr.take_raw_frames()
            if not frames:
                return
            if self._relay_plain_batch(raw, frames):
                return
            res = self._relay_frames(raw, frames, 0)
        except Exception as e:
            self._fail(e)
            return
        if res is not None:
            self.worker = asyncio.get_running_loop().create_task(self._work(raw, frames, res))

    async def _work(self, raw: bytes, frames: list, res) -> None:
        try:
            while res is not None:
                i, action = res
                if action[0] == "terminate":
                    self._finish()
                    return
                if action[0] == "query":
                    await self._local_query(*action[1:])
                else:
                    await self._local_batch(action[1])
                res = self._relay_frames(raw, frames, i + 1)
                while res is None:
                    raw, frames = self.fr.take_raw_frames()
                    if not frames:
                        break
                    res = self._relay_frames(raw, frames, 0)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._fail(e)
        finally:
            self.worker = None
            self._resume_client("backlog")

    def _pause_client(self, why: str) -> None:
        if not self.client_pauses:
            try:
                self.client_tr.pause_reading()
            except Exception:
                pass
        self.client_pauses.add(why)

    def _resume_client(self, why: str) -> None:
        if why in self.client_pauses:
            self.client_pauses.discard(why)
            if not self.client_pauses:
                try:
                    self.client_tr.resume_reading()
                except Exception:
                    pass

    async def drain_client(self) -> None:
        await self.client_proto.drain()

    def _relay_plain_batch(self, raw: bytes, frames: list) -> bool:
        """The hot path of prepared statements: a chunk of whole Bind/Describe/Execute/
        Sync batches, nothing held, nothing answered locally. Routes each Bind, then
        relays the chunk as it came. False: take the general path (nothing was sent)."""
        if self.batch or self.batch_relaying or self.portals or self.local_statements \
                or frames[-1][0] != c.F_SYNC:
            return False
        syncs = 0
        for t, s, e in frames:
            if t == c.F_BIND:
                if self._needs_local(t, raw[s:e]):
                    return False
            elif t == c.F_SYNC:
                syncs += 1
            elif t != c.F_EXECUTE and t != c.F_DESCRIBE:
                return False
        for _ in range(syncs):
            self._relay_sync()
        STATS.bytes_to_origin += len(raw)
        self.upstream.writer.write(raw)
        return True

    def _relay_frames(self, raw: bytes, frames: list, i0: int):
        """Relay complete client frames from index ``i0``. Returns None when all are
        handled, or ``(index, action)`` for the first one pgaccel must answer itself
        (everything before it has been written to the origin)."""
        out: list[bytes] = []         # bytes to relay to the origin, in order
        action = None
        i = i0
        n = len(frames)
        while i < n:
            t, s, e = frames[i]
            if t in _COPY_FRAMES:
                self._flush_hold(out)
                out.append(raw[s:e])
            elif t == c.F_QUERY:
                self._flush_hold(out)
                sql = raw[s + 5:e - 1].decode("utf-8", "surrogateescape")
                route = self.decide(sql)
                if route.target == "mirror" and self.server.result_cache is not None and not out \
                        and not self.pending and not self.unsynced:
                    hit = self.server.result_cache.hit_simple(self, sql, route)
                    if hit is not None:
                        self.writer.write(hit)
                        i += 1
                        continue
                if route.target == "origin":
                    self._note_origin(route, sql)
                    self.inflight.append((time.perf_counter(), route.reason, sql))
                    self.pending += 1
                    self.quiet.clear()
                    out.append(raw[s:e])
                else:
                    action = ("query", sql, route, raw[s:e])
                    break
            elif t == c.F_TERMINATE:
                self._flush_hold(out)
                action = ("terminate",)
                break
            elif t == c.F_FUNCTION_CALL:
                self._flush_hold(out)
                self.pending += 1
                self.quiet.clear()
                self.inflight.append((time.perf_counter(), "function_call", "<FunctionCall>"))
                out.append(raw[s:e])
            elif t not in _EXTENDED:
                raise ProtocolViolation(f"invalid frontend message type {t[0]}")
            elif self.batch_relaying:
                fb = raw[s:e]
                self._track_relayed(t, fb)
                out.append(fb)
                if t == c.F_SYNC:
                    self.batch_relaying = False
                    self._relay_sync()
                elif t == c.F_FLUSH:
                    self.unsynced = True
            else:
                fb = raw[s:e]
                self.batch.append((t, fb))
                self.batch_bytes += e - s
                if (t == c.F_PARSE or t == c.F_BIND or (
                        not self.batch_local and (self.portals or self.local_statements)
                        and t not in _BATCH_END)) and self._needs_local(t, fb):
                    self.batch_local = True
                if t in _BATCH_END:
                    batch, local = self.batch, self.batch_local
                    self.batch, self.batch_bytes, self.batch_local = [], 0, False
                    if local and not self.unsynced:
                        if not out and self.server.executor.answer_cached_batch(self, batch):
                            i += 1
                            continue    # answered from the result cache, synchronously
                        action = ("batch", batch)
                        break
                    for bt, bf in batch:
                        if bt == c.F_CLOSE:        # Parse and Bind were tracked while scanning
                            self._track_relayed(bt, bf)
                    out.extend(bf for _, bf in batch)
                    if t == c.F_SYNC:
                        self._relay_sync()
                    else:
                        self.unsynced = True
            i += 1
        if action is None and self.batch and self.batch_bytes > HOLD_LIMIT and not self.batch_local:
            self.batch_relaying = True
            for bt, bf in self.batch:
                self._track_relayed(bt, bf)
                out.append(bf)
            self.batch, self.batch_bytes = [], 0
        if out:
            data = b"".join(out)
            STATS.bytes_to_origin += len(data)
            self.upstream.writer.write(data)
        return None if action is None else (i, action)

    def _flush_hold(self, out: list[bytes]) -> None:
        """A non-extended frame arrived mid-batch: relay what is held (rare)."""
        if self.batch:
            for bt, bf in self.batch:
                self._track_relayed(bt, bf)
                out.append(bf)
            self.batch, self.batch_bytes, self.batch_local = [], 0, False
            self.batch_relaying = True

    def _relay_sync(self) -> None:
        self.pending += 1
        self.quiet.clear()
        self.unsynced = False
        self.inflight.append(self._batch_note or (time.perf_counter(), "extended", ""))
        self._batch_note = None

    def _track_relayed(self, t: bytes, fb: bytes) -> None:
        """Keep our statement table in step with what the origin knows."""
        if t == c.F_PARSE:
            name, p = _cstr_at(fb, 5)
            sql, p = _cstr_at(fb, p)
            st = self.statements.get(name)
            if st is None or st.sql != sql or st.local:
                if st is not None and st.local:
                    self.local_statements -= 1
                n = _I16.unpack_from(fb, p)[0]
                types = struct.unpack_from(f"!{n}I", fb, p + 2) if n > 0 else ()
                self.statements[name] = Statement(sql, tuple(types))
        elif t == c.F_BIND:
            portal, p = _cstr_at(fb, 5)
            self.portals.pop(portal, None)
            name, _ = _cstr_at(fb, p)
            st = self.statements.get(name)
            if st is not None:
                route = self.decide_statement(st)
                self._note_origin(route, st.sql)
                if self._batch_note is None:
                    self._batch_note = (time.perf_counter(), route.reason, st.sql)
        elif t == c.F_CLOSE:
            kind = fb[5:6]
            name, _ = _cstr_at(fb, 6)
            if kind == b"S":
                self.statements.pop(name, None)
            else:
                self.portals.pop(name, None)

    def _needs_local(self, t: bytes, fb: bytes) -> bool:
        if t in _BATCH_END:
            return False
        if t != c.F_PARSE and t != c.F_BIND and not self.portals and not self.local_statements:
            return False
        if t == c.F_PARSE:
            name, p = _cstr_at(fb, 5)
            sql, _ = _cstr_at(fb, p)
            if self.decide(sql).target in ("admin", "federation"):
                return True
            self._track_relayed(t, fb)   # known from now on (relayed, or re-done locally)
            return False
        if t == c.F_BIND:
            portal, p = _cstr_at(fb, 5)
            name, _ = _cstr_at(fb, p)
            st = self.statements.get(name)
            if st is None:
                return False             # the origin answers 26000
            if st.local:
                return True
            route = self.decide_statement(st)
            if route.target != "origin":
                return True
            # relayed: keep our view of the origin in step (done once, here)
            self.portals.pop(portal, None)
            self._note_origin(route, st.sql)
            if self._batch_note is None:
                self._batch_note = (time.perf_counter(), route.reason, st.sql)
            return False
        if t in (c.F_DESCRIBE, c.F_CLOSE):
            kind = fb[5:6]
            name, _ = _cstr_at(fb, 6)
            if kind == b"P":
                return name in self.portals
            st = self.statements.get(name)
            return st is not None and st.local
        if t == c.F_EXECUTE:
            name, _ = _cstr_at(fb, 5)
            return name in self.portals
        return False

    # ------------------------------------------------------------------ routing

    def decide(self, sql: str):
        return self.server.route(self, sql)

    def decide_statement(self, st: Statement):
        """The route of a prepared statement, memoised on the statement itself."""
        ctx = self.context()
        key = (id(ctx), self.server.catalog.version)
        if st.route_key != key:
            st.route = self.server.planner.decide(st.sql, ctx, self.server.catalog)
            st.route_key = key
        return st.route

    def _note_origin(self, route, sql: str) -> None:
        if route.kind != "read" or route.reason in ("parse_failed", "volatile_function",
                                                    "origin_only_function", "multiple_statements"):
            self.settings_dirty = True
            self.ctx_cache = None
        if route.kind in ("write", "ddl") or route.reason in _MAY_WRITE:
            self.server.on_origin_write(self, route)

    # ------------------------------------------------------------------ LOCAL mode

    async def _enter_local(self) -> None:
        if self.pending:
            self.upstream.writer.write(_FLUSH)
            await self.quiet.wait()
        if self.upstream.broken:
            raise OriginUnavailable("server closed the connection unexpectedly (origin lost)")
        self.capture = asyncio.Queue()

    def _leave_local(self) -> None:
        q, self.capture = self.capture, None
        if self.pump_fr.buffered:   # a partial frame that arrived while captured
            self.o_hold = bytearray(self.pump_fr.take_rest()) + self.o_hold
            self.o_need = 5
        # anything that arrived meanwhile (async notices) goes to the client in order
        while q is not None and not q.empty():
            f = q.get_nowait()
            if f is not None:
                self.writer.write(frame(*f))

    async def origin_frame(self) -> tuple[bytes, bytes]:
        """Next frame from the origin while captured; async messages are passed on."""
        while True:
            f = await self.capture.get()
            if f is None:
                raise OriginUnavailable("server closed the connection unexpectedly (origin lost)")
            t, body = f
            if t in (c.B_NOTICE, c.B_NOTIFICATION):
                self.writer.write(frame(t, body))
                continue
            if t == c.B_PARAMETER_STATUS:
                self._on_parameter_status(body)
                self.writer.write(frame(t, body))
                continue
            return f

    async def origin_roundtrip(self, data: bytes, until: tuple[bytes, ...], forward: bool) -> list:
        """Send ``data`` (+Flush) to the origin and collect frames until one of ``until``
        or an ErrorResponse. With ``forward`` the frames also go to the client."""
        self.upstream.writer.write(data + _FLUSH)
        got = []
        while True:
            t, body = await self.origin_frame()
            got.append((t, body))
            if forward:
                self.writer.write(frame(t, body))
            if t in until or t == c.B_ERROR:
                if t == c.B_ERROR:
                    self._on_origin_error(body)
                return got
            if t == c.B_READY_FOR_QUERY:
                self.status = body[:1]
                if self.write_pending:
                    self._writes_settled()
                return got

    async def origin_sync(self) -> bytes:
        """Send Sync, wait for ReadyForQuery (not forwarded); return status."""
        self.upstream.writer.write(_SYNC)
        while True:
            t, body = await self.origin_frame()
            if t == c.B_READY_FOR_QUERY:
                self.status = body[:1]
                if self.write_pending:
                    self._writes_settled()
                return self.status

    async def internal_query(self, sql: str) -> list[tuple]:
        """Run a statement of pgaccel's own on the session's origin connection (captured)."""
        rows, self.status = await query_rows(self.upstream.writer.write, self.origin_frame, sql)
        return rows

    async def _local_query(self, sql: str, route, raw_frame: bytes) -> None:
        """A simple-protocol Query answered by pgaccel (admin, mirror)."""
        await self._enter_local()
        t0 = time.perf_counter()
        relay = False
        self.cache_answered = False
        try:
            if route.target == "admin":
                await admin.run_simple(self, sql, route)
            elif route.target == "federation":
                await self.server.executor.run_federated_simple(self, sql, route)
            else:
                relay = not await self.server.executor.run_simple(self, sql, route)
        except PgError as e:
            self.writer.write(e.response().encode())
            if self.status == c.TX_IN_BLOCK:
                await self.server.executor.fail_transaction(self)
            self.writer.write(ReadyForQuery(self.status).encode())
            STATS.errors[e.sqlstate] += 1
        finally:
            self._leave_local()
        if relay:  # fall back to the origin: relay the Query as it came
            self.inflight.append((time.perf_counter(), getattr(self, "fallback_reason", "fallback"), sql))
            self.pending += 1
            self.quiet.clear()
            self.upstream.writer.write(raw_frame)
        elif not self.cache_answered:
            STATS.statement(StatementEvent(self.id, route.target, route.reason,
                                           (time.perf_counter() - t0) * 1000, sql[:200]))
        await self.drain_client()

    async def _local_batch(self, batch: list[tuple[bytes, bytes]]) -> None:
        """An extended-protocol batch with at least one message answered by pgaccel."""
        await self._enter_local()
        try:
            await self.server.executor.run_batch(self, batch)
        finally:
            self._leave_local()
        await self.drain_client()

    # ------------------------------------------------------------------ context for the planner

    def context(self):
        return self.server.session_context(self)

    async def cancel_running(self) -> None:
        if self.executing_local is not None:
            self.executing_local.cancel()
        if self.upstream is not None:
            await send_cancel(self.upstream.host, self.upstream.port, self.upstream.pid, self.upstream.secret)


class _Quiet(Exception):
    """The client was already told why; just close."""


class _OriginProtocol(asyncio.Protocol):
    """The origin connection's protocol while a session owns it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._paused: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        try:
            self.session._on_origin_data(data)
        except Exception:
            log.exception("session %d: bad data from the origin", self.session.id)
            self.session.upstream.broken = True
            self.session.origin_tr.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        self.session._on_origin_lost(exc)

    def pause_writing(self) -> None:
        if self._paused is None or self._paused.done():
            self._paused = asyncio.get_running_loop().create_future()
        if self.session.client_tr is not None:
            self.session._pause_client("origin")

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        if self.session.client_tr is not None:
            self.session._resume_client("origin")

    async def drain(self) -> None:
        if self._paused is not None and not self._paused.done():
            await self._paused


class _ClientProtocol(asyncio.Protocol):
    """The client connection's protocol once the session is ready."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._paused: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        self.session._on_client_data(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        self.session._finish()

    def pause_writing(self) -> None:
        if self._paused is None or self._paused.done():
            self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    async def drain(self) -> None:
        if self._paused is not None and not self._paused.done():
            await self._paused
