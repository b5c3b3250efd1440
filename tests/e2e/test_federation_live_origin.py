"""A query across sources with the mirror off: origin tables are read live through the
scanner, after the role's privileges are checked on the origin; what the scanner cannot
read exactly (char(n) here) or row-level security is refused with the reason."""

from __future__ import annotations

import uuid

import duckdb
import psycopg
import pytest

from tests.conftest import start_proxy

Q = ("SELECT c.name, c.since, count(*) AS clicks FROM customers c JOIN web.clicks k ON k.customer_id = c.id "
     "GROUP BY 1, 2 ORDER BY 1")


@pytest.fixture(scope="module")
def setup(origin, tmp_path_factory):
    db = "t_live_" + uuid.uuid4().hex[:8]
    role = "live_" + uuid.uuid4().hex[:6]
    origin.psql(f"CREATE DATABASE {db}")
    with psycopg.connect(origin.dsn(db), autocommit=True) as c:
        c.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, since timestamptz, code char(2))")
        c.execute("INSERT INTO customers VALUES (1, 'a', '2024-01-01 10:00+00', 'x'), (2, 'b', NULL, 'y')")
        c.execute("CREATE TABLE secret (id int, customer_id int)")
        c.execute("ALTER TABLE secret ENABLE ROW LEVEL SECURITY")
        c.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    path = tmp_path_factory.mktemp("live") / "clicks.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT i % 3 + 1 AS customer_id, 'u' || i AS url FROM range(10) t(i)) TO '{path}' (FORMAT parquet)")
    con.close()
    p = start_proxy(origin, origin={"dsn": origin.url(db)},
                    sources={"web": {"kind": "parquet", "files": {"clicks": str(path)}}})
    try:
        yield origin, db, role, p
    finally:
        p.stop()
        origin.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        origin.psql(f"DROP ROLE IF EXISTS {role}")


def test_origin_tables_are_read_live_and_fresh(setup):
    origin, db, _role, p = setup
    with psycopg.connect(p.dsn(db), autocommit=True) as c:
        assert c.execute("EXPLAIN (ROUTE) " + Q).fetchone()[0] == "federation"
        rows = c.execute(Q).fetchall()
        assert [(r[0], r[2]) for r in rows] == [("a", 4), ("b", 3)] and rows[0][1].year == 2024
        with psycopg.connect(origin.dsn(db), autocommit=True) as d:
            d.execute("INSERT INTO customers VALUES (3, 'c', now(), 'z')")
        assert [(r[0], r[2]) for r in c.execute(Q).fetchall()] == [("a", 4), ("b", 3), ("c", 3)]


def test_the_role_needs_the_origin_privilege(setup):
    origin, db, role, p = setup
    with psycopg.connect(p.dsn(db, user=role, password="pw"), autocommit=True) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(Q)
        with psycopg.connect(origin.dsn(db), autocommit=True) as d:
            d.execute(f"GRANT SELECT ON customers TO {role}")
        assert len(c.execute(Q).fetchall()) >= 2


def test_inexact_columns_and_row_level_security_are_refused(setup):
    _origin, db, _role, p = setup
    with psycopg.connect(p.dsn(db), autocommit=True) as c:
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="unfaithful_column"):
            c.execute("SELECT c.code FROM customers c JOIN web.clicks k ON k.customer_id = c.id")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="row_level_security"):
            c.execute("SELECT count(*) FROM secret s JOIN web.clicks k ON k.customer_id = s.customer_id")


def test_a_table_created_on_the_origin_is_found_at_once(setup):
    origin, db, _role, p = setup
    with psycopg.connect(origin.dsn(db), autocommit=True) as d:
        d.execute("CREATE TABLE late (customer_id int, v int)")
        d.execute("INSERT INTO late VALUES (1, 10), (2, 20)")
    fed = p.server.federation
    fed.origin_listed_at = 0.0          # as if the last listing were old (it is rate-limited to 5 s)
    with psycopg.connect(p.dsn(db), autocommit=True) as c:
        assert c.execute("SELECT sum(l.v) FROM late l JOIN web.clicks k ON k.customer_id = l.customer_id"
                         ).fetchone() == (100,)      # 10 x 4 clicks + 20 x 3 clicks


def test_inside_a_read_committed_transaction_that_has_not_written(setup):
    origin, db, _role, p = setup
    with psycopg.connect(p.dsn(db)) as c:           # psycopg opens a transaction block
        assert [(r[0], r[2]) for r in c.execute(Q).fetchall()][:2] == [("a", 4), ("b", 3)]
        c.execute("INSERT INTO customers VALUES (99, 'tx', NULL, 'q')")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="it has written"):
            c.execute(Q)
        c.rollback()
        c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="repeatable read"):
            c.execute(Q)
        c.rollback()
