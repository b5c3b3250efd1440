"""How fresh each mirrored table is: measured from the origin's WAL, not assumed.

Mode ``logical`` (wal_level=logical and the privilege to create a slot):

* A logical replication slot (``test_decoding``, default name ``pgaccel_mirror``)
  exists BEFORE every snapshot is taken (``MirrorEngine.sync`` calls
  :meth:`FreshnessTracker.ensure_slot` first), so every transaction that is not in
  a snapshot is in the slot's stream. The LSN from which the stream is known to be
  complete (``coverage_lsn``: where we created the slot, or where we found it) is
  kept; a table whose ``snapshot_lsn`` is older than that is *untracked* and
  treated as in mode ``snapshot``.
* Every ``interval`` seconds a poll: ``t0 = now``; ``L = pg_current_wal_insert_lsn()``
  (every commit visible before t0 has its commit record below L); wait until the
  WAL is flushed up to L (decoding only reads flushed WAL; with
  ``synchronous_commit=off`` a commit is visible before it is flushed); peek the
  stream up to L; each decoded transaction that is NOT visible in a table's
  snapshot (exact test with the snapshot's xmin/xmax/xip, recorded at sync) marks
  the tables it changed *dirty*. The dirty set is persisted in the DuckDB file
  (``_pgaccel.freshness``) and only then the slot is advanced to L. Clean tables are
  then verified as of t0.
* A sync pauses the poller from before its snapshot until the new catalog is in
  place, then clears a re-synced table's dirty mark only when every transaction
  that dirtied it committed before the new snapshot (``xid < xmin``).

DDL is not decoded by ``test_decoding``: a schema change at the origin does not
mark a table dirty (the planner or a catalog check must catch it).

Mode ``snapshot`` (no logical decoding / no privilege / slot missing): a table is
"verified at its snapshot time" and its lag grows from ``synced_at``.

The full CDC stream (applying the changes instead of only noting them) can grow
from :meth:`FreshnessTracker._decode`: it already groups changes by transaction
and knows which ones are not in the copy.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from contextlib import contextmanager

import psycopg

from mirror import catalog as cat
from mirror.catalog import MirrorCatalog

log = logging.getLogger(__name__)

_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {cat.META_SCHEMA}.freshness (
        schema_name VARCHAR, table_name VARCHAR, dirty_xid BIGINT, dirty_lsn VARCHAR,
        PRIMARY KEY (schema_name, table_name))""",
]


def parse_lsn(lsn: str | None) -> int:
    if not lsn:
        return -1
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


_IDENT = re.compile(r'"((?:[^"]|"")*)"|([^".,:\s]+)')


def parse_table_list(s: str) -> tuple[list[tuple[str, str]], str]:
    """Parse ``public.a, "My S"."T": rest`` -> ([(schema, name)...], rest)."""
    out, pos = [], 0
    while True:
        parts = []
        for _ in range(2):
            m = _IDENT.match(s, pos)
            if not m:
                raise ValueError(f"cannot parse table name in {s!r}")
            parts.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2))
            pos = m.end()
            if s.startswith(".", pos):
                pos += 1
        out.append((parts[0], parts[1]))
        if s.startswith(", ", pos):
            pos += 2
            continue
        if s.startswith(":", pos):
            return out, s[pos + 1:].lstrip()
        raise ValueError(f"cannot parse table list in {s!r}")


def widen_xid(xid32: int, reference: int) -> int:
    """A 32-bit xid as a full xid8, in the epoch nearest to ``reference`` (an xid8)."""
    cand = (reference & ~0xFFFFFFFF) | xid32
    if cand > reference + (1 << 31):
        cand -= 1 << 32
    elif cand < reference - (1 << 31):
        cand += 1 << 32
    return cand


class FreshnessTracker:
    def __init__(self, engine, origin_dsn: str, slot: str = "pgaccel_mirror", interval: float = 0.5) -> None:
        self.engine = engine
        self.origin_dsn = origin_dsn
        self.slot = slot
        self.interval = interval
        self.mode = "snapshot"
        self.mode_reason = "slot not checked yet"
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._verified_at: float | None = None  # t0 of the last complete poll
        self._con = engine.cursor()
        for ddl in _DDL:
            self._con.execute(ddl)
        self._dirty: dict[tuple[str, str], int] = {
            (s, t): x for s, t, x, _ in self._con.execute(f"SELECT * FROM {cat.META_SCHEMA}.freshness").fetchall()}
        row = self._con.execute(f"SELECT value FROM {cat.META_SCHEMA}.meta WHERE key = ?",
                                [self._coverage_key]).fetchone()
        self.coverage_lsn: str | None = row[0] if row else None
        self.last_error: str | None = None
        self.polls = 0

    @property
    def _coverage_key(self) -> str:
        return f"freshness_coverage_lsn:{self.slot}"

    # -- slot ---------------------------------------------------------------
    def ensure_slot(self) -> bool:
        """Make sure the slot exists (create it if missing). Returns whether mode is logical."""
        with self._lock:
            try:
                with psycopg.connect(self.origin_dsn, autocommit=True) as c:
                    row = c.execute(
                        "SELECT plugin, database = current_database(), confirmed_flush_lsn::text"
                        " FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", (self.slot,)).fetchone()
                    if row is None:
                        lsn = c.execute("SELECT lsn::text FROM pg_catalog.pg_create_logical_replication_slot"
                                        "(%s, 'test_decoding')", (self.slot,)).fetchone()[0]
                        self._set_coverage(lsn)
                    elif row[0] != "test_decoding" or not row[1]:
                        raise RuntimeError(f"slot {self.slot} exists for another plugin or database")
                    elif self.coverage_lsn is None:
                        # found a slot we did not create: its stream is complete from confirmed_flush on
                        self._set_coverage(row[2])
                self.mode, self.mode_reason = "logical", ""
            except Exception as e:  # no wal_level=logical, no privilege, no free slot...
                self.mode, self.mode_reason = "snapshot", f"logical decoding unavailable: {e}".strip()
                log.warning("mirror freshness: %s; lag counts from snapshot time", self.mode_reason)
            return self.mode == "logical"

    def _set_coverage(self, lsn: str) -> None:
        self.coverage_lsn = lsn
        self._con.execute(f"DELETE FROM {cat.META_SCHEMA}.meta WHERE key = ?", [self._coverage_key])
        self._con.execute(f"INSERT INTO {cat.META_SCHEMA}.meta VALUES (?, ?)", [self._coverage_key, lsn])

    def drop_slot(self) -> None:
        with self._lock:
            with psycopg.connect(self.origin_dsn, autocommit=True) as c:
                c.execute("SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots"
                          " WHERE slot_name = %s", (self.slot,))
            self._con.execute(f"DELETE FROM {cat.META_SCHEMA}.meta WHERE key = ?", [self._coverage_key])
            self.coverage_lsn = None
            self.mode, self.mode_reason = "snapshot", "slot dropped"

    # -- polling ------------------------------------------------------------
    def start(self) -> None:
        self.ensure_slot()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mirror-freshness", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            try:
                self._con.close()
            except Exception:
                pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
                self.last_error = None
            except Exception as e:  # origin down etc.: verified_at stops moving, lag grows
                self.last_error = str(e)
                log.warning("mirror freshness poll failed: %s", e)
            self._stop.wait(self.interval)

    @contextmanager
    def paused(self):
        """Hold off polls (used by a sync from before its snapshot until its catalog is in place)."""
        with self._lock:
            yield

    def poll_once(self, flush_wait: float = 5.0) -> set[tuple[str, str]]:
        """One poll. Returns the tables newly marked dirty."""
        with self._lock:
            if self.mode != "logical" and not self.ensure_slot():
                return set()
            t0 = time.time()
            with psycopg.connect(self.origin_dsn, autocommit=True) as c:
                upto = c.execute("SELECT pg_catalog.pg_current_wal_insert_lsn()::text").fetchone()[0]
                deadline = time.monotonic() + flush_wait
                while parse_lsn(c.execute("SELECT pg_catalog.pg_current_wal_flush_lsn()::text").fetchone()[0]) \
                        < parse_lsn(upto):
                    if time.monotonic() > deadline:
                        raise TimeoutError("origin WAL not flushed up to the poll's LSN")
                    time.sleep(0.01)
                exists = c.execute("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
                                   (self.slot,)).fetchone()
                if not exists:  # dropped behind our back: nothing is tracked until the next sync
                    self.coverage_lsn = None
                    self.ensure_slot()
                    return set()
                rows = c.execute(
                    "SELECT lsn::text, xid::text, data FROM pg_catalog.pg_logical_slot_peek_changes"
                    "(%s, %s::pg_lsn, NULL, 'include-xids', '1', 'skip-empty-xacts', '1')",
                    (self.slot, upto)).fetchall()
                newly = self._decode(rows)
                if newly:
                    self._persist()
                try:
                    c.execute("SELECT pg_catalog.pg_replication_slot_advance(%s, %s::pg_lsn)", (self.slot, upto))
                except psycopg.errors.ObjectNotInPrerequisiteState:
                    pass  # already past upto
            self._verified_at = t0
            self.polls += 1
            return newly

    def _decode(self, rows) -> set[tuple[str, str]]:
        catalog: MirrorCatalog = self.engine.catalog
        newly: set[tuple[str, str]] = set()
        touched: set[tuple[str, str]] = set()
        for lsn, xid, data in rows:
            if data.startswith("BEGIN"):
                touched = set()
            elif data.startswith("table "):
                try:
                    tables, _ = parse_table_list(data[6:])
                except ValueError:
                    log.warning("mirror freshness: unparsed change %r; marking every table dirty", data[:200])
                    tables = list(catalog.tables)
                touched.update(tables)
            elif data.startswith("COMMIT"):
                for key in touched:
                    t = catalog.tables.get(key)
                    if t is None or not self._tracked(t):
                        continue
                    x = widen_xid(int(xid), t.snapshot_xmax)
                    if t.snapshot_includes(x):
                        continue
                    if key not in self._dirty:
                        newly.add(key)
                    self._dirty[key] = max(self._dirty.get(key, 0), x)
                touched = set()
        return newly

    def _persist(self) -> None:
        con = self._con
        con.execute("BEGIN")
        con.execute(f"DELETE FROM {cat.META_SCHEMA}.freshness")
        if self._dirty:
            con.executemany(f"INSERT INTO {cat.META_SCHEMA}.freshness VALUES (?, ?, ?, NULL)",
                            [(s, t, x) for (s, t), x in self._dirty.items()])
        con.execute("COMMIT")

    def on_snapshot(self, catalog: MirrorCatalog) -> None:
        """A sync swapped in ``catalog``: forget dirt the new snapshots include."""
        with self._lock:
            for key in list(self._dirty):
                t = catalog.tables.get(key)
                if t is None or self._dirty[key] < t.snapshot_xmin:
                    del self._dirty[key]
            self._persist()

    # -- answers ------------------------------------------------------------
    def _tracked(self, t) -> bool:
        return (self.mode == "logical" and self.coverage_lsn is not None
                and parse_lsn(t.snapshot_lsn) >= parse_lsn(self.coverage_lsn))

    def tracked(self, schema: str, table: str) -> bool:
        t = self.engine.catalog.get(schema, table)
        return t is not None and self._tracked(t)

    def freshness(self, schema: str, table: str) -> tuple[float | None, bool]:
        """(verified_at, dirty): the mirror table holds every change committed before
        ``verified_at``; ``dirty`` means a later change is known to be missing.
        A table that is not mirrored gives (None, True)."""
        t = self.engine.catalog.get(schema, table)
        if t is None or (schema, table) in self._dirty:
            return None, True
        if not self._tracked(t):
            return t.synced_at, False
        return max(self._verified_at or 0.0, t.synced_at), False

    def lag_seconds(self, schema: str, table: str) -> float:
        verified_at, dirty = self.freshness(schema, table)
        if dirty or verified_at is None:
            return math.inf
        return max(0.0, time.time() - verified_at)

    def dirty_tables(self) -> set[tuple[str, str]]:
        return set(self._dirty)
