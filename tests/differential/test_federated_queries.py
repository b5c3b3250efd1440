"""The differential queries again, with every table read from a federation source.

The same database is attached to pgaccel as a Postgres *source* named ``src`` (the
mirror is off), and each query of ``queries/*.sql`` is rewritten to name its tables
``src.<table>``. pgaccel must then answer exactly what Postgres answers for the
original query - same rows (in order where the query orders), same values as text and
binary bytes, same type OIDs (a source's varchar/char columns are text: the scanner
reads them as VARCHAR) - or refuse it with SQLSTATE 0A000 (what it cannot prove). An
error on the origin must be an error through pgaccel too. The tally (answered /
refused) is printed at the end.
"""

from __future__ import annotations

import collections
import datetime as dt  # noqa: F401  (available to -- params:)
import uuid  # noqa: F401
from decimal import Decimal  # noqa: F401

import psycopg
import pytest
import sqlglot
from psycopg.types.json import Jsonb  # noqa: F401
from sqlglot import exp

from tests.differential.test_proxy_queries import QUERIES, _begin, _end, _run, has_order, same_rows

# a source column's type as the scanner gives it: these origin types come back as text
SAME_OID = {1043: 25, 1042: 25, 19: 25, 114: 25, 3802: 25}
TALLY: collections.Counter = collections.Counter()


def federated(sql: str) -> tuple[str, str] | None:
    """(the statement as sqlglot writes it back, the same with every table that is not a
    CTE named ``src.<table>``); None if sqlglot cannot round-trip it. Both sides run
    sqlglot's text, so a spelling it normalises (strpos -> POSITION) names columns alike."""
    try:
        tree = sqlglot.parse_one(sql.replace("%s", "__PARAM__"), dialect="postgres")
    except sqlglot.errors.SqlglotError:
        return None
    plain = tree.sql(dialect="postgres").replace("__PARAM__", "%s")
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    touched = False
    for t in tree.find_all(exp.Table):
        if isinstance(t.this, exp.Identifier) and not t.args.get("db") and t.name.lower() not in ctes:
            t.set("db", exp.to_identifier("src"))
            touched = True
    if not touched:
        return None
    return plain, tree.sql(dialect="postgres").replace("__PARAM__", "%s")


@pytest.fixture(scope="module")
def fed_conns(origin, proxy_db):
    from tests.conftest import start_proxy

    p = start_proxy(origin, server={"log_level": "warning"}, origin={"dsn": origin.url(proxy_db)},
                    sources={"src": {"kind": "postgres", "dsn": origin.dsn(proxy_db)}})
    c = {"direct": psycopg.connect(origin.dsn(proxy_db), autocommit=True),
         "pgaccel": psycopg.connect(p.dsn(proxy_db), autocommit=True)}
    try:
        yield c
    finally:
        for x in c.values():
            x.close()
        p.stop()
        if TALLY:
            print("\nfederated differential: " + ", ".join(f"{k} {v}" for k, v in TALLY.most_common()))


def _same(direct, through, ordered: bool, what: str) -> None:
    if direct[0] == "error":
        assert through[0] == "error", f"{what}: Postgres raised {direct[1]} {direct[2]}, pgaccel answered"
        return
    assert through[0] == "ok", f"{what}: pgaccel raised {through[1]} {through[2]}"
    _, _tag_d, cols_d, rows_d = direct
    _, _tag_p, cols_p, rows_p = through
    assert [c[0] for c in cols_p] == [c[0] for c in cols_d], f"{what}: column names"
    assert [c[1] for c in cols_p] == [SAME_OID.get(c[1], c[1]) for c in cols_d], f"{what}: type OIDs"
    # a column read as another type (json as text) has other binary bytes: compare the rest
    keep = [i for i, (p, d) in enumerate(zip(cols_p, cols_d)) if p[1] == d[1] or p[3] == 0]
    same_rows([tuple(r[i] for i in keep) for r in rows_d], [tuple(r[i] for i in keep) for r in rows_p],
              [cols_d[i][0] for i in keep], ordered, what)


@pytest.mark.parametrize("area,title,sql,meta,tz", QUERIES)
def test_query_across_a_source_is_identical_or_refused(fed_conns, area, title, sql, meta, tz):
    if "xfail" in meta:
        TALLY["skipped (known mirror xfail)"] += 1
        return
    both = federated(sql)
    if both is None or meta.get("txn") or "src.pg_" in both[1] or "AS %s" in both[1]:
        TALLY["not rewritten"] += 1
        return
    plain, fsql = both
    direct, through = fed_conns["direct"], fed_conns["pgaccel"]
    params = eval(meta["params"]) if "params" in meta else None   # noqa: S307  (our own data files)
    ordered = has_order(sql)
    _begin(direct, meta, tz)
    _begin(through, meta, tz)
    try:
        results = {mode: (_run(direct, plain, mode, params), _run(through, fsql, mode, params))
                   for mode in ("text", "binary")}
    finally:
        _end(direct, meta)
        _end(through, meta)
    refused = {m for m, (_, p) in results.items() if p[0] == "error" and p[1] in ("0A000", b"0A000")}
    for m in refused:
        reason = results[m][1][2]
        reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        reason = reason.split("(", 1)[1].split(")")[0] if "(" in reason else reason[:60]
        TALLY[f"refused {m}: {reason}"] += 1
    if refused == set(results):
        return
    TALLY["answered"] += 1
    for mode, (d, p) in results.items():
        if mode not in refused:
            _same(d, p, ordered, f"{mode}: {fsql[:120]}")


def test_the_rewrite_names_tables_but_not_ctes():
    _plain, got = federated("WITH x AS (SELECT id FROM orders) SELECT * FROM x JOIN customers c ON c.id = x.id")
    assert "src.orders" in got and "src.customers" in got and "src.x" not in got
