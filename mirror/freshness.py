"""How fresh each mirrored table is, measured from the origin's WAL - and keeping it fresh.

Mode ``logical`` (wal_level=logical and the privilege to create a slot):

* A logical replication slot (``test_decoding``, default name ``pgaccel_mirror``)
  exists BEFORE every snapshot is taken (``MirrorEngine.sync`` calls
  :meth:`FreshnessTracker.ensure_slot` first), so every transaction that is not in
  a snapshot is in the slot's stream. The LSN from which the stream is known to be
  complete (``coverage_lsn``: where we created the slot, or where we found it) is
  kept; a table whose ``snapshot_lsn`` is older than that is *untracked* and
  treated as in mode ``snapshot`` (and re-snapshotted automatically when applying).
* Every ``interval`` seconds a poll: ``t0 = now``; ``L = pg_current_wal_insert_lsn()``
  (every commit visible before t0 has its commit record below L), in a statement
  that also commits an (empty) transaction with ``synchronous_commit=local`` so the
  WAL is flushed past L (decoding only reads flushed WAL; with
  ``synchronous_commit=off`` a commit is visible before it is flushed; where that
  is refused, t0 is verified by the first poll that finds L flushed); compare the
  mirrored tables' columns, key and OID on the origin with the catalog (a schema
  change, or a table dropped and re-created, makes that table dirty and schedules
  its re-snapshot: test_decoding emits no DDL); peek the stream up to L (at most
  ``batch_changes`` rows, whole transactions); each decoded transaction that is NOT
  visible in a table's snapshot (exact test with the snapshot's xmin/xmax/xip) is
  **applied** to that table (:mod:`mirror.replication`: net effect per primary key,
  one DELETE + one INSERT per table) - or, when it cannot be (no key, unknown
  column, a value the column cannot hold), marks the table *dirty*. All tables, the
  dirty set (``_pgaccel.freshness``) and the applied LSN (``_pgaccel.meta``) are
  written in ONE DuckDB transaction; only after its commit is the slot advanced. A
  transaction whose commit LSN is at or below the applied LSN is never applied
  again (a crash between the commit and the advance replays it from the slot), so
  ``kill -9`` anywhere loses nothing and doubles nothing. Clean tables are then
  verified as of t0.
* A sync pauses the poller from before its snapshot until the new catalog is in
  place, then clears a re-synced table's dirty mark when the new snapshot includes
  every transaction that dirtied it; a transaction consumed shortly before the
  snapshot yet not visible in it (its commit was in the WAL, not yet in the proc
  array) makes the table dirty again.
* Dirty and untracked tables are re-snapshotted one by one
  (:meth:`FreshnessTracker.resnapshot_pending`, from the poller thread), with a
  per-table back-off.
* The slot's retained WAL (``pg_current_wal_lsn() - restart_lsn``) is measured each
  poll and logged as a warning past ``max_retained_wal`` bytes: a slot that stops
  advancing makes the origin keep WAL until its disk fills (``pgaccel slot drop``).

Why ``test_decoding`` and not ``pgoutput``: pgoutput needs a publication, and
``CREATE PUBLICATION ... FOR TABLE`` needs ownership of every table (FOR ALL TABLES
a superuser); test_decoding needs only the REPLICATION attribute, already existing
slots keep working, and both give the same text values (pgoutput protocol 1 sends
the type output text too). What it costs: DDL is not in the stream (hence the
catalog check per poll) and changes to unmirrored tables cross the wire.

Mode ``snapshot`` (no logical decoding / no privilege / slot missing): a table is
"verified at its snapshot time" and its lag grows from ``synced_at``.

With ``apply=False`` the tracker only detects changes: a change marks the table
dirty until the next sync.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import math
import re
import threading
import time
from contextlib import contextmanager

import psycopg

from mirror import catalog as cat
from mirror.catalog import MirrorCatalog, MirrorTable
from mirror.polling import PollingThread

log = logging.getLogger(__name__)

_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {cat.META_SCHEMA}.freshness (
        schema_name VARCHAR, table_name VARCHAR, dirty_xid BIGINT, dirty_lsn VARCHAR,
        PRIMARY KEY (schema_name, table_name))""",
    f"ALTER TABLE {cat.META_SCHEMA}.freshness ADD COLUMN IF NOT EXISTS reason VARCHAR",
]

# The mirrored tables as the origin has them now: OID, a hash of the columns, the key
# the stream carries for UPDATE/DELETE (primary key, or the replica identity index).
_SCHEMA_SQL = """
SELECT w.s, w.t, c.oid, c.relreplident,
  (SELECT md5(string_agg(a.attnum || ':' || a.attname || ':' || a.atttypid || ':' || a.atttypmod, ','
                         ORDER BY a.attnum))
     FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT array_agg(a.attname::text ORDER BY k.ord)
     FROM pg_catalog.pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END),
  c.relrowsecurity,
  md5(coalesce(c.relacl::text, '') || '|' || coalesce((SELECT string_agg(a.attnum || ':' || a.attacl::text, ','
        ORDER BY a.attnum) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL), '')
      || '|' || (SELECT coalesce(string_agg(m.roleid || ':' || m.member, ',' ORDER BY m.roleid, m.member), '')
                 FROM pg_catalog.pg_auth_members m))
FROM unnest(%s::text[], %s::text[]) AS w(s, t)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = w.s
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.t AND c.relkind IN ('r', 'p')
"""


class GrantWatch:
    """Each table's grants (table, columns) and the role memberships, as the per-poll
    schema check last saw them (a hash). A change is reported to the trackers'
    listeners like a change of rows, and ``changed_at`` ends cached answers."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], str] = {}
        self._changed: set[tuple[str, str]] = set()
        self.changed_at = 0.0

    def see(self, key: tuple[str, str], acl: str | None) -> None:
        if acl is None:
            return
        if self._seen.get(key, acl) != acl:
            self._changed.add(key)
            self.changed_at = time.time()
            log.info("mirror: %s.%s: privileges changed on the origin", key[0], key[1])
        self._seen[key] = acl

    def take(self) -> set[tuple[str, str]]:
        out, self._changed = self._changed, set()
        return out


def schema_change(t: MirrorTable, oid, columns_md5, rls) -> str | None:
    """Why the origin's table (a ``_SCHEMA_SQL`` row) is no longer the one the mirror
    copied, or None. Each reason means: re-snapshot it, and meanwhile read the origin."""
    if oid is None:
        return "the table was dropped or renamed on the origin"
    if int(oid) != t.table_oid:
        return "the table was dropped and re-created on the origin"
    if columns_md5 != (columns_hash(t) if t.columns else None):
        return "the table's columns changed on the origin"
    if bool(rls) != bool(t.rls_enabled):
        return "row-level security was switched on or off on the origin"
    return None


def columns_hash(t: MirrorTable) -> str:
    """The same hash as ``_SCHEMA_SQL`` computes on the origin, from the mirror's catalog."""
    text = ",".join(f"{c.attnum}:{c.name}:{c.type_oid}:{c.typmod}" for c in sorted(t.columns, key=lambda c: c.attnum))
    return hashlib.md5(text.encode()).hexdigest()


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


class FreshnessTracker(PollingThread):
    def __init__(self, engine, origin_dsn: str, slot: str = "pgaccel_mirror", interval: float = 0.5, *,
                 apply: bool = True, max_retained_wal: int = 1 << 30, batch_changes: int = 100_000,
                 resnapshot_backoff: float = 5.0) -> None:
        self.engine = engine
        self.origin_dsn = origin_dsn
        self.slot = slot
        self.interval = interval
        self.apply = apply                      # apply changes (False: only mark tables dirty)
        self.max_retained_wal = max_retained_wal  # bytes of WAL the slot may hold back before a warning
        self.batch_changes = batch_changes      # most decoded rows per poll (whole transactions)
        self.resnapshot_backoff = resnapshot_backoff
        self.mode = "snapshot"
        self.mode_reason = "slot not checked yet"
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._verified_at: float | None = None  # t0 of the last complete poll
        self._con = engine.cursor()
        for ddl in _DDL:
            self._con.execute(ddl)
        self._dirty: dict[tuple[str, str], int] = {}
        self.table_errors: dict[tuple[str, str], str] = {}  # why a table is dirty / could not be applied
        for s, t, x, _, reason in self._con.execute(
                f"SELECT schema_name, table_name, dirty_xid, dirty_lsn, reason FROM {cat.META_SCHEMA}.freshness").fetchall():
            self._dirty[(s, t)] = x
            if reason:
                self.table_errors[(s, t)] = reason
        self.coverage_lsn: str | None = self._meta(self._coverage_key)
        self.applied_lsn: str | None = self._meta(self._applied_key)
        self.last_error: str | None = None
        self.polls = 0
        self.retained_wal: int | None = None    # bytes, measured each poll
        self.applied_rows = 0                   # net rows written to DuckDB since start
        self.applied_changes = 0                # decoded changes applied since start
        self.applied_transactions = 0
        self.last_poll_seconds = 0.0
        self.poll_seconds = 0.0                 # time spent in polls since start
        self.last_changed: set[tuple[str, str]] = set()
        self._keys: dict[tuple[str, str], tuple[str, ...]] = {}
        self.grants = GrantWatch()
        self._recent: collections.deque = collections.deque()  # (monotonic, xid8, tables) consumed
        self._resnap_after: dict[tuple[str, str], float] = {}
        self._listeners: list = []
        self._oc = None                         # the origin connection polls use
        self._wal_warned = 0.0
        self._more = False                      # the last poll stopped at batch_changes
        self._samples: collections.deque = collections.deque()  # (poll start time, insert LSN) not yet flushed
        self._force_flush = True

    @property
    def _coverage_key(self) -> str:
        return f"freshness_coverage_lsn:{self.slot}"

    @property
    def _applied_key(self) -> str:
        return f"freshness_applied_lsn:{self.slot}"

    def _meta(self, key: str) -> str | None:
        row = self._con.execute(f"SELECT value FROM {cat.META_SCHEMA}.meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str | None, con=None) -> None:
        con = con or self._con
        con.execute(f"DELETE FROM {cat.META_SCHEMA}.meta WHERE key = ?", [key])
        if value is not None:
            con.execute(f"INSERT INTO {cat.META_SCHEMA}.meta VALUES (?, ?)", [key, value])

    def add_listener(self, fn) -> None:
        """``fn(changed_tables, verified_at)`` after each poll's DuckDB commit and before the
        slot is advanced: ``changed_tables`` every (schema, table) a committed transaction of
        the poll touched (applied, or marked dirty), ``verified_at`` the poll's t0 when every
        change up to it is in (None after a partial poll). An exception fails the poll before
        the slot advances (the changes are reported again next poll)."""
        self._listeners.append(fn)

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
        self._set_meta(self._coverage_key, lsn)

    def drop_slot(self) -> None:
        with self._lock:
            self._close_origin()
            drop_slot(self.origin_dsn, self.slot)
            self._set_meta(self._coverage_key, None)
            self.coverage_lsn = None
            self.mode, self.mode_reason = "snapshot", "slot dropped"

    # -- polling ------------------------------------------------------------
    def start(self) -> None:
        self.ensure_slot()
        self._start_loop("mirror-freshness")

    def stop(self) -> None:
        self._stop_loop()
        with self._lock:
            self._close_origin()
            try:
                self._con.close()
            except Exception:
                pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll_once(flush_wait=0)
                self.last_error = None
            except Exception as e:  # origin down etc.: verified_at stops moving, lag grows
                self.last_error = str(e)
                log.warning("mirror freshness poll failed: %s", e)
            if self.apply and not self._stop.is_set():
                try:
                    self.resnapshot_pending()
                except Exception as e:
                    log.warning("mirror re-snapshot failed: %s", e)
            if not self._more:  # one poll per interval (back to back while behind)
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    @contextmanager
    def paused(self):
        """Hold off polls (used by a sync from before its snapshot until its catalog is in place)."""
        with self._lock:
            yield

    def _origin(self):
        if self._oc is None or self._oc.closed or self._oc.broken:
            self._oc = psycopg.connect(self.origin_dsn, autocommit=True, application_name="pgaccel-mirror")
            # the text test_decoding prints is the type output in THIS session's settings
            self._oc.execute("SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex';"
                             " SET extra_float_digits = 1; SET synchronous_commit = local")
        return self._oc

    def _close_origin(self) -> None:
        if self._oc is not None:
            try:
                self._oc.close()
            except Exception:
                pass
            self._oc = None

    def poll_once(self, flush_wait: float = 5.0) -> set[tuple[str, str]]:
        """One poll. Returns the tables newly marked dirty. ``flush_wait``: how long to wait
        for the origin to flush its WAL up to the poll's start (the background loop does
        not wait: what is not flushed yet is applied by the next poll)."""
        with self._lock:
            if self.mode != "logical" and not self.ensure_slot():
                return set()
            try:
                return self._poll(flush_wait)
            except psycopg.OperationalError:
                self._close_origin()
                raise

    def _poll(self, flush_wait: float) -> set[tuple[str, str]]:
        t0 = time.time()
        started = time.monotonic()
        c = self._origin()
        # every commit visible before t0 has its commit record below insert_lsn. Decoding
        # reads flushed WAL only (with synchronous_commit=off a commit is visible before
        # its flush): pg_current_xact_id() makes this statement commit a (decoding-empty)
        # transaction with synchronous_commit=local, which flushes the WAL past insert_lsn.
        # Where that is not allowed (a standby), wait up to flush_wait for the flush, else
        # decode what is flushed and verify up to the latest poll start whose LSN is flushed.
        if self._force_flush:
            try:
                insert_lsn = c.execute("SELECT pg_catalog.pg_current_wal_insert_lsn()::text,"
                                       " pg_catalog.pg_current_xact_id()").fetchone()[0]
            except psycopg.Error as e:
                self._force_flush = False
                log.info("mirror: cannot force a WAL flush per poll (%s); waiting for the origin's", e)
        if not self._force_flush:
            insert_lsn = c.execute("SELECT pg_catalog.pg_current_wal_insert_lsn()::text").fetchone()[0]
        self._samples.append((t0, parse_lsn(insert_lsn)))
        slot = c.execute("SELECT confirmed_flush_lsn::text,"
                         " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::bigint,"
                         " pg_catalog.pg_current_wal_flush_lsn()::text"
                         " FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", (self.slot,)).fetchone()
        if not slot:  # dropped behind our back: nothing is tracked until the next sync
            self.coverage_lsn = None
            self.retained_wal = None
            self.ensure_slot()
            return set()
        flush_lsn = slot[2]
        deadline = time.monotonic() + flush_wait
        while parse_lsn(flush_lsn) < parse_lsn(insert_lsn) and time.monotonic() < deadline:
            time.sleep(0.005)
            flush_lsn = c.execute("SELECT pg_catalog.pg_current_wal_flush_lsn()::text").fetchone()[0]
        upto = flush_lsn
        verified = None
        while self._samples and self._samples[0][1] <= parse_lsn(upto):
            verified = self._samples.popleft()[0]
        self._check_retained_wal(slot[1])
        catalog: MirrorCatalog = self.engine.catalog
        newly: set[tuple[str, str]] = set()
        dirty_before = dict(self._dirty)
        if self.apply:
            newly |= self._check_schema(c, catalog)  # after reading upto: any DDL before it is seen
        rows = c.execute(
            "SELECT lsn::text, xid::text, data FROM pg_catalog.pg_logical_slot_peek_changes"
            "(%s, %s::pg_lsn, %s, 'include-xids', '1', 'skip-empty-xacts', '1')",
            (self.slot, upto, self.batch_changes)).fetchall()
        complete = len(rows) < self.batch_changes
        end = upto
        if not complete:
            end = next((r[0] for r in reversed(rows) if r[2].startswith("COMMIT")), upto)
        batches, changed, ntx = self._decode(rows, catalog, newly)
        changed = changed | self.grants.take()
        if batches or self._dirty != dirty_before:
            self._commit(batches, end, newly)
        self.last_changed = changed
        for fn in list(self._listeners):
            fn(changed, verified if complete else None)
        if parse_lsn(end) > parse_lsn(slot[0]):
            try:
                c.execute("SELECT pg_catalog.pg_replication_slot_advance(%s, %s::pg_lsn)", (self.slot, end))
            except psycopg.errors.ObjectNotInPrerequisiteState:
                pass  # already past it
        self._more = not complete
        if complete and verified is not None:
            self._verified_at = verified
        elif not complete and verified is not None:
            self._samples.appendleft((verified, 0))  # not reached yet: keep for the next poll
        self.polls += 1
        self.applied_transactions += ntx
        self.last_poll_seconds = time.monotonic() - started
        self.poll_seconds += self.last_poll_seconds
        return newly

    def _check_retained_wal(self, retained) -> None:
        self.retained_wal = None if retained is None else int(retained)
        if self.retained_wal is not None and self.max_retained_wal and self.retained_wal > self.max_retained_wal \
                and time.monotonic() - self._wal_warned > 60:
            self._wal_warned = time.monotonic()
            log.warning("mirror: replication slot %s holds back %d MB of WAL on the origin (more than "
                        "mirror.max_retained_wal = %d MB): is the mirror applying? If pgaccel is gone for good, "
                        "run `pgaccel slot drop` or the origin's disk fills up",
                        self.slot, self.retained_wal >> 20, self.max_retained_wal >> 20)

    def _check_schema(self, c, catalog: MirrorCatalog) -> set[tuple[str, str]]:
        """Mark tables whose origin columns / OID differ from the catalog dirty; learn keys."""
        keys = [k for k, t in catalog.tables.items() if self._tracked(t)]
        newly: set[tuple[str, str]] = set()
        if not keys:
            return newly
        found = {(r[0], r[1]): r[2:] for r in c.execute(
            _SCHEMA_SQL, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()}
        for key in keys:
            t = catalog.tables[key]
            oid, replident, h, keycols, rls, acl = found.get(key, (None,) * 6)
            reason = schema_change(t, oid, h, rls)
            self.grants.see(key, acl)
            if reason:
                if self._mark_dirty(key, 0, reason + "; re-snapshot pending"):
                    newly.add(key)
                    log.info("mirror: %s.%s: %s", key[0], key[1], reason)
            self._keys[key] = tuple(keycols or ()) if replident in ("d", "i", "f") else ()
        return newly

    def _mark_dirty(self, key, xid: int, reason: str | None = None) -> bool:
        new = key not in self._dirty
        self._dirty[key] = max(self._dirty.get(key, 0), xid)
        if reason and (new or key not in self.table_errors):
            self.table_errors[key] = reason
        return new

    def _decode(self, rows, catalog: MirrorCatalog, newly: set):
        """Fold the decoded transactions into per-table batches (or dirty marks)."""
        from mirror.replication import CannotApply, TableBatch, parse_change

        applied = parse_lsn(self.applied_lsn)
        batches: dict[tuple[str, str], TableBatch] = {}
        changed: set[tuple[str, str]] = set()
        changes: list[tuple[list, str]] = []
        ntx = 0
        now = time.monotonic()
        for lsn, xid, data in rows:
            if data.startswith("BEGIN"):
                changes = []
            elif data.startswith("table "):
                try:
                    tables, rest = parse_table_list(data[6:])
                except ValueError:
                    log.warning("mirror freshness: unparsed change %r; marking every table dirty", data[:200])
                    tables, rest = list(catalog.tables), None
                tables = [k for k in tables if k in catalog.tables]
                if tables:
                    changes.append((tables, rest))
            elif data.startswith("COMMIT"):
                touched = {k for tables, _ in changes for k in tables}
                if not touched:
                    continue
                changed |= touched
                if parse_lsn(lsn) <= applied:  # applied before a crash, the slot not advanced yet
                    continue
                ntx += 1
                xids = {}
                for key in touched:
                    t = catalog.tables[key]
                    xids[key] = x = widen_xid(int(xid), t.snapshot_xmax)
                    if not self._tracked(t) or t.snapshot_includes(x):
                        xids[key] = None
                        continue
                    if not self.apply or key in self._dirty:
                        if self._mark_dirty(key, x):
                            newly.add(key)
                self._recent.append((now, max(v for v in xids.values() if v is not None) if any(
                    v is not None for v in xids.values()) else 0, frozenset(touched)))
                for tables, rest in changes:
                    for key in tables:
                        x = xids.get(key)
                        if x is None or key in self._dirty or not self.apply:
                            continue
                        try:
                            if rest is None:
                                raise CannotApply("an unparsed change")
                            b = batches.get(key)
                            if b is None:
                                b = batches[key] = TableBatch(catalog.tables[key], self._keys.get(key, ()))
                            b.add(parse_change(rest))
                        except (CannotApply, ValueError) as e:
                            batches.pop(key, None)
                            if self._mark_dirty(key, x, f"{e}; re-snapshot pending"):
                                newly.add(key)
                                log.info("mirror: %s.%s cannot be applied: %s", key[0], key[1], e)
                        else:
                            self.applied_changes += 1
        while self._recent and now - self._recent[0][0] > 120:
            self._recent.popleft()
        return batches, changed, ntx

    def _commit(self, batches: dict, end: str, newly: set) -> None:
        """Write every batch, the dirty set and the applied LSN in one DuckDB transaction."""
        from mirror.replication import apply_batch

        con = self._con
        while True:
            current = None
            written = 0
            try:
                con.execute("BEGIN")
                for key, b in batches.items():
                    current = key
                    written += apply_batch(con, b)
                current = None
                self._write_dirty(con)
                self._set_meta(self._applied_key, end, con)
                con.execute("COMMIT")
                self.applied_lsn = end
                self.applied_rows += written
                for key in batches:
                    self.table_errors.pop(key, None)
                return
            except Exception as e:
                try:
                    con.execute("ROLLBACK")
                except Exception:
                    pass
                if current is None:
                    raise
                # this table cannot take the changes: re-snapshot it; apply the others
                log.info("mirror: applying changes to %s.%s failed (%s); re-snapshot pending", *current, e)
                b = batches.pop(current)
                if self._mark_dirty(current, self._max_xid(b), f"applying changes failed: {e}; re-snapshot pending"):
                    newly.add(current)

    def _max_xid(self, b) -> int:
        t = b.table
        return max((x for _, x, tables in self._recent if (t.schema, t.name) in tables), default=0)

    def _write_dirty(self, con) -> None:
        con.execute(f"DELETE FROM {cat.META_SCHEMA}.freshness")
        if self._dirty:
            con.executemany(f"INSERT INTO {cat.META_SCHEMA}.freshness VALUES (?, ?, ?, NULL, ?)",
                            [(s, t, x, self.table_errors.get((s, t))) for (s, t), x in self._dirty.items()])

    def _persist(self) -> None:
        con = self._con
        con.execute("BEGIN")
        self._write_dirty(con)
        con.execute("COMMIT")

    def on_snapshot(self, catalog: MirrorCatalog, only: set | None = None) -> None:
        """A sync swapped in ``catalog`` (for the tables ``only``, or all): forget dirt the new
        snapshots include; a transaction already consumed from the slot that a new snapshot
        does not include makes its table dirty again."""
        with self._lock:
            for key in list(self._dirty):
                if only is not None and key not in only:
                    continue
                t = catalog.tables.get(key)
                if t is None or t.snapshot_includes(self._dirty[key]):
                    del self._dirty[key]
                    self.table_errors.pop(key, None)
            for _, x, tables in self._recent:
                for key in tables:
                    t = catalog.tables.get(key)
                    if t is not None and (only is None or key in only) and x and not t.snapshot_includes(x):
                        self._mark_dirty(key, x, "a change committed while the snapshot was taken; re-snapshot pending")
            self._persist()

    def resnapshot_pending(self) -> list[tuple[str, str]]:
        """Re-snapshot the dirty and untracked tables whose back-off has passed (blocking).
        Returns the tables re-snapshotted."""
        if not self.apply or self.mode != "logical" or self.coverage_lsn is None:
            return []
        now = time.monotonic()
        catalog = self.engine.catalog
        due = sorted(k for k, t in catalog.tables.items()
                     if (k in self._dirty or not self._tracked(t)) and self._resnap_after.get(k, 0) <= now)
        if not due:
            return []
        started = time.monotonic()
        try:
            self.engine.sync_blocking(self.origin_dsn, only=due)
        except Exception as e:
            for k in due:
                self.table_errors[k] = f"re-snapshot failed: {e}"
            raise
        finally:
            took = time.monotonic() - started
            for k in due:
                # at most ~10% of the time spent copying the same tables again and again
                self._resnap_after[k] = time.monotonic() + (
                    max(self.resnapshot_backoff, 10 * took) if self.resnapshot_backoff > 0 else 0)
        with self._lock:
            for k in list(self._dirty):
                if k not in self.engine.catalog.tables:
                    self._dirty.pop(k, None)
                    self.table_errors.pop(k, None)
            self._persist()
        log.info("mirror: re-snapshotted %s in %.2fs", ", ".join(f"{s}.{t}" for s, t in due), took)
        return due

    def run_once(self) -> set[tuple[str, str]]:
        """One poll, then the pending re-snapshots, then a poll (what the background loop does)."""
        newly = self.poll_once()
        if self.resnapshot_pending():
            newly = self.poll_once()
        return newly

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

    def table_mode(self, schema: str, table: str) -> str:
        """How the table is kept fresh: ``logical`` (changes applied), ``logical-detect``
        (changes only detected), ``resnapshot`` (dirty: a re-snapshot is pending), ``snapshot``."""
        t = self.engine.catalog.get(schema, table)
        if t is None or not self._tracked(t):
            return "snapshot"
        if (schema, table) in self._dirty:
            return "resnapshot" if self.apply else "logical-detect"
        return "logical" if self.apply else "logical-detect"

    def table_error(self, schema: str, table: str) -> str | None:
        """The last problem with this table (or the tracker's), None when all is well."""
        return self.table_errors.get((schema, table)) or self.last_error or (
            self.mode_reason if self.mode != "logical" else None)


def drop_slot(origin_dsn: str, slot: str, **connect_kw) -> bool:
    """Drop the logical replication slot ``slot`` on the origin. Returns whether it existed."""
    with psycopg.connect(origin_dsn, autocommit=True, **connect_kw) as c:
        row = c.execute("SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots"
                        " WHERE slot_name = %s", (slot,)).fetchone()
        return row is not None


def slot_status(origin_dsn: str, slot: str, **connect_kw) -> dict | None:
    """The slot's state on the origin (None if it does not exist)."""
    with psycopg.connect(origin_dsn, autocommit=True, **connect_kw) as c:
        row = c.execute(
            "SELECT plugin, database, active, restart_lsn::text, confirmed_flush_lsn::text,"
            " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::bigint, wal_status"
            " FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
    if row is None:
        return None
    keys = ("plugin", "database", "active", "restart_lsn", "confirmed_flush_lsn", "retained_wal_bytes", "wal_status")
    return {"slot": slot, **dict(zip(keys, row))}
