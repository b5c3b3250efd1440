"""Table generations: how the cache knows a result stopped being true.

Each table ``(schema, table)`` has a generation, an int that only grows. It is
bumped when

* the mirror's change feed reports a committed change to the table (every change,
  not only the first one that makes the mirror table dirty), or a sync swaps in a
  new copy of it;
* a write to the table passes through pgaccel — once when its CommandComplete
  arrives and once more when the transaction that made it ends (an entry computed
  by another session between the two saw the pre-commit state).

Invalidation is a bump: no key is scanned. An entry remembers the generations of
the tables it read, snapshotted *before* its query ran (a change during the query
then makes the entry out of date at once instead of hiding behind the new number).

Freshness
---------
Generations alone only cover changes pgaccel has *seen*. The change feed lags (the
mirror polls every ~0.5 s), so each table also has ``verified_at``: the wall time up
to which every committed change to it has been bumped. ``observe(changed,
verified_at, tables)`` does both under one lock — bump first, then advance
``verified_at`` — so a reader never sees the new time with the old generation.
A table no feed watches (writes elsewhere would be invisible) has
``verified_at=None``.

An entry is *known correct as of*

    min over its tables t of
        max(entry.valid_as_of, verified_at[t])   if gen[t] == entry.gen[t] and verified_at[t] is not None
        entry.valid_as_of                         otherwise

(a query that reads no table is correct as of now). Its *age* is now minus that.
``valid_as_of`` is when the result reflected the origin: the time before the query
was sent for an origin result, the mirror tables' ``verified_at`` for a mirror
result. ``store.ResultCache.lookup`` turns that into fresh / stale / miss.

Restart safety
--------------
Counters are persisted (diskcache, written through on every bump). That is not
enough by itself: changes made while pgaccel was down were never bumped, and a crash
can lose a bump whose change the feed had already acknowledged. So every opening of
the generations starts a new **epoch** unless continuity is proven, and an entry's
generations are only compared when it was stored in the current epoch; an entry
from an older epoch is correct only as of its own ``valid_as_of`` — servable as
stale within the allowed staleness, refreshed, never fresh.

Continuity is proven by the change feed: open with ``feed_id`` (e.g. the logical
slot name and the LSN from which its stream is complete, ``coverage_lsn``). If the
persisted epoch was recorded with the same ``feed_id``, the slot has kept every
change since, and will replay what happened while we were down at its next poll:
the epoch carries over and entries become fresh again once ``observe`` has advanced
``verified_at`` past the restart. This relies on one ordering the feed must keep:
**bump (persisted) before acknowledging the feed position** (advancing the slot).
If the feed is recreated (a new coverage LSN), call :meth:`new_epoch`.
``verified_at`` is never persisted: after a restart nothing is fresh until the feed
has reported again.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping

import diskcache

Table = tuple[str, str]


@dataclass(frozen=True, slots=True)
class TableState:
    generation: int
    verified_at: float | None     # every change committed before this time is in `generation`


def _name(t: Table) -> str:
    return f"{t[0]}\x1f{t[1]}"


class Generations:
    """Per-table generation counters, persisted; thread-safe."""

    _EPOCH = "__epoch__"
    _FEED = "__feed__"
    _ALL = "__all__"

    def __init__(self, path: str | os.PathLike | None = None, feed_id: str | None = None) -> None:
        self._lock = threading.Lock()
        self._gens: dict[Table, int] = {}
        self._all = 0     # bumped by bump_all(): part of every table's generation
        self._verified: dict[Table, float] = {}
        self._default_verified: float | None = None
        self._db = diskcache.Cache(os.fspath(path), eviction_policy="none", size_limit=2**40) if path else None
        prev_epoch, prev_feed = 0, None
        if self._db is not None:
            try:
                prev_epoch = int(self._db.get(self._EPOCH, 0))
                prev_feed = self._db.get(self._FEED)
                self._all = int(self._db.get(self._ALL, 0))
                for k in self._db.iterkeys():
                    if isinstance(k, str) and "\x1f" in k:
                        s, t = k.split("\x1f", 1)
                        self._gens[(s, t)] = int(self._db[k])
            except Exception:  # unreadable: start over, in a new epoch
                self._gens.clear()
                prev_epoch += 1
        if feed_id is not None and prev_feed == feed_id and prev_epoch:
            self.epoch = prev_epoch
        else:
            self.epoch = prev_epoch + 1
            self._persist_epoch(feed_id)
        self.feed_id = feed_id

    def _persist_epoch(self, feed_id: str | None) -> None:
        if self._db is not None:
            self._db.set(self._EPOCH, self.epoch)
            self._db.set(self._FEED, feed_id)

    def new_epoch(self, feed_id: str | None = None) -> int:
        """The change feed lost continuity (slot recreated, origin restored...): no
        entry stored so far can ever be fresh again."""
        with self._lock:
            self.epoch += 1
            self.feed_id = feed_id
            self._verified.clear()
            self._default_verified = None
            self._persist_epoch(feed_id)
            return self.epoch

    # -- changes ------------------------------------------------------------
    def bump(self, tables: Iterable[Table]) -> None:
        with self._lock:
            self._bump_locked(tables)

    def bump_all(self) -> None:
        """A write whose tables are unknown (DDL, a function with side effects...):
        every entry stops being fresh."""
        with self._lock:
            self._all += 1
            if self._db is not None:
                self._db.set(self._ALL, self._all)

    def _gen(self, t: Table) -> int:
        return (self._all << 32) | self._gens.get(t, 0)

    def _bump_locked(self, tables: Iterable[Table]) -> None:
        for t in tables:
            t = (t[0], t[1])
            g = self._gens.get(t, 0) + 1
            self._gens[t] = g
            if self._db is not None:
                self._db.set(_name(t), g)

    def observe(self, changed: Iterable[Table], verified_at: float,
                tables: Iterable[Table] | None = None) -> None:
        """One report of the change feed: bump ``changed``, then mark ``tables``
        (default: every table, i.e. the feed watches all of them) verified up to
        ``verified_at``. Atomic with respect to :meth:`current`."""
        with self._lock:
            self._bump_locked(changed)
            if tables is None:
                self._default_verified = verified_at
                self._verified.clear()
            else:
                for t in tables:
                    self._verified[(t[0], t[1])] = verified_at

    def unverify(self, tables: Iterable[Table] | None = None) -> None:
        """The feed stopped watching these tables (or all): they are never fresh."""
        with self._lock:
            if tables is None:
                self._default_verified = None
                self._verified.clear()
            else:
                for t in tables:
                    self._verified.pop((t[0], t[1]), None)

    def note(self, name: str, value) -> None:
        """Persist a small marker next to the counters (e.g. the feed position the
        last bump covered), to check continuity at the next opening."""
        if self._db is not None:
            self._db.set(f"__note__{name}", value)

    def noted(self, name: str, default=None):
        return default if self._db is None else self._db.get(f"__note__{name}", default)

    # -- answers ------------------------------------------------------------
    def snapshot(self, tables: Iterable[Table]) -> dict[Table, int]:
        """Generations to store with an entry; take it before running its query."""
        with self._lock:
            return {(t[0], t[1]): self._gen((t[0], t[1])) for t in tables}

    def generation(self, table: Table) -> int:
        return self._gen((table[0], table[1]))

    def current(self, tables: Iterable[Table]) -> Mapping[Table, TableState]:
        """What :meth:`store.ResultCache.lookup` compares an entry with."""
        with self._lock:
            out = {}
            for t in tables:
                out[t] = TableState(self._gen(t), self._verified.get(t, self._default_verified))
            return out

    __call__ = current

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
