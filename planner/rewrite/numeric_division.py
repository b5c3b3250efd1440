"""Exact Postgres numeric division (and avg) computed in DuckDB.

Postgres divides numerics exactly and rounds half away from zero to a result scale
chosen per value (``select_div_scale`` in ``utils/adt/numeric.c``):

    rscale  = max(16 - 4 * qweight, dscale(a), dscale(b), 0)        (capped at 1000)
    qweight = weight(a) - weight(b) - (firstdigit(a) <= firstdigit(b) ? 1 : 0)

where weight/firstdigit are those of the base-10000 digit representation. ``avg``
of int2/int4/int8/numeric is ``numeric_div(sum, count)``. DuckDB divides DECIMALs
in DOUBLE, so we rebuild the Postgres result with HUGEINT arithmetic:

    A = a * 10^Ka, B = b * 10^Kb             (exact integers, K = DuckDB storage scale)
    Q = round_half_away(A * 10^(Kb + rscale) / (B * 10^Ka))
    value = Q / 10^rscale                    (held as DECIMAL(38, 20))

The arithmetic lives in DuckDB scalar macros (``MACROS``), which the executor
installs on every DuckDB connection it runs mirror SQL on (``install_macros``).
A result whose scale exceeds 20 is exact only when its digits beyond the 20th are
zeros (a zero quotient, typically); otherwise, or when any intermediate overflows,
DuckDB raises an error and the executor falls back to the origin. Division by zero
raises too (the origin then raises the genuine Postgres error).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import sqlglot
from sqlglot import exp

RESULT_STORAGE = 20   # scale of the DECIMAL(38, s) that holds a division result

# The arithmetic runs in three vectorised Python functions registered on each DuckDB
# connection (``install_macros``). They were DuckDB macros once; macros are expanded
# as text, and nested ones repeat their arguments, so binding a query with a few
# avg() columns took most of a second. Each function sees one value per row of its
# input, which for avg() means one per group.

def _weight(x: int, k: int) -> int:
    """Base-10000 weight of |x| / 10^k (0 for zero)."""
    return 0 if x == 0 else (len(str(abs(x))) - 1 - k) // 4


def _first(x: int, k: int) -> int:
    """Leading base-10000 digit of |x| / 10^k (0 for zero)."""
    if x == 0:
        return 0
    s = str(abs(x))
    n = (len(s) - 1 - k) % 4 + 1
    return int(s[:n].ljust(n, "0"))


def div_scale(a: int, ka: int, da: int, b: int, kb: int, db: int) -> int:
    """Postgres select_div_scale for a/10^ka (display scale da) over b/10^kb (db)."""
    qweight = _weight(a, ka) - _weight(b, kb) - (1 if _first(a, ka) <= _first(b, kb) else 0)
    return min(max(16 - 4 * qweight, da, db, 0), 1000)


def numeric_div_unscaled(a: int, ka: int, da: int, b: int, kb: int, db: int) -> int:
    """Postgres numeric_div of a/10^ka by b/10^kb, as an integer scaled by 10^RESULT_STORAGE.
    Raises where Postgres' exact result cannot be held (the executor then falls back)."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    r = div_scale(a, ka, da, b, kb, db)
    n, d = a * 10 ** (kb + r), b * 10 ** ka
    q = (2 * abs(n) + abs(d)) // (2 * abs(d))          # round half away from zero
    if (n < 0) != (d < 0):
        q = -q
    if r <= RESULT_STORAGE:
        v = q * 10 ** (RESULT_STORAGE - r)
    elif q % 10 ** (r - RESULT_STORAGE):
        raise ValueError(f"pgaccel: numeric result needs more than {RESULT_STORAGE} decimals")
    else:
        v = q // 10 ** (r - RESULT_STORAGE)
    if abs(v) >= 10 ** 38:
        raise OverflowError("pgaccel: numeric result does not fit DECIMAL(38)")
    return v


def numeric_text(v: Decimal, k: int, d: int) -> str:
    """Postgres text of a value held with storage scale k, shown with display scale d."""
    ip, _, fp = format(v, "f").partition(".")
    s = ip + ("." + (fp + "0" * k)[:k] if k > 0 else "")   # exactly k decimals, as DuckDB prints
    if d > k:
        return s + ("." if k == 0 else "") + "0" * (d - k)
    if d == 0 and k > 0:
        return s[: len(s) - k - 1]
    return s[: len(s) - (k - d)] if k > d else s


def _ints(arr) -> list:
    return [None if v is None else int(v) for v in arr.to_pylist()]


def _udf_numeric_div(a, ka, da, b, kb, db):
    import pyarrow as pa

    out = [None if None in row else Decimal(numeric_div_unscaled(*row)).scaleb(-RESULT_STORAGE)
           for row in zip(_ints(a), _ints(ka), _ints(da), _ints(b), _ints(kb), _ints(db))]
    return pa.array(out, pa.decimal128(38, RESULT_STORAGE))


def _udf_div_scale(a, ka, da, b, kb, db):
    import pyarrow as pa

    out = [None if None in row else div_scale(*row)
           for row in zip(_ints(a), _ints(ka), _ints(da), _ints(b), _ints(kb), _ints(db))]
    return pa.array(out, pa.int32())


def _udf_numeric_text(v, k, d):
    import pyarrow as pa

    out = [None if val is None or kk is None or dd is None else numeric_text(val, int(kk), int(dd))
           for val, kk, dd in zip(v.to_pylist(), k.to_pylist(), d.to_pylist())]
    return pa.array(out, pa.string())


MACROS: tuple[str, ...] = ()   # kept for DUCKDB_MACROS users: everything is a function now


def install_macros(conn, temporary: bool = True) -> None:
    """Register the planner's DuckDB functions (idempotent, safe while others run them).

    ``temporary`` is accepted for compatibility.
    """
    import duckdb
    from duckdb.sqltypes import HUGEINT, INTEGER, VARCHAR

    dec20 = duckdb.decimal_type(38, RESULT_STORAGE)
    for name, fn, args, ret in (
            ("pgaccel_numeric_div", _udf_numeric_div,
             [HUGEINT, INTEGER, INTEGER, HUGEINT, INTEGER, INTEGER], dec20),
            ("pgaccel_div_scale", _udf_div_scale,
             [HUGEINT, INTEGER, INTEGER, HUGEINT, INTEGER, INTEGER], INTEGER),
            ("pgaccel_numeric_text", _udf_numeric_text, [dec20, INTEGER, INTEGER], VARCHAR)):
        # Registered functions are visible to every connection of the database: never
        # remove one (another session may be running it); create it when absent.
        try:
            conn.create_function(name, fn, args, ret, type="arrow")
        except Exception as e:
            if "already" not in str(e):
                raise


@lru_cache(maxsize=64)
def _template(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def fill(template: str, **subs: exp.Expression | int) -> exp.Expression:
    """Parse a DuckDB template once; replace columns named like the keys by copies."""
    tree = _template(template).copy()
    for col in list(tree.find_all(exp.Column)):
        key = col.name
        if key in subs and not col.table:
            value = subs[key]
            if isinstance(value, int):
                value = exp.Literal.number(value)
            col.replace(value.copy())
    return tree


def ds_sql(ds: exp.Expression | int) -> exp.Expression:
    return exp.Literal.number(ds) if isinstance(ds, int) else ds


def as_scaled_int(value: exp.Expression, storage: int, is_int: bool) -> exp.Expression:
    """The exact HUGEINT value * 10^storage."""
    if is_int or storage == 0:
        return fill("CAST(_v AS HUGEINT)", _v=value)
    return fill(f"CAST(CAST(_v AS DECIMAL(38, {storage})) * {10 ** storage} AS HUGEINT)", _v=value)


def _call(name: str, *args: exp.Expression | int) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=[ds_sql(a) if isinstance(a, int) else a.copy() for a in args])


def numeric_div(a: exp.Expression, ka: int, a_is_int: bool, da: exp.Expression | int,
                b: exp.Expression, kb: int, b_is_int: bool, db: exp.Expression | int
                ) -> tuple[exp.Expression, exp.Expression]:
    """(value as DECIMAL(38,20), display-scale expression) of Postgres ``a / b``."""
    A = as_scaled_int(a, ka, a_is_int)
    B = as_scaled_int(b, kb, b_is_int)
    value = _call("pgaccel_numeric_div", A, ka, da, B, kb, db)
    rscale = _call("pgaccel_div_scale", A, ka, da, B, kb, db)
    return value, rscale


def format_numeric(value: exp.Expression, storage: int, ds: exp.Expression) -> exp.Expression:
    """Postgres text of a numeric held in DECIMAL(38, storage) whose display scale is ``ds``."""
    return _call("pgaccel_numeric_text", value, storage, ds)
