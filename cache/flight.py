"""Single flight and background refresh (stale-while-revalidate), for asyncio.

``SingleFlight.run(key, coro_fn)``: the first caller for ``key`` starts
``coro_fn()`` in its own task; callers arriving while it runs await that same task.
Everyone gets its result or its exception. The key is released when the task
finishes, so a later miss runs again. A waiter that is cancelled (client went away)
does not cancel the computation for the others. A caller that passes
``not_before`` (its session's last write) does not join a computation that started
before it: it starts its own (read your own writes).

``Refresher.schedule(key, coro_fn)``: recompute a stale entry in the background,
at most ``concurrency`` at a time, deduplicated against pending refreshes and against
a miss of the same key already in flight (both go through the same SingleFlight).
Errors are logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Hashable

log = logging.getLogger(__name__)


class SingleFlight:
    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Task] = {}
        self._started_at: dict[Hashable, float] = {}
        self.started = 0     # computations started
        self.joined = 0      # callers that waited for someone else's computation

    def __contains__(self, key: Hashable) -> bool:
        return key in self._inflight

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(self, key: Hashable, coro_fn: Callable[[], Awaitable[Any]],
                  not_before: float | None = None) -> Any:
        task = self._inflight.get(key)
        if task is not None and not_before is not None and self._started_at[key] < not_before:
            task = None
        if task is None:
            task = asyncio.get_running_loop().create_task(coro_fn())
            self._inflight[key] = task
            self._started_at[key] = time.time()
            self.started += 1
            task.add_done_callback(lambda t, k=key: self._done(k, t))
        else:
            self.joined += 1
        return await asyncio.shield(task)

    def _done(self, key: Hashable, task: asyncio.Task) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
            del self._started_at[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: no "never retrieved" warning if every waiter left


class Refresher:
    def __init__(self, flight: SingleFlight | None = None, concurrency: int = 2, max_pending: int = 256) -> None:
        self.flight = flight if flight is not None else SingleFlight()
        self._sem = asyncio.Semaphore(concurrency)
        self._pending: dict[Hashable, asyncio.Task] = {}
        self.max_pending = max_pending
        self.scheduled = 0
        self.failed = 0
        self.dropped = 0

    def schedule(self, key: Hashable, coro_fn: Callable[[], Awaitable[Any]]) -> bool:
        """Start a background recomputation unless one for ``key`` is pending or in flight."""
        if key in self._pending or key in self.flight:
            return False
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return False
        task = asyncio.get_running_loop().create_task(self._refresh(key, coro_fn))
        self._pending[key] = task
        self.scheduled += 1
        task.add_done_callback(lambda t, k=key: self._pending.pop(k, None))
        return True

    async def _refresh(self, key: Hashable, coro_fn: Callable[[], Awaitable[Any]]) -> None:
        try:
            async with self._sem:
                await self.flight.run(key, coro_fn)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.failed += 1
            log.warning("cache refresh failed: %s: %s", type(e).__name__, e)

    def pending(self) -> int:
        return len(self._pending)

    async def drain(self) -> None:
        """Wait for every scheduled refresh (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)

    async def close(self) -> None:
        for t in list(self._pending.values()):
            t.cancel()
        await asyncio.gather(*list(self._pending.values()), return_exceptions=True)
