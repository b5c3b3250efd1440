"""Implied single-table filters (planner/rewrite/bridge_implied_filters.py): what is
added to the mirror SQL, what is not, and that results stay the same."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from planner import SessionContext
from planner.route import plan
from planner.rewrite.bridge_implied_filters import add_implied_filters
from planner.testing import make_catalog

CTX = SessionContext(search_path=("public",), in_transaction=False)


def duck(sql: str) -> str:
    route = plan(sql, CTX, make_catalog())
    assert route.target == "mirror", route
    return route.sql


def rewrite(sql: str) -> str:
    return add_implied_filters(sqlglot.parse_one(sql, read="duckdb")).sql(dialect="duckdb")


Q19_SHAPE = ("SELECT sum(o.amount) FROM orders o, products p WHERE "
             "(p.id = o.id AND p.category = 'a' AND p.sku IN ('x', 'y') AND o.quantity <= 5) OR "
             "(p.id = o.id AND p.category = 'b' AND o.quantity >= 10)")


def test_or_of_conjunctions_gets_the_implied_equalities_of_each_table():
    sql = duck(Q19_SHAPE)
    assert ("AND ((\"p\".\"category\" = 'a' AND \"p\".\"sku\" IN ('x', 'y')) OR \"p\".\"category\" = 'b')"
            in sql)


def test_range_conditions_are_not_copied():
    sql = duck(Q19_SHAPE)
    assert sql.count('"o"."quantity" <= 5') == 1 and sql.count('"o"."quantity" >= 10') == 1


def test_conditions_common_to_every_disjunct_are_not_copied():
    sql = rewrite("SELECT 1 FROM a, b WHERE (a.x = b.y AND a.k = 1 AND b.m = 2) OR (a.x = b.y AND a.k = 3 AND b.m = 2)")
    assert sql.endswith("AND (a.k = 1 OR a.k = 3)")


def test_a_table_missing_from_one_disjunct_gets_no_filter():
    sql = rewrite("SELECT 1 FROM a, b WHERE (a.k = 1 AND b.m = 2) OR (a.k = 3)")
    assert sql.endswith("AND (a.k = 1 OR a.k = 3)") and "b.m = 2" in sql and sql.count("b.m") == 1


def test_a_single_table_select_is_left_alone():
    sql = "SELECT 1 FROM a WHERE (a.k = 1 AND a.m = 2) OR (a.k = 3 AND a.m = 4)"
    assert rewrite(sql) == sql


def test_conditions_that_could_raise_or_read_other_tables_are_not_copied():
    sql = ("SELECT 1 FROM a, b WHERE (a.k = 1 / a.z AND b.m = 2) OR (a.k = b.m AND b.m = 3) "
           "OR (a.k IN (SELECT 1) AND b.m = 4)")
    out = rewrite(sql)
    assert out.endswith("AND (b.m = 2 OR b.m = 3 OR b.m = 4)")
    assert out.count("a.k") == 3


def test_negative_and_cast_constants_count_as_constants():
    out = rewrite("SELECT 1 FROM a, b WHERE (a.k = -1 AND b.m = 2) OR (a.k = CAST('2' AS INT) AND b.m = 3)")
    assert "AND (a.k = -1 OR a.k = CAST('2' AS INT)) AND (b.m = 2 OR b.m = 3)" in out


def test_the_rewrite_is_idempotent():
    once = rewrite("SELECT 1 FROM a, b WHERE (a.k = 1 AND b.m = 2) OR (a.k = 3 AND b.m = 4)")
    assert rewrite(once) == once


def test_subqueries_get_their_own_implied_filters():
    out = rewrite("SELECT 1 FROM t WHERE t.v IN (SELECT a.k FROM a, b WHERE (a.k = 1 AND b.m = 2) OR "
                  "(a.k = 3 AND b.m = 4))")
    assert "AND (a.k = 1 OR a.k = 3) AND (b.m = 2 OR b.m = 4))" in out


@pytest.mark.parametrize("where, rewritten", [
    ("(p.id = o.id AND p.category = 'a' AND o.quantity <= 5) OR (p.id = o.id AND p.category = 'b')", True),
    ("(p.category = 'a' AND o.status = 'x') OR (p.category IS NULL AND o.status = 'y') "
     "OR (p.category = 'c' AND o.status = 'z')", True),
    ("NOT ((p.category = 'a' AND o.status = 'x') OR (p.category = 'b' AND o.status = 'y'))", False),
    ("((p.category = 'a' AND o.status = 'x') OR (p.category = 'b' AND o.status = 'y')) IS NOT TRUE", False),
])
def test_results_are_unchanged_with_nulls_in_every_column(where, rewritten):
    """The planner's DuckDB SQL (with the added filters) and the plain condition give the
    same rows on data with NULLs in every column."""
    con = duckdb.connect()
    con.execute("CREATE TABLE orders AS SELECT * FROM (VALUES (1, 'x', 3), (2, 'y', NULL), (3, NULL, 7), "
                "(4, 'z', 12), (NULL, 'x', 1)) v(id, status, quantity)")
    con.execute("CREATE TABLE products AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, NULL), (4, 'c'), "
                "(NULL, 'a')) v(id, category)")
    con.execute("CREATE SCHEMA public")
    con.execute("CREATE VIEW public.orders AS SELECT * FROM main.orders")
    con.execute("CREATE VIEW public.products AS SELECT * FROM main.products")
    sql = duck(f"SELECT o.id AS oid, p.id AS pid FROM orders o, products p WHERE {where} ORDER BY 1, 2")
    mentions = lambda s: s.count("category") + s.count("status")
    assert (mentions(sql) > mentions(where)) == rewritten
    reference = (f"SELECT o.id AS oid, p.id AS pid FROM main.orders o, main.products p WHERE {where} "
                 "ORDER BY 1 NULLS LAST, 2 NULLS LAST")
    assert con.execute(sql).fetchall() == con.execute(reference).fetchall()
