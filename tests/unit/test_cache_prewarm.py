"""Prewarm candidates: the most requested entries among the invalidated tables."""

from cache.key import CacheKey
from cache.prewarm import Prewarmer

SALES, USERS, ITEMS = ("public", "sales"), ("public", "users"), ("public", "items")


def key(sql):
    return CacheKey.build(sql, role="alice", database="app")


def test_candidates_are_the_most_requested_among_invalidated_tables():
    p = Prewarmer()
    a, b, c, d = (key(f"select {i} from t") for i in range(4))
    for k, tables, n in [(a, [SALES], 5), (b, [SALES, USERS], 9), (c, [USERS], 20), (d, [ITEMS], 1)]:
        for _ in range(n):
            p.record(k, tables, f"sql {n}", now=1000.0)
    assert p.candidates([SALES], limit=10, now=1000.0) == [b, a]
    assert p.candidates([SALES, USERS], limit=2, now=1000.0) == [c, b]
    assert p.candidates([("public", "other")], limit=10, now=1000.0) == []
    assert p.sql_for(b) == "sql 9"


def test_counts_decay_so_recent_demand_wins():
    p = Prewarmer(half_life=60)
    old, new = key("select 1 from sales"), key("select 2 from sales")
    for _ in range(10):
        p.record(old, [SALES], "old", now=0.0)
    for _ in range(3):
        p.record(new, [SALES], "new", now=600.0)        # ten half-lives later
    assert p.candidates([SALES], 1, now=600.0) == [new]


def test_tracking_is_bounded_and_keeps_the_top():
    p = Prewarmer(capacity=10)
    hot = key("select hot from sales")
    for _ in range(50):
        p.record(hot, [SALES], "hot", now=0.0)
    for i in range(100):
        p.record(key(f"select {i} from sales"), [SALES], "cold", now=0.0)
    assert len(p) <= 10
    assert p.candidates([SALES], 1, now=0.0) == [hot]
