"""The upstream side: connections to the origin Postgres, their login, the
idle pool, and cancel requests.

An ``Upstream`` is one origin connection owned by one client session at a time.
Logging in either uses a password pgaccel knows (configured users) or relays the
origin's authentication exchange to the client (``passthrough``: the origin
checks the client's own credentials).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import scramp

from .errors import OriginUnavailable, PgError
from .observe import STATS
from .wire import codes as c
from .wire.framing import FrameReader, frame
from .wire.messages import (CancelRequest, ErrorResponse, PasswordMessage,
                            StartupMessage, decode_backend)

log = logging.getLogger(__name__)

# relay(frame_bytes_to_client, expects_reply) -> client's reply frame body or None
AuthRelay = Callable[[bytes, bool], Awaitable[bytes | None]]


class UpstreamError(Exception):
    """The origin answered with an ErrorResponse during login; forward it unchanged."""

    def __init__(self, error: ErrorResponse, raw: bytes) -> None:
        super().__init__(error.message)
        self.error = error
        self.raw = raw


def md5_password(user: str, password: str, salt: bytes) -> str:
    inner = hashlib.md5((password + user).encode()).hexdigest()
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()


@dataclass(eq=False)
class Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    key: tuple
    host: str
    port: int
    params: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    secret: int = 0
    status: bytes = c.TX_IDLE
    broken: bool = False
    idle_since: float = 0.0
    stream_protocol: object = None   # the StreamReaderProtocol, set aside while a session relays

    @classmethod
    async def connect(cls, host: str, port: int, startup: dict[str, str], *, password: str | None = None,
                      relay: AuthRelay | None = None, timeout: float = 5.0) -> "Upstream":
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=1 << 20), timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise OriginUnavailable(
                f"could not connect to the origin server at {host}:{port}: {e or 'timeout'}") from e
        up = cls(reader, writer, key=(startup.get("user"), startup.get("database")), host=host, port=port)
        try:
            await asyncio.wait_for(up._login(startup, password, relay, timeout), timeout if relay is None else None)
        except asyncio.TimeoutError:
            up.close()
            raise OriginUnavailable(f"login to the origin server at {host}:{port} timed out") from None
        except (ConnectionError, OSError, RuntimeError) as e:
            # reset during login (uvloop raises RuntimeError writing to a closed transport)
            up.close()
            raise OriginUnavailable(
                f"the origin server at {host}:{port} closed the connection during login: {e}") from None
        except BaseException:
            up.close()
            raise
        STATS.counters["upstream_connects"] += 1
        return up

    async def read_frame(self, fr: FrameReader) -> tuple[bytes, bytes]:
        while True:
            f = fr.next_frame()
            if f is not None:
                return f
            try:
                data = await self.reader.read(65536)
            except OSError as e:  # a reset: the origin's fault, not the client's (session.py)
                raise OriginUnavailable(f"lost the connection to the origin server: {e}") from e
            if not data:
                raise OriginUnavailable("the origin server closed the connection unexpectedly")
            fr.feed(data)

    async def _login(self, startup: dict[str, str], password: str | None, relay: AuthRelay | None,
                     first_timeout: float | None = None) -> None:
        self.writer.write(StartupMessage(startup).encode())
        fr = FrameReader()
        user = startup.get("user", "")
        scram: scramp.ScramClient | None = None
        while True:
            # the origin's first answer is due at once, also when the client is to be asked for a password
            t, body = await asyncio.wait_for(self.read_frame(fr), first_timeout)
            first_timeout = None
            if t == c.B_ERROR:
                raise UpstreamError(decode_backend(t, body), frame(t, body))
            if t == c.B_AUTH:
                auth = decode_backend(t, body)
                if relay is not None:
                    expects = auth.code not in (c.AUTH_OK, c.AUTH_SASL_FINAL)
                    reply = await relay(frame(t, body), expects)
                    if reply is not None:
                        self.writer.write(frame(c.F_PASSWORD, reply))
                    continue
                if auth.code == c.AUTH_OK:
                    continue
                if password is None:
                    raise OriginUnavailable(
                        f"the origin asks for a password for user {user!r} and pgaccel has none "
                        "(configure auth.users or use auth.method = passthrough)")
                if auth.code == c.AUTH_CLEARTEXT:
                    self.writer.write(PasswordMessage.cleartext(password).encode())
                elif auth.code == c.AUTH_MD5:
                    self.writer.write(PasswordMessage.cleartext(md5_password(user, password, auth.data)).encode())
                elif auth.code == c.AUTH_SASL:
                    mechs = auth.sasl_mechanisms()
                    if "SCRAM-SHA-256" not in mechs:
                        raise OriginUnavailable(f"origin offers unsupported SASL mechanisms {mechs}")
                    scram = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
                    first = scram.get_client_first()
                    self.writer.write(PasswordMessage.sasl_initial_response(
                        "SCRAM-SHA-256", first.encode()).encode())
                elif auth.code == c.AUTH_SASL_CONTINUE and scram:
                    scram.set_server_first(auth.data.decode())
                    self.writer.write(frame(c.F_PASSWORD, scram.get_client_final().encode()))
                elif auth.code == c.AUTH_SASL_FINAL and scram:
                    scram.set_server_final(auth.data.decode())
                else:
                    raise OriginUnavailable(f"origin requested unsupported authentication {auth.code}")
            elif t == c.B_PARAMETER_STATUS:
                m = decode_backend(t, body)
                self.params[m.name] = m.value
            elif t == c.B_BACKEND_KEY_DATA:
                m = decode_backend(t, body)
                self.pid, self.secret = m.process_id, m.secret_key
            elif t == c.B_READY_FOR_QUERY:
                self.status = body[:1]
                return
            elif t == c.B_NOTICE or t == c.B_NEGOTIATE_PROTOCOL_VERSION:
                continue
            else:
                raise OriginUnavailable(f"unexpected message {t!r} from origin during login")

    async def simple_query(self, sql: str) -> list[tuple[str | None, ...]]:
        """Run one statement while nobody else reads this connection; text rows."""
        fr = FrameReader()

        async def next_frame():
            while True:
                t, body = await self.read_frame(fr)
                if t != c.B_PARAMETER_STATUS:
                    return t, body
                m = decode_backend(t, body)
                self.params[m.name] = m.value

        rows, self.status = await query_rows(self.writer.write, next_frame, sql)
        return rows

    def close(self) -> None:
        self.broken = True
        try:
            self.writer.write(frame(c.F_TERMINATE, b""))
        except Exception:
            pass
        try:
            self.writer.close()
        except Exception:
            pass


async def query_rows(write, next_frame, sql: str) -> tuple[list[tuple[str | None, ...]], bytes]:
    """Send a simple Query with ``write`` and read its answer with ``next_frame``: the
    text rows and the transaction status. An ErrorResponse raises PgError (its SQLSTATE)."""
    write(frame(c.F_QUERY, sql.encode() + b"\0"))
    rows: list[tuple[str | None, ...]] = []
    err: ErrorResponse | None = None
    while True:
        t, body = await next_frame()
        if t == c.B_DATA_ROW:
            m = decode_backend(t, body)
            rows.append(tuple(None if v is None else v.decode() for v in m.values))
        elif t == c.B_ERROR:
            err = decode_backend(t, body)
        elif t == c.B_READY_FOR_QUERY:
            if err:
                raise PgError(err.message or "origin error", sqlstate=err.sqlstate)
            return rows, body[:1]


async def send_cancel(host: str, port: int, pid: int, secret: int) -> None:
    try:
        _, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        w.write(CancelRequest(pid, secret).encode())
        await w.drain()
        w.close()
    except Exception as e:  # cancel is best effort, as in Postgres
        log.warning("cancel request to origin failed: %s", e)


def _still_open(up: Upstream) -> bool:
    """An idle origin connection is sent nothing: any byte (e.g. the 57P01 of an origin
    shutdown), EOF or reset since it was pooled means the origin has closed it."""
    r = up.reader
    return not (up.broken or r.exception() is not None or r.at_eof() or len(r._buffer)
                or up.writer.transport.is_closing())


class Pool:
    """Idle origin connections by (user, database, startup options).

    A connection is pooled only when its client left it idle (ReadyForQuery 'I')
    and ``DISCARD ALL`` succeeded, so no session state leaks to the next client.
    """

    def __init__(self, size: int, idle_timeout: float) -> None:
        self.size = size
        self.idle_timeout = idle_timeout
        self._idle: defaultdict[tuple, list[Upstream]] = defaultdict(list)
        self._reaper: asyncio.Task | None = None

    def start(self) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self._reap())

    def acquire(self, key: tuple) -> Upstream | None:
        lst = self._idle.get(key)
        while lst:
            up = lst.pop()
            STATS.upstreams_idle -= 1
            if _still_open(up):
                STATS.counters["upstream_reuses"] += 1
                return up
            up.close()
        return None

    async def release(self, up: Upstream) -> None:
        if up.broken or up.status != c.TX_IDLE or self.size <= 0 or len(self._idle[up.key]) >= self.size:
            up.close()
            return
        try:
            await asyncio.wait_for(up.simple_query("DISCARD ALL"), 5)
        except Exception:
            up.close()
            return
        up.idle_since = time.monotonic()
        self._idle[up.key].append(up)
        STATS.upstreams_idle += 1

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, max(self.idle_timeout / 2, 0.5)))
            now = time.monotonic()
            for key, lst in list(self._idle.items()):
                keep = []
                for up in lst:
                    if now - up.idle_since > self.idle_timeout or up.reader.at_eof():
                        up.close()
                        STATS.upstreams_idle -= 1
                    else:
                        keep.append(up)
                self._idle[key] = keep

    def close(self) -> None:
        if self._reaper:
            self._reaper.cancel()
        for lst in self._idle.values():
            for up in lst:
                up.close()
        STATS.upstreams_idle = 0
        self._idle.clear()
