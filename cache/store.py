"""ResultCache: diskcache for persistence, a small in-memory LRU in front.

Lookup states (see generations.py for "correct as of"):

* ``fresh`` — stored in the current epoch, every table's generation unchanged and
  watched by the change feed, and the result is known correct as of a time within
  the allowed staleness. Serve it.
* ``stale`` — a table changed since (or is not watched, or the entry is from before
  a restart), but the result is still within the allowed staleness of the origin.
  Serve it and refresh it in the background (``flight.Refresher``).
* ``miss`` — no entry, expired (TTL or end of its time bucket), corrupt, older than
  the session's own last write (``not_before``), or older than the allowed
  staleness. Never served. An entry that is only too stale is kept (another
  session may allow more staleness; a recomputation overwrites it); expired and
  corrupt ones are deleted.

``max_staleness`` is in seconds; ``None`` or a negative value means no limit (the
config's ``-1``); ``0`` accepts only a result proven current right now.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple

import diskcache

from .entry import CorruptEntry, Entry, decode, encode
from .generations import Generations, TableState
from .key import CacheKey

log = logging.getLogger(__name__)

Table = tuple[str, str]
CurrentFn = Callable[[Iterable[Table]], Mapping[Table, TableState]]

FRESH, STALE, MISS = "fresh", "stale", "miss"
TOP_TRACKED = 512


class Lookup(NamedTuple):
    entry: Entry | None
    state: str            # fresh | stale | miss
    age: float            # seconds since the result was known correct (inf on a miss without entry)
    reason: str           # fresh, stale, absent, expired, corrupt, too_stale, older_than_own_write


@dataclass(frozen=True, slots=True)
class Ticket:
    """Taken before a query runs: the generations (and epoch) its result will carry."""

    tables: dict[Table, int]
    epoch: int
    started_at: float
    valid_as_of: float


class ResultCache:
    def __init__(self, path: str | os.PathLike, max_bytes: int = 2 << 30, max_entry_bytes: int = 64 << 20,
                 memory_bytes: int = 64 << 20, ttl: float | None = 3600.0, *, feed_id: str | None = None,
                 generations: Generations | None = None) -> None:
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.memory_bytes = memory_bytes
        self.ttl = ttl if ttl is None or ttl > 0 else None
        self._disk = diskcache.Cache(os.fspath(root / "results"), size_limit=max_bytes,
                                     eviction_policy="least-recently-used", cull_limit=16,
                                     statistics=False)
        self.generations = generations if generations is not None else Generations(root / "generations", feed_id=feed_id)
        self._front: OrderedDict[bytes, Entry] = OrderedDict()
        self._front_bytes = 0
        self._lock = threading.Lock()
        self._counts = {"fresh_hits": 0, "stale_hits": 0, "misses": 0, "stores": 0,
                        "too_large": 0, "corrupt": 0, "errors": 0, "memory_hits": 0}
        self._top: dict[str, list] = {}   # fingerprint -> [hits, sql_preview]

    # -- writing ------------------------------------------------------------
    def begin(self, tables: Iterable[Table], valid_as_of: float | None = None) -> Ticket:
        """Call BEFORE running the query whose result will be stored. ``tables``: every
        table it reads (an empty list only for a query that reads none). ``valid_as_of``:
        for a mirror answer, the min ``verified_at`` of the mirror tables it reads;
        default now (an origin answer reflects at least the state at this instant)."""
        now = time.time()
        return Ticket(self.generations.snapshot(tables), self.generations.epoch, now,
                      now if valid_as_of is None else min(valid_as_of, now))

    def put(self, key: CacheKey, payload: bytes, ticket: Ticket, *, rows: int, sql: str,
            expires_at: float | None = None, ttl: float | None = None) -> bool:
        """Store a result; False when it is too large or could not be written."""
        if len(payload) > self.max_entry_bytes:
            self._counts["too_large"] += 1
            return False
        now = time.time()
        ttl = self.ttl if ttl is None else ttl
        bounds = [b for b in (expires_at, now + ttl if ttl else None) if b is not None]
        expiry = min(bounds) if bounds else None
        if expiry is not None and expiry <= now:
            return False
        entry = Entry(payload=bytes(payload), tables=dict(ticket.tables), created_at=now, rows=rows,
                      fingerprint=key.fingerprint, sql_preview=sql[:200], valid_as_of=ticket.valid_as_of,
                      expires_at=expiry, epoch=ticket.epoch, sql=sql, key=key)
        try:
            self._disk.set(key.digest, encode(entry), expire=None if expiry is None else expiry - now)
        except Exception as e:
            self._counts["errors"] += 1
            log.warning("result cache: could not store an entry: %s", e)
            return False
        self._counts["stores"] += 1
        self._remember(key.digest, entry)
        return True

    def _remember(self, digest: bytes, entry: Entry) -> None:
        size = entry.nbytes
        if size > self.memory_bytes // 4:
            return
        with self._lock:
            old = self._front.pop(digest, None)
            if old is not None:
                self._front_bytes -= old.nbytes
            self._front[digest] = entry
            self._front_bytes += size
            while self._front_bytes > self.memory_bytes and self._front:
                _, ev = self._front.popitem(last=False)
                self._front_bytes -= ev.nbytes

    def delete(self, key: CacheKey) -> None:
        self._forget(key.digest)

    def _forget(self, digest: bytes) -> None:
        with self._lock:
            old = self._front.pop(digest, None)
            if old is not None:
                self._front_bytes -= old.nbytes
        try:
            self._disk.delete(digest)
        except Exception:
            self._counts["errors"] += 1

    # -- reading ------------------------------------------------------------
    def peek(self, key: CacheKey) -> Entry | None:
        """The stored entry whatever its state (e.g. to find the SQL to recompute it)."""
        return self._load(key.digest)

    def _load(self, digest: bytes) -> Entry | None:
        with self._lock:
            entry = self._front.get(digest)
            if entry is not None:
                self._front.move_to_end(digest)
                self._counts["memory_hits"] += 1
                return entry
        try:
            blob = self._disk.get(digest)
        except Exception as e:  # unreadable file, sqlite error
            self._counts["errors"] += 1
            log.warning("result cache: unreadable entry dropped: %s", e)
            self._forget(digest)
            return None
        if blob is None:
            return None
        try:
            entry = decode(blob)
        except CorruptEntry as e:
            self._counts["corrupt"] += 1
            log.warning("result cache: corrupt entry dropped: %s", e)
            self._forget(digest)
            return None
        self._remember(digest, entry)
        return entry

    def lookup(self, key: CacheKey, current: CurrentFn | None = None, max_staleness: float | None = 5.0,
               *, not_before: float | None = None, now: float | None = None) -> Lookup:
        """Find ``key`` and judge it against the tables' current state.

        ``current(tables) -> {table: TableState}`` defaults to this cache's
        generations. ``not_before``: the session's last committed write (wall time);
        an entry not known correct after it is a miss (read your own writes)."""
        now = time.time() if now is None else now
        entry = self._load(key.digest)
        if entry is None:
            return self._miss("absent")
        if entry.key is not None and entry.key != key:
            self._counts["corrupt"] += 1
            self._forget(key.digest)
            return self._miss("corrupt")
        if entry.expires_at is not None and now >= entry.expires_at:
            self._forget(key.digest)
            return self._miss("expired")
        correct_as_of, fresh = self.judge(entry, current, now)
        age = max(0.0, now - correct_as_of)
        if not_before is not None and correct_as_of < not_before:
            return self._miss("older_than_own_write", entry, age)
        limit = math.inf if max_staleness is None or max_staleness < 0 else max_staleness
        if age > limit:
            return self._miss("too_stale", entry, age)
        state = FRESH if fresh else STALE
        with self._lock:
            self._counts["fresh_hits" if fresh else "stale_hits"] += 1
            top = self._top.get(entry.fingerprint)
            if top is None:
                if len(self._top) >= TOP_TRACKED:
                    self._prune_top()
                self._top[entry.fingerprint] = [1, entry.sql_preview]
            else:
                top[0] += 1
        return Lookup(entry, state, age, state)

    def get(self, key: CacheKey, current_generations_fn: CurrentFn | None = None,
            max_staleness: float | None = 5.0, **kw) -> tuple[Entry | None, str]:
        r = self.lookup(key, current_generations_fn, max_staleness, **kw)
        return r.entry if r.state != MISS else None, r.state

    def judge(self, entry: Entry, current: CurrentFn | None = None, now: float | None = None) -> tuple[float, bool]:
        """(known correct as of, fresh?) for ``entry`` given the tables' current state."""
        now = time.time() if now is None else now
        if not entry.tables:
            return now, True
        as_of = entry.as_of()
        same_epoch = entry.epoch == self.generations.epoch
        states = (current or self.generations.current)(entry.tables.keys())
        fresh = True
        correct = math.inf
        for t, g in entry.tables.items():
            st = states.get(t)
            if same_epoch and st is not None and st.generation == g and st.verified_at is not None:
                c = max(as_of, st.verified_at)
            else:
                c = as_of
                fresh = False
            if c < correct:
                correct = c
        return min(correct, now), fresh

    def _miss(self, reason: str, entry: Entry | None = None, age: float = math.inf) -> Lookup:
        self._counts["misses"] += 1
        return Lookup(entry, MISS, age, reason)

    def _prune_top(self) -> None:
        keep = sorted(self._top.items(), key=lambda kv: kv[1][0], reverse=True)[:TOP_TRACKED // 2]
        self._top = dict(keep)

    # -- control ------------------------------------------------------------
    def clear(self) -> int:
        with self._lock:
            self._front.clear()
            self._front_bytes = 0
            self._top.clear()
        try:
            return self._disk.clear()
        except Exception as e:
            log.warning("result cache: clear failed: %s", e)
            return 0

    def stats(self, top: int = 10) -> dict:
        c = dict(self._counts)
        hits = c["fresh_hits"] + c["stale_hits"]
        total = hits + c["misses"]
        try:
            entries, volume = len(self._disk), self._disk.volume()
        except Exception:
            entries, volume = -1, -1
        with self._lock:
            tops = sorted(self._top.items(), key=lambda kv: kv[1][0], reverse=True)[:top]
            mem_entries, mem_bytes = len(self._front), self._front_bytes
        return {
            "entries": entries, "bytes": volume, "max_bytes": self.max_bytes,
            "memory_entries": mem_entries, "memory_bytes": mem_bytes,
            "hits": hits, **c, "hit_rate": hits / total if total else 0.0,
            "epoch": self.generations.epoch,
            "top": [{"fingerprint": fp, "hits": h, "sql": preview} for fp, (h, preview) in tops],
        }

    def close(self) -> None:
        self._disk.close()
        self.generations.close()
