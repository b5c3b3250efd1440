"""The result cache in the proxy: which statements use it, what a hit checks, and how
tables' changes reach it. The pure parts (keys, store, generations, single flight,
prewarming) are in ``cache/``; this module drives them for the server.

What is cached
--------------
A read the planner routes to the mirror (``route.target == "mirror"``: a pure read of
mirrored tables, translation proven) that ``cache.is_cacheable`` also admits (no
volatile or unknown function; time buckets expire at their boundary), outside a
transaction, when the session's settings are known (``settings_dirty`` false) and
``pgaccel.cache`` is on for the session. Only answers the **mirror** produced are
stored: at that moment every table read was clean in the freshness tracker, so the
result reflects the origin as of the tables' ``verified_at``. Origin answers are
never stored: the tracker reports only a table's *first* change after a snapshot
(it marks it dirty), so later changes to a dirty table would be invisible.

The value is the encoded wire result: RowDescription + DataRow... + CommandComplete
(no ReadyForQuery), captured while the mirror answer streams to the client and given
up past ``max_entry_bytes``.

What a hit checks (no origin round trip)
----------------------------------------
* the key: statement fingerprint (token-normalised text), parameter bytes, formats
  and declared types, result formats, role (``current_user``), database and every
  setting that changes result bytes (search_path, TimeZone, DateStyle,
  IntervalStyle, extra_float_digits, bytea_output, client_encoding, lc_*...);
* freshness: the entry is known correct within the session's ``max_staleness``
  (``SET pgaccel.max_staleness`` or ``[mirror] max_staleness``): fresh when no table
  it read changed since (generations) and the tracker has verified them; stale but
  still within the allowed staleness is served and refreshed in the background;
* read-your-writes: nothing computed before the session's own last write, nor before
  the last DDL/GRANT/REVOKE that passed through pgaccel (``not_before``);
* privileges: entries are per role by default, so the role passed the origin's
  privilege check when the entry was made. A REVOKE (any DDL) through pgaccel makes
  every earlier entry a miss for everyone. A REVOKE made *directly* on the origin is
  not seen: the role keeps getting hits until a table it read changes or the entry's
  ``ttl`` ends (or ``pgaccel cache clear``); the same holds for other DDL made
  directly on the origin. With ``share_across_roles`` a session checks on the
  origin, once per table (and again after any DDL through pgaccel), that its role
  may read every table of an entry before it serves it.

How changes reach it
--------------------
* :meth:`CacheService.tables_changed` — the callback API for change feeds
  (thread-safe). Whatever applies or observes origin changes calls it for every
  committed change, before acknowledging the feed position. **A mirror that applies
  changes (CDC) must call it**; the watcher below only knows the snapshot tracker.
* The watcher (:meth:`CacheService._watch`) adapts the current
  ``mirror.freshness.FreshnessTracker`` without changing it: after each poll it bumps
  tables that became dirty, marks clean tracked tables verified up to the poll's
  start, and bumps tables a sync re-copied (then prewarms the most requested entries
  that read them).
* Writes through pgaccel: route kind write/ddl (or a read that may write: unknown
  functions, parse failures, several statements, DO/CALL) bump every table when
  their ReadyForQuery arrives (the planner does not name a write's tables; a trigger
  or a cascade could touch others anyway) and again when the transaction ends.

Restart rule
------------
Entries and generations are on disk. A new process continues the generations' epoch
only when the feed proves continuity: same replication slot and coverage LSN, and
the tracker's applied position is the one our last bump recorded (no change was
applied to the mirror without being bumped, e.g. a crash between the two). Then entries become fresh again once the tracker has polled after the
restart (every table dirty at that point is bumped first, and every table a sync
re-copied while pgaccel was down). Otherwise a new epoch
starts and older entries are only ever *stale*: served while younger than the
session's allowed staleness, then refreshed.

Reasons (``statements{route=cache,reason=...}``, logs, ``EXPLAIN (ROUTE)``)
-------------------------------------------------------------------------
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
from dataclasses import dataclass
from typing import Iterable

from cache import (FRESH, MISS, STALE, Allowlist, KeyScope, Prewarmer, Refresher, ResultCache,
                   SingleFlight, is_cacheable)
from cache.key import analyse

from .observe import STATS, StatementEvent

log = logging.getLogger(__name__)

CACHE_REASONS: dict[str, str] = {
    "cache_hit": "answered from the result cache: the entry is known current (no table it read changed)",
    "cache_stale_hit": "answered from the result cache within the allowed staleness; refreshed in the background",
    "cache_joined": "an identical statement was being computed by another session: its result was shared",
    "cache_row_limit": "a cached portal executed with a row limit: run on the origin instead",
}
__doc__ += "\n" + "\n".join(f"* ``{k}`` — {v}" for k, v in CACHE_REASONS.items()) + "\n"

_HDR = struct.Struct("!Bi")
_RFQ_IDLE = b"Z\x00\x00\x00\x05I"
# Settings fetched by the executor (session_vars) that change results
_VAR_SETTINGS = ("search_path", "extra_float_digits", "bytea_output", "lc_monetary", "lc_numeric", "lc_time")
_OFF = ("off", "false", "0", "no")

Table = tuple[str, str]


class Capture:
    """Bytes of a result as they are sent, up to ``limit`` (then given up)."""

    __slots__ = ("parts", "size", "limit", "overflow")

    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.overflow = False

    def add(self, b: bytes) -> None:
        if self.overflow:
            return
        self.size += len(b)
        if self.size > self.limit:
            self.overflow = True
            self.parts = []
            return
        self.parts.append(b)

    def payload(self) -> bytes | None:
        return None if self.overflow else b"".join(self.parts)


def split_payload(payload: bytes) -> tuple[bytes, bytes]:
    """(RowDescription frame, the rest: DataRows + CommandComplete)."""
    if payload[:1] != b"T":
        return b"", payload
    end = 1 + _HDR.unpack_from(payload, 0)[1]
    return payload[:end], payload[end:]


def take_rows(body: bytes, pos: int, max_rows: int) -> tuple[bytes, int, bool]:
    """From ``pos`` in DataRows+CommandComplete: up to ``max_rows`` DataRows (0: all,
    with the CommandComplete). Returns (bytes to send, new pos, done)."""
    if not max_rows:
        return body[pos:], len(body), True
    start, n, p = pos, 0, pos
    while p < len(body) and body[p:p + 1] == b"D":
        if n == max_rows:
            return body[start:p], p, False
        p += 1 + _HDR.unpack_from(body, p)[1]
        n += 1
    if n == max_rows and p < len(body):
        # exactly max_rows left: Postgres still suspends; the next Execute gets the tag
        return body[start:p], p, False
    return body[start:], len(body), True


@dataclass
class Recipe:
    """What a background refresh needs to compute an entry again from the mirror."""

    sql: str
    route: object
    params: tuple
    fields: tuple            # Field tuple with result formats applied
    formats: tuple
    settings: object         # OutputSettings
    timezone: str


class CacheService:
    def __init__(self, server, cfg) -> None:
        self.server = server
        self.cfg = cfg
        self.allowlist = Allowlist.from_config(cfg.allowlist)
        self.cache: ResultCache | None = None
        self.flight = SingleFlight()
        self.refresher: Refresher | None = None
        self.prewarmer = Prewarmer(capacity=2000)
        self.recipes: dict = {}
        self.ddl_at = 0.0                 # last DDL through pgaccel (wall time)
        self._watcher: asyncio.Task | None = None
        self._seen_dirty: set[Table] = set()
        self._seen_catalog: dict[Table, tuple] | None = None
        self._seen_polls = -1
        self.counts = {"joined": 0, "refreshes": 0, "prewarms": 0, "not_cacheable": 0, "too_large": 0,
                       "stores": 0}
        self._refresh_cursors: list = []

    # ------------------------------------------------------------------ lifecycle

    def feed_id(self) -> str | None:
        eng = self.server.mirror
        tr = getattr(eng, "freshness", None) if eng is not None else None
        if tr is None or not tr.coverage_lsn:
            return None
        return f"{tr.slot}@{tr.coverage_lsn}"

    async def start(self) -> None:
        c = self.cfg
        self.cache = ResultCache(c.path, max_bytes=c.max_bytes, max_entry_bytes=c.max_entry_bytes,
                                 memory_bytes=c.memory_bytes, ttl=c.ttl or None, feed_id=self.feed_id())
        self.refresher = Refresher(self.flight, concurrency=2)
        self._seen_dirty = set()
        self._listening = False
        tr = getattr(self.server.mirror, "freshness", None) if self.server.mirror is not None else None
        if tr is not None and hasattr(tr, "add_listener"):
            # attached before the tracker's first poll (Server._open_mirror)
            g = self.cache.generations
            # a crash between the mirror's commit of a change and our bump for it: the
            # tracker's applied position moved past the one our last bump recorded
            if g.noted("applied_lsn") != getattr(tr, "applied_lsn", None):
                g.new_epoch(self.feed_id())
            tr.add_listener(self._on_feed)
            self._listening = True
        if self.server.mirror is not None:
            self._watch_once(first=True)
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        log.info("result cache at %s: epoch %d, %s", c.path, self.cache.generations.epoch,
                 "continuous with the change feed" if self.feed_id() else "no change feed (entries age out)")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            try:
                await self._watcher
            except BaseException:
                pass
        if self.refresher is not None:
            await self.refresher.close()
        for cur in self._refresh_cursors:
            try:
                cur.close()
            except Exception:
                pass
        if self.cache is not None:
            self.cache.close()

    # ------------------------------------------------------------------ changes

    def tables_changed(self, tables: Iterable[Table], verified_at: float | None = None,
                       verified_tables: Iterable[Table] | None = None) -> None:
        """The callback API for change feeds (thread-safe): every committed change to
        ``tables`` is bumped; optionally ``verified_tables`` (default: ``tables``) are
        known to have every change before ``verified_at`` reported."""
        g = self.cache.generations
        tables = [(t[0], t[1]) for t in tables]
        if verified_at is None:
            g.bump(tables)
        else:
            g.observe(tables, verified_at, tables if verified_tables is None else verified_tables)

    def _on_feed(self, changed, verified_at) -> None:
        """The tracker's listener (its poller thread): every table a committed change
        touched since the last poll, and the poll's start when it is complete. Runs
        after the mirror's commit and before the slot advances."""
        try:
            g = self.cache.generations
            tr = self.server.mirror.freshness
            if verified_at is None:
                g.bump(changed)
            else:
                dirty = tr.dirty_tables()
                clean = [k for k in self.server.mirror.catalog.tables if k not in dirty and tr.tracked(*k)]
                g.observe(changed, verified_at, clean)
            g.note("applied_lsn", getattr(tr, "applied_lsn", None))
        except Exception:
            log.exception("result cache: change feed listener failed")
            self.cache.generations.bump_all()

    def write_settled(self, session, everything: bool, ddl: bool) -> None:
        """A write that passed through ``session`` has its ReadyForQuery."""
        if self.cache is None:
            return
        self.cache.generations.bump_all()
        if ddl:
            self.ddl_at = time.time()

    async def _watch(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(0.02)
            n += 1
            try:
                if n % 25 == 0:
                    self._check_cleared()
                self._watch_once()
            except Exception:
                log.exception("result cache: change watcher failed")

    def _check_cleared(self) -> None:
        """``pgaccel cache clear`` (another process) moved the persisted epoch: drop the
        memory front and follow, so nothing from before the clear is served again."""
        g = self.cache.generations
        db = getattr(g, "_db", None)
        if db is None:
            return
        disk_epoch = int(db.get(g._EPOCH, g.epoch))
        if disk_epoch != g.epoch:
            with self.cache._lock:
                self.cache._front.clear()
                self.cache._front_bytes = 0
            g.epoch = disk_epoch
            self.recipes.clear()
            log.info("result cache cleared from outside: epoch %d", disk_epoch)

    def _watch_once(self, first: bool = False) -> None:
        eng = self.server.mirror
        g = self.cache.generations
        cat = eng.catalog
        snap = {k: (t.snapshot_lsn, t.synced_at, getattr(t, "table_oid", 0)) for k, t in cat.tables.items()}
        if self._seen_catalog is None:
            # tables re-copied while we were down (``pgaccel sync``): bump them
            noted = g.noted("catalog")
            self._seen_catalog = {(a, b): tuple(v) for a, b, v in noted} if noted is not None else None
        if self._seen_catalog is not None and snap != self._seen_catalog:
            changed = {k for k in set(snap) | set(self._seen_catalog) if snap.get(k) != self._seen_catalog.get(k)}
            g.bump(changed)
            self._prewarm(changed)
        if snap != self._seen_catalog:
            g.note("catalog", [(a, b, list(v)) for (a, b), v in snap.items()])
        self._seen_catalog = snap
        tr = eng.freshness
        if tr is None or tr.mode != "logical":
            g.unverify()
            return
        fid = self.feed_id()
        if g.feed_id is None or fid.split("#")[0] != g.feed_id.split("#")[0]:
            g.new_epoch(fid)     # the slot was (re)created: nothing before is provably complete
        if self._listening:
            newly = tr.dirty_tables() - self._seen_dirty if not first else tr.dirty_tables()
            if newly:
                self.cache.generations.bump(newly)
            self._seen_dirty = tr.dirty_tables()
            return
        polls = tr.polls
        verified = tr._verified_at          # read before the dirty set: the tracker writes it after
        dirty = tr.dirty_tables()
        newly = dirty - self._seen_dirty if not first else dirty
        if newly:
            g.bump(newly)
        self._seen_dirty = dirty
        if dirty:
            g.unverify(dirty)
        if polls != self._seen_polls and verified:
            self._seen_polls = polls
            clean = [k for k, t in cat.tables.items() if k not in dirty and tr.tracked(*k)]
            g.observe((), verified, clean)

    # ------------------------------------------------------------------ sessions

    def usable(self, s) -> bool:
        return (self.cache is not None and s.status == b"I" and not s.settings_dirty
                and s.session_vars.get("pgaccel.cache", "on").lower() not in _OFF)

    def max_staleness(self, s) -> float:
        from .config import parse_duration

        v = s.session_vars.get("pgaccel.max_staleness")
        allowed = parse_duration(v) if v is not None else self.server.config.mirror.max_staleness
        return math.inf if allowed < 0 else allowed

    def scope(self, s) -> KeyScope:
        ctx = s.context()
        if s.cache_scope is not None and s.cache_scope[0] is ctx:
            return s.cache_scope[1]
        settings = dict(s.upstream.params) if s.upstream else {}
        sv = s.session_vars
        for k in _VAR_SETTINGS:
            if k in sv:
                settings[k] = sv[k]
        scope = KeyScope.for_session(sv.get("current_user", s.user), s.database, settings,
                                     self.cfg.share_across_roles)
        s.cache_scope = (ctx, scope)
        return scope

    def not_before(self, s) -> float:
        """Entries known correct only before this are not served (not even stale): the
        session's last write, the last DDL through pgaccel, and the last grant or role
        membership change the mirror's change feed saw on the origin."""
        eng = self.server.mirror
        tr = getattr(eng, "freshness", None) if eng is not None else None
        grants = getattr(tr, "grants", None)
        return max(s.last_write_at, self.ddl_at, grants.changed_at if grants is not None else 0.0)

    def key_for(self, s, sql: str, params=(), param_formats=(), param_types=(), result_formats=()):
        """(key, cacheability) for a statement the session may serve from the cache, or None."""
        st = analyse(sql)
        ok = is_cacheable(st, allowlist=self.allowlist, timezone=s.context().timezone)
        if not ok.ok:
            self.counts["not_cacheable"] += 1
            return None
        key = self.scope(s).key(st, params, param_formats, param_types, result_formats)
        return key, ok

    def lookup(self, s, key, tables: Iterable[Table] = ()):
        """A servable Lookup (fresh or stale) or None. Schedules the refresh of a stale one."""
        r = self.cache.lookup(key, None, self.max_staleness(s), not_before=self.not_before(s))
        if r.state == MISS:
            return None
        if key.role == "*" and not self._may_read(s, r.entry.tables):
            return None
        self.prewarmer.record(key, r.entry.tables, r.entry.sql)
        if r.state == STALE:
            self.schedule_refresh(key)
        return r

    def _may_read(self, s, tables) -> bool:
        """Shared entries: the session's role was checked on the origin for every table."""
        for t in tables:
            got = s.privileges.get((t[0], t[1]))
            if got is None or not got[1] or got[0] < self.ddl_at:
                return False
        return True

    def note_privileges(self, s, tables, ok: bool) -> None:
        now = time.time()
        for t in tables:
            s.privileges[(t[0], t[1])] = (now, ok)

    def hit_simple(self, s, sql: str, route) -> bytes | None:
        """The synchronous fast path for a simple Query: the payload + ReadyForQuery, or None."""
        if not self.usable(s):
            return None
        kc = self.key_for(s, sql)
        if kc is None:
            return None
        r = self.lookup(s, kc[0])
        if r is None:
            s.cache_probe = kc[0]
            return None
        STATS.statement(StatementEvent(s.id, "cache", "cache_hit" if r.state == FRESH else "cache_stale_hit",
                                       0.0, sql[:200], rows=r.entry.rows))
        return r.entry.payload + _RFQ_IDLE

    def store(self, s, key, ok, payload: bytes | None, ticket, rows: int, sql: str, recipe: Recipe | None) -> None:
        if payload is None:
            self.counts["too_large"] += 1
            return
        if self.cache.put(key, payload, ticket, rows=rows, sql=sql, expires_at=ok.expires_at):
            self.counts["stores"] += 1
            self.prewarmer.record(key, ticket.tables, sql)
            if recipe is not None:
                if len(self.recipes) > 4000:
                    self.recipes.clear()
                self.recipes[key] = recipe

    def ticket(self, route):
        """Taken just before the mirror runs a query: generations and the tables' verified time."""
        tr = self.server.executor.freshness
        as_of = time.time()
        for sc, t in route.tables:
            v = tr.freshness(sc, t)[0] if tr is not None else None
            if v is None:
                tab = self.server.mirror.catalog.get(sc, t)
                v = tab.synced_at if tab is not None else 0.0
            as_of = min(as_of, v)
        return self.cache.begin(route.tables, valid_as_of=as_of)

    # ------------------------------------------------------------------ refresh and prewarm

    def schedule_refresh(self, key) -> bool:
        recipe = self.recipes.get(key)
        if recipe is None or self.refresher is None:
            return False
        return self.refresher.schedule(key, lambda: self._recompute(key, recipe))

    def _prewarm(self, tables: set) -> None:
        if not tables:
            return
        for key in self.prewarmer.candidates(tables, limit=20):
            if self.schedule_refresh(key):
                self.counts["prewarms"] += 1

    async def _recompute(self, key, recipe: Recipe) -> bytes | None:
        ex = self.server.executor
        tr = ex.freshness
        if tr is not None and any(tr.lag_seconds(sc, t) == math.inf for sc, t in recipe.route.tables):
            return None     # the mirror lacks changes: the next miss goes to the origin
        ticket = self.ticket(recipe.route)
        cur = self._refresh_cursors.pop() if self._refresh_cursors else None
        try:
            payload, rows, cur = await ex.compute_detached(recipe, cur, self.cfg.max_entry_bytes)
        finally:
            if cur is not None:
                self._refresh_cursors.append(cur)
        if payload is None:
            return None
        ok = is_cacheable(recipe.sql, allowlist=self.allowlist, timezone=recipe.timezone)
        if not ok.ok:
            return None
        self.counts["refreshes"] += 1
        self.cache.put(key, payload, ticket, rows=rows, sql=recipe.sql, expires_at=ok.expires_at)
        return payload

    # ------------------------------------------------------------------ admin

    def age_of(self, s, sql: str, route) -> tuple[str, float] | None:
        """For EXPLAIN (ROUTE): (state, age) of the entry this session would get, or None."""
        if self.cache is None or not (route.target == "mirror"):
            return None
        if s.status != b"I" or s.session_vars.get("pgaccel.cache", "on").lower() in _OFF:
            return None
        kc = self.key_for(s, sql)
        if kc is None:
            return None
        entry = self.cache.peek(kc[0])     # not counted as a lookup
        now = time.time()
        if entry is None or (entry.expires_at is not None and now >= entry.expires_at):
            return None
        correct_as_of, fresh = self.cache.judge(entry, None, now)
        age = max(0.0, now - correct_as_of)
        if correct_as_of < self.not_before(s) or age > self.max_staleness(s):
            return None
        if kc[0].role == "*" and not self._may_read(s, entry.tables):
            return None
        return (FRESH if fresh else STALE), age

    def stats_rows(self) -> list[tuple]:
        st = self.cache.stats(top=10) if self.cache is not None else {}
        if not st:
            return [("enabled", "off")]
        rows = [("enabled", "on"), ("entries", str(st["entries"])), ("bytes", str(st["bytes"])),
                ("max_bytes", str(st["max_bytes"])), ("memory_entries", str(st["memory_entries"])),
                ("memory_bytes", str(st["memory_bytes"])),
                ("hits", str(st["hits"])), ("fresh_hits", str(st["fresh_hits"])),
                ("stale_hits", str(st["stale_hits"])), ("misses", str(st["misses"])),
                ("hit_rate", f"{st['hit_rate']:.4f}"), ("stores", str(st["stores"])),
                ("too_large", str(st["too_large"] + self.counts["too_large"])),
                ("not_cacheable", str(self.counts["not_cacheable"])),
                ("joined", str(self.counts["joined"])), ("refreshes", str(self.counts["refreshes"])),
                ("prewarms", str(self.counts["prewarms"])), ("corrupt", str(st["corrupt"])),
                ("epoch", str(st["epoch"]))]
        for i, t in enumerate(st["top"], 1):
            rows.append((f"top{i}", f"{t['fingerprint']} hits={t['hits']} {t['sql']}"))
        return rows
