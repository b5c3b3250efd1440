"""Which results to recompute after a mirror sync invalidated tables.

``Prewarmer.record(key, tables, sql)`` on every cacheable request (hit or miss);
counts decay exponentially (half-life, default one hour) so yesterday's dashboard
does not outrank today's. At most ``capacity`` keys are tracked: past it, the
lowest-scored half is dropped (the top-N survive).

``candidates(invalidated_tables, limit)``: the most requested keys that read any of
those tables, best first. The proxy recomputes each through the same
SingleFlight/Refresher as a stale hit, with what it needs to run it again:
``sql_for(key)`` (the statement text) and the key itself (params, formats, role,
database, settings).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Hashable, Iterable

Table = tuple[str, str]


class Prewarmer:
    def __init__(self, capacity: int = 2000, half_life: float = 3600.0) -> None:
        self.capacity = capacity
        self._k = math.log(2) / half_life
        self._lock = threading.Lock()
        # key -> [score at t, t, tables, sql]
        self._items: dict[Hashable, list] = {}

    def _score(self, item: list, now: float) -> float:
        return item[0] * math.exp(-self._k * (now - item[1]))

    def record(self, key: Hashable, tables: Iterable[Table], sql: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            item = self._items.get(key)
            if item is None:
                if len(self._items) >= self.capacity:
                    self._prune(now)
                self._items[key] = [1.0, now, frozenset((t[0], t[1]) for t in tables), sql]
            else:
                item[0] = self._score(item, now) + 1.0
                item[1] = now

    def _prune(self, now: float) -> None:
        ranked = sorted(self._items.items(), key=lambda kv: self._score(kv[1], now), reverse=True)
        self._items = dict(ranked[: self.capacity // 2])

    def candidates(self, invalidated_tables: Iterable[Table], limit: int = 20,
                   now: float | None = None, min_score: float = 0.0) -> list:
        now = time.time() if now is None else now
        inv = {(t[0], t[1]) for t in invalidated_tables}
        with self._lock:
            hits = [(self._score(item, now), key) for key, item in self._items.items()
                    if not inv.isdisjoint(item[2])]
        hits = [h for h in hits if h[0] > min_score]
        hits.sort(key=lambda h: h[0], reverse=True)
        return [key for _, key in hits[:limit]]

    def sql_for(self, key: Hashable) -> str | None:
        item = self._items.get(key)
        return None if item is None else item[3]

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
