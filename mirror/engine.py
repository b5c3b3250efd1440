"""The mirror's DuckDB database, shared by all client sessions.

One DuckDB database (file) per process. Each client session gets its own cursor
(``engine.cursor()``: a DuckDB connection sharing the database); a cursor must be
used by one thread at a time. Blocking DuckDB calls run in a bounded thread pool
through ``await engine.run(fn, *args)`` so the asyncio loop never blocks. A sync
runs on its own thread and its own cursor while queries keep being served; when it
finishes the new tables and the new ``engine.catalog`` are visible to every cursor
(DuckDB MVCC: a statement that started before the swap finishes on the old tables).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
from typing import Callable, Iterable

import duckdb

from mirror import catalog as cat
from mirror.catalog import MirrorCatalog


def postgres_scanner_path() -> str:
    """The postgres scanner shipped in the pip package (INSTALL cannot download here)."""
    from mirror.extensions import extension_path

    return extension_path("postgres")


class MirrorEngine:
    def __init__(self, path: str, threads: int = 2, memory_limit: str = "4GB") -> None:
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = duckdb.connect(path, config={"threads": threads, "memory_limit": memory_limit})
        self._db.execute(f"LOAD '{postgres_scanner_path()}'")
        cat.ensure_meta(self._db)
        self._catalog = cat.load(self._db)
        # more workers than DuckDB threads: a worker mostly waits inside DuckDB (or on a
        # source), and a small query must not queue behind a few long ones
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(8, 4 * threads), thread_name_prefix="mirror")
        self._sync_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror-sync")
        self._sync_lock = threading.Lock()
        self.freshness = None  # a FreshnessTracker once track_freshness() is called
        self._closed = False

    @property
    def catalog(self) -> MirrorCatalog:
        return self._catalog

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection to the mirror for one session (one thread at a time)."""
        return self._db.cursor()

    async def run(self, fn: Callable, *args, **kwargs):
        """Run a blocking call in the bounded worker pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def sync_blocking(self, origin_dsn: str, tables: Iterable[str] = ("public.*",),
                      exclude: Iterable[str] = (), progress=None, only=None):
        """Take a new snapshot (blocking). Returns a ``SnapshotResult``.

        ``only``: re-snapshot just these ``(schema, table)`` names, keep the other tables."""
        from mirror.snapshot import snapshot

        with self._sync_lock:
            tracker = self.freshness
            if tracker is not None:
                tracker.ensure_slot()  # the slot must exist before the snapshot
                pause = tracker.paused()
            else:
                pause = _nullcontext()
            with pause:
                con = self.cursor()
                try:
                    result = snapshot(con, origin_dsn, tables, exclude, previous=self._catalog,
                                      progress=progress, only=only)
                finally:
                    con.close()
                self._catalog = result.catalog
                if tracker is not None:
                    tracker.on_snapshot(result.catalog, None if only is None else set(only))
            return result

    async def sync(self, origin_dsn: str, tables: Iterable[str] = ("public.*",),
                   exclude: Iterable[str] = (), progress=None):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._sync_pool, functools.partial(self.sync_blocking, origin_dsn, list(tables), list(exclude), progress))

    def track_freshness(self, origin_dsn: str, slot: str = "pgaccel_mirror", interval: float = 0.5,
                        start: bool = True, **options):
        """Create (or reuse) the FreshnessTracker; syncs coordinate with it from now on.

        ``options`` go to :class:`mirror.freshness.FreshnessTracker` (``apply``,
        ``max_retained_wal``, ``batch_changes``...)."""
        from mirror.freshness import FreshnessTracker

        if self.freshness is None:
            self.freshness = FreshnessTracker(self, origin_dsn, slot=slot, interval=interval, **options)
            if start:
                self.freshness.start()
        return self.freshness

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.freshness is not None:
            self.freshness.stop()
        self._sync_pool.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
