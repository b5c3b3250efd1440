"""Fixtures of the end-to-end differential suite (``test_proxy_*.py``).

One database per module with a realistic schema (the planner differential's
``customers``/``orders``/``products`` plus tables of every mirrored type, an enum
table, an unconstrained numeric, a table with row-level security and one the mirror
leaves out), pgaccel in front of it with the DuckDB mirror, and a tally of the
route each query took, printed at the end of the run.
"""

from __future__ import annotations

import collections
import importlib.util
import pathlib
import uuid

import psycopg
import pytest

HERE = pathlib.Path(__file__).resolve().parent

# Tables of our own, beside the planner differential's customers/orders/products.
SCHEMA = r"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SEQUENCE ticket_seq;

CREATE TABLE typed (
    id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric(12,3), n0 numeric(10,0),
    f4 float4, f8 float8, t text, vc varchar(20), ch char(5), b bool, d date, tm time,
    ts timestamp, tstz timestamptz, iv interval, u uuid, js json, jb jsonb, by bytea,
    ia int[], ta text[]
);
INSERT INTO typed
SELECT g,
       CASE WHEN g % 13 = 0 THEN NULL ELSE ((g * 37) % 200 - 100)::int2 END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 7919) % 100000 - 50000 END,
       CASE WHEN g % 17 = 0 THEN NULL ELSE (g::int8 * 982451653) % 10000000000000 - 5000000000000 END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE round(((g * 7907) % 2000000 - 1000000) / 1000.0, 3) END,
       CASE WHEN g % 9 = 0 THEN NULL ELSE (g * 31) % 1000 - 500 END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE ((g * 13) % 1000 - 500) / 8.0 END,
       CASE WHEN g % 12 = 0 THEN NULL ELSE ((g * 17) % 1000 - 500) / 3.0 END,
       CASE WHEN g % 8 = 0 THEN NULL
            ELSE (ARRAY['alpha', 'Beta', 'gamma', 'DELTA', 'épée', 'Zoë', 'straße', '日本語', '',
                        ' space ', 'a%b_c', 'O''Brien'])[1 + g % 12]
                 || CASE WHEN g % 3 = 0 THEN '' ELSE ' ' || g END END,
       CASE WHEN g % 6 = 0 THEN NULL ELSE 'v' || (g % 23) END,
       CASE WHEN g % 9 = 4 THEN NULL ELSE (ARRAY['ab', 'x', 'abcde', '', 'Üb'])[1 + g % 5] END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE g % 3 = 0 END,
       CASE WHEN g % 14 = 0 THEN NULL ELSE date '2020-02-27' + ((g * 37) % 2000 - 1000) END,
       CASE WHEN g % 15 = 0 THEN NULL
            ELSE time '00:00' + ((g * 4567) % 86400) * interval '1 second' + (g % 4) * interval '0.125 s' END,
       CASE WHEN g % 16 = 0 THEN NULL
            ELSE timestamp '2021-03-14 01:30' + g * interval '1 day 7 hours 13 minutes 17.25 seconds' END,
       CASE WHEN g % 18 = 0 THEN NULL
            ELSE timestamptz '2022-03-01 00:30+00' + g * interval '1 day 3 hours 17 minutes' END,
       CASE WHEN g % 19 = 0 THEN NULL
            ELSE make_interval(months => g % 14 - 3, days => g % 40 - 10)
                 + ((g * 3719) % 100000 - 20000) * interval '1 second' + (g % 3) * interval '0.5 s' END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE md5(g::text)::uuid END,
       CASE WHEN g % 21 = 0 THEN NULL
            ELSE format('{"k": %s, "name": %s, "tags": [%s, "x"], "nested": {"a": %s, "b": [1, {"c": "deep%s"}]}}',
                        g, to_json('n' || g % 5), g % 3, g % 4, g)::json END,
       CASE WHEN g % 22 = 0 THEN NULL
            ELSE jsonb_build_object('k', g, 'name', 'n' || g % 5, 'tags', jsonb_build_array(g % 3, 'x'),
                                    'price', (g % 50) / 4.0, 'ok', g % 2 = 0,
                                    'nested', jsonb_build_object('a', g % 4, 'b', 'é' || g)) END,
       CASE WHEN g % 23 = 0 THEN NULL ELSE decode(substr(md5(g::text), 1, 2 * (g % 9)), 'hex') END,
       CASE WHEN g % 24 = 0 THEN NULL WHEN g % 7 = 3 THEN ARRAY[g % 5, NULL, -g]
            ELSE ARRAY[g % 5, g % 3, -g] END,
       CASE WHEN g % 25 = 0 THEN NULL ELSE ARRAY['t' || g % 4, 'ü', 'x y'] END
FROM generate_series(1, 240) g;
-- extremes, and a row that is NULL everywhere
INSERT INTO typed VALUES
 (1001, 32767, 2147483647, 9223372036854775807, 999999999.999, 9999999999, 3.4e38, 1.7976931348623157e308,
  'Ωmega ☃', 'vvvvvvvvvvvvvvvvvvvv', 'zzzzz', true, '9999-12-31', '23:59:59.999999',
  '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00', '178000000 years', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '{"k": 1001, "deep": {"x": [1, 2, 3]}}', '{"k": 1001, "e": "\u00e9", "n": null}', '\xff00', '{2147483647}', '{"ze\"ro"}'),
 (1002, -32768, -2147483648, -9223372036854775808, -999999999.999, -9999999999, -1.5e-38, -2.2e-308,
  '', '', '', false, '0001-01-01', '00:00:00', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00',
  '-178000000 years -3 days -01:02:03.000004', '00000000-0000-0000-0000-000000000000', '[]', '[]', '', '{}', '{}'),
 (1003, 0, 0, 0, 0, 0, -0.0, 'NaN', ' ', ' ', ' ', NULL, '2000-02-29', '12:00', '2000-02-29 12:00', '2000-02-29 12:00+05:30',
  '0', NULL, 'null', 'null', '\x00', NULL, NULL),
 (1004, 1, 1, 1, 0.5, 1, 'Infinity', '-Infinity', 'a', 'a', 'a', true, '2024-12-31', '08:00', '2024-12-31 23:00',
  '2024-12-31 23:00-08', '1 day -1 second', NULL, '"str"', '"str"', NULL, '{1,2,3}', '{a,b,c}'),
 (0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL);

CREATE TABLE moods (id int PRIMARY KEY, m mood, note text);
INSERT INTO moods SELECT g, (ARRAY['happy', 'sad', 'ok', NULL]::mood[])[1 + g % 4], 'note ' || g
FROM generate_series(1, 30) g;

CREATE TABLE measures (id int PRIMARY KEY, v numeric, label text);
INSERT INTO measures VALUES (1, 1.5, 'a'), (2, -0.000000001, 'b'), (3, 12345678901234567890123456789012345678901234.5, 'c'),
                            (4, NULL, 'd'), (5, 'NaN', 'e'), (6, 0.1, 'a');

CREATE TABLE secrets (id int PRIMARY KEY, owner text, val int);
INSERT INTO secrets SELECT g, 'user' || g % 3, g * 10 FROM generate_series(1, 12) g;
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON secrets USING (owner = current_user);

CREATE TABLE audit_log (id int PRIMARY KEY, what text, at timestamp);
INSERT INTO audit_log SELECT g, 'event ' || g, timestamp '2024-01-01' + g * interval '1 hour'
FROM generate_series(1, 20) g;

CREATE TABLE regions (code text PRIMARY KEY, name text, population int8);
INSERT INTO regions VALUES ('DE', 'Germany', 83000000), ('FR', 'France', 68000000), ('US', 'United States', 333000000),
                           ('GB', 'United Kingdom', 67000000), ('JP', 'Japan', 125000000), ('Ísland', 'Iceland', NULL);
ANALYZE;
"""

UNMIRRORED = ["public.audit_log"]


def _transpile_data():
    """The planner differential's data set (tests/differential/test_transpile_queries.py), read, not modified."""
    path = HERE / "test_transpile_queries.py"
    spec = importlib.util.spec_from_file_location("_pgaccel_transpile_data", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- route tally (printed at the end)
TALLY_KEY = pytest.StashKey[dict]()


def pytest_configure(config):
    config.stash[TALLY_KEY] = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="session")
def route_tally(request):
    """area -> Counter of 'mirror' (answered by DuckDB), 'fallback' (routed to the mirror,
    answered by the origin after a run-time decline) and 'origin'."""
    return request.config.stash[TALLY_KEY]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tally = config.stash.get(TALLY_KEY, None)
    if not tally:
        return
    w = terminalreporter
    w.section("pgaccel differential: routes (EXPLAIN (ROUTE) and run-time fallbacks)")
    w.write_line(f"{'area':<16}{'queries':>8}{'mirror':>8}{'fallback':>9}{'origin':>8}")
    total = collections.Counter()
    for area in sorted(tally):
        c = tally[area]
        n = c["mirror"] + c["fallback"] + c["origin"]
        total.update({k: c[k] for k in ("mirror", "fallback", "origin")})
        w.write_line(f"{area:<16}{n:>8}{c['mirror']:>8}{c['fallback']:>9}{c['origin']:>8}")
    w.write_line(f"{'total':<16}{total['mirror'] + total['fallback'] + total['origin']:>8}{total['mirror']:>8}{total['fallback']:>9}{total['origin']:>8}")
    reasons = collections.Counter()
    for area, c in tally.items():
        for k, v in c.items():
            if k.startswith("reason:"):
                reasons[k[7:]] += v
    if reasons:
        w.write_line("origin reasons: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))


# ---------------------------------------------------------------- database and pgaccel
@pytest.fixture(scope="module")
def proxy_db(origin):
    """A database of its own with the whole schema; dropped at the end of the module."""
    name = "t_proxydiff_" + uuid.uuid4().hex[:8]
    origin.psql(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(origin.dsn(name), autocommit=True) as conn:
            _transpile_data().load_postgres(conn)
            conn.execute(SCHEMA)
        yield name
    finally:
        origin.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def proxy_mirror(origin, proxy_db, tmp_path_factory):
    """pgaccel with a snapshot mirror of ``proxy_db`` (``public.*`` minus ``audit_log``)."""
    from tests.conftest import start_proxy

    path = tmp_path_factory.mktemp("proxydiff") / "mirror.duckdb"
    p = start_proxy(origin, server={"log_level": "warning"}, origin={"dsn": origin.url(proxy_db)},
                    mirror={"enabled": True, "path": str(path), "max_staleness": -1,
                            "tables": ["public.*"], "exclude": UNMIRRORED})
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def proxy_conns(origin, proxy_db, proxy_mirror):
    """{'direct': connection to the origin, 'pgaccel': connection through pgaccel}, autocommit."""
    c = {"direct": psycopg.connect(origin.dsn(proxy_db), autocommit=True),
         "pgaccel": psycopg.connect(proxy_mirror.dsn(proxy_db), autocommit=True),
         "pgaccel_dsn": proxy_mirror.dsn(proxy_db)}
    try:
        yield c
    finally:
        for x in c.values():
            if not isinstance(x, str):
                x.close()
