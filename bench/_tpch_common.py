"""Shared pieces of the TPC-H check (``bench/tpch.py`` and ``tests/e2e/test_tpch_small.py``):
run a query and keep exactly what the client received, compare two results the way a
client would notice a difference, and explain a difference in words.

A result is kept as the raw text bytes of every value (``cursor.pgresult``), with the
column names, type OIDs and typmods of the RowDescription: "identical" means
byte-for-byte identical text output, not "equal after Python conversion".
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import errors as pgerr


# ---------------------------------------------------------------- results

@dataclass
class Result:
    names: list[str] = field(default_factory=list)
    oids: list[int] = field(default_factory=list)
    typmods: list[int] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)   # tuples of bytes | None
    seconds: float = 0.0
    error: str | None = None
    timeout: bool = False
    binary: bool = False
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def connect(dsn: str) -> psycopg.Connection:
    """Autocommit, and no automatic server-side prepare: every run of a query is the same
    unnamed Parse/Bind/Execute, on both sides (psycopg would otherwise switch to a named
    prepared statement from the 6th run on)."""
    conn = psycopg.connect(dsn, autocommit=True)
    conn.prepare_threshold = None
    return conn


def run_query(conn: psycopg.Connection, sql: str, binary: bool = False) -> Result:
    """Run ``sql`` (extended protocol; text results, or binary ones) like an application
    would: execute and fetch every row. Keep the raw values and the RowDescription."""
    t0 = time.perf_counter()
    try:
        with conn.cursor(binary=binary) as cur:
            cur.execute(sql)
            cur.fetchall()
            secs = time.perf_counter() - t0
            res = cur.pgresult
            n = res.nfields
            return Result(
                names=[res.fname(i).decode() for i in range(n)],
                oids=[res.ftype(i) for i in range(n)],
                typmods=[res.fmod(i) for i in range(n)],
                rows=[tuple(res.get_value(r, c) for c in range(n)) for r in range(res.ntuples)],
                seconds=secs,
                binary=binary,
            )
    except pgerr.QueryCanceled as e:
        return Result(seconds=time.perf_counter() - t0, error=f"timeout ({e.sqlstate})", timeout=True)
    except psycopg.Error as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        return Result(seconds=time.perf_counter() - t0, error=f"{getattr(e, 'sqlstate', '') or ''} {msg}".strip())


def timed(conn: psycopg.Connection, sql: str, runs: int = 3) -> tuple[Result, float | None, list[float]]:
    """Warm up once (that result is the one checked), then ``runs`` timed runs.
    Returns (warm-up result, median seconds or None on error/timeout, all timings).
    Stops after the first timeout: a query over the limit is not run again."""
    first = run_query(conn, sql)
    if not first.ok:
        return first, None, []
    times = []
    for _ in range(runs):
        r = run_query(conn, sql)
        if not r.ok:
            first.error, first.timeout = f"timed run: {r.error}", r.timeout
            return first, None, times
        if r.rows != first.rows:  # a result that changes between runs is worth knowing about
            first.error = "result changed between runs"
            return first, None, times
        times.append(r.seconds)
    return first, statistics.median(times), times


# ---------------------------------------------------------------- ORDER BY at the top level

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\(|\)|\border\s+by\b|[^'\"()\-/o]+|.",
                     re.I | re.S)


def has_top_level_order_by(sql: str) -> bool:
    """Whether the outermost query has ORDER BY (then row order is part of the result)."""
    depth = 0
    for m in _TOKENS.finditer(sql):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and tok[:5].lower() == "order" and re.fullmatch(r"order\s+by", tok, re.I):
            return True
    return False


# ---------------------------------------------------------------- comparing

def _show(v, binary: bool = False) -> str:
    if v is None:
        return "NULL"
    if binary:
        return "0x" + (v.hex() if len(v) <= 24 else v[:24].hex() + "...")
    s = v.decode(errors="replace")
    return repr(s if len(s) <= 60 else s[:57] + "...")


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, v or b"") for v in row)


def compare(pg: Result, acc: Result, ordered: bool, max_examples: int = 3) -> tuple[bool, str]:
    """(identical?, short diagnosis). Compares names, type OIDs, typmods, row count, and the
    rows as text — in order when ``ordered``, as sorted multisets otherwise."""
    if not pg.ok or not acc.ok:
        return False, f"error: postgres={pg.error!r} pgaccel={acc.error!r}"
    problems = []
    if pg.names != acc.names:
        problems.append(f"column names {pg.names} vs {acc.names}")
    if pg.oids != acc.oids:
        diffs = [f"{n}: {a}->{b}" for n, a, b in zip(pg.names, pg.oids, acc.oids) if a != b]
        problems.append("type OIDs differ (" + ", ".join(diffs or [f"{pg.oids} vs {acc.oids}"]) + ")")
    if pg.typmods != acc.typmods:
        diffs = [f"{n}: {a}->{b}" for n, a, b in zip(pg.names, pg.typmods, acc.typmods) if a != b]
        problems.append("typmods differ (" + ", ".join(diffs or [f"{pg.typmods} vs {acc.typmods}"]) + ")")
    if len(pg.rows) != len(acc.rows):
        problems.append(f"row count {len(pg.rows)} vs {len(acc.rows)}")
    a, b = pg.rows, acc.rows
    bn = pg.binary
    same_multiset = sorted(a, key=_sort_key) == sorted(b, key=_sort_key)
    if ordered and a != b and same_multiset:
        i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
        problems.append(f"same rows, different order (first at row {i}: {[_show(v, bn) for v in a[i]]} vs "
                        f"{[_show(v, bn) for v in b[i]]})")
    elif not same_multiset:
        if not ordered:
            a, b = sorted(a, key=_sort_key), sorted(b, key=_sort_key)
        bad_rows = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        ncols = min(len(pg.names), len(acc.names))
        cols = {}
        for i in bad_rows:
            for c in range(ncols):
                if c < len(a[i]) and c < len(b[i]) and a[i][c] != b[i][c]:
                    cols.setdefault(c, []).append(i)
        for c, rows_ in cols.items():
            ex = "; ".join(f"{_show(a[i][c], bn)} vs {_show(b[i][c], bn)}" for i in rows_[:max_examples])
            problems.append(f"column {pg.names[c]!r} (oid {pg.oids[c]}) differs in {len(rows_)} of "
                            f"{len(a)} rows{' (compared sorted)' if not ordered else ''}: e.g. {ex}")
        if bad_rows and not cols:
            problems.append(f"{len(bad_rows)} rows differ")
    return (not problems), "; ".join(problems)


# ---------------------------------------------------------------- pgaccel introspection

def explain_route(conn: psycopg.Connection, sql: str) -> tuple[str, str, str]:
    """(route, reason, sql for the target) from ``EXPLAIN (ROUTE)``; ("error", msg, "") on failure."""
    try:
        row = conn.execute("EXPLAIN (ROUTE) " + sql, prepare=False).fetchone()
        return (str(row[0]), str(row[1]), str(row[2] or "")) if row else ("error", "no row", "")
    except psycopg.Error as e:
        return "error", str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__, ""


def route_counters(conn: psycopg.Connection) -> dict[str, int]:
    """How many statements pgaccel answered from each route so far (``SHOW pgaccel.stats``):
    keys "<route>" and "<route>:<reason>", plus "fallback" (mirror fallbacks). Used to see
    where a query really ran, and why."""
    out: dict[str, int] = {}
    try:
        for name, value in conn.execute("SHOW pgaccel.stats", prepare=False).fetchall():
            m = re.match(r"statements\{route=([^,}]+),reason=([^}]*)\}", name)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + int(value)
                key = f"{m.group(1)}:{m.group(2)}"
                out[key] = out.get(key, 0) + int(value)
            elif name == "mirror_fallbacks":
                out["fallback"] = int(value)
    except (psycopg.Error, ValueError):
        pass
    return out


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


def ran_on(delta: dict[str, int]) -> tuple[str, str]:
    """(where the statements between two ``route_counters`` really ran, the reason)."""
    for route in ("mirror", "cache", "federation", "rollup", "origin"):
        if delta.get(route, 0) > 0:
            reasons = sorted(k.split(":", 1)[1] for k in delta if k.startswith(route + ":"))
            return route, ",".join(reasons)
    return ("origin", "fallback") if delta.get("fallback", 0) > 0 else ("?", "")


class FallbackLog:
    """Collects pgaccel's own words on mirror fallbacks (the debug log of proxy.executor)
    while pgaccel runs in this process. Other records at WARNING and above are passed on
    to the root logger as usual; debug records are not printed."""

    def __init__(self, logger: str = "proxy.executor") -> None:
        self.messages: list[str] = []
        self._logger = logging.getLogger(logger)
        outer = self

        class _Handler(logging.Handler):
            def emit(self, record):
                if record.levelno >= logging.WARNING:
                    logging.getLogger().handle(record)
                elif "fallback" in record.getMessage():
                    outer.messages.append(record.getMessage())

        self._handler = _Handler(logging.DEBUG)

    def __enter__(self) -> "FallbackLog":
        self._saved = (self._logger.level, self._logger.propagate)
        self._logger.addHandler(self._handler)
        self._logger.setLevel(logging.DEBUG)
        self._logger.propagate = False
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self._handler)
        self._logger.level, self._logger.propagate = self._saved

    def take(self) -> list[str]:
        out, self.messages = self.messages, []
        return out


def short_reason(reason: str, width: int = 48) -> str:
    r = " ".join(reason.split())
    return r if len(r) <= width else r[:width - 1] + "…"


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return statistics.geometric_mean(xs) if xs else None


# ---------------------------------------------------------------- what the mirror would have sent

def simulate_mirror(duck, sql: str, like: Result, binary: bool = False) -> Result:
    """Run pgaccel's DuckDB SQL for a query on a mirror connection ``duck`` (with the
    planner's macros) and encode the rows the way the executor does, for the column types
    Postgres described (``like``). For queries that fell back to the origin: would the
    mirror's answer have been identical?"""
    from proxy.wire.values import OutputSettings, column_encoder

    t0 = time.perf_counter()
    try:
        try:
            from planner import install_macros
            install_macros(duck)
        except ImportError:
            pass
        t0 = time.perf_counter()
        tbl = duck.execute(sql).fetch_arrow_table()
        secs = time.perf_counter() - t0
        if tbl.num_columns != len(like.oids):
            return Result(error=f"mirror returns {tbl.num_columns} columns, Postgres {len(like.oids)}")
        cols, notes = [], []
        for i, (oid, mod) in enumerate(zip(like.oids, like.typmods)):
            atype = tbl.schema.field(i).type
            enc = column_encoder(oid, mod, 1 if binary else 0, atype, OutputSettings())
            if enc is None and oid == 1700 and not binary and str(atype) in ("string", "large_string"):
                # the planner's exact numeric text (Route.columns): sent as it is
                notes.append(f"{like.names[i]}: numeric text from VARCHAR passed through (no encoder)")
                cols.append([None if v is None else v.encode() for v in tbl.column(i).to_pylist()])
                continue
            if enc is None:
                return Result(error=f"column {like.names[i]}: no encoder for {atype} as type {oid}")
            cols.append(enc(tbl.column(i)))
        return Result(names=list(like.names), oids=list(like.oids), typmods=list(like.typmods),
                      rows=list(zip(*cols)) if cols else [], seconds=secs, binary=binary,
                      error=None, note="; ".join(notes))
    except Exception as e:  # diagnosis only
        _reraise_interrupt(e)
        return Result(seconds=time.perf_counter() - t0, error=f"{e.__class__.__name__}: {str(e).splitlines()[0]}")


def fallback_words(messages: list[str]) -> list[str]:
    """pgaccel's fallback log lines without the statement text they end with."""
    out = []
    for m in messages:
        m = " ".join(m.split())
        i = m.find(") for ")
        out.append(m[:i + 1] if i >= 0 else m)
    return sorted(set(out))


def time_duckdb(duck, sql: str, runs: int = 3) -> tuple[float | None, str]:
    """Median seconds of pgaccel's DuckDB SQL run straight on a mirror connection (warm-up
    once, planner macros installed): DuckDB's own share of a pgaccel answer."""
    try:
        try:
            from planner import install_macros
            install_macros(duck)
        except ImportError:
            pass
        duck.execute(sql).fetch_arrow_table()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            duck.execute(sql).fetch_arrow_table()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), ""
    except Exception as e:
        _reraise_interrupt(e)
        return None, f"{e.__class__.__name__}: {str(e).splitlines()[0]}"


def _reraise_interrupt(e: Exception) -> None:
    """DuckDB turns Ctrl-C into its own exception: make it a KeyboardInterrupt again."""
    if e.__class__.__name__ == "InterruptException":
        raise KeyboardInterrupt from e
