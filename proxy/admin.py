"""Statements pgaccel answers itself: ``EXPLAIN (ROUTE) <stmt>``,
``SHOW pgaccel.<name>`` and ``SET pgaccel.<name> = <value>``.

Every result is a small table of text columns.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .errors import PgError
from .observe import STATS
from .wire import codes as c
from .wire.messages import CommandComplete, DataRow, Field, ReadyForQuery, RowDescription

SETTABLE = {
    "max_staleness": "mirror freshness a session accepts, e.g. '2s' (-1: the server default)",
    "mirror": "on | off: whether this session may read from the mirror",
    "cache": "on | off: whether this session may use the result cache",
}

# SHOW pgaccel.freshness: one row per mirrored table (retained_wal: bytes of WAL the
# replication slot holds back on the origin, the same on every row)
SOURCES_COLUMNS = ["source", "kind", "state", "mirror", "tables", "lag_seconds", "last_error"]
FRESHNESS_COLUMNS = ["table", "lag_seconds", "verified_at", "mode", "dirty", "rows", "last_error", "retained_wal"]

_SET_RE = re.compile(r"^\s*set\s+(?:session\s+)?pgaccel\.(\w+)\s*(?:=|\bto\b)\s*(.+?)\s*;?\s*$", re.I | re.S)
_RESET_RE = re.compile(r"^\s*reset\s+pgaccel\.(\w+)\s*;?\s*$", re.I)
_SHOW_RE = re.compile(r"^\s*show\s+pgaccel\.(\w+)\s*;?\s*$", re.I)


@dataclass
class AdminResult:
    columns: list[str]
    rows: list[tuple]
    tag: str

    def fields(self, formats: tuple[int, ...] = ()) -> tuple[Field, ...]:
        def fmt(i):
            return formats[0] if len(formats) == 1 else (formats[i] if formats else 0)
        return tuple(Field(n, type_oid=25, format=fmt(i)) for i, n in enumerate(self.columns))

    def data_rows(self) -> bytes:
        return b"".join(DataRow(tuple(None if v is None else str(v).encode() for v in r)).encode()
                        for r in self.rows)


def columns_for(route) -> list[str] | None:
    """Result columns of an admin statement, known before running it (for Describe)."""
    if route.kind == "explain_route":
        return ["route", "reason", "sql"]
    if route.kind == "pgaccel_show":
        m = _SHOW_RE.match(route.detail or "")
        name = m.group(1).lower() if m else (route.detail or "value").lower()
        if name in ("stats", "freshness", "settings", "cache", "sources"):
            return {"stats": ["name", "value"], "cache": ["name", "value"], "settings": ["name", "setting", "description"],
                    "freshness": FRESHNESS_COLUMNS, "sources": SOURCES_COLUMNS}[name]
        return [name]
    return None


def run(session, sql: str, route) -> AdminResult:
    kind = route.kind
    if kind == "explain_route":
        inner = route.detail or ""
        r = session.decide(inner)
        target, reason, sql = r.target, r.reason + (f": {r.detail}" if r.detail else ""), r.sql or inner
        if r.target == "mirror":
            from .executor import Fallback

            rc = session.server.result_cache
            hit = rc.age_of(session, inner, r) if rc is not None and not session.settings_dirty else None
            if hit is not None:
                state, age = hit
                return AdminResult(["route", "reason", "sql"],
                                   [("cache", f"{'cache_hit' if state == 'fresh' else 'cache_stale_hit'}: "
                                              f"entry age {age:.3f}s", sql)], "EXPLAIN")
            try:
                session.server.executor.check_freshness(session, r)
            except Fallback as f:   # the planner would use the mirror, but it lags too much
                target, reason, sql = "origin", f"{f.reason}: {f.detail}", inner
        return AdminResult(["route", "reason", "sql"], [(target, reason, sql)], "EXPLAIN")
    if kind == "pgaccel_set":
        m = _SET_RE.match(sql)
        if m:
            name, value = m.group(1).lower(), m.group(2).strip().strip("'\"")
            if name not in SETTABLE:
                raise PgError(f'unrecognized configuration parameter "pgaccel.{name}"', sqlstate="42704")
            if name in ("cache", "mirror") and value.lower() not in ("on", "off", "true", "false", "1", "0"):
                raise PgError(f'parameter "pgaccel.{name}" requires a Boolean value', sqlstate="22023")
            if name == "max_staleness":
                from .config import parse_duration
                try:
                    parse_duration(value)
                except ValueError:
                    raise PgError(f'invalid value for parameter "pgaccel.max_staleness": "{value}"',
                                  sqlstate="22023")
            session.session_vars["pgaccel." + name] = value
            return AdminResult([], [], "SET")
        m = _RESET_RE.match(sql)
        if m:
            session.session_vars.pop("pgaccel." + m.group(1).lower(), None)
            return AdminResult([], [], "RESET")
        raise PgError("syntax error in pgaccel SET", sqlstate="42601")
    if kind == "pgaccel_show":
        m = _SHOW_RE.match(sql)
        name = m.group(1).lower() if m else ""
        if name == "stats":
            return AdminResult(["name", "value"], STATS.rows(), "SHOW")
        if name == "settings":
            return AdminResult(["name", "setting", "description"],
                               [(f"pgaccel.{k}", session.session_vars.get("pgaccel." + k, ""), d)
                                for k, d in SETTABLE.items()], "SHOW")
        if name == "cache":
            rc = session.server.result_cache
            rows = rc.stats_rows() if rc is not None else [("enabled", "off")]
            rows.insert(1, ("session", session.session_vars.get("pgaccel.cache", "on")))
            return AdminResult(["name", "value"], rows, "SHOW")
        if name == "freshness":
            return AdminResult(FRESHNESS_COLUMNS,
                               freshness_rows(session.server), "SHOW")
        if name == "sources":
            fed = session.server.federation
            return AdminResult(SOURCES_COLUMNS, fed.rows() if fed is not None else [], "SHOW")
        if name in SETTABLE:
            return AdminResult([name], [(session.session_vars.get("pgaccel." + name, ""),)], "SHOW")
        raise PgError(f'unrecognized configuration parameter "pgaccel.{name}"', sqlstate="42704")
    raise PgError(f"pgaccel cannot answer this statement ({kind})", sqlstate=c.FEATURE_NOT_SUPPORTED)


def freshness_rows(server) -> list[tuple]:
    out = []
    fed = getattr(server, "federation", None)
    if fed is not None:   # mirrored sources: one row per copied table
        for st in fed.states.values():
            for (schema, name), (at, rows, _mark) in sorted(st.copies.items()):
                out.append((f"{st.name}.{schema}.{name}", f"{max(0.0, time.time() - at):.3f}",
                            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)), f"source {st.cfg.mirror}",
                            "f", rows, st.error or None, None))
    eng = server.mirror
    if eng is None:
        return out
    tracker = getattr(server.executor, "freshness", None)
    wal = getattr(tracker, "retained_wal", None)
    for (schema, name), t in sorted(eng.catalog.tables.items()):
        lag, verified, mode, dirty, error = float("inf"), None, "snapshot", False, None
        if tracker is not None:
            lag = tracker.lag_seconds(schema, name)
            verified, dirty = tracker.freshness(schema, name)
            mode = tracker.table_mode(schema, name) if hasattr(tracker, "table_mode") else getattr(tracker, "mode", mode)
            error = tracker.table_error(schema, name) if hasattr(tracker, "table_error") else tracker.last_error
        out.append((f"{schema}.{name}", "inf" if lag == float("inf") else f"{lag:.3f}",
                    "" if verified is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(verified)),
                    mode, "t" if dirty else "f", t.row_count, error, wal))
    return out


async def run_simple(session, sql: str, route) -> None:
    res = run(session, sql, route)
    w = session.writer
    if res.columns:
        w.write(RowDescription(res.fields()).encode())
        w.write(res.data_rows())
    tag = res.tag if res.tag != "SHOW" or not res.columns else "SHOW"
    w.write(CommandComplete(tag).encode())
    w.write(ReadyForQuery(session.status).encode())
