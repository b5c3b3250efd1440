"""Postgres column types -> DuckDB column types, and whether the copy is faithful.

A column is *faithful* when every value it can hold is stored in DuckDB exactly
(same value, and enough information for the proxy to print it as Postgres would).
Unfaithful columns are still copied - as the text Postgres prints for them
(``textin(<type output function>(col))``, VARCHAR) - but the planner must route
any statement touching them to the origin.

Besides the static mapping here, some faithfulness is data dependent and checked
while copying (see :class:`TypeMapping.check_sql`): ``±infinity`` and timestamps
beyond DuckDB's range (year 294247), and arrays that are not 1-D with lower bound
1. If any row has such a value the column is marked unfaithful after the copy.

The mapping also says which SQL to run *on Postgres* for each column
(``pg_expr``): the postgres scanner trims ``bpchar`` padding, reads domains as
text and enums as DuckDB ENUMs, so those are rewritten on the Postgres side.
"""

from __future__ import annotations

from dataclasses import dataclass

# Built-in type OIDs (pg_type.h).
BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID, JSON = 16, 17, 18, 19, 20, 21, 23, 25, 26, 114
FLOAT4, FLOAT8, MONEY, INET, CIDR, BPCHAR, VARCHAR = 700, 701, 790, 869, 650, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ, BIT, VARBIT = 1082, 1083, 1114, 1184, 1186, 1266, 1560, 1562
NUMERIC, UUID, JSONB, XML, TSVECTOR = 1700, 2950, 3802, 142, 3614

# Scalars stored exactly, with their DuckDB type (numeric and bpchar handled apart).
_SIMPLE: dict[int, str] = {
    BOOL: "BOOLEAN", BYTEA: "BLOB", NAME: "VARCHAR", INT8: "BIGINT", INT2: "SMALLINT",
    INT4: "INTEGER", TEXT: "VARCHAR", JSON: "VARCHAR", FLOAT4: "FLOAT", FLOAT8: "DOUBLE",
    VARCHAR: "VARCHAR", DATE: "DATE", TIME: "TIME", TIMESTAMP: "TIMESTAMP",
    TIMESTAMPTZ: "TIMESTAMPTZ", INTERVAL: "INTERVAL", UUID: "UUID", JSONB: "VARCHAR",
}
_DATETIME = {DATE, TIMESTAMP, TIMESTAMPTZ}
# Largest timestamp DuckDB can hold is 294247-01-10; Postgres goes to 294276.
TS_LIMIT = "294247-01-01"
DECIMAL_MAX_PRECISION = 38


@dataclass(frozen=True)
class PgType:
    """One row of pg_type, as much as the mapping needs."""

    oid: int
    name: str                 # format_type(oid, NULL)
    typtype: str              # b base, d domain, e enum, c composite, r range, m multirange, p pseudo
    typelem: int = 0          # element type of an array type (0 if not an array)
    typcategory: str = ""     # 'A' for arrays
    typbasetype: int = 0      # base type of a domain
    typtypmod: int = -1       # typmod a domain applies to its base type
    typoutput: str = ""       # schema-qualified output function, e.g. pg_catalog.money_out
    base_format: str = ""     # domains: format_type(typbasetype, typtypmod)


@dataclass(frozen=True)
class TypeMapping:
    duckdb_type: str
    faithful: bool
    note: str                 # why unfaithful / what is special ("" if nothing)
    pg_expr: str              # SQL on Postgres producing the value; {c} is the quoted column
    check_sql: str | None     # Postgres boolean expr, true for rows whose value is not stored faithfully


def numeric_precision_scale(typmod: int) -> tuple[int, int] | None:
    """(precision, scale) of numeric(p,s), None when unconstrained."""
    if typmod < 4:
        return None
    t = typmod - 4
    precision = (t >> 16) & 0xFFFF
    scale = t & 0x7FF
    if scale & 0x400:  # PG15 allows negative scales, stored as 11-bit two's complement
        scale -= 0x800
    return precision, scale


def _text_of(pgtype: PgType) -> str:
    """Postgres expression for the exact text Postgres prints for a value."""
    out = pgtype.typoutput or "pg_catalog.textout"
    return f"textin({out}({{c}}))"


def _unfaithful(pgtype: PgType, note: str) -> TypeMapping:
    return TypeMapping("VARCHAR", False, note, _text_of(pgtype), None)


def _resolve_domain(types: dict[int, PgType], oid: int, typmod: int) -> tuple[int, int, list[str], str]:
    """Follow domains to their base type: (base oid, base typmod, domain names, base type text)."""
    chain: list[str] = []
    base_format = ""
    while oid in types and types[oid].typtype == "d":
        t = types[oid]
        chain.append(t.name)
        typmod = t.typtypmod
        oid = t.typbasetype
        base_format = t.base_format
    return oid, typmod, chain, base_format


def _scalar(types: dict[int, PgType], oid: int, typmod: int) -> tuple[str, str] | str:
    """(duckdb_type, pg_expr) for a faithful scalar, or the reason it is not faithful."""
    t = types.get(oid)
    if oid in _SIMPLE:
        return _SIMPLE[oid], "{c}"
    if oid == NUMERIC:
        ps = numeric_precision_scale(typmod)
        if ps is None:
            return "unconstrained numeric: Postgres prints each value with its own scale"
        p, s = ps
        if p > DECIMAL_MAX_PRECISION:
            return f"numeric({p},{s}): precision above DuckDB's {DECIMAL_MAX_PRECISION}"
        if s < 0 or s > p:
            return f"numeric({p},{s}): scale outside 0..precision"
        return f"DECIMAL({p},{s})", "{c}"
    if oid == BPCHAR:
        # The scanner trims the padding; bpcharout gives the padded text Postgres prints.
        return "VARCHAR", "textin(pg_catalog.bpcharout({c}))"
    if t is not None and t.typtype == "e":
        # Postgres orders and compares enums by declaration order, DuckDB text by bytes:
        # kept as text but unfaithful, so queries touching it go to the origin.
        return f"enum {t.name}: Postgres orders enums by declaration, not by text"
    return f"type {t.name if t else oid} has no exact DuckDB counterpart"


def map_type(types: dict[int, PgType], type_oid: int, typmod: int, ndims: int = 0) -> TypeMapping:
    """Map one column (pg_attribute.atttypid, atttypmod, attndims) to DuckDB.

    ``types`` holds pg_type rows for at least the column type, its element type and
    the base types of domains involved.
    """
    declared = types.get(type_oid) or PgType(type_oid, str(type_oid), "b")
    oid, mod, domains, base_format = _resolve_domain(types, type_oid, typmod)
    if not domains:
        mod = typmod
    base = types.get(oid) or PgType(oid, str(oid), "b")
    cast = f"({{c}})::{base_format}" if domains else "{c}"
    note = f"domain {'/'.join(domains)} over {base.name}" if domains else ""

    if base.typelem and base.typcategory == "A":
        if ndims > 1:
            return _unfaithful(declared, "multi-dimensional array")
        eoid, emod, edomains, ebase_format = _resolve_domain(types, base.typelem, mod)
        if not edomains:
            emod = mod
        elem = types.get(eoid)
        if eoid == BPCHAR:
            return _unfaithful(declared, "array of char(n): the scanner trims element padding")
        if eoid == BYTEA:
            return _unfaithful(declared, "array of bytea: the scanner cannot read it")
        r = _scalar(types, eoid, emod)
        if isinstance(r, str):
            return _unfaithful(declared, "array of " + r)
        dtype, eexpr = r
        expr = "{c}"
        if edomains or eexpr != "{c}" or domains:
            # enum / domain elements: cast the whole array to an array of the base (or text)
            target = "text[]" if (elem is not None and elem.typtype == "e") else f"{ebase_format or (elem.name if elem else eoid)}[]"
            expr = f"({{c}})::{target}"
        check = "(pg_catalog.array_ndims({c}) > 1 OR pg_catalog.array_lower({c}, 1) <> 1)"
        if eoid in _DATETIME:
            bound = " OR x >= '" + TS_LIMIT + "'" if eoid != DATE else ""
            check = (f"({check} OR EXISTS (SELECT 1 FROM pg_catalog.unnest({{c}}) x "
                     f"WHERE NOT pg_catalog.isfinite(x){bound}))")
        x = expr.replace("{c}", cast)
        # a value with more dimensions than declared would fail the whole copy: NULL it, flag the column
        guarded = f"CASE WHEN pg_catalog.array_ndims({cast}) > 1 THEN NULL ELSE {x} END"
        return TypeMapping(f"{dtype}[]", True, note, guarded, check.replace("{c}", cast))

    r = _scalar(types, oid, mod)
    if isinstance(r, str):
        return _unfaithful(declared, r)
    dtype, expr = r
    check = None
    if oid == DATE:
        check = "NOT pg_catalog.isfinite({c})"
    elif oid in (TIMESTAMP, TIMESTAMPTZ):
        check = f"(NOT pg_catalog.isfinite({{c}}) OR {{c}} >= '{TS_LIMIT}')"
    if check:
        check = check.replace("{c}", cast)
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        # the scanner silently wraps timestamps past DuckDB's range: NULL them, flag the column
        expr = f"CASE WHEN {{c}} >= '{TS_LIMIT}' AND pg_catalog.isfinite({{c}}) THEN NULL ELSE {{c}} END"
    if oid in (JSON, JSONB):
        note = note or f"{base.name} stored as its text"
    return TypeMapping(dtype, True, note, expr.replace("{c}", cast), check)


def quote_ident(name: str) -> str:
    """Quote an identifier for Postgres or DuckDB (same rules)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
