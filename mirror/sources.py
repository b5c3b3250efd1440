"""Federation: other databases and files, attached to the mirror's DuckDB.

Each ``[sources.NAME]`` of the config becomes a DuckDB catalog ``_src_NAME``:
Postgres and MySQL/MariaDB through their scanners (``ATTACH ... (TYPE postgres|mysql,
READ_ONLY)``), a SQLite file through the sqlite scanner, Parquet/CSV files as views
over ``read_parquet``/``read_csv`` in an in-memory catalog. The scanners come from
the pip packages (``mirror.extensions``), never INSTALL.

Clients name a source's tables ``NAME.schema.table`` or, through the source's
default schema, ``NAME.table``. For the planner each exposed table is a
:class:`mirror.catalog.MirrorTable` with ``source = NAME``, its columns typed as
Postgres types (:func:`pg_type_of`; the mapping is documented there and in the
README) and its ``schema`` spelled ``NAME.schema`` (unique next to origin schemas).

A source with ``mirror = "full"`` or ``"append"`` is also copied into the mirror's
own database (schema ``_pgaccel_src``, table ``NAME.schema.table``) every ``every``;
the planner reads the copy and keeps the live scanner as ``MirrorTable.live`` for
when the copy is older than the allowed staleness. Copy times persist in
``_pgaccel.source_copies``, so a restart reuses copies that are still fresh.

A source that cannot be reached is *down*: queries that need it get SQLSTATE HV00N
naming it (other queries are unaffected), and a background thread re-attaches it.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace

from mirror.catalog import META_SCHEMA, MirrorColumn, MirrorTable
from mirror.polling import PollingThread

log = logging.getLogger(__name__)

COPY_SCHEMA = "_pgaccel_src"
FULL_EVERY = 10           # append/updated_at: every 10th refresh re-copies fully (deletes, late commits)
ORIGIN_RELIST = 60.0      # seconds between two listings of the origin's tables (live reads)
RETRY_DOWN = 5.0          # seconds between two attempts to re-attach a source that is down
_SYSTEM_SCHEMAS = {
    "postgres": {"pg_catalog", "information_schema", "pg_toast"},
    "mysql": {"information_schema", "mysql", "performance_schema", "sys"},
}

# DuckDB type -> (Postgres type as format_type prints it, OID). DECIMAL(p,s) -> numeric(p,s).
_PG_OF_DUCK = {
    "BOOLEAN": ("boolean", 16), "TINYINT": ("smallint", 21), "SMALLINT": ("smallint", 21),
    "UTINYINT": ("smallint", 21), "INTEGER": ("integer", 23), "USMALLINT": ("integer", 23),
    "BIGINT": ("bigint", 20), "UINTEGER": ("bigint", 20), "FLOAT": ("real", 700),
    "DOUBLE": ("double precision", 701), "VARCHAR": ("text", 25), "BLOB": ("bytea", 17),
    "DATE": ("date", 1082), "TIME": ("time without time zone", 1083),
    "TIMESTAMP": ("timestamp without time zone", 1114),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 1184),
    "INTERVAL": ("interval", 1186), "UUID": ("uuid", 2950),
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
# Read through a cast (a view in SHIM_CATALOG): DuckDB type -> (cast to, Postgres type, OID, typmod)
_CASTS = {
    "UBIGINT": ("DECIMAL(20,0)", "numeric(20,0)", 1700, (20 << 16) + 4),
    "HUGEINT": ("DECIMAL(38,0)", "numeric(38,0)", 1700, (38 << 16) + 4),
    "TIMESTAMP_S": ("TIMESTAMP", "timestamp without time zone", 1114, -1),
    "TIMESTAMP_MS": ("TIMESTAMP", "timestamp without time zone", 1114, -1),
    "TIMESTAMP_NS": ("TIMESTAMP", "timestamp without time zone", 1114, -1),
    "JSON": ("VARCHAR", "text", 25, -1),
}
SHIM_CATALOG = "_pgaccel_shim"
# Postgres source columns whose scanner reading is not the Postgres value (source type OID
# -> why): unconstrained numeric is read as DOUBLE, char(n) loses its padding
_PG_SOURCE_LOSSY = {1700: "unconstrained numeric is read as DOUBLE by the scanner",
                    1042: "character(n) loses its blank padding in the scanner"}
_PG_SOURCE_TABLES = """SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"""
_PG_SOURCE_COLUMNS = """SELECT n.nspname, c.relname, a.attname, a.atttypid::int, a.atttypmod
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"""


def pg_type_of(duckdb_type: str) -> tuple[str, int, int, bool, str]:
    """(Postgres type text, OID, typmod, faithful, note) for a source column's DuckDB type.

    UBIGINT and HUGEINT are read as numeric(20,0)/numeric(38,0), TIMESTAMP_S/MS/NS as
    timestamp (nanoseconds truncated), JSON as text, through a cast (``_CASTS``).
    UHUGEINT, nested types, enums, bit strings and time with time zone are not mapped:
    a query touching such a column is refused (the note says why)."""
    t = duckdb_type.upper().strip()
    if t in _PG_OF_DUCK:
        name, oid = _PG_OF_DUCK[t]
        return name, oid, -1, True, ""
    if t in _CASTS:
        _, name, oid, typmod = _CASTS[t]
        note = "read as " + _CASTS[t][0] + (" (nanoseconds truncated)" if t == "TIMESTAMP_NS" else "")
        return name, oid, typmod, True, note
    m = _DECIMAL.match(t)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        return f"numeric({p},{s})", 1700, ((p << 16) | s) + 4, True, ""
    return duckdb_type.lower(), 0, -1, False, f"source type {duckdb_type} has no Postgres mapping here"


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _with_timeout(kind: str, dsn: str, seconds: float) -> str:
    """Add a connect timeout to a libpq DSN (URL or key=value) unless it has one."""
    if kind != "postgres" or "connect_timeout" in dsn:
        return dsn
    n = max(1, int(round(seconds)))
    if "://" in dsn:
        return dsn + ("&" if "?" in dsn else "?") + f"connect_timeout={n}"
    return f"{dsn} connect_timeout={n}"


def _mysql_address(dsn: str) -> tuple[str, int]:
    if "://" in dsn:
        rest = dsn.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        host, _, port = rest.partition(":")
        return host or "127.0.0.1", int(port or 3306)
    kv = dict(re.findall(r"(\w+)=(\S+)", dsn))
    return kv.get("host", "127.0.0.1"), int(kv.get("port", 3306))


def mysql_greeting(dsn: str, timeout: float) -> str | None:
    """None when a MySQL server at the DSN's address sends its greeting within ``timeout``
    (the scanner has no connect timeout: a silent host would hang it), else why not."""
    import socket

    host, port = _mysql_address(dsn)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sk:
            sk.settimeout(timeout)
            if not sk.recv(4):
                return f"{host}:{port} closed the connection before the server greeting"
    except OSError as e:
        return f"no answer from {host}:{port} within {timeout:g}s ({e})"
    return None


def _mysql_database(dsn: str) -> str:
    if "://" in dsn:
        path = dsn.split("://", 1)[1].split("?", 1)[0]
        return path.split("/", 1)[1] if "/" in path else ""
    m = re.search(r"(?:^|\s)(?:database|db)=(\S+)", dsn)
    return m.group(1) if m else ""


@dataclass
class SourceState:
    """One source as pgaccel currently sees it."""

    name: str
    cfg: object                    # proxy.config.SourceConfig
    alias: str                     # DuckDB catalog of the live attachment
    up: bool = False
    error: str = ""
    attached: bool = False
    default_schema: str | None = None
    tables: dict = field(default_factory=dict)        # (schema, table) -> live MirrorTable
    copies: dict = field(default_factory=dict)        # (schema, table) -> (synced_at, rows, mark)
    next_refresh: float = 0.0
    next_retry: float = 0.0
    refreshing: bool = False
    listed_at: float = 0.0        # when the tables were last listed (attach)
    refreshes: int = 0            # completed refreshes (every FULL_EVERY-th copies fully)
    probed_at: float = 0.0        # MySQL: when the server last greeted a probe


class SourceUnavailable(Exception):
    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f'source "{source}" is unavailable: {detail}')
        self.source = source
        self.detail = detail


class Federation(PollingThread):
    """The configured sources, attached to one DuckDB database (``engine``)."""

    def __init__(self, engine, sources: dict, origin_dsn: str | None = None) -> None:
        self.engine = engine
        self.origin_dsn = origin_dsn
        self.states = {name: SourceState(name, cfg, f"_src_{name}") for name, cfg in sources.items()}
        self.version = 0
        self.collation = ""              # the origin database's (text order of federated answers)
        self.origin_alias = ""           # DuckDB catalog of the live origin (stale or unmirrored tables)
        self.origin_tables: dict = {}    # (schema, table) -> MirrorTable read live (list_origin)
        self.origin_listed_at = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._con = engine.cursor()      # attach/list/copy: used by one thread at a time (the lock)
        for kind in {s.cfg.kind for s in self.states.values()}:
            self._load_extension(kind)
        # every name of the mirror's own database is written with its catalog: a two-part
        # name makes DuckDB look through the attached catalogs, asking a source that is down
        self.main = self._con.execute("SELECT current_database()").fetchone()[0]
        self._copies_table = f"{_q(self.main)}.{META_SCHEMA}.source_copies"
        self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(self.main)}.{META_SCHEMA}")
        self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(self.main)}.{COPY_SCHEMA}")
        if SHIM_CATALOG not in {r[0] for r in self._con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}:
            self._con.execute(f"ATTACH ':memory:' AS {SHIM_CATALOG}")
        self._con.execute(f"""CREATE TABLE IF NOT EXISTS {self._copies_table} (
            source VARCHAR, schema_name VARCHAR, table_name VARCHAR, synced_at DOUBLE,
            row_count BIGINT, mark VARCHAR, PRIMARY KEY (source, schema_name, table_name))""")
        for src, sch, tab, at, n, mark in self._con.execute(
                f"SELECT * FROM {self._copies_table}").fetchall():
            if src in self.states and self.states[src].cfg.mirror != "live":
                self.states[src].copies[(sch, tab)] = (at, n, mark)

    # ------------------------------------------------------------------ lifecycle

    def _load_extension(self, kind: str) -> None:
        from mirror.extensions import load_extension

        ext = {"postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite"}.get(kind)
        if ext:
            load_extension(self._con, ext)
        if kind == "mysql":
            # MySQL would compute these with its own rules (collations that ignore case and
            # trailing blanks, NULLs first, its avg scale): DuckDB must, with Postgres's
            for setting in ("mysql_aggregate_pushdown_enabled", "mysql_order_pushdown_enabled"):
                self._con.execute(f"SET GLOBAL {setting} = false")

    def start(self, background: bool = True, force_refresh: bool = False) -> None:
        """Attach every source (a source that fails is marked down, never fatal); copy the
        mirrored ones that have no fresh copy (``force_refresh``: all of them); then keep
        them fresh in a thread."""
        for st in self.states.values():
            self._attach(st)
        if self.origin_dsn:
            try:
                self._load_extension("postgres")
                with self._lock:
                    self._con.execute(f"ATTACH {_lit(self.origin_dsn)} AS _pgaccel_origin (TYPE postgres, READ_ONLY)")
                self.origin_alias = "_pgaccel_origin"
                self.list_origin()
            except Exception as e:
                log.warning("federation: the origin cannot be read live (%s); stale or unmirrored origin "
                            "tables in queries across sources give an error", _first_line(e))
        self.refresh_due(force=force_refresh)
        if background:
            self._start_loop("pgaccel-sources")

    def stop(self) -> None:
        self._stop_loop()
        try:
            self._con.close()
        except Exception:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                now = time.time()
                for st in self.states.values():
                    if not st.up and now >= st.next_retry:
                        self._attach(st)
                    elif st.up and now - st.listed_at >= st.cfg.every:
                        self._relist(st)     # tables created, dropped or changed on the source
                if self.origin_alias and now - self.origin_listed_at >= ORIGIN_RELIST:
                    try:
                        self.list_origin()
                    except Exception as e:
                        self.origin_listed_at = now
                        log.warning("federation: listing the origin's tables failed: %s", _first_line(e))
                self.refresh_due()
            except Exception:
                log.exception("federation: background refresh failed")

    # ------------------------------------------------------------------ attaching and listing

    def _attach_sql(self, st: SourceState) -> list[str]:
        cfg, alias = st.cfg, _q(st.alias)
        if cfg.kind == "postgres":
            dsn = _with_timeout("postgres", cfg.dsn, cfg.connect_timeout)
            return [f"ATTACH {_lit(dsn)} AS {alias} (TYPE postgres, READ_ONLY)"]
        if cfg.kind == "mysql":
            return [f"ATTACH {_lit(cfg.dsn)} AS {alias} (TYPE mysql, READ_ONLY)"]
        if cfg.kind == "sqlite":
            return [f"ATTACH {_lit(cfg.path)} AS {alias} (TYPE sqlite, READ_ONLY)"]
        reader = "read_parquet" if cfg.kind == "parquet" else "read_csv"
        out = [f"ATTACH ':memory:' AS {alias}"]
        for table, files in cfg.files.items():
            paths = files if isinstance(files, list) else [files]
            arg = "[" + ", ".join(_lit(str(p)) for p in paths) + "]"
            extra = ", union_by_name = true" if cfg.kind == "parquet" else ", header = true, auto_detect = true"
            out.append(f"CREATE OR REPLACE VIEW {alias}.main.{_q(table)} AS SELECT * FROM {reader}({arg}{extra})")
        return out

    def _attach(self, st: SourceState) -> None:
        with self._lock:
            self._detach(st)
            try:
                if st.cfg.kind == "mysql":
                    problem = mysql_greeting(st.cfg.dsn, st.cfg.connect_timeout)
                    if problem:
                        raise ConnectionError(problem)
                for sql in self._attach_sql(st):
                    self._con.execute(sql)
                st.attached = True
                tables = self._list(st)
            except Exception as e:
                if st.up or not st.error:
                    self.version += 1
                st.up, st.error = False, _first_line(e)
                st.next_retry = time.time() + RETRY_DOWN
                self._detach(st)
                log.warning('source "%s" is unavailable: %s', st.name, st.error)
                return
            was_up = st.up
            st.up, st.error, st.listed_at = True, "", time.time()
            if tables != st.tables:
                st.tables = tables
                self.version += 1
            elif not was_up:
                self.version += 1
            st.default_schema = _default_schema(st.cfg, tables)
            log.info('source "%s" (%s) attached: %d tables', st.name, st.cfg.kind, len(tables))

    def _relist(self, st: SourceState) -> None:
        """List an attached source's tables again without detaching it (queries running
        on it go on): the scanners' schema caches are dropped, file views re-created."""
        with self._lock:
            try:
                if st.cfg.kind in ("postgres", "mysql"):
                    self._con.execute(f"CALL {'pg' if st.cfg.kind == 'postgres' else 'mysql'}_clear_cache()").fetchall()
                elif st.cfg.kind in ("parquet", "csv"):
                    for sql in self._attach_sql(st)[1:]:
                        self._con.execute(sql)
                tables = self._list(st)
            except Exception as e:
                self.mark_down(st.name, _first_line(e))
                return
            st.listed_at = time.time()
            if tables != st.tables:
                st.tables = tables
                st.default_schema = _default_schema(st.cfg, tables)
                self.version += 1

    def _detach(self, st: SourceState) -> None:
        if st.attached:
            try:
                self._con.execute(f"DETACH {_q(st.alias)}")
            except Exception:
                pass
            st.attached = False

    def _list(self, st: SourceState) -> dict:
        cfg = st.cfg
        skip = _SYSTEM_SCHEMAS.get(cfg.kind, set())
        only_schema = _mysql_database(cfg.dsn) if cfg.kind == "mysql" else ""
        rows = self._columns(st)
        lossy = self._pg_source_lossy(st) if cfg.kind == "postgres" else {}
        # text compared on the source would follow its collation: MySQL's default ignores
        # case and trailing blanks; a Postgres source may sort by a locale. Such columns are
        # read through an expression the scanner cannot push a filter into.
        text_local = cfg.kind == "mysql" or (cfg.kind == "postgres" and not self._pg_source_bytewise(st))
        cols: dict[tuple[str, str], list[MirrorColumn]] = {}
        for sch, tab, col, dtype, idx, nullable in rows:
            if sch in skip or (only_schema and sch != only_schema):
                continue
            full = f"{sch}.{tab}"
            if cfg.tables and not any(fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(tab, p)
                                      for p in cfg.tables):
                continue
            if any(fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(tab, p) for p in cfg.exclude):
                continue
            pg, oid, typmod, faithful, note = pg_type_of(dtype)
            why = lossy.get((sch, tab, col))
            if why:
                faithful, note = False, why
            cols.setdefault((sch, tab), []).append(
                MirrorColumn(col, pg, oid, typmod, dtype, faithful, bool(nullable), int(idx), note))
        out = {}
        for (sch, tab), cs in cols.items():
            cat, dsch, dname = st.alias, sch, tab
            if any(c.duckdb_type.upper() in _CASTS or (text_local and c.duckdb_type.upper() == "VARCHAR")
                   for c in cs):
                cat, dsch, dname = self._shim_view(st, sch, tab, cs, text_local)
            out[(sch, tab)] = MirrorTable(
                schema=f"{st.name}.{sch}", name=tab, columns=tuple(cs), duckdb_schema=dsch,
                duckdb_name=dname, row_count=0, synced_at=0.0, snapshot_lsn=None, rls_enabled=False,
                table_oid=0, source=st.name, duckdb_catalog=cat)
        return out

    def _columns(self, st: SourceState) -> list[tuple]:
        """(schema, table, column, DuckDB type, index, nullable) of a source's tables. Asks
        the source itself for its table list and DESCRIBEs each: duckdb_columns() would
        walk every attached catalog, and fail on any source that is down."""
        kind = st.cfg.kind
        if kind == "postgres":
            names = self._con.execute(
                f"SELECT * FROM postgres_query({_lit(st.alias)}, {_lit(_PG_SOURCE_TABLES)})").fetchall()
        elif kind == "mysql":
            db = _mysql_database(st.cfg.dsn)
            where = (f"table_schema = '{db}'" if db and "'" not in db else
                     "table_schema NOT IN ('information_schema', 'mysql', 'performance_schema', 'sys')")
            sql = "SELECT table_schema, table_name FROM information_schema.tables WHERE " + where
            names = self._con.execute(f"SELECT * FROM mysql_query({_lit(st.alias)}, {_lit(sql)})").fetchall()
        elif kind == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            names = [("main", n) for (n,) in self._con.execute(
                f"SELECT * FROM sqlite_query({_lit(st.alias)}, {_lit(sql)})").fetchall()]
        else:
            names = [("main", t) for t in st.cfg.files]
        rows = []
        for sch, tab in sorted((str(x), str(y)) for x, y in names):
            try:
                desc = self._con.execute(f"DESCRIBE {_q(st.alias)}.{_q(sch)}.{_q(tab)}").fetchall()
            except Exception as e:
                if kind in ("postgres", "mysql") and "connect" in str(e).lower():
                    raise
                log.warning('source "%s": table %s.%s cannot be read (%s); left out', st.name, sch, tab,
                            _first_line(e))
                continue
            for i, (col, dtype, null, *_rest) in enumerate(desc):
                rows.append((sch, tab, col, dtype, i, null == "YES"))
        return rows

    def _pg_source_lossy(self, st: SourceState) -> dict:
        """(schema, table, column) -> why, for Postgres source columns the scanner reads lossily."""
        out = {}
        for sch, tab, col, oid, typmod in self._con.execute(
                f"SELECT * FROM postgres_query({_lit(st.alias)}, {_lit(_PG_SOURCE_COLUMNS)})").fetchall():
            if oid in _PG_SOURCE_LOSSY and (oid != 1700 or typmod < 4):
                out[(sch, tab, col)] = _PG_SOURCE_LOSSY[oid]
        return out

    def _pg_source_bytewise(self, st: SourceState) -> bool:
        (coll,), = self._con.execute(f"SELECT * FROM postgres_query({_lit(st.alias)}, "
                                     f"'SELECT datcollate::text FROM pg_database WHERE datname = current_database()')"
                                     ).fetchall()
        from planner.route import is_bytewise

        return is_bytewise(coll or "")

    def _shim_view(self, st: SourceState, sch: str, tab: str, cols, text_local: bool = False) -> tuple[str, str, str]:
        """A view casting the columns DuckDB reads in types without a Postgres twin, and
        (``text_local``) keeping filters on text columns in DuckDB."""
        vschema = f"{st.name}.{sch}"
        items = []
        for c in cols:
            cast = _CASTS.get(c.duckdb_type.upper())
            if cast:
                items.append(f"CAST({_q(c.name)} AS {cast[0]}) AS {_q(c.name)}")
            elif text_local and c.duckdb_type.upper() == "VARCHAR":
                items.append(f"({_q(c.name)} || '') AS {_q(c.name)}")
            else:
                items.append(_q(c.name))
        self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {SHIM_CATALOG}.{_q(vschema)}")
        self._con.execute(f"CREATE OR REPLACE VIEW {SHIM_CATALOG}.{_q(vschema)}.{_q(tab)} AS SELECT "
                          f"{', '.join(items)} FROM {_q(st.alias)}.{_q(sch)}.{_q(tab)}")
        return SHIM_CATALOG, vschema, tab

    # ------------------------------------------------------------------ the origin, read live

    def list_origin(self) -> None:
        """The origin's tables (not views: the scanner would read them with pgaccel's own
        role) as a federated query may read them live, with the snapshot's type mapping.
        A column the scanner does not read exactly (bpchar, enum, domain, arrays ...)
        is unfaithful; dates and timestamps are read as they are."""
        if not self.origin_dsn or not self.origin_alias:
            return
        import psycopg

        from mirror import snapshot as snap
        from mirror.types import PgType, map_type

        exact_guarded = {1082, 1114, 1184}      # guarded in the snapshot only for ±infinity / year 294247+
        with psycopg.connect(self.origin_dsn, autocommit=True, connect_timeout=10) as c:
            tables = c.execute(snap._TABLES_SQL, (list(snap.SYSTEM_SCHEMAS),)).fetchall()
            cols: dict[int, list] = {}
            for r in c.execute(snap._COLUMNS_SQL, ([t[0] for t in tables],)).fetchall():
                cols.setdefault(r[0], []).append(r)
            types = {r[0]: PgType(*r) for r in c.execute(snap._TYPES_SQL).fetchall()}
        out = {}
        for oid, schema, name, rls, _estimate in tables:
            mcols = []
            for _rel, attnum, attname, typoid, typmod, ndims, notnull, fmt in cols.get(oid, []):
                m = map_type(types, typoid, typmod, ndims)
                faithful = m.faithful and (m.pg_expr == "{c}" or typoid in exact_guarded)
                note = m.note if faithful else (m.note or "not read exactly by the live scanner")
                mcols.append(MirrorColumn(attname, fmt, typoid, typmod, m.duckdb_type, faithful, not notnull,
                                          attnum, note))
            out[(schema, name)] = MirrorTable(
                schema=schema, name=name, columns=tuple(mcols), duckdb_schema=schema, duckdb_name=name,
                row_count=0, synced_at=time.time(), snapshot_lsn=None, rls_enabled=bool(rls), table_oid=int(oid),
                duckdb_catalog=self.origin_alias)
        if out != self.origin_tables:
            self.origin_tables = out
            self.version += 1
        self.origin_listed_at = time.time()

    # ------------------------------------------------------------------ what the planner sees

    def table(self, source: str, schema: str | None, name: str) -> MirrorTable | None:
        """The table a query reads for ``source.schema.name`` (schema None: the default
        schema): the mirrored copy when there is one (``live`` set), else the live one."""
        st = self.states.get(source)
        if st is None:
            return None
        sch = schema if schema is not None else st.default_schema
        if sch is None:
            return None
        mt = st.tables.get((sch, name))
        if mt is None:
            return None
        if (sch, name) in st.copies:
            return replace(mt, duckdb_catalog=self.main, duckdb_schema=COPY_SCHEMA,
                           duckdb_name=f"{source}.{sch}.{name}", synced_at=st.copies[(sch, name)][0],
                           live=(mt.duckdb_catalog, mt.duckdb_schema, mt.duckdb_name))
        return mt

    def relist(self, source: str, min_interval: float = 5.0) -> bool:
        """Re-attach ``source`` to see tables created or changed since it was listed (at
        most every ``min_interval`` seconds). True when what the planner sees changed."""
        st = self.states.get(source)
        if st is None or time.time() - st.listed_at < min_interval:
            return False
        before = self.version
        if st.up:
            self._relist(st)
        else:
            self._attach(st)
        return self.version != before

    def check_up(self, source: str, copies_ok: bool = False) -> None:
        """Raise SourceUnavailable when ``source`` is down, unless ``copies_ok`` and every
        exposed table of it has a mirrored copy (the query reads those, not the source)."""
        st = self.states.get(source)
        if st is None:
            raise SourceUnavailable(source, "not configured")
        if st.up or (copies_ok and st.tables and all(k in st.copies for k in st.tables)):
            return
        raise SourceUnavailable(source, st.error or "not connected")

    def probe(self, source: str, every: float = 2.0) -> None:
        """MySQL sources: check the server still greets a new connection (at most every
        ``every`` seconds) before a query reads it live; mark it down if not."""
        st = self.states.get(source)
        if st is None or st.cfg.kind != "mysql" or not st.up or time.time() - st.probed_at < every:
            return
        problem = mysql_greeting(st.cfg.dsn, st.cfg.connect_timeout)
        if problem:
            self.mark_down(source, problem)
        else:
            st.probed_at = time.time()

    def mark_down(self, source: str, detail: str) -> None:
        st = self.states.get(source)
        if st is None:
            return
        with self._lock:
            if st.up:
                log.warning('source "%s" went down: %s', source, detail)
            st.up, st.error = False, detail
            st.next_retry = time.time() + RETRY_DOWN
            self.version += 1

    def ping(self, source: str) -> str | None:
        """None when a Postgres or MySQL source answers a trivial query, else the error text."""
        st = self.states.get(source)
        if st is None or not st.attached:
            return "not attached"
        fn = {"postgres": "postgres_query", "mysql": "mysql_query"}[st.cfg.kind]
        try:
            con = self.engine.cursor()
            try:
                con.execute(f"SELECT * FROM {fn}({_lit(st.alias)}, 'SELECT 1')").fetchall()
            finally:
                con.close()
        except Exception as e:
            return _first_line(e)
        return None

    # ------------------------------------------------------------------ mirrored sources

    def refresh_due(self, force: bool = False) -> None:
        now = time.time()
        for st in self.states.values():
            if st.cfg.mirror == "live" or not st.up or st.refreshing:
                continue
            if not force and now < st.next_refresh:
                continue
            oldest = min((st.copies.get(k, (0.0,))[0] for k in st.tables), default=now)
            if not force and st.tables and now - oldest < st.cfg.every and len(st.copies) >= len(st.tables):
                st.next_refresh = oldest + st.cfg.every
                continue
            self.refresh(st.name)

    def refresh(self, source: str) -> dict:
        """Copy (or, mode append, extend) every table of a mirrored source. Returns
        {table: rows copied}. A failure marks the source down and keeps the old copies."""
        st = self.states[source]
        st.refreshing = True
        done = {}
        try:
            for (sch, tab), mt in sorted(st.tables.items()):
                started = time.time()
                key = f"{source}.{sch}.{tab}"
                target = f"{_q(self.main)}.{COPY_SCHEMA}.{_q(key)}"
                live = ".".join(_q(x) for x in (mt.duckdb_catalog, mt.duckdb_schema, mt.duckdb_name))
                col = st.cfg.watermark.get(tab) or st.cfg.watermark.get(f"{sch}.{tab}")
                keys = st.cfg.keys.get(tab) or st.cfg.keys.get(f"{sch}.{tab}") or []
                keys = [keys] if isinstance(keys, str) else list(keys)
                prev = st.copies.get((sch, tab))
                incremental = (st.cfg.mirror in ("append", "updated_at") and col and prev is not None
                               and prev[2] not in (None, "None") and st.refreshes % FULL_EVERY != 0
                               and (st.cfg.mirror == "append" or keys))
                with self._lock:
                    try:
                        n, total, mark = self._copy(source, sch, tab, target, live, col, keys,
                                                    st.cfg.mirror if incremental else "full", started)
                    except Exception as e:
                        if not incremental:
                            self.mark_down(source, _first_line(e))
                            return done
                        log.info('source "%s": incremental copy of %s.%s failed (%s); copying it fully',
                                 source, sch, tab, _first_line(e))
                        try:
                            n, total, mark = self._copy(source, sch, tab, target, live, col, keys, "full", started)
                        except Exception as e2:
                            self.mark_down(source, _first_line(e2))
                            return done
                first = (sch, tab) not in st.copies
                st.copies[(sch, tab)] = (started, total, mark)
                if first:
                    self.version += 1
                done[tab] = n
            st.next_refresh = time.time() + st.cfg.every
            st.refreshes += 1
            log.info('source "%s": mirrored %d tables', source, len(done))
            return done
        finally:
            st.refreshing = False

    def _copy(self, source, sch, tab, target, live, col, keys, how, started) -> tuple[int, int, str | None]:
        """One table's copy in one DuckDB transaction: ``full`` replaces it, ``append``
        adds rows whose ``col`` grew, ``updated_at`` replaces the rows (by ``keys``) whose
        ``col`` is at least the last copy's largest value. Returns (rows, total, mark)."""
        con = self._con
        con.execute("BEGIN")
        try:
            if how == "append":
                n = con.execute(f"INSERT INTO {target} SELECT * FROM {live} WHERE {_q(col)} > "
                                f"(SELECT max({_q(col)}) FROM {target})").fetchone()[0]
            elif how == "updated_at":
                since = f"(SELECT max({_q(col)}) FROM {target})"
                con.execute(f"CREATE OR REPLACE TEMP TABLE _pgaccel_changed AS SELECT * FROM {live} "
                            f"WHERE {_q(col)} >= {since}")
                match = " AND ".join(f"t.{_q(k)} IS NOT DISTINCT FROM c.{_q(k)}" for k in keys)
                con.execute(f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM _pgaccel_changed c WHERE {match})")
                n = con.execute(f"INSERT INTO {target} SELECT * FROM _pgaccel_changed").fetchone()[0]
                con.execute("DROP TABLE _pgaccel_changed")
            else:
                con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {live}")
                n = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
            mark = str(con.execute(f"SELECT max({_q(col)}) FROM {target}").fetchone()[0]) if col else None
            total = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
            con.execute(f"INSERT OR REPLACE INTO {self._copies_table} VALUES (?, ?, ?, ?, ?, ?)",
                        [source, sch, tab, started, total, mark])
            con.execute("COMMIT")
            return n, total, mark
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except Exception:
                pass
            raise

    # ------------------------------------------------------------------ introspection

    def rows(self) -> list[tuple]:
        """SHOW pgaccel.sources: source, kind, state, mirror, tables, lag_seconds, last_error."""
        out = []
        for st in self.states.values():
            lag = ""
            if st.cfg.mirror != "live" and st.copies:
                lag = f"{max(time.time() - c[0] for c in st.copies.values()):.1f}"
            out.append((st.name, st.cfg.kind, "up" if st.up else "down", st.cfg.mirror,
                        str(len(st.tables)), lag, st.error))
        return out


class FederatedCatalog:
    """What the planner reads: the mirror's catalog plus the sources' tables."""

    def __init__(self, mirror_catalog, federation: Federation) -> None:
        self.mirror_catalog = mirror_catalog
        self.federation = federation
        self.version = (mirror_catalog.version, federation.version)
        self.collation = federation.collation or mirror_catalog.collation
        self.tables = mirror_catalog.tables
        self.sources = frozenset(federation.states)

    def get(self, schema: str, name: str):
        return self.mirror_catalog.get(schema, name)

    def origin_table(self, schema: str, name: str):
        """For a query across sources: the mirrored table, else the origin's table read live."""
        return self.mirror_catalog.get(schema, name) or self.federation.origin_tables.get((schema, name))

    def source_table(self, source: str, schema: str | None, name: str):
        return self.federation.table(source, schema, name)


_SECRET_KV = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)
_SECRET_URL = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def redact(text: str) -> str:
    """Error texts of the scanners quote the DSN: never show its password."""
    return _SECRET_URL.sub(r"\1***@", _SECRET_KV.sub(r"\1***", text))


def _default_schema(cfg, tables) -> str | None:
    """The schema ``NAME.table`` means: the only one, else Postgres' public, MySQL's
    database, SQLite's and files' main."""
    schemas = {s for s, _ in tables}
    if len(schemas) == 1:
        return next(iter(schemas))
    if cfg.kind == "postgres":
        return "public"
    if cfg.kind == "mysql":
        return _mysql_database(cfg.dsn) or None
    return "main"


def _first_line(e: BaseException) -> str:
    return redact(str(e).strip().split("\n")[0])[:300]
