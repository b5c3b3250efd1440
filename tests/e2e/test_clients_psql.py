"""psql cannot tell pgaccel from Postgres.

Each check runs the same psql invocation (``-X``: no ~/.psqlrc) directly and
through pgaccel and compares stdout, stderr (port numbers replaced) and the
exit status. psql's backslash commands run catalog queries of their own, so
these also cover queries pgaccel did not see coming.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import scratch_database

PSQL = shutil.which("psql") or "/usr/bin/psql"

pytestmark = pytest.mark.skipif(not os.path.exists(PSQL), reason="psql not installed (looked on PATH and /usr/bin)")

SCHEMA = """
CREATE TABLE customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name varchar(100),
    created timestamptz NOT NULL DEFAULT now(),
    score numeric(6,2) CHECK (score >= 0)
);
COMMENT ON TABLE customers IS 'people who buy';
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    total numeric(12,2),
    tags text[],
    meta jsonb
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE INDEX orders_meta_idx ON orders USING gin (meta);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE SCHEMA sales;
CREATE TABLE sales.regions (code char(2) PRIMARY KEY, label text);
CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i + 1';
INSERT INTO customers (email, name, score) VALUES ('a@x', 'Ann', 1.5), ('b@x', 'Bob', NULL);
INSERT INTO orders (customer_id, total, tags, meta) VALUES (1, 150, '{a,b}', '{"k": 1}'), (2, 5, NULL, NULL);
"""


@pytest.fixture(scope="module")
def db(origin):
    with scratch_database(origin, "psql", SCHEMA) as name:
        yield name


@pytest.fixture(scope="module")
def ports(origin, proxy):
    return {"direct": origin.port, "pgaccel": proxy.port}


def run_psql(port: int, db: str, *args: str, stdin: str | None = None, cwd=None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSWORD="postgres-secret", PGAPPNAME="psql", PGTZ="UTC", LC_ALL="C", PAGER="", PSQL_PAGER="")
    p = subprocess.run([PSQL, "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db, *args],
                       input=stdin, capture_output=True, text=True, env=env, timeout=30, cwd=cwd)
    scrub = lambda s: s.replace(str(port), "<port>")  # noqa: E731
    return p.returncode, scrub(p.stdout), scrub(p.stderr)


def same_psql(ports, db, *args, setup: str | None = None, **kw):
    """Same psql call on both sides; ``setup`` SQL runs first on each side (output ignored)."""
    out = {}
    for side, port in ports.items():
        if setup:
            run_psql(port, db, "-q", "-c", setup)
        out[side] = run_psql(port, db, *args, **kw)
    assert out["pgaccel"] == out["direct"]
    return out["direct"]


@pytest.mark.parametrize("meta", [r"\d customers", r"\d+ orders", r"\d big_orders", r"\d sales.regions",
                                  r"\dt", r"\dt *.*", r"\di", r"\dv", r"\dn", r"\df add_one", r"\du",
                                  r"\dx", r"\l", r"\d orders_customer_idx", r"\dT", r"\dp orders"])
def test_describe_command_output_matches(ports, db, meta):
    rc, out, err = same_psql(ports, db, "-c", meta)
    assert rc == 0 and err == "" and out


def test_describe_table_shows_indexes_and_foreign_keys(ports, db):
    rc, out, _ = same_psql(ports, db, "-c", r"\d orders")
    assert '"orders_customer_idx" btree (customer_id)' in out
    assert "FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE" in out


def test_list_databases_includes_the_test_database(ports, db):
    rc, out, _ = same_psql(ports, db, "-l")
    assert db in out


def test_copy_out_writes_the_same_file(ports, db, tmp_path):
    results = {}
    for side, port in ports.items():
        path = tmp_path / f"{side}.csv"
        rc, out, err = run_psql(port, db, "-c", rf"\copy (SELECT * FROM orders ORDER BY id) TO '{path}' CSV HEADER")
        results[side] = (rc, out, err, path.read_bytes())
    assert results["pgaccel"] == results["direct"]
    assert results["direct"][1] == "COPY 2\n"


def test_copy_in_loads_the_same_rows(ports, db, tmp_path):
    src = tmp_path / "in.tsv"
    src.write_text("".join(f"{i}\tlabel {i}\n" for i in range(250)) + "250\t\\N\n")
    results = {}
    for side, port in ports.items():
        run_psql(port, db, "-c", "DROP TABLE IF EXISTS copyin; CREATE TABLE copyin (id int, label text)")
        rc, out, err = run_psql(port, db, "-c", rf"\copy copyin FROM '{src}'")
        check = run_psql(port, db, "-At", "-c", "SELECT count(*), count(label), sum(id) FROM copyin")
        results[side] = (rc, out, err, check)
    assert results["pgaccel"] == results["direct"]
    assert results["direct"][1] == "COPY 251\n" and results["direct"][3][1] == "251|250|31375\n"


def test_copy_from_stdin_in_a_script(ports, db):
    script = ("CREATE TABLE copystdin (a int, b text);\n"
              "COPY copystdin FROM STDIN;\n1\tone\n2\ttwo\n\\.\nSELECT * FROM copystdin ORDER BY a;\n")
    rc, out, err = same_psql(ports, db, "-f", "-", stdin=script, setup="DROP TABLE IF EXISTS copystdin")
    assert "COPY 2" in out and "two" in out and rc == 0


@pytest.mark.parametrize("verbosity", ["default", "verbose", "sqlstate"])
def test_error_message_text_matches(ports, db, verbosity):
    script = (f"\\set VERBOSITY {verbosity}\n"
              "SELECT * FROM no_such_table;\n"
              "SELECT 1 FROM WHERE;\n"
              "INSERT INTO customers (email) VALUES ('a@x');\n"
              "SELECT 1/0;\n"
              "\\echo :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE\n")
    rc, out, err = same_psql(ports, db, "-f", "-", stdin=script)
    if verbosity == "verbose":
        assert "ERROR:  42P01: relation \"no_such_table\" does not exist" in err
        assert "LOCATION:" in err
        assert "DETAIL:  Key (email)=(a@x) already exists." in err
    assert "22012 division by zero" in out


def test_on_error_stop_exit_status_matches(ports, db):
    rc, out, err = same_psql(ports, db, "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1/0")
    assert rc == 1 and "division by zero" in err


def test_multiple_statements_in_one_dash_c(ports, db):
    rc, out, err = same_psql(ports, db, "-c", "SELECT 1 AS one; SELECT 'two' AS two, 2.5 AS x; "
                                             "CREATE TEMP TABLE tt (a int); INSERT INTO tt VALUES (1), (2)")
    assert rc == 0 and "INSERT 0 2" in out


def test_multiple_dash_c_options_run_in_order(ports, db):
    rc, out, err = same_psql(ports, db, "-At", "-c", "SET TimeZone = 'Asia/Tokyo'",
                             "-c", "SELECT '2024-01-01 00:00+00'::timestamptz", "-c", "SHOW TimeZone")
    assert out == "SET\n2024-01-01 09:00:00+09\nAsia/Tokyo\n"


def test_transaction_script_with_savepoint_and_error(ports, db):
    script = ("CREATE TABLE psqltx (a int PRIMARY KEY);\n"
              "BEGIN;\nINSERT INTO psqltx VALUES (1);\nSAVEPOINT s;\nINSERT INTO psqltx VALUES (1);\n"
              "SELECT 1;\nROLLBACK TO s;\nINSERT INTO psqltx VALUES (2);\nCOMMIT;\n"
              "SELECT array_agg(a ORDER BY a) FROM psqltx;\n")
    rc, out, err = same_psql(ports, db, "-f", "-", stdin=script, setup="DROP TABLE IF EXISTS psqltx")
    assert "{1,2}" in out and "current transaction is aborted" in err


def test_notice_output_matches(ports, db):
    rc, out, err = same_psql(ports, db, "-c", "DO $$ BEGIN RAISE NOTICE 'note %', 1; END $$")
    assert err == "NOTICE:  note 1\n"


def test_conninfo_matches_except_port(ports, db):
    rc, out, err = same_psql(ports, db, "-c", r"\conninfo")
    assert "<port>" in out


def test_gset_and_expanded_output(ports, db):
    script = ("SELECT count(*) AS n FROM customers \\gset\n\\echo n=:n\n\\x on\n"
              "SELECT * FROM orders ORDER BY id;\n\\pset format csv\nSELECT * FROM customers ORDER BY id;\n")
    rc, out, err = same_psql(ports, db, "-f", "-", stdin=script)
    assert "n=2" in out and "-[ RECORD 1 ]" in out
