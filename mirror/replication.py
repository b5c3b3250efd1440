"""Applying the logical slot's changes to the DuckDB mirror.

The slot speaks ``test_decoding`` (see :mod:`mirror.freshness` for why): one text
row per change, e.g. ::

    table public.t: INSERT: id[integer]:1 name[text]:'x' n[numeric]:3.10
    table public.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:10 ...
    table public.t: DELETE: id[integer]:2
    table public.a, public."B": TRUNCATE: (no-flags)

Values are the type's output text (quoted unless numeric/bool/bit), ``null``, or
``unchanged-toast-datum`` (an UPDATE that left a TOASTed value alone). This module

* parses those rows (:func:`parse_change`),
* folds the changes of one poll into a net effect per table and primary key
  (:class:`TableBatch`: the last version of each key wins; a key that changed is a
  delete of the old key; TRUNCATE forgets what came before),
* writes the net effect to DuckDB (:func:`apply_batch`): the values go in as text
  (an Arrow table) and are cast to the column types by DuckDB exactly as the
  snapshot stores them (:func:`column_converter`), then one ``DELETE ... USING``
  of every touched key and one ``INSERT ... SELECT`` of the new rows.

The caller runs every table of a poll and the applied LSN in ONE DuckDB transaction.

What cannot be applied raises :class:`CannotApply` (the table must be
re-snapshotted): a table without primary key / replica identity index receiving
an UPDATE or DELETE, a change without the key (REPLICA IDENTITY NOTHING), a
column the mirror does not know (schema changed), a value the mirror's column
cannot hold faithfully (±infinity, timestamps beyond DuckDB's range, arrays not
1-D from index 1: the snapshot would flag the column unfaithful).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

from mirror.catalog import MirrorTable
from mirror.types import TS_LIMIT, quote_ident

UNCHANGED = object()   # unchanged-toast-datum: keep the value the mirror has


class CannotApply(Exception):
    """The change cannot be applied to the mirror table: it must be re-snapshotted."""


# ---------------------------------------------------------------- parsing test_decoding rows

_COL = re.compile(r'(?:"((?:[^"]|"")*)"|([^\["\s]+))\[((?:[^\]]|\](?!:))*)\]:'
                  r"(?:'((?:[^']+|'')*)'|(\S+))")


def _parse_tuple(s: str, pos: int, stop: str | None = None) -> tuple[dict, int]:
    out: dict = {}
    n = len(s)
    while pos < n:
        if s[pos] == " ":
            pos += 1
            continue
        if stop is not None and s.startswith(stop, pos):
            return out, pos + len(stop)
        m = _COL.match(s, pos)
        if m is None:
            if s.startswith("(no-tuple-data)", pos):
                return out, pos + 15
            raise ValueError(f"cannot parse change at {s[pos:pos + 80]!r}")
        name = m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2)
        if m.group(4) is not None:
            v = m.group(4).replace("''", "'")
        else:
            raw = m.group(5)
            if raw == "null":
                v = None
            elif raw == "unchanged-toast-datum":
                v = UNCHANGED
            elif raw.startswith("B'") and raw.endswith("'"):  # bit strings
                v = raw[2:-1]
            else:
                v = raw
        out[name] = v
        pos = m.end()
    return out, pos


@dataclass
class Change:
    op: str                 # INSERT | UPDATE | DELETE | TRUNCATE
    old: dict | None = None  # DELETE: the key (or whole old row); UPDATE: old key when it changed
    new: dict | None = None  # INSERT / UPDATE: the new row


def parse_change(rest: str) -> Change:
    """Parse what follows ``table <names>: `` in a test_decoding row."""
    op, _, body = rest.partition(": ")
    if op == "INSERT":
        new, _ = _parse_tuple(body, 0)
        return Change(op, None, new)
    if op == "UPDATE":
        if body.startswith("old-key: "):
            old, pos = _parse_tuple(body, 9, stop="new-tuple:")
            new, _ = _parse_tuple(body, pos)
            return Change(op, old, new)
        new, _ = _parse_tuple(body, 0)
        return Change(op, None, new)
    if op == "DELETE":
        if body.startswith("(no-tuple-data)"):
            return Change(op, None, None)
        old, _ = _parse_tuple(body, 0)
        return Change(op, old, None)
    if op.startswith("TRUNCATE"):
        return Change("TRUNCATE")
    raise ValueError(f"unknown change {rest[:80]!r}")


# ---------------------------------------------------------------- Postgres text -> DuckDB values

def parse_pg_array(s: str) -> list:
    """A 1-D Postgres array literal (array_out's output) -> list of element texts / None.
    Raises ValueError for other shapes (multi-dimensional, explicit bounds)."""
    if not s.startswith("{") or not s.endswith("}"):
        raise ValueError("array with explicit bounds")
    if s.startswith("{{"):
        raise ValueError("multi-dimensional array")
    out: list = []
    i, n = 1, len(s) - 1
    if n == 1:
        return out
    while i <= n:
        if s[i] == '"':
            i += 1
            buf = []
            while s[i] != '"':
                if s[i] == "\\":
                    i += 1
                buf.append(s[i])
                i += 1
            out.append("".join(buf))
            i += 1
        else:
            j = i
            while j < n and s[j] != ",":
                j += 1
            tok = s[i:j]
            if tok.startswith("{"):
                raise ValueError("multi-dimensional array")
            out.append(None if tok == "NULL" else tok)
            i = j
        i += 1  # the comma (or the closing brace)
    return out


_TS_LIMIT_YEAR = int(TS_LIMIT.split("-")[0])


class _Unfaithful(Exception):
    pass


def _datetime(v: str, kind: str) -> str | None:
    """Postgres ISO date/timestamp text -> text DuckDB casts to the same value."""
    if v in ("infinity", "-infinity"):
        raise _Unfaithful(v)
    if v.endswith(" BC"):  # year N BC is astronomical year 1 - N
        v = v[:-3]
        dash = v.index("-")
        year = 1 - int(v[:dash])
        v = (f"-{-year:04d}" if year < 0 else f"{year:04d}") + v[dash:]
        return v
    if kind != "DATE":
        dash = v.index("-")
        if int(v[:dash]) >= _TS_LIMIT_YEAR:
            raise _Unfaithful(v)
    return v


_IV_PART = re.compile(r"([+-]?\d+) (year|mon|day)s?")
_IV_TIME = re.compile(r"([+-])?(\d+):(\d+):(\d+)(?:\.(\d+))?")


def _interval(v: str) -> str:
    """IntervalStyle=postgres text -> 'M months D days U microseconds' (DuckDB keeps the parts)."""
    months = days = micros = 0
    for num, unit in _IV_PART.findall(v):
        if unit == "year":
            months += int(num) * 12
        elif unit == "mon":
            months += int(num)
        else:
            days += int(num)
    m = _IV_TIME.search(v)
    if m:
        sign, h, mi, sec, frac = m.groups()
        us = ((int(h) * 60 + int(mi)) * 60 + int(sec)) * 1_000_000 + int(((frac or "") + "000000")[:6])
        micros = -us if sign == "-" else us
    return f"{months} months {days} days {micros} microseconds"


@dataclass(frozen=True)
class Converter:
    """How one mirror column's Postgres text becomes its DuckDB value.

    ``py(text)`` runs in Python (None passes through) and returns what goes into the
    staging table (a string, or a list of strings for arrays); ``sql`` turns the
    staging column ``{x}`` into the column's type in DuckDB."""
    py: object           # callable or None (identity)
    sql: str             # e.g. "CAST({x} AS INTEGER)"
    is_list: bool = False


def _scalar_converter(dtype: str, faithful: bool):
    """(python fn or None, sql template) for a scalar DuckDB type."""
    if dtype == "VARCHAR":
        return None, "{x}"
    if dtype == "BLOB":
        return None, "unhex(substr({x}, 3))"  # bytea_output = hex: \x0a0b...
    if dtype in ("DATE", "TIMESTAMP", "TIMESTAMPTZ"):
        def fn(v, _k=dtype, _f=faithful):
            try:
                return _datetime(v, _k)
            except _Unfaithful:
                if _f:
                    raise CannotApply(f"value {v!r} is not held faithfully by a {_k} column")
                return v if v.endswith("infinity") else None  # as the snapshot: beyond range -> NULL
        return fn, f"CAST({{x}} AS {dtype})"
    if dtype == "INTERVAL":
        return _interval, "CAST({x} AS INTERVAL)"
    return None, f"CAST({{x}} AS {dtype})"


def column_converter(dtype: str, faithful: bool) -> Converter:
    dtype = dtype.upper()
    if dtype.endswith("[]"):
        elem = dtype[:-2]
        efn, esql = _scalar_converter(elem, faithful)

        def fn(v, _efn=efn, _f=faithful):
            try:
                items = parse_pg_array(v)
            except ValueError as e:
                if _f:
                    raise CannotApply(f"array value not held faithfully ({e})")
                return None  # as the snapshot: NULL, column flagged
            return items if _efn is None else [None if x is None else _efn(x) for x in items]
        if elem == "BLOB":
            return Converter(fn, "list_transform({x}, e -> unhex(substr(e, 3)))", True)
        if elem == "VARCHAR":
            return Converter(fn, "{x}", True)
        return Converter(fn, f"CAST({{x}} AS {dtype})", True)
    fn, sql = _scalar_converter(dtype, faithful)
    return Converter(fn, sql)


# ---------------------------------------------------------------- net effect of one poll per table

@dataclass
class _Row:
    values: list             # per mirror column: text / None / UNCHANGED
    src: tuple | None        # key of the pre-batch row to take UNCHANGED values from


@dataclass
class TableBatch:
    """The net effect of a poll's changes on one mirror table."""
    table: MirrorTable
    key_columns: tuple[str, ...]          # () when the table has no usable key
    truncate: bool = False
    rows: dict = field(default_factory=dict)   # key tuple -> _Row | None (deleted)
    appended: list = field(default_factory=list)  # keyless tables: inserted rows
    changes: int = 0

    def __post_init__(self) -> None:
        self._index = {c.name: i for i, c in enumerate(self.table.columns)}
        self._key_idx = tuple(self._index[k] for k in self.key_columns if k in self._index)
        if len(self._key_idx) != len(self.key_columns):
            raise CannotApply("key columns are not in the mirror table")
        if not self.table.columns or self.table.columns[0].name.startswith("__pgaccel"):
            raise CannotApply("a table without columns")

    def _values(self, tup: dict) -> list:
        vals = [UNCHANGED] * len(self._index)
        for name, v in tup.items():
            i = self._index.get(name)
            if i is None:
                raise CannotApply(f"column {name!r} is not in the mirror (schema changed)")
            vals[i] = v
        return vals

    def _key(self, tup: dict) -> tuple:
        try:
            k = tuple(tup[c] for c in self.key_columns)
        except KeyError:
            raise CannotApply("a change without its key (REPLICA IDENTITY NOTHING?)") from None
        if any(x is None or x is UNCHANGED for x in k):
            raise CannotApply("a change without its key")
        return k

    def add(self, ch: Change) -> None:
        self.changes += 1
        if ch.op == "TRUNCATE":
            self.truncate = True
            self.rows.clear()
            self.appended.clear()
            return
        if not self.key_columns:
            if ch.op != "INSERT":
                raise CannotApply(f"{ch.op} on a table without primary key or replica identity index")
            vals = self._values(ch.new)
            if any(v is UNCHANGED for v in vals):
                raise CannotApply("an INSERT without every column (schema changed)")
            self.appended.append(vals)
            return
        if ch.op == "INSERT":
            vals = self._values(ch.new)
            if any(v is UNCHANGED for v in vals):
                raise CannotApply("an INSERT without every column (schema changed)")
            self.rows[self._key(ch.new)] = _Row(vals, None)
        elif ch.op == "DELETE":
            if ch.old is None:
                raise CannotApply("a DELETE without its key (REPLICA IDENTITY NOTHING?)")
            self.rows[self._key(ch.old)] = None
        elif ch.op == "UPDATE":
            new_key = self._key(ch.new)
            old_key = self._key(ch.old) if ch.old is not None else new_key
            vals = self._values(ch.new)
            if any(v is UNCHANGED for v in vals):
                base = self.rows.get(old_key, False)
                if base is None:
                    raise CannotApply("an UPDATE of a row deleted before")
                if base is False:   # not touched yet in this poll: take them from the mirror's row
                    if self.truncate:
                        raise CannotApply("an UPDATE of a row the poll truncated")
                    row = _Row(vals, old_key)
                else:
                    row = _Row([b if v is UNCHANGED else v for v, b in zip(vals, base.values)], base.src)
            else:
                row = _Row(vals, None)
            if old_key != new_key:
                self.rows[old_key] = None
            self.rows[new_key] = row
        else:
            raise CannotApply(f"unknown change {ch.op}")


def apply_batch(duck, b: TableBatch) -> int:
    """Write ``b`` to its DuckDB table (inside the caller's transaction). Returns rows written."""
    t = b.table
    cols = t.columns
    convs = [column_converter(c.duckdb_type, c.faithful) for c in cols]
    target = t.qualified_duckdb_name
    qcols = [quote_ident(c.name) for c in cols]

    def conv(i, v):
        if v is None or v is UNCHANGED:
            return None
        f = convs[i].py
        return v if f is None else f(v)

    def arrow_type(i):
        return pa.list_(pa.string()) if convs[i].is_list else pa.string()

    def expr(i, src):
        return convs[i].sql.replace("{x}", src)

    if b.truncate:
        duck.execute(f"DELETE FROM {target}")
    written = 0
    if not b.key_columns:
        if b.appended:
            data = {f"v{i}": pa.array([conv(i, r[i]) for r in b.appended], type=arrow_type(i)) for i in range(len(cols))}
            duck.register("__pgaccel_chg", pa.table(data))
            try:
                duck.execute(f"INSERT INTO {target} ({', '.join(qcols)}) SELECT "
                             f"{', '.join(expr(i, f's.v{i}') for i in range(len(cols)))} FROM __pgaccel_chg s")
            finally:
                duck.unregister("__pgaccel_chg")
            written = len(b.appended)
        return written
    if not b.rows:
        return 0
    kidx = b._key_idx
    keys = list(b.rows)
    entries = [b.rows[k] for k in keys]
    live = [e for e in entries if e is not None]
    partial = any(e.src is not None for e in live)
    data = {"op": pa.array([e is not None for e in entries], type=pa.bool_())}
    for j, ci in enumerate(kidx):
        data[f"k{j}"] = pa.array([conv(ci, k[j]) for k in keys], type=arrow_type(ci))
    for i in range(len(cols)):
        data[f"v{i}"] = pa.array([None if e is None else conv(i, e.values[i]) for e in entries], type=arrow_type(i))
    if partial:
        for j, ci in enumerate(kidx):
            data[f"s{j}"] = pa.array([conv(ci, e.src[j]) if e is not None and e.src is not None else None
                                      for e in entries], type=arrow_type(ci))
        for i in range(len(cols)):
            data[f"m{i}"] = pa.array([e is not None and e.values[i] is UNCHANGED for e in entries], type=pa.bool_())
    duck.register("__pgaccel_chg", pa.table(data))
    try:
        if partial:
            on = " AND ".join(f"o.{qcols[ci]} = {expr(ci, f's.s{j}')}" for j, ci in enumerate(kidx))
            sel = ", ".join(f"CASE WHEN s.m{i} THEN o.{qcols[i]} ELSE {expr(i, f's.v{i}')} END" for i in range(len(cols)))
            duck.execute(f"CREATE OR REPLACE TEMP TABLE __pgaccel_rows AS SELECT {sel} "
                         f"FROM __pgaccel_chg s LEFT JOIN {target} o ON {on} WHERE s.op")
            source = "SELECT * FROM __pgaccel_rows"
        else:
            source = (f"SELECT {', '.join(expr(i, f's.v{i}') for i in range(len(cols)))} "
                      f"FROM __pgaccel_chg s WHERE s.op")
        if not b.truncate:
            ksel = ", ".join(f"{expr(ci, f'k{j}')} AS k{j}" for j, ci in enumerate(kidx))
            cond = " AND ".join(f"{target}.{qcols[ci]} = d.k{j}" for j, ci in enumerate(kidx))
            duck.execute(f"DELETE FROM {target} USING (SELECT DISTINCT {ksel} FROM __pgaccel_chg) d WHERE {cond}")
        if live:
            duck.execute(f"INSERT INTO {target} ({', '.join(qcols)}) {source}")
        if partial:
            duck.execute("DROP TABLE IF EXISTS __pgaccel_rows")
    finally:
        duck.unregister("__pgaccel_chg")
    return len(entries)
