"""Planner unit tests that are not one-statement fixtures: the reason catalogue,
memoisation, robustness, the Route contract, and planning cost."""

from __future__ import annotations

import statistics
import time

import duckdb
import pytest

from planner import REASONS, Planner, Route, SessionContext, install_macros
from planner.reasons import Refuse
from planner.testing import make_catalog
from tests.unit.test_planner_fixtures import CASES

CTX = SessionContext(search_path=("public",), in_transaction=False)
DASHBOARD = ("SELECT date_trunc('month', o.created_at) AS month, c.country, count(*) AS orders, "
             "sum(o.amount) AS revenue, avg(o.quantity) AS avg_qty FROM orders o "
             "JOIN customers c ON c.id = o.customer_id WHERE o.status = $1 AND o.created_at >= $2 "
             "GROUP BY 1, 2 ORDER BY 1 DESC, 4 DESC LIMIT 100")


def test_every_reason_is_documented_in_one_line():
    for name, text in REASONS.items():
        assert name == name.lower() and " " not in name
        assert text and "\n" not in text


def test_every_reason_is_covered_by_a_fixture():
    covered = {c.reason for c in CASES}
    assert set(REASONS) - covered == set()


def test_fixtures_use_only_documented_reasons():
    assert {c.reason for c in CASES} <= set(REASONS)


def test_refuse_rejects_an_undocumented_reason():
    with pytest.raises(AssertionError):
        Refuse("no_such_reason")


def test_memo_hit_returns_the_same_route_without_planning():
    p, cat = Planner(), make_catalog()
    first = p.decide(DASHBOARD, CTX, cat)
    again = p.decide(DASHBOARD, CTX, cat)
    assert again is first and p.misses == 1 and p.hits == 1


def test_memo_hit_is_a_dict_lookup():
    p, cat = Planner(), make_catalog()
    p.decide(DASHBOARD, CTX, cat)
    times = []
    for _ in range(2000):
        t0 = time.perf_counter()
        p.decide(DASHBOARD, CTX, cat)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 20e-6


def test_memo_key_includes_context_and_catalog_version():
    p = Planner()
    assert p.decide("SELECT id FROM orders", CTX, make_catalog(version=1)).target == "mirror"
    in_tx = SessionContext(search_path=("public",), in_transaction=True)
    assert p.decide("SELECT id FROM orders", in_tx, make_catalog(version=1)).reason == "in_transaction"
    empty = make_catalog(version=2)
    empty.tables.clear()
    assert p.decide("SELECT id FROM orders", CTX, empty).reason == "table_not_mirrored"


def test_memo_is_bounded():
    p, cat = Planner(memo_size=10), make_catalog()
    for i in range(50):
        p.decide(f"SELECT id FROM orders WHERE id = {i}", CTX, cat)
    assert len(p._memo) == 10


@pytest.mark.parametrize("sql", [
    "", ";;;", "SELECT", "SELECT (((((", "\x00", "SELECT 'unterminated", "$$", "SELECT * FROM",
    "WITH", "SELECT 1 FROM orders WHERE id = $0", "SELECT id FROM orders o JOIN o ON", "(",
    "SELECT * FROM orders WHERE id = ANY(", "EXPLAIN (ROUTE)", "SET pgaccel.", "SELECT " + "(" * 500 + "1",
])
def test_decide_never_raises(sql):
    r = Planner().decide(sql, CTX, make_catalog())
    assert isinstance(r, Route) and r.target in ("origin", "admin", "mirror")


def test_decide_never_raises_on_a_broken_catalog():
    class Broken:
        version, collation = 1, "C"

        def get(self, schema, name):
            raise RuntimeError("catalog unavailable")

    r = Planner().decide("SELECT id FROM orders", CTX, Broken())
    assert r.target == "origin"


def test_mirror_route_carries_tables_columns_and_parameter_types():
    r = Planner().decide(DASHBOARD, CTX, make_catalog())
    assert r.target == "mirror" and r.kind == "read"
    assert r.tables == frozenset({("public", "orders"), ("public", "customers")})
    assert r.columns == (("month", "timestamp"), ("country", "text"), ("orders", "int8"),
                         ("revenue", "numeric"), ("avg_qty", "numeric"))
    assert r.params == ("text", "timestamp")
    assert "$1" in r.sql and "$2" in r.sql


def test_tables_are_renamed_to_the_duckdb_names():
    cat = make_catalog()
    t = cat.tables[("public", "orders")]
    cat.tables[("public", "orders")] = type(t)(**{**t.__dict__, "duckdb_schema": "m1", "duckdb_name": "orders_v7"})
    r = Planner().decide("SELECT count(*) FROM orders", CTX, cat)
    assert '"m1"."orders_v7"' in r.sql


def test_routes_are_values():
    a = Planner().decide("SELECT id FROM orders", CTX, make_catalog())
    b = Planner().decide("SELECT id FROM orders", CTX, make_catalog())
    assert a == b and hash(a) == hash(b)


def test_duckdb_macros_install_idempotently_and_compute_postgres_division():
    con = duckdb.connect()
    install_macros(con)
    install_macros(con)
    # 1 / 3 as numeric: Postgres gives 0.33333333333333333333 (scale 20)
    v = con.execute("SELECT pgaccel_numeric_text(pgaccel_numeric_div(1::HUGEINT, 0, 0, 3::HUGEINT, 0, 0), 20, "
                    "pgaccel_div_scale(1::HUGEINT, 0, 0, 3::HUGEINT, 0, 0))").fetchone()[0]
    assert v == "0.33333333333333333333"
    # avg of 1, 2: Postgres gives 1.5000000000000000 (scale 16); -7 / 2 rounds half away from zero
    v = con.execute("SELECT pgaccel_numeric_text(pgaccel_numeric_div(3::HUGEINT, 0, 0, 2::HUGEINT, 0, 0), 20, "
                    "pgaccel_div_scale(3::HUGEINT, 0, 0, 2::HUGEINT, 0, 0))").fetchone()[0]
    assert v == "1.5000000000000000"
    with pytest.raises(duckdb.Error):
        con.execute("SELECT pgaccel_numeric_div(1::HUGEINT, 0, 0, 0::HUGEINT, 0, 0)").fetchone()


def test_mirror_sql_needs_the_macros_only_for_division_and_avg():
    p, cat = Planner(), make_catalog()
    assert "PGACCEL" not in p.decide("SELECT sum(amount) FROM orders", CTX, cat).sql.upper()
    assert "PGACCEL_NUMERIC_DIV" in p.decide("SELECT avg(amount) FROM orders", CTX, cat).sql.upper()


def _plan_time(sql: str, cat, n: int = 30) -> float:
    times = []
    for i in range(n):
        p = Planner()
        t0 = time.perf_counter()
        r = p.decide(sql, CTX, cat)
        times.append(time.perf_counter() - t0)
    assert r.target == "mirror", r
    return statistics.median(times)


def test_planning_cost_of_a_dashboard_query(capsys):
    cost = _plan_time(DASHBOARD, make_catalog())
    with capsys.disabled():
        print(f"\nplan (parse+route+transpile) of a dashboard query: {cost * 1e3:.2f} ms")
    assert cost < 0.1


def test_runtime_checks_are_announced_so_the_executor_can_buffer():
    p, cat = Planner(), make_catalog()
    assert p.decide("SELECT id FROM orders", CTX, cat).runtime_checks == ()
    assert p.decide("SELECT avg(amount) FROM orders", CTX, cat).runtime_checks == ("numeric_division",)
    assert p.decide("SELECT quantity / customer_id FROM orders", CTX, cat).runtime_checks == ("division_by_zero",)
    assert p.decide("SELECT lower(name) FROM customers", CTX, cat).runtime_checks == ("ascii_case_mapping",)
