"""Stand-in mirror catalog for planner tests (same shape as mirror/catalog.py).

Used by the planner unit, fixture and differential tests (and anyone who needs a
catalog without a mirror).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MirrorColumn:
    name: str
    pg_type: str
    type_oid: int = 0
    typmod: int = -1
    duckdb_type: str = ""
    faithful: bool = True
    nullable: bool = True


@dataclass(frozen=True)
class MirrorTable:
    schema: str
    name: str
    columns: tuple[MirrorColumn, ...]
    duckdb_schema: str = ""
    duckdb_name: str = ""
    row_count: int = 0
    synced_at: float = 0.0
    snapshot_lsn: str = ""
    rls_enabled: bool = False
    table_oid: int = 0
    source: str = ""
    duckdb_catalog: str = ""
    live: tuple = ()

    def column(self, name: str) -> MirrorColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


@dataclass
class MirrorCatalog:
    version: int
    tables: dict[tuple[str, str], MirrorTable] = field(default_factory=dict)
    collation: str = "C.UTF-8"
    # federation: (source, schema, table) -> MirrorTable; a source's default schema
    source_tables: dict = field(default_factory=dict)
    default_schemas: dict = field(default_factory=dict)

    def get(self, schema: str, name: str) -> MirrorTable | None:
        return self.tables.get((schema, name))

    @property
    def sources(self) -> frozenset:
        return frozenset(self.default_schemas)

    def source_table(self, source: str, schema: str | None, name: str) -> MirrorTable | None:
        return self.source_tables.get((source, schema or self.default_schemas.get(source), name))


def table(schema: str, name: str, cols: str, *, duckdb_schema: str | None = None,
          unfaithful: tuple[str, ...] = (), rls: bool = False) -> MirrorTable:
    """cols: 'id integer, name text, amount numeric(12,2)'."""
    columns = []
    for part in _split(cols):
        cname, _, ctype = part.strip().partition(" ")
        columns.append(MirrorColumn(cname, ctype.strip(), faithful=cname not in unfaithful))
    return MirrorTable(schema, name, tuple(columns), duckdb_schema or schema, name, rls_enabled=rls)


def _split(cols: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in cols:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out


# The schema shared by the planner fixtures and the differential tests.
SCHEMA = {
    ("public", "customers"): "id integer, name text, email character varying(100), country text, "
                             "signup_date date, tier smallint, credit numeric(12,2), active boolean, "
                             "score double precision, notes text",
    ("public", "orders"): "id integer, customer_id integer, created_at timestamp without time zone, "
                          "created_tz timestamp with time zone, status text, amount numeric(12,2), "
                          "quantity integer, discount numeric(4,3), weight real, big bigint",
    ("public", "products"): "id integer, sku text, title text, price numeric(10,2), category text, "
                            "stock integer, rating double precision",
    ("public", "events"): "id bigint, customer_id integer, kind text, payload jsonb, at timestamp with time zone, "
                          "value numeric",
    ("analytics", "daily"): "day date, region text, revenue numeric(14,2), visits integer",
    ("public", "secrets"): "id integer, secret text",
    ("public", "legacy"): "id integer, code character(5), blob_data bytea",
}


def make_catalog(collation: str = "C.UTF-8", version: int = 1) -> MirrorCatalog:
    cat = MirrorCatalog(version, {}, collation)
    for (schema, name), cols in SCHEMA.items():
        unfaithful = ("payload",) if name == "events" else ()
        cat.tables[(schema, name)] = table(schema, name, cols, unfaithful=unfaithful,
                                           rls=(name == "secrets"))
    # two federation sources: a live MySQL CRM and a mirrored copy of Parquet files
    for (src, schema, name), cols in SOURCE_SCHEMA.items():
        live = (f"_src_{src}", schema, name)
        mirrored = src == "files"
        t = table(f"{src}.{schema}", name, cols)
        cat.source_tables[(src, schema, name)] = MirrorTable(
            t.schema, name, t.columns, "_pgaccel_src" if mirrored else schema,
            f"{src}.{schema}.{name}" if mirrored else name, source=src,
            duckdb_catalog="" if mirrored else live[0], live=live if mirrored else ())
        cat.default_schemas[src] = schema
    return cat


SOURCE_SCHEMA = {
    ("crm", "crm", "accounts"): "id integer, customer_id integer, plan text, mrr numeric(10,2), "
                                "opened timestamp without time zone",
    ("files", "main", "clicks"): "customer_id bigint, url text, at timestamp without time zone",
}
