"""One-shot sync for ``pgaccel sync --config FILE``: snapshot the configured tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from mirror.engine import MirrorEngine
from mirror.snapshot import TableCopy


@dataclass(frozen=True)
class SyncReport:
    catalog_version: int
    snapshot_lsn: str | None
    synced_at: float
    seconds: float
    tables: list[TableCopy] = field(default_factory=list)  # .schema .name .rows .seconds .rows_per_second .error
    freshness_mode: str = "snapshot"

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def failed(self) -> list[TableCopy]:
        return [t for t in self.tables if t.error]

    def lines(self) -> list[str]:
        out = [f"{t.schema}.{t.name}: " + (f"FAILED {t.error}" if t.error else
               f"{t.rows} rows in {t.seconds:.2f}s ({t.rows_per_second:,.0f} rows/s)") for t in self.tables]
        out.append(f"total {self.rows} rows in {self.seconds:.2f}s, snapshot at {self.snapshot_lsn}, "
                   f"catalog version {self.catalog_version}, freshness {self.freshness_mode}")
        return out


def run_sync(origin_dsn: str, duckdb_path: str, tables: Iterable[str] = ("public.*",),
             exclude: Iterable[str] = (), progress: Callable | None = print, *,
             slot: str | None = None, threads: int = 2, memory_limit: str = "4GB") -> SyncReport:
    """Snapshot the matching origin tables into the DuckDB file at ``duckdb_path``.

    ``progress(table, rows_done, total_estimate)`` is called when each table starts and ends.
    ``slot``: name of the logical replication slot to create before the snapshot so that
    ``pgaccel serve`` can measure freshness from it (config ``mirror.mode = "logical"``).
    Leave None otherwise: an unconsumed slot makes the origin keep WAL forever.
    """
    with MirrorEngine(duckdb_path, threads=threads, memory_limit=memory_limit) as engine:
        mode = "snapshot"
        if slot:
            tracker = engine.track_freshness(origin_dsn, slot=slot, start=False)
            mode = "logical" if tracker.ensure_slot() else "snapshot"
        result = engine.sync_blocking(origin_dsn, tables, exclude, progress)
        return SyncReport(result.catalog.version, result.snapshot_lsn, result.synced_at, result.seconds,
                          result.copies, mode)
