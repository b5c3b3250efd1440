"""Every query gives, through pgaccel, exactly the answer Postgres gives (issue 3).

The queries live in ``tests/differential/queries/<area>.sql``: blocks separated by
blank lines, each a ``-- title:`` line, optional meta lines and the SQL::

    -- title: sum of numeric per group
    -- tz: all                      (run once per zone in TIMEZONES; or one zone name)
    -- set: DateStyle=SQL, DMY      (more session settings, on both sides)
    -- params: [3, 'abc']           (a Python list; the SQL uses %s placeholders)
    -- expect: origin               (the route pgaccel must take; default: either)
    -- txn: yes                     (run inside BEGIN ... ROLLBACK)
    -- xfail: <diagnosis>           (a known pgaccel bug, strict)
    SELECT ...

Each query runs directly on the origin and through pgaccel (the DuckDB mirror over
the same data) and must be identical: command tag, column names, type OIDs and
typmods, raw text bytes (extended and simple protocol) and raw binary bytes, rows
in order when the query has a top-level ORDER BY (else as a multiset) and, for an
error, the same SQLSTATE and message. Queries with parameters run with text
parameters/text results and with binary parameters/binary results. The route (from
``EXPLAIN (ROUTE)``, and whether the mirror declined at run time) is tallied per
area and printed at the end of the run.
"""

from __future__ import annotations

import datetime as dt  # noqa: F401  (available to -- params:)
import pathlib
import re
import uuid  # noqa: F401
from decimal import Decimal  # noqa: F401

import psycopg
import pytest
import sqlglot
from psycopg import pq
from psycopg.types.json import Jsonb  # noqa: F401

QUERY_DIR = pathlib.Path(__file__).resolve().parent / "queries"
TIMEZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Australia/Adelaide")
META = re.compile(r"^--\s*(title|tz|set|params|expect|txn|xfail):\s*(.*)$")


def load_queries() -> list:
    """pytest params (area, title, sql, meta, tz), one per query and time zone."""
    out = []
    for path in sorted(QUERY_DIR.glob("*.sql")):
        for block in re.split(r"\n\s*\n", path.read_text()):
            meta: dict = {"set": []}
            sql = []
            for line in block.strip().splitlines():
                m = META.match(line)
                if m and m.group(1) == "set":
                    meta["set"].append(tuple(x.strip() for x in m.group(2).split("=", 1)))
                elif m:
                    meta[m.group(1)] = m.group(2).strip()
                elif not line.startswith("--"):
                    sql.append(line)
            if not sql:
                continue
            assert "title" in meta, f"{path.name}: a query without -- title:\n{block}"
            zones = TIMEZONES if meta.get("tz") == "all" else (meta.get("tz", "UTC"),)
            for tz in zones:
                qid = f"{path.stem}:{meta['title']}" + (f"[{tz}]" if meta.get("tz") else "")
                marks = [pytest.mark.xfail(strict=True, reason=meta["xfail"])] if "xfail" in meta else []
                out.append(pytest.param(path.stem, meta["title"], "\n".join(sql), meta, tz, id=qid, marks=marks))
    return out


QUERIES = load_queries()
MAY_WRITE = frozenset({"parse_failed", "multiple_statements", "unknown_function", "origin_only_function",
                       "session_command", "write_statement", "ddl_statement"})


def has_order(sql: str) -> bool:
    """Does the outermost query order its rows?"""
    try:
        tree = sqlglot.parse_one(_numbered(sql), dialect="postgres")
    except sqlglot.errors.ParseError:
        return False        # sqlglot cannot read it: compare as a multiset (pgaccel relays it)
    while isinstance(tree, sqlglot.exp.Subquery):
        tree = tree.this
    return tree.args.get("order") is not None


# ---------------------------------------------------------------- running one query on one side
def _result(res) -> tuple:
    """Everything a client can see of a PGresult."""
    if res.status == pq.ExecStatus.FATAL_ERROR:
        return ("error", res.error_field(pq.DiagnosticField.SQLSTATE),
                res.error_field(pq.DiagnosticField.MESSAGE_PRIMARY))
    assert res.status == pq.ExecStatus.TUPLES_OK, (res.status, res.error_message)
    cols = [(res.fname(i), res.ftype(i), res.fmod(i), res.fformat(i)) for i in range(res.nfields)]
    rows = [tuple(res.get_value(r, c) for c in range(res.nfields)) for r in range(res.ntuples)]
    return ("ok", res.command_status, cols, rows)


def _run(conn, sql: str, mode: str, params) -> tuple:
    if mode == "simple":
        return _result(conn.pgconn.exec_(sql.encode()))
    if params is None:
        return _result(conn.pgconn.exec_params(sql.encode(), [], result_format=1 if mode == "binary" else 0))
    binary = mode == "binary"
    q = sql.replace("%s", "%b") if binary else sql.replace("%s", "%t")
    try:
        with conn.cursor(binary=binary) as cur:
            cur.execute(q, params)
            return _result(cur.pgresult)
    except psycopg.Error as e:
        return ("error", e.sqlstate, e.diag.message_primary)


def _begin(conn, meta, tz):
    pg = conn.pgconn
    for stmt in [f"SET TimeZone = '{tz}'"] + [f"SET {k} = '{v}'" for k, v in meta["set"]]:
        res = pg.exec_(stmt.encode())
        assert res.status == pq.ExecStatus.COMMAND_OK, res.error_message
    if meta.get("txn"):
        assert pg.exec_(b"BEGIN").status == pq.ExecStatus.COMMAND_OK


def _end(conn, meta):
    pg = conn.pgconn
    if meta.get("txn"):
        pg.exec_(b"ROLLBACK")
    for k, _ in meta["set"]:
        pg.exec_(f"RESET {k}".encode())


def _sort_rows(rows):
    return sorted(rows, key=lambda r: tuple((v is None, v or b"") for v in r))


def _compare(direct, through, ordered: bool, what: str) -> None:
    if direct[0] == "error" or through[0] == "error":
        assert through == direct, f"{what}: pgaccel {through[:3]} != postgres {direct[:3]}"
        return
    _, tag_d, cols_d, rows_d = direct
    _, tag_p, cols_p, rows_p = through
    assert cols_p == cols_d, f"{what}: columns (name, oid, typmod, format) differ"
    assert tag_p == tag_d, f"{what}: command tag"
    same_rows(rows_d, rows_p, [c[0] for c in cols_d], ordered, what)


def same_rows(rows_d, rows_p, names, ordered: bool, what: str) -> None:
    """The same rows (in order when the query orders them), naming the first differences."""
    if not ordered:
        rows_d, rows_p = _sort_rows(rows_d), _sort_rows(rows_p)
    assert len(rows_p) == len(rows_d), f"{what}: {len(rows_p)} rows through pgaccel, {len(rows_d)} on Postgres"
    for i, (p, d) in enumerate(zip(rows_p, rows_d)):
        if p != d:
            diffs = [(names[c], d[c], p[c]) for c in range(len(d)) if p[c] != d[c]]
            raise AssertionError(f"{what}: row {i} differs (column, postgres, pgaccel): {diffs[:4]}")


# ---------------------------------------------------------------- pgaccel's process-wide counters
def _counts():
    from proxy.observe import STATS

    return (sum(n for (target, _), n in STATS.routes.items() if target in ("mirror", "origin")),
            STATS.counters["mirror_fallbacks"])


def _declined_at_run_time(conn, before) -> bool:
    """Did the mirror decline (fall back to the origin) for a statement run since ``before``?

    pgaccel counts a statement just after the client has its answer, before it reads the
    next message: one more round trip (an empty query) and the counters are up to date."""
    conn.pgconn.exec_(b"")
    return _counts()[1] > before[1]


def _numbered(sql: str) -> str:
    """The statement as psycopg sends it: %s placeholders become $1, $2, ..."""
    n = iter(range(1, 1000))
    return re.sub(r"%[s%]", lambda m: f"${next(n)}" if m.group() == "%s" else "%", sql)


# ---------------------------------------------------------------- the test
@pytest.mark.parametrize("area,title,sql,meta,tz", QUERIES)
def test_query_through_pgaccel_is_identical_to_postgres(proxy_conns, route_tally, area, title, sql, meta, tz):
    direct, through = proxy_conns["direct"], proxy_conns["pgaccel"]
    params = eval(meta["params"]) if "params" in meta else None   # noqa: S307  (our own data files)
    modes = ("text", "binary") if params is not None else ("text", "binary", "simple")
    ordered = has_order(sql)
    _begin(direct, meta, tz)
    _begin(through, meta, tz)
    try:
        explain_sql = sql if params is None else _numbered(sql)
        res = through.pgconn.exec_(("EXPLAIN (ROUTE) " + explain_sql).encode())
        assert res.status == pq.ExecStatus.TUPLES_OK, res.error_message
        route, reason = (res.get_value(0, 0).decode(), res.get_value(0, 1).decode())
        before = _counts()
        results = {mode: (_run(direct, sql, mode, params), _run(through, sql, mode, params)) for mode in modes}
        declined = route == "mirror" and _declined_at_run_time(through, before)
    finally:
        _end(direct, meta)
        _end(through, meta)
    if route == "origin" and reason.split(":")[0] in MAY_WRITE:
        # pgaccel must assume this statement may have written: the session reads its own
        # writes from the origin from now on (the snapshot mirror never catches up). A
        # new session keeps the following queries comparing the mirror, not the origin.
        proxy_conns["pgaccel"].close()
        proxy_conns["pgaccel"] = psycopg.connect(proxy_conns["pgaccel_dsn"], autocommit=True)
    route_tally[area]["fallback" if declined else route] += 1
    if route == "origin":
        route_tally[area]["reason:" + reason.split(":")[0].split()[0]] += 1
    if "expect" in meta:
        assert route == meta["expect"], f"routed to {route}: {reason}"
    for mode, (d, p) in results.items():
        _compare(d, p, ordered, f"{mode} ({route}: {reason})")
