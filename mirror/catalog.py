"""What is mirrored: immutable snapshots of the mirror's catalog.

A :class:`MirrorCatalog` is never mutated; every sync builds a new one with
``version + 1`` and swaps it in. It is persisted in the DuckDB file itself, in the
``_pgaccel`` schema (tables ``meta``, ``tables``, ``columns``), written in the
same DuckDB transaction that swaps the copied tables in, so the file's catalog
always describes the tables it holds.

Mirrored tables keep the origin's names: origin ``public.orders`` is DuckDB
``"public"."orders"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

META_SCHEMA = "_pgaccel"

_DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {META_SCHEMA}.meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.tables (
        schema_name VARCHAR, table_name VARCHAR, duckdb_schema VARCHAR, duckdb_name VARCHAR,
        row_count BIGINT, synced_at DOUBLE, snapshot_lsn VARCHAR, rls_enabled BOOLEAN,
        table_oid BIGINT, snapshot_xmin BIGINT, snapshot_xmax BIGINT, snapshot_xip VARCHAR,
        PRIMARY KEY (schema_name, table_name))""",
    f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.columns (
        schema_name VARCHAR, table_name VARCHAR, attnum INTEGER, column_name VARCHAR,
        pg_type VARCHAR, type_oid BIGINT, typmod INTEGER, duckdb_type VARCHAR,
        faithful BOOLEAN, nullable BOOLEAN, note VARCHAR)""",
]


@dataclass(frozen=True)
class MirrorColumn:
    name: str
    pg_type: str          # format_type(atttypid, atttypmod), e.g. "numeric(10,2)", "character(4)"
    type_oid: int         # the column's declared type (a domain's own OID for domains)
    typmod: int
    duckdb_type: str
    faithful: bool
    nullable: bool
    attnum: int = 0
    note: str = ""        # why unfaithful, or what is special (json kept as text, domain...)


@dataclass(frozen=True)
class MirrorTable:
    schema: str
    name: str
    columns: tuple[MirrorColumn, ...]
    duckdb_schema: str
    duckdb_name: str
    row_count: int
    synced_at: float       # wall-clock time just before the snapshot was taken
    snapshot_lsn: str | None  # pg_current_wal_insert_lsn() just before the snapshot (a lower bound)
    rls_enabled: bool
    table_oid: int
    # the exported snapshot's visibility (pg_current_snapshot): which transactions it includes
    snapshot_xmin: int = 0
    snapshot_xmax: int = 0
    snapshot_xip: tuple[int, ...] = ()
    # federation (mirror/sources.py): the source a table belongs to ("" for the origin); the
    # DuckDB catalog (attached database) holding it; where a live scanner reads it
    # (catalog, schema, table), when the planner's copy is a mirrored one
    source: str = ""
    duckdb_catalog: str = ""
    live: tuple[str, str, str] = ()

    def column(self, name: str) -> MirrorColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    @property
    def faithful(self) -> bool:
        return all(c.faithful for c in self.columns)

    @property
    def qualified_duckdb_name(self) -> str:
        parts = ((self.duckdb_catalog,) if self.duckdb_catalog else ()) + (self.duckdb_schema, self.duckdb_name)
        return ".".join('"' + p.replace('"', '""') + '"' for p in parts)

    def snapshot_includes(self, xid: int) -> bool:
        """Whether a committed transaction (full 64-bit xid) is visible in this table's snapshot."""
        return xid < self.snapshot_xmin or (xid < self.snapshot_xmax and xid not in self.snapshot_xip)


@dataclass(frozen=True)
class MirrorCatalog:
    version: int
    tables: dict[tuple[str, str], MirrorTable] = field(default_factory=dict)
    collation: str = ""    # origin database's datcollate

    def get(self, schema: str, name: str) -> MirrorTable | None:
        return self.tables.get((schema, name))


EMPTY = MirrorCatalog(version=0, tables={}, collation="")


def ensure_meta(con) -> None:
    for ddl in _DDL:
        con.execute(ddl)


def load(con) -> MirrorCatalog:
    """Read the catalog persisted in a DuckDB connection (empty catalog if none)."""
    ensure_meta(con)
    meta = dict(con.execute(f"SELECT key, value FROM {META_SCHEMA}.meta").fetchall())
    cols: dict[tuple[str, str], list[MirrorColumn]] = {}
    for (s, t, attnum, name, pg_type, oid, typmod, dtype, faithful, nullable, note) in con.execute(
        f"SELECT * FROM {META_SCHEMA}.columns ORDER BY schema_name, table_name, attnum"
    ).fetchall():
        cols.setdefault((s, t), []).append(
            MirrorColumn(name, pg_type, oid, typmod, dtype, faithful, nullable, attnum, note or ""))
    tables = {}
    for row in con.execute(
        f"""SELECT schema_name, table_name, duckdb_schema, duckdb_name, row_count, synced_at,
                   snapshot_lsn, rls_enabled, table_oid, snapshot_xmin, snapshot_xmax, snapshot_xip
            FROM {META_SCHEMA}.tables"""
    ).fetchall():
        s, t, ds, dn, n, at, lsn, rls, oid, xmin, xmax, xip = row
        tables[(s, t)] = MirrorTable(
            s, t, tuple(cols.get((s, t), [])), ds, dn, n, at, lsn, rls, oid,
            xmin or 0, xmax or 0, tuple(int(x) for x in (xip or "").split(",") if x))
    return MirrorCatalog(int(meta.get("version", 0)), tables, meta.get("collation", ""))


def save(con, catalog: MirrorCatalog) -> None:
    """Replace the persisted catalog (call inside the transaction that swaps tables)."""
    con.execute(f"DELETE FROM {META_SCHEMA}.columns")
    con.execute(f"DELETE FROM {META_SCHEMA}.tables")
    con.execute(f"DELETE FROM {META_SCHEMA}.meta WHERE key IN ('version', 'collation')")
    con.executemany(f"INSERT INTO {META_SCHEMA}.meta VALUES (?, ?)",
                    [("version", str(catalog.version)), ("collation", catalog.collation)])
    trows, crows = [], []
    for t in catalog.tables.values():
        trows.append((t.schema, t.name, t.duckdb_schema, t.duckdb_name, t.row_count, t.synced_at,
                      t.snapshot_lsn, t.rls_enabled, t.table_oid, t.snapshot_xmin, t.snapshot_xmax,
                      ",".join(str(x) for x in t.snapshot_xip)))
        for c in t.columns:
            crows.append((t.schema, t.name, c.attnum, c.name, c.pg_type, c.type_oid, c.typmod,
                          c.duckdb_type, c.faithful, c.nullable, c.note))
    if trows:
        con.executemany(f"INSERT INTO {META_SCHEMA}.tables VALUES ({', '.join('?' * 12)})", trows)
    if crows:
        con.executemany(f"INSERT INTO {META_SCHEMA}.columns VALUES ({', '.join('?' * 11)})", crows)
