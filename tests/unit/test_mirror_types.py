"""Pure tests of the Postgres -> DuckDB type mapping and helpers (no database)."""

from mirror import types as T
from mirror.freshness import parse_lsn, parse_table_list, widen_xid
from mirror.snapshot import matches
from mirror.types import PgType, map_type, numeric_precision_scale

TYPES = {
    T.INT4: PgType(T.INT4, "integer", "b", typoutput="pg_catalog.int4out"),
    1007: PgType(1007, "integer[]", "b", typelem=T.INT4, typcategory="A", typoutput="pg_catalog.array_out"),
    T.NUMERIC: PgType(T.NUMERIC, "numeric", "b", typoutput="pg_catalog.numeric_out"),
    T.BPCHAR: PgType(T.BPCHAR, "bpchar", "b", typoutput="pg_catalog.bpcharout"),
    T.MONEY: PgType(T.MONEY, "money", "b", typoutput="pg_catalog.cash_out"),
    T.TIMESTAMP: PgType(T.TIMESTAMP, "timestamp without time zone", "b", typoutput="pg_catalog.timestamp_out"),
    9001: PgType(9001, "posint", "d", typbasetype=T.INT4, typoutput="pg_catalog.int4out", base_format="integer"),
    9002: PgType(9002, "price", "d", typbasetype=T.NUMERIC, typtypmod=(12 << 16 | 2) + 4,
                 typoutput="pg_catalog.numeric_out", base_format="numeric(12,2)"),
    9003: PgType(9003, "mood", "e", typoutput="pg_catalog.enum_out"),
}


def test_numeric_typmod_decodes_precision_and_scale():
    assert numeric_precision_scale(-1) is None
    assert numeric_precision_scale((10 << 16 | 2) + 4) == (10, 2)
    assert numeric_precision_scale((5 << 16 | (-2 & 0x7FF)) + 4) == (5, -2)


def test_constrained_numeric_is_a_faithful_decimal():
    m = map_type(TYPES, T.NUMERIC, (38 << 16 | 4) + 4)
    assert (m.duckdb_type, m.faithful) == ("DECIMAL(38,4)", True)


def test_unconstrained_and_wide_numeric_are_unfaithful_text():
    for typmod in (-1, (39 << 16 | 2) + 4):
        m = map_type(TYPES, T.NUMERIC, typmod)
        assert (m.duckdb_type, m.faithful) == ("VARCHAR", False)
        assert m.pg_expr == "textin(pg_catalog.numeric_out({c}))"


def test_bpchar_is_read_through_its_output_function_to_keep_padding():
    m = map_type(TYPES, T.BPCHAR, 8)
    assert m.faithful and m.pg_expr == "textin(pg_catalog.bpcharout({c}))"


def test_domain_maps_to_its_base_type_with_the_domain_typmod():
    m = map_type(TYPES, 9002, -1)
    assert (m.duckdb_type, m.faithful) == ("DECIMAL(12,2)", True)
    assert m.pg_expr == "({c})::numeric(12,2)"
    assert map_type(TYPES, 9001, -1).duckdb_type == "INTEGER"


def test_enum_is_varchar_and_money_is_unfaithful():
    assert map_type(TYPES, 9003, -1).duckdb_type == "VARCHAR"
    assert not map_type(TYPES, T.MONEY, -1).faithful


def test_one_dimensional_array_is_a_list_guarded_against_extra_dimensions():
    m = map_type(TYPES, 1007, -1, ndims=1)
    assert (m.duckdb_type, m.faithful) == ("INTEGER[]", True)
    assert "array_ndims" in m.pg_expr and "array_lower" in m.check_sql
    assert not map_type(TYPES, 1007, -1, ndims=2).faithful


def test_timestamps_are_checked_for_infinity_and_range():
    m = map_type(TYPES, T.TIMESTAMP, -1)
    assert "isfinite" in m.check_sql and T.TS_LIMIT in m.pg_expr


def test_table_patterns_and_excludes_use_fnmatch_on_schema_dot_table():
    assert matches("public.orders", ["public.*"])
    assert not matches("public.orders", ["public.*"], ["public.ord*"])
    assert matches("sales.x", ["*.*"]) and not matches("sales.x", ["public.x"])


def test_test_decoding_table_names_are_parsed_with_quotes():
    assert parse_table_list('public.a: INSERT: id[integer]:1') == ([("public", "a")], "INSERT: id[integer]:1")
    assert parse_table_list('"My S"."T ""x""", public.b: TRUNCATE: (no-flags)')[0] == [
        ("My S", 'T "x"'), ("public", "b")]


def test_xids_are_widened_into_the_reference_epoch():
    assert widen_xid(5, (1 << 32) + 10) == (1 << 32) + 5
    assert widen_xid(0xFFFFFFF0, (1 << 32) + 10) == 0xFFFFFFF0
    assert parse_lsn("1/10") == (1 << 32) + 16
