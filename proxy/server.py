"""The server: lifecycle (startup, serve, shutdown), sessions, routing glue.

Startup opens the mirror (if enabled) and binds; serve accepts clients, one
task each; shutdown stops accepting, lets running statements finish up to
``server.shutdown_timeout``, then closes the remaining sessions with 57P01 and
logs the counts. Signal handlers only set a flag (an event).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import ssl
import threading
import time
from urllib.parse import unquote, urlparse

from .config import Config, split_hostport
from .errors import AdminShutdown
from .observe import STATS
from .origin import Pool, Upstream
from .session import Session

log = logging.getLogger(__name__)


def parse_dsn(dsn: str) -> dict[str, str]:
    """libpq URL or key=value DSN -> dict(host, port, user, password, dbname)."""
    if "://" in dsn:
        u = urlparse(dsn)
        d = {"host": u.hostname or "127.0.0.1", "port": str(u.port or 5432),
             "user": unquote(u.username or ""), "password": unquote(u.password or ""),
             "dbname": (u.path or "/").lstrip("/")}
    else:
        d = {"host": "127.0.0.1", "port": "5432", "user": "", "password": "", "dbname": ""}
        for part in dsn.split():
            k, _, v = part.partition("=")
            d[k] = v
    return d


class Server:
    def __init__(self, config: Config) -> None:
        import os

        self.config = config
        o = parse_dsn(config.origin.dsn)
        self.origin_addr = (o["host"], int(o["port"]))
        self.origin_user = o["user"]
        self.origin_password = o["password"] or os.environ.get("PGACCEL_ORIGIN_PASSWORD") or None
        self.origin_dbname = o["dbname"]
        self.pool = Pool(config.origin.pool_size, config.origin.idle_timeout)
        self.sessions: dict[int, Session] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0
        self.stopping = asyncio.Event()
        self.ssl_context = self._make_ssl()
        from .executor import Executor
        from planner.route import Planner

        self.planner = Planner(memo_size=config.planner.memo_size)
        self.mirror = None  # MirrorEngine when enabled
        self.federation = None  # mirror.sources.Federation when [sources.*] are configured
        self._fed_engine = None  # the DuckDB engine of the sources when the mirror is off
        self._fed_catalog = None
        self.executor = Executor(self)
        self.result_cache = None  # caching.CacheService when [cache] enabled (opened at start)
        STATS.log_statements = config.server.log_level == "debug"

    def _make_ssl(self) -> ssl.SSLContext | None:
        t = self.config.tls
        if t.mode == "disable":
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(t.cert, t.key)
        return ctx

    def next_session_id(self) -> int:
        return next(self._ids)

    def admit(self) -> bool:
        return STATS.clients_active <= self.config.server.max_client_connections

    # -------------------------------------------------------------- routing glue

    @property
    def catalog(self):
        base = self.mirror.catalog if self.mirror is not None else _EMPTY_CATALOG
        fed = self.federation
        if fed is None:
            return base
        c = self._fed_catalog
        if c is None or c.mirror_catalog is not base or c.version[1] != fed.version:
            from mirror.sources import FederatedCatalog

            c = self._fed_catalog = FederatedCatalog(base, fed)
        return c

    @property
    def duck(self):
        """The DuckDB engine pgaccel answers from: the mirror's, or the sources' own."""
        return self.mirror if self.mirror is not None else self._fed_engine

    def route(self, session: Session, sql: str):
        return self.planner.decide(sql, session.context(), self.catalog)

    def session_context(self, session: Session):
        ctx = session.ctx_cache
        if ctx is not None and ctx.in_transaction == (session.status != b"I"):
            return ctx
        from planner.route import SessionContext

        p = session.upstream.params if session.upstream else {}
        sv = session.session_vars
        ctx = SessionContext(
            search_path=tuple(sv.get("search_path_list", ("public",))),
            in_transaction=session.status != b"I",
            timezone=p.get("TimeZone", "UTC"),
            datestyle=p.get("DateStyle", "ISO, MDY"),
            intervalstyle=p.get("IntervalStyle", "postgres"),
            extra_float_digits=int(sv.get("extra_float_digits", "1")),
            has_temp_objects=bool(sv.get("has_temp")),
            user=sv.get("current_user", session.user),
        )
        session.ctx_cache = ctx
        return ctx

    def on_origin_write(self, session: Session, route) -> None:
        """A write or DDL went to the origin through this session (cache/mirror hooks).
        The result cache bumps every table now and again when its ReadyForQuery arrives
        (``Session._writes_settled``): an entry computed in between is not fresh."""
        STATS.counters["origin_writes"] += 1
        ddl = route.kind == "ddl" or route.reason in ("session_command", "multiple_statements", "parse_failed")
        session.write_pending = max(session.write_pending, 2 if ddl else 1)
        if self.result_cache is not None and self.result_cache.cache is not None:
            self.result_cache.cache.generations.bump_all()

    # -------------------------------------------------------------- upstream connections

    async def release_upstream(self, up: Upstream, pooled: bool) -> None:
        if pooled:
            await self.pool.release(up)
        else:
            up.close()

    async def cancel(self, pid: int, secret: int) -> None:
        s = self.sessions.get(pid)
        if s is None or s.secret != secret:
            log.info("cancel request for unknown session %d ignored", pid)
            return
        STATS.counters["cancel_requests"] += 1
        await s.cancel_running()

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        cfg = self.config
        if cfg.mirror.enabled:
            await self._open_mirror()
        if cfg.sources:
            await self._open_sources()
        await self._open_result_cache()
        host, port = split_hostport(cfg.server.listen)
        self._server = await asyncio.start_server(self._on_client, host, port, limit=1 << 20,
                                                  backlog=1024, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self.pool.start()
        if cfg.server.metrics_listen:
            from .observe import start_metrics_server

            mh, mp = split_hostport(cfg.server.metrics_listen)
            start_metrics_server(mh, mp)
        log.info("pgaccel listening on %s:%d, origin %s:%d", host, self.port, *self.origin_addr)

    def origin_admin_dsn(self) -> str:
        """The origin DSN pgaccel itself uses (mirror sync, freshness), with the password."""
        dsn = self.config.origin.dsn
        if self.origin_password and not parse_dsn(dsn)["password"]:
            if "://" in dsn:
                return dsn + ("&" if "?" in dsn else "?") + "password=" + self.origin_password
            return dsn + " password=" + self.origin_password
        return dsn

    async def _open_result_cache(self) -> None:
        if self.config.cache.enabled and self.result_cache is None:
            from .caching import CacheService

            svc = CacheService(self, self.config.cache)
            await svc.start()
            self.result_cache = svc

    async def _open_mirror(self) -> None:
        from mirror.engine import MirrorEngine

        m = self.config.mirror
        dsn = self.origin_admin_dsn()
        self.mirror = MirrorEngine(m.path, threads=m.threads, memory_limit=m.memory_limit)
        tracker = None
        if m.mode == "logical":
            try:
                tracker = self.mirror.track_freshness(dsn, slot=m.slot, interval=m.poll_interval,
                                                      max_retained_wal=m.max_retained_wal, start=False)
            except Exception as e:  # no logical replication here: freshness is the snapshot's age
                log.warning("mirror change capture unavailable (%s); tables count as fresh "
                            "for max_staleness after each snapshot only", e)
        elif m.mode == "watermark":
            from mirror.watermark import WatermarkTracker

            tracker = self.mirror.freshness = WatermarkTracker(self.mirror, dsn, m.watermark,
                                                               interval=m.poll_interval)
        await self._open_result_cache()   # before the first poll: it hears every change
        if tracker is not None:
            tracker.start()
        if m.sync_on_start and not self.mirror.catalog.tables:
            log.info("mirror is empty: taking a snapshot of the origin")
            report = await self.mirror.sync(dsn, m.tables, m.exclude,
                                            progress=lambda *a: log.info("sync: %s", " ".join(map(str, a))))
            log.info("mirror snapshot done: %s", report)
        tracker = getattr(self.mirror, "freshness", None)
        if tracker is not None and tracker.mode in ("logical", "watermark"):
            try:   # verify freshness now, not at the first poll, so serving starts fresh
                await self.mirror.run(tracker.poll_once)
            except Exception as e:
                log.warning("first freshness poll failed: %s", e)
        await self.executor.start()

    async def _open_sources(self) -> None:
        """Attach the [sources.*] (see mirror/sources.py). A source whose name is an origin
        schema or the origin database would make names ambiguous: refused here."""
        from mirror.engine import MirrorEngine
        from mirror.sources import Federation

        from .config import ConfigError

        cfg = self.config
        dsn = self.origin_admin_dsn()
        loop = asyncio.get_running_loop()
        schemas, dbname, collation = await loop.run_in_executor(None, _origin_names, dsn)
        clashes = [f"[sources.{n}]: the origin has a schema named {n!r}; rename the source" for n in cfg.sources
                   if n in schemas] + \
                  [f"[sources.{n}]: {n!r} is the origin database's name; rename the source" for n in cfg.sources
                   if n == dbname]
        if clashes:
            raise ConfigError(clashes)
        engine = self.mirror
        if engine is None:
            engine = self._fed_engine = MirrorEngine(":memory:", threads=cfg.mirror.threads,
                                                     memory_limit=cfg.mirror.memory_limit)
        fed = Federation(engine, cfg.sources, origin_dsn=dsn)
        fed.collation = collation
        await loop.run_in_executor(None, fed.start)
        self.federation = fed

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stopping.is_set():
            writer.write(AdminShutdown("the pgaccel server is shutting down",
                                       sqlstate="57P03").response().encode())
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket as _s

            try:
                sock.setsockopt(_s.IPPROTO_TCP, _s.TCP_NODELAY, 1)
            except OSError:
                pass
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await Session(self, reader, writer).run()
        except asyncio.CancelledError:  # shutdown: the session was already told and closed
            pass
        finally:
            self._tasks.discard(task)

    async def serve(self) -> None:
        await self.stopping.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.close()
        t0 = time.monotonic()
        n_before = len(self.sessions)
        deadline = t0 + self.config.server.shutdown_timeout
        # let running statements finish: wait until every session is idle (or gone)
        while time.monotonic() < deadline:
            busy = [s for s in self.sessions.values() if s.pending or s.capture is not None or s.status != b"I"]
            if not busy:
                break
            await asyncio.sleep(0.05)
        # statements still running on the origin are cancelled there, not left to run on
        late = [s for s in self.sessions.values() if s.pending and s.upstream is not None]
        if late:
            await asyncio.gather(*(s.cancel_running() for s in late), return_exceptions=True)
        closed = 0
        for s in list(self.sessions.values()):
            try:
                s.writer.write(AdminShutdown("terminating connection due to administrator command")
                               .response().encode())
                s.writer.close()
            except Exception:
                pass
            closed += 1
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        self.pool.close()
        if self.result_cache is not None:
            await self.result_cache.stop()
        if self.federation is not None:
            self.federation.stop()
        if self.mirror is not None:
            self.executor.stop()
            self.mirror.close()
        if self._fed_engine is not None:
            self._fed_engine.close()
        log.info("pgaccel stopped: %d sessions open at shutdown, %d closed, waited %.1fs",
                 n_before, closed, time.monotonic() - t0)


def _origin_names(dsn: str) -> tuple[set[str], str, str]:
    """(schema names, database name, datcollate) of the origin."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as con:
        schemas = {r[0] for r in con.execute("SELECT nspname FROM pg_namespace")}
        db, coll = con.execute("SELECT current_database(), datcollate FROM pg_database "
                               "WHERE datname = current_database()").fetchone()
    return schemas, db, coll


class _EmptyCatalog:
    version = 0
    tables: dict = {}
    collation = "C"

    def get(self, schema, name):
        return None


_EMPTY_CATALOG = _EmptyCatalog()


def install_uvloop() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass


async def serve_main(config: Config) -> None:
    server = Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stopping.set)
    await server.start()
    await server.serve()


class ServerThread:
    """Run a pgaccel server in a background thread (tests, benchmarks, demo)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.server: Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pgaccel", daemon=True)

    def _run(self) -> None:
        try:
            import uvloop

            self.loop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover
            self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def main():
            try:
                self.server = Server(self.config)
                await self.server.start()
            except BaseException as e:
                self._error = e
                self._ready.set()
                return
            self._ready.set()
            await self.server.serve()

        try:
            self.loop.run_until_complete(main())
        finally:
            self.loop.close()

    def start(self) -> "ServerThread":
        self._thread.start()
        if not self._ready.wait(600):
            raise TimeoutError("pgaccel did not start within 600 s")
        if self._error:
            raise self._error
        return self

    @property
    def port(self) -> int:
        return self.server.port

    def call(self, coro_fn, timeout: float = 30):
        """Run ``coro_fn()`` on the server loop and return its result."""
        fut = asyncio.run_coroutine_threadsafe(coro_fn(), self.loop)
        return fut.result(timeout)

    def stop(self) -> None:
        if self.loop and self.server and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.server.stopping.set)
        self._thread.join(30)
