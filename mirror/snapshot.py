"""Copy origin tables into DuckDB as ONE consistent snapshot, then swap them in.

How (measured and checked against Postgres 15 / DuckDB 1.5.5, postgres_scanner):

1. Before anything else, read ``pg_current_wal_insert_lsn()`` and the wall-clock
   time: ``snapshot_lsn`` / ``synced_at`` (lower bounds: anything committed later
   may or may not be in the copy).
2. A psycopg ``REPEATABLE READ READ ONLY`` transaction runs ``pg_export_snapshot()``
   and reads the catalog (tables, columns, types, RLS flag, row estimates) *in that
   snapshot*. It also records the snapshot's visibility (``pg_current_snapshot()``:
   xmin, xmax, in-progress xids) so freshness can later tell exactly whether a
   decoded transaction is already in the copy.
3. DuckDB ATTACHes the origin with the postgres scanner. Inside a DuckDB transaction
   the scanner keeps ONE Postgres transaction (``BEGIN ISOLATION LEVEL REPEATABLE
   READ READ ONLY``) and does not parallelise ctid scans; the first thing we send on
   it is ``SET TRANSACTION SNAPSHOT '<exported>'`` via ``postgres_execute``. Every
   table is then read with ``postgres_query`` (binary COPY) in that same snapshot,
   one DuckDB transaction per table, into a staging table
   ``"<schema>"."__pgaccel_new_<table>"``.
4. One DuckDB transaction then drops the old tables, renames the staging tables
   and writes the new catalog: a reader sees all old tables or all new ones.

Values are rewritten on the Postgres side where the scanner would lose them (see
``mirror.types``): padded ``char(n)``, domains, enums, and unfaithful types as the
text Postgres prints. Data-dependent problems (infinite dates, out-of-range
timestamps, arrays that are not 1-D with lower bound 1) are flagged per row in
hidden columns while copying; a flagged column is marked unfaithful.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

import psycopg

from mirror import catalog as cat
from mirror.catalog import MirrorCatalog, MirrorColumn, MirrorTable
from mirror.types import PgType, map_type, quote_ident, quote_literal

log = logging.getLogger(__name__)

ATTACH_ALIAS = "__pgaccel_origin"
STAGING_PREFIX = "__pgaccel_new_"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", cat.META_SCHEMA)

Progress = Callable[[str, int, int], None]  # (schema.table, rows done, total estimate)


@dataclass(frozen=True)
class TableCopy:
    schema: str
    name: str
    rows: int
    seconds: float
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SnapshotResult:
    catalog: MirrorCatalog
    copies: list[TableCopy] = field(default_factory=list)
    snapshot_lsn: str | None = None
    synced_at: float = 0.0
    seconds: float = 0.0


def matches(qualified: str, patterns: Iterable[str], exclude: Iterable[str] = ()) -> bool:
    """fnmatch on ``schema.table`` (case-sensitive, as Postgres names are)."""
    if not any(fnmatch.fnmatchcase(qualified, p) for p in patterns):
        return False
    return not any(fnmatch.fnmatchcase(qualified, p) for p in exclude)


_TABLES_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relrowsecurity, greatest(c.reltuples, 0)::bigint
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname <> ALL(%s)
ORDER BY n.nspname, c.relname
"""
_COLUMNS_SQL = """
SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attndims, a.attnotnull,
       pg_catalog.format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_TYPES_SQL = """
SELECT t.oid, pg_catalog.format_type(t.oid, NULL), t.typtype, t.typelem, t.typcategory, t.typbasetype,
       t.typtypmod, quote_ident(pn.nspname) || '.' || quote_ident(p.proname),
       CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) ELSE '' END
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_proc p ON p.oid = t.typoutput
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
"""


def _xid(v) -> int:
    return int(str(v))


def _load_extension(duck) -> None:
    from mirror.engine import postgres_scanner_path
    duck.execute(f"LOAD {quote_literal(postgres_scanner_path())}")


def snapshot(
    duck,
    origin_dsn: str,
    tables: Iterable[str] = ("public.*",),
    exclude: Iterable[str] = (),
    *,
    previous: MirrorCatalog = cat.EMPTY,
    progress: Progress | None = None,
    only: Iterable[tuple[str, str]] | None = None,
) -> SnapshotResult:
    """Copy the matching origin tables into the DuckDB connection ``duck`` and swap them in.

    ``duck`` is a DuckDB connection used only by this call (e.g. ``engine.cursor()``);
    the postgres scanner extension must be loadable. Returns the new catalog
    (``previous.version + 1``), already persisted and visible to other cursors.

    ``only``: re-snapshot just these ``(schema, table)`` names (``tables``/``exclude``
    are ignored) and keep every other table of ``previous`` as it is; a name that no
    longer exists on the origin leaves the catalog.
    """
    tables, exclude = list(tables), list(exclude)
    only = set(only) if only is not None else None
    started = time.monotonic()
    with psycopg.connect(origin_dsn, autocommit=True) as ctl:
        # 1. lower bounds, before the snapshot exists
        snapshot_lsn = str(ctl.execute("SELECT pg_catalog.pg_current_wal_insert_lsn()").fetchone()[0])
        synced_at = time.time()
        with psycopg.connect(origin_dsn, autocommit=True) as snap:
            snap.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = snap.execute(
                "SELECT pg_catalog.pg_export_snapshot(), pg_catalog.pg_snapshot_xmin(s)::text,"
                " pg_catalog.pg_snapshot_xmax(s)::text,"
                " ARRAY(SELECT pg_catalog.pg_snapshot_xip(s)::text)"
                " FROM pg_catalog.pg_current_snapshot() s").fetchone()
            snapshot_id, xmin, xmax, xip = row[0], _xid(row[1]), _xid(row[2]), tuple(_xid(x) for x in row[3])
            collation = snap.execute(
                "SELECT datcollate FROM pg_catalog.pg_database WHERE datname = current_database()").fetchone()[0]
            chosen = [r for r in snap.execute(_TABLES_SQL, (list(SYSTEM_SCHEMAS),)).fetchall()
                      if ((r[1], r[2]) in only if only is not None else matches(f"{r[1]}.{r[2]}", tables, exclude))]
            columns: dict[int, list[tuple]] = {}
            for r in snap.execute(_COLUMNS_SQL, ([r[0] for r in chosen],)).fetchall():
                columns.setdefault(r[0], []).append(r)
            types = {r[0]: PgType(*r) for r in snap.execute(_TYPES_SQL).fetchall()}

            # 3. copy each table in the exported snapshot
            _load_extension(duck)
            _attach(duck, origin_dsn)
            copies: list[TableCopy] = []
            new_tables: dict[tuple[str, str], MirrorTable] = {}
            try:
                for oid, schema, name, rls, estimate in chosen:
                    t0 = time.monotonic()
                    if progress:
                        progress(f"{schema}.{name}", 0, estimate)
                    try:
                        mt = _copy_table(duck, snapshot_id, oid, schema, name, columns.get(oid, []), types)
                    except Exception as e:  # leave the table out: the planner sends it to the origin
                        log.warning("mirror: copying %s.%s failed: %s", schema, name, e)
                        _rollback(duck)
                        copies.append(TableCopy(schema, name, 0, time.monotonic() - t0, str(e)))
                        continue
                    mt = replace(mt, synced_at=synced_at, snapshot_lsn=snapshot_lsn, rls_enabled=rls,
                                 table_oid=oid, snapshot_xmin=xmin, snapshot_xmax=xmax, snapshot_xip=xip)
                    new_tables[(schema, name)] = mt
                    copies.append(TableCopy(schema, name, mt.row_count, time.monotonic() - t0))
                    if progress:
                        progress(f"{schema}.{name}", mt.row_count, estimate)
            finally:
                snap.execute("COMMIT")
                duck.execute(f"DETACH DATABASE IF EXISTS {ATTACH_ALIAS}")

    # 4. swap all staged tables in at once
    copied = set(new_tables)
    if only is not None:  # the other tables stay as they are
        new_tables = {**{k: t for k, t in previous.tables.items() if k not in only}, **new_tables}
    new = MirrorCatalog(previous.version + 1, new_tables, collation)
    swap(duck, previous, new, copied)
    return SnapshotResult(new, copies, snapshot_lsn, synced_at, time.monotonic() - started)


def _attach(duck, dsn: str) -> None:
    duck.execute(f"DETACH DATABASE IF EXISTS {ATTACH_ALIAS}")
    duck.execute(f"ATTACH {quote_literal(dsn)} AS {ATTACH_ALIAS} (TYPE postgres, READ_ONLY)")


def _rollback(duck) -> None:
    try:
        duck.execute("ROLLBACK")
    except Exception:
        pass


def _copy_table(duck, snapshot_id, oid, schema, name, cols, types) -> MirrorTable:
    mcols: list[MirrorColumn] = []
    pg_select, checks, ddl = [], [], []
    for (_, attnum, attname, typoid, typmod, ndims, notnull, fmt) in cols:
        m = map_type(types, typoid, typmod, ndims)
        qc = quote_ident(attname)
        pg_select.append(f"{m.pg_expr.replace('{c}', qc)} AS {qc}")
        ddl.append(f"{qc} {m.duckdb_type}")
        if m.check_sql:
            flag = f"__pgaccel_bad_{attnum}"
            pg_select.append(f"coalesce({m.check_sql.replace('{c}', qc)}, false) AS {flag}")
            checks.append((len(mcols), flag))
            ddl.append(f"{flag} BOOLEAN")
        mcols.append(MirrorColumn(attname, fmt, typoid, typmod, m.duckdb_type, m.faithful,
                                  not notnull, attnum, m.note))
    qs, qn = quote_ident(schema), quote_ident(name)
    staging = f"{qs}.{quote_ident(STAGING_PREFIX + name)}"
    pg_sql = f"SELECT {', '.join(pg_select) or 'NULL'} FROM {qs}.{qn}"
    if not pg_select:
        pg_sql = f"SELECT FROM {qs}.{qn}"

    duck.execute("BEGIN")
    duck.execute(f"CALL postgres_execute({quote_literal(ATTACH_ALIAS)}, "
                 f"{quote_literal('SET TRANSACTION SNAPSHOT ' + quote_literal(snapshot_id))})")
    duck.execute(f"CREATE SCHEMA IF NOT EXISTS {qs}")
    duck.execute(f"DROP TABLE IF EXISTS {staging}")
    if not ddl:  # a table without columns: DuckDB needs one; keep a row count
        duck.execute(f"CREATE TABLE {staging} (__pgaccel_empty BOOLEAN)")
        n = duck.execute(f"SELECT count(*) FROM postgres_query({quote_literal(ATTACH_ALIAS)}, "
                         f"{quote_literal(f'SELECT 1 FROM {qs}.{qn}')})").fetchone()[0]
    else:
        duck.execute(f"CREATE TABLE {staging} ({', '.join(ddl)})")
        duck.execute(f"INSERT INTO {staging} SELECT * FROM postgres_query("
                     f"{quote_literal(ATTACH_ALIAS)}, {quote_literal(pg_sql)})")
        n = duck.execute(f"SELECT count(*) FROM {staging}").fetchone()[0]
    if checks:
        bad = duck.execute(f"SELECT {', '.join(f'coalesce(bool_or({f}), false)' for _, f in checks)} "
                           f"FROM {staging}").fetchone()
        for (i, flag), is_bad in zip(checks, bad):
            if is_bad:
                c = mcols[i]
                mcols[i] = replace(c, faithful=False, note=(
                    "some values are ±infinity, beyond DuckDB's range, or arrays not 1-D from index 1"))
        for _, flag in checks:
            duck.execute(f"ALTER TABLE {staging} DROP COLUMN {flag}")
    duck.execute("COMMIT")
    return MirrorTable(schema, name, tuple(mcols), schema, name, n, 0.0, None, False, oid)


def swap(duck, previous: MirrorCatalog, new: MirrorCatalog, copied=None) -> None:
    """Atomically replace the mirrored tables and the persisted catalog.

    ``copied``: the keys of ``new`` that have a staging table (default: all of them)."""
    duck.execute("BEGIN")
    try:
        cat.ensure_meta(duck)
        for key, t in previous.tables.items():
            if key not in new.tables:
                duck.execute(f"DROP TABLE IF EXISTS {t.qualified_duckdb_name}")
        for key, t in new.tables.items():
            if copied is not None and key not in copied:
                continue
            qs = quote_ident(t.duckdb_schema)
            duck.execute(f"DROP TABLE IF EXISTS {qs}.{quote_ident(t.duckdb_name)}")
            duck.execute(f"ALTER TABLE {qs}.{quote_ident(STAGING_PREFIX + t.duckdb_name)} "
                         f"RENAME TO {quote_ident(t.duckdb_name)}")
        cat.save(duck, new)
        duck.execute("COMMIT")
    except Exception:
        _rollback(duck)
        raise
