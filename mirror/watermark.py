"""Keeping the mirror fresh without logical replication: watermark polling.

Mode ``watermark`` (``mirror.mode = "watermark"``) is for origins where a replication
slot is not allowed (a read replica, a managed database without the privilege). Each
mirrored table listed in ``mirror.watermark`` is polled on its own schedule (``every``,
default ``mirror.poll_interval``) with one of three kinds:

* ``append`` (``column``): rows are only ever inserted, with a monotonic ``column``
  (a serial id, an insertion timestamp). A poll copies the origin's rows with
  ``column > lower`` that the mirror does not hold yet (anti-join on ``column``).
  Updates and deletes are NOT seen.
* ``updated_at`` (``column``, ``key``): every insert/update sets ``column``. A poll
  copies the rows with ``column > lower`` and upserts them by ``key`` (DELETE by key,
  then INSERT). Every ``deletes_every`` (default 60s; negative: never, the table has no
  hard deletes) the poll also reads the origin's key set and deletes the mirror rows
  whose key is gone (anti-join). An update of the key itself leaves the old key until
  that check.
* ``full`` (``every``, default 5m): the table is re-snapshotted (``snapshot(only=)``).

Tables not listed keep their snapshot (freshness = snapshot time, as mode snapshot).

``lower`` and the safety overlap. The watermark is the mirror's ``max(column)`` after a
poll, remembered with the poll's start time. A poll reads from the maximum remembered
by a poll that started at least ``overlap`` (default 2s) earlier - not from the latest
maximum - because values are assigned before commit: a sequence value or a
``now()`` (the transaction's START time) can commit after a larger value committed by
another transaction. ASSUMPTION (documented in config.example.toml): every transaction
commits within ``overlap`` seconds of taking its ``column`` value; a transaction that
runs longer than that can be missed (for ``updated_at`` until the row changes again;
use ``clock_timestamp()`` in triggers and short transactions, or a larger overlap).
Right after a (re-)snapshot no such old maximum exists yet, so the polls of the first
``overlap`` seconds re-read the whole table (the anti-join / upsert makes that
idempotent; it costs a full read of the table).

Each poll of a table runs in ONE DuckDB transaction, in which the postgres scanner
keeps ONE repeatable-read origin transaction: the changed rows and (for deletes) the
key set are read from the same origin snapshot, taken after the poll started.

Freshness (the API of :class:`mirror.freshness.FreshnessTracker` the executor, SHOW
pgaccel.freshness and the result cache use): a table's ``verified_at`` is the START
time of its last successful poll (a commit visible before that moment is read by the
poll, under the assumption above); for ``updated_at`` with delete detection, the older
of that and the start of the last delete check; for ``full`` the snapshot time. A
failing poll stops ``verified_at`` so the lag grows and queries go to the origin past
``max_staleness``. A table whose columns changed on the origin is dirty (lag infinite)
until its re-snapshot.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from contextlib import contextmanager

import psycopg

from mirror.catalog import MirrorCatalog, MirrorTable
from mirror.freshness import _SCHEMA_SQL, GrantWatch, schema_change
from mirror.polling import PollingThread
from mirror.snapshot import _TYPES_SQL
from mirror.types import PgType, map_type, quote_ident, quote_literal

log = logging.getLogger(__name__)

ALIAS = "__pgaccel_wm"
KINDS = ("append", "updated_at", "full")
_OPTIONS = {"kind", "column", "key", "every", "deletes_every", "overlap", "priority"}
_STAGE = "__pgaccel_wm_stage"
_KEYS = "__pgaccel_wm_keys"

_COLUMNS_SQL = """
SELECT a.attname, a.atttypid, a.atttypmod, a.attndims
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""


class WatermarkConfigError(ValueError):
    pass


def _duration(v, where: str) -> float:
    from proxy.config import parse_duration

    try:
        return parse_duration(v)
    except (ValueError, TypeError) as e:
        raise WatermarkConfigError(f"mirror.watermark.{where}: {e}") from None


def parse_specs(raw: dict, default_every: float) -> dict[tuple[str, str], dict]:
    """``mirror.watermark`` -> {(schema, table): spec}. Keys are ``"schema.table"``
    (quoted in TOML), a bare ``table`` (schema public), or TOML dotted keys
    (``public.events = {...}`` gives a nested table)."""
    flat: dict[str, dict] = {}
    for name, v in (raw or {}).items():
        if not isinstance(v, dict):
            raise WatermarkConfigError(f"mirror.watermark.{name}: expected a table such as {{kind = \"append\", ...}}")
        if "kind" not in v and v and all(isinstance(x, dict) for x in v.values()):
            for tname, tv in v.items():   # dotted key: schema = {table = {...}}
                flat[f"{name}.{tname}"] = tv
        else:
            flat[name] = v
    out = {}
    for name, v in flat.items():
        schema, _, table = name.rpartition(".")
        key = (schema or "public", table)
        unknown = set(v) - _OPTIONS
        if unknown:
            raise WatermarkConfigError(f"mirror.watermark.{name}: unknown option(s) {', '.join(sorted(unknown))}")
        kind = v.get("kind")
        if kind not in KINDS:
            raise WatermarkConfigError(f"mirror.watermark.{name}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        spec = {"kind": kind}
        if kind in ("append", "updated_at"):
            if not isinstance(v.get("column"), str):
                raise WatermarkConfigError(f"mirror.watermark.{name}: kind {kind} needs column = \"...\"")
            spec["column"] = v["column"]
            spec["overlap"] = _duration(v.get("overlap", "2s"), f"{name}.overlap")
        if kind == "updated_at":
            k = v.get("key")
            if isinstance(k, str):
                k = [k]
            if not k or not all(isinstance(x, str) for x in k):
                raise WatermarkConfigError(f"mirror.watermark.{name}: kind updated_at needs key = \"id\" (or a list)")
            spec["key"] = tuple(k)
            spec["deletes_every"] = _duration(v.get("deletes_every", "60s"), f"{name}.deletes_every")
        spec["every"] = _duration(v.get("every", "5m" if kind == "full" else default_every), f"{name}.every")
        if spec["every"] <= 0:
            raise WatermarkConfigError(f"mirror.watermark.{name}.every: must be positive")
        prio = v.get("priority", 0)
        if not isinstance(prio, int) or isinstance(prio, bool):
            raise WatermarkConfigError(f"mirror.watermark.{name}.priority: expected an integer")
        spec["priority"] = prio
        out[key] = spec
    return out


class _State:
    """What the tracker knows about one table between polls."""

    def __init__(self) -> None:
        self.history: collections.deque = collections.deque()  # (poll start, max(column) after it)
        self.verified_at: float | None = None   # start of the last successful change poll
        self.deletes_at: float | None = None    # start of the last successful delete check
        self.next_due = 0.0                     # monotonic
        self.select: tuple | None = None        # (catalog version, select list SQL)


class WatermarkTracker(PollingThread):
    mode = "watermark"
    mode_reason = ""
    coverage_lsn = None      # no change stream: the result cache ages entries out
    applied_lsn = None
    retained_wal = None
    slot = None

    def __init__(self, engine, origin_dsn: str, specs: dict, interval: float = 0.25) -> None:
        self.engine = engine
        self.origin_dsn = origin_dsn
        self.interval = interval
        self.specs = parse_specs(specs, interval) if specs and not all(
            isinstance(k, tuple) for k in specs) else dict(specs or {})
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._state: dict[tuple[str, str], _State] = {k: _State() for k in self.specs}
        self._dirty: set[tuple[str, str]] = set()
        self._types: dict[int, PgType] | None = None
        self._listeners: list = []
        self._con = None
        self._oc = None
        self.table_errors: dict[tuple[str, str], str] = {}
        self.last_error: str | None = None
        self.last_poll_order: list[tuple[str, str]] = []   # the tables of the last poll, in order
        self.polls = 0
        self.applied_rows = 0
        self.last_changed: set[tuple[str, str]] = set()
        self.grants = GrantWatch()      # grant changes end cached answers (see FreshnessTracker)

    # -- the FreshnessTracker API -------------------------------------------
    def add_listener(self, fn) -> None:
        """``fn(changed_tables, None)`` after each poll's DuckDB commits (no poll verifies
        every table at one moment, so ``verified_at`` is always None)."""
        self._listeners.append(fn)

    def ensure_slot(self) -> bool:   # called by MirrorEngine.sync_blocking
        return False

    @contextmanager
    def paused(self):
        with self._lock:
            yield

    def on_snapshot(self, catalog: MirrorCatalog, only: set | None = None) -> None:
        """A sync swapped in new copies: their watermarks start again from the copy."""
        with self._lock:
            for key, st in self._state.items():
                if only is None or key in only:
                    st.history.clear()
                    st.verified_at = st.deletes_at = None
                    st.select = None
                    self._dirty.discard(key)
                    if self.table_errors.get(key, "").startswith("the table"):
                        self.table_errors.pop(key, None)

    def tracked(self, schema: str, table: str) -> bool:
        return (schema, table) in self.specs and self.engine.catalog.get(schema, table) is not None

    def freshness(self, schema: str, table: str) -> tuple[float | None, bool]:
        """(verified_at, dirty): the mirror table holds every change committed before
        ``verified_at`` (see the module doc for the assumption behind that)."""
        key = (schema, table)
        t = self.engine.catalog.get(schema, table)
        if t is None or key in self._dirty:
            return None, True
        spec = self.specs.get(key)
        st = self._state.get(key)
        if spec is None or spec["kind"] == "full" or st is None or st.verified_at is None:
            return t.synced_at, False
        v = st.verified_at
        if spec["kind"] == "updated_at" and spec["deletes_every"] >= 0:
            v = min(v, st.deletes_at if st.deletes_at is not None else t.synced_at)
        return max(v, t.synced_at), False

    def lag_seconds(self, schema: str, table: str) -> float:
        verified_at, dirty = self.freshness(schema, table)
        if dirty or verified_at is None:
            return math.inf
        return max(0.0, time.time() - verified_at)

    def dirty_tables(self) -> set[tuple[str, str]]:
        return set(self._dirty)

    def table_mode(self, schema: str, table: str) -> str:
        spec = self.specs.get((schema, table))
        if spec is None:
            return "snapshot"
        if (schema, table) in self._dirty:
            return "resnapshot"
        return "watermark-" + spec["kind"]

    def table_error(self, schema: str, table: str) -> str | None:
        return self.table_errors.get((schema, table)) or self.last_error

    # -- running ------------------------------------------------------------
    def start(self) -> None:
        self._start_loop("mirror-watermark")

    def stop(self) -> None:
        self._stop_loop()
        with self._lock:
            self._close()

    def _close(self) -> None:
        for c in (self._oc, self._con):
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
        self._oc = self._con = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as e:
                log.warning("mirror watermark poll failed: %s", e)
            due = [st.next_due for st in self._state.values()]
            wait = min(due) - time.monotonic() if due else self.interval
            self._stop.wait(min(max(wait, 0.01), self.interval))

    def _origin(self):
        if self._oc is None or self._oc.closed or self._oc.broken:
            self._oc = psycopg.connect(self.origin_dsn, autocommit=True, application_name="pgaccel-mirror")
        return self._oc

    def _duck(self):
        if self._con is None:
            con = self.engine.cursor()
            con.execute(f"DETACH DATABASE IF EXISTS {ALIAS}")
            con.execute(f"ATTACH {quote_literal(self.origin_dsn)} AS {ALIAS} (TYPE postgres, READ_ONLY)")
            self._con = con
        return self._con

    def poll_once(self, force: bool = False) -> set[tuple[str, str]]:
        """Poll every table that is due (every table with ``force``); re-snapshot the
        ``full`` tables that are due and the tables whose columns changed. Returns the
        tables whose mirror copy changed."""
        resnap: list[tuple[str, str]] = []
        changed: set[tuple[str, str]] = set()
        with self._lock:
            now = time.monotonic()
            catalog = self.engine.catalog
            # tables due together are polled highest priority first (then the longest overdue)
            due = sorted((k for k, st in self._state.items()
                          if k in catalog.tables and (force or st.next_due <= now)),
                         key=lambda k: (-self.specs[k]["priority"], self._state[k].next_due))
            if not due:
                return changed
            self.last_poll_order = list(due)
            try:
                self._check_schema(catalog, due)
                self.last_error = None
            except psycopg.Error as e:
                self.last_error = f"origin: {e}".strip()
                self._close()
                raise
            for key in due:
                st, spec = self._state[key], self.specs[key]
                st.next_due = time.monotonic() + spec["every"]
                t = catalog.tables[key]
                if key in self._dirty:
                    resnap.append(key)
                    continue
                if spec["kind"] == "full":
                    if force or time.time() - t.synced_at >= spec["every"]:
                        resnap.append(key)
                    continue
                try:
                    if self._poll_table(t, spec, st):
                        changed.add(key)
                    self.table_errors.pop(key, None)
                except Exception as e:
                    self.table_errors[key] = f"poll failed: {e}"
                    log.warning("mirror watermark: %s.%s: %s", *key, e)
                    if isinstance(e, psycopg.Error) or "connect" in str(e).lower():
                        self._close()
            self.polls += 1
        if resnap:
            try:
                self.engine.sync_blocking(self.origin_dsn, only=resnap)
                changed |= set(resnap)
            except Exception as e:
                for k in resnap:
                    self.table_errors[k] = f"re-snapshot failed: {e}"
                log.warning("mirror watermark: re-snapshot failed: %s", e)
        changed = changed | self.grants.take()
        self.last_changed = changed
        for fn in list(self._listeners):
            try:
                fn(changed, None)
            except Exception:
                log.exception("mirror watermark: listener failed")
        return changed

    def _check_schema(self, catalog: MirrorCatalog, keys) -> None:
        keys = list(keys)
        found = {(r[0], r[1]): r[2:] for r in self._origin().execute(
            _SCHEMA_SQL, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()}
        for key in keys:
            t = catalog.tables[key]
            oid, _, h, _, rls, acl = found.get(key, (None,) * 6)
            reason = schema_change(t, oid, h, rls)
            self.grants.see(key, acl)
            if reason and key not in self._dirty:
                self._dirty.add(key)
                self.table_errors[key] = reason + "; re-snapshot pending"
                log.info("mirror watermark: %s.%s: %s", key[0], key[1], reason)

    def _select_list(self, t: MirrorTable, st: _State) -> str:
        """The origin SELECT list giving the same DuckDB types as the snapshot's copy."""
        version = self.engine.catalog.version
        if st.select is not None and st.select[0] == version:
            return st.select[1]
        oc = self._origin()
        if self._types is None:
            self._types = {r[0]: PgType(*r) for r in oc.execute(_TYPES_SQL).fetchall()}
        exprs = []
        for name, typoid, typmod, ndims in oc.execute(_COLUMNS_SQL, (t.table_oid,)).fetchall():
            if typoid not in self._types:
                self._types = {r[0]: PgType(*r) for r in oc.execute(_TYPES_SQL).fetchall()}
            m = map_type(self._types, typoid, typmod, ndims)
            qc = quote_ident(name)
            exprs.append(f"{m.pg_expr.replace('{c}', qc)} AS {qc}")
        sel = ", ".join(exprs)
        st.select = (version, sel)
        return sel

    def _poll_table(self, t: MirrorTable, spec: dict, st: _State) -> bool:
        col = t.column(spec["column"])
        if col is None or not col.faithful:
            raise ValueError(f"watermark column {spec['column']!r} is missing or not mirrored faithfully")
        if spec["kind"] == "updated_at":
            for k in spec["key"]:
                if t.column(k) is None:
                    raise ValueError(f"key column {k!r} is not in the table")
        t0 = time.time()
        sel = self._select_list(t, st)
        # the maximum remembered by a poll that started at least `overlap` before this one
        lower = None
        for at, mx in st.history:
            if at <= t0 - spec["overlap"]:
                lower = mx
        qt = t.qualified_duckdb_name
        qs, qn = quote_ident(t.schema), quote_ident(t.name)
        qc = quote_ident(col.name)
        pg_sql = f"SELECT {sel} FROM {qs}.{qn}"
        if lower is not None:
            pg_sql += f" WHERE {qc} > {quote_literal(lower)}::{col.pg_type}"
        check_deletes = (spec["kind"] == "updated_at" and spec["deletes_every"] >= 0 and (
            st.deletes_at is None or t0 - st.deletes_at >= spec["deletes_every"]))
        con = self._duck()
        written = 0
        con.execute("BEGIN")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS SELECT * FROM postgres_query("
                        f"{quote_literal(ALIAS)}, {quote_literal(pg_sql)})")
            n = con.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()[0]
            if spec["kind"] == "append":
                if n:
                    cond = f"o.{qc} = s.{qc}" + (f" AND o.{qc} > CAST(? AS {col.duckdb_type})"
                                                 if lower is not None else "")
                    written = con.execute(
                        f"INSERT INTO {qt} SELECT s.* FROM {_STAGE} s WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {qt} o WHERE {cond})",
                        [lower] if lower is not None else []).fetchone()[0]
            else:
                keys = [quote_ident(k) for k in spec["key"]]
                if n:   # leave out rows the mirror already has as they are (the overlap re-reads them)
                    where, args = (f" WHERE {qc} > CAST(? AS {col.duckdb_type})", [lower]) if lower is not None \
                        else ("", [])
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE}_d AS SELECT * FROM {_STAGE} "
                                f"EXCEPT SELECT * FROM {qt}{where}", args)
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS SELECT * FROM {_STAGE}_d")
                    n = con.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()[0]
                if n:
                    on = " AND ".join(f"{qt}.{k} IS NOT DISTINCT FROM s.{k}" for k in keys)
                    deleted = con.execute(f"DELETE FROM {qt} USING {_STAGE} s WHERE {on}").fetchone()[0]
                    inserted = con.execute(f"INSERT INTO {qt} SELECT * FROM {_STAGE}").fetchone()[0]
                    written = inserted + max(0, deleted - inserted)
                if check_deletes:
                    klist = ", ".join(keys)
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {_KEYS} AS SELECT * FROM postgres_query("
                                f"{quote_literal(ALIAS)}, "
                                f"{quote_literal(f'SELECT {klist} FROM {qs}.{qn}')})")
                    on = " AND ".join(f"k.{k} IS NOT DISTINCT FROM {qt}.{k}" for k in keys)
                    written += con.execute(
                        f"DELETE FROM {qt} WHERE NOT EXISTS (SELECT 1 FROM {_KEYS} k WHERE {on})").fetchone()[0]
            # as text (DuckDB prints a timestamptz with its offset; Postgres reads it back)
            mx = con.execute(f"SELECT max({qc})::VARCHAR FROM {qt}").fetchone()[0]
            con.execute("COMMIT")
        except Exception:
            try:
                con.execute("ROLLBACK")
            except Exception:
                pass
            raise
        st.verified_at = t0
        if check_deletes:
            st.deletes_at = t0
        if mx is not None:
            st.history.append((t0, mx))
        # keep the newest entry older than the overlap (the next lower bound) and the newer ones
        while len(st.history) > 1 and st.history[1][0] <= time.time() - spec["overlap"]:
            st.history.popleft()
        self.applied_rows += written
        return written > 0
