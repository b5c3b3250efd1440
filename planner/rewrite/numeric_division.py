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

from functools import lru_cache

import sqlglot
from sqlglot import exp

RESULT_STORAGE = 20   # scale of the DECIMAL(38, s) that holds a division result

MACROS: tuple[str, ...] = (
    # weight of |x| / 10^k in base 10000 (0 for zero); x is an exact HUGEINT
    "CREATE OR REPLACE TEMP MACRO pgaccel_nweight(x, k) AS CASE WHEN x = 0 THEN 0 ELSE "
    "((LENGTH(CAST(ABS(x) AS VARCHAR)) - 1 - k) + 4000) // 4 - 1000 END",
    # its leading base-10000 digit
    "CREATE OR REPLACE TEMP MACRO pgaccel_nfirst(x, k) AS CASE WHEN x = 0 THEN 0 ELSE "
    "CAST(RPAD(LEFT(CAST(ABS(x) AS VARCHAR), "
    "CAST((((LENGTH(CAST(ABS(x) AS VARCHAR)) - 1 - k) % 4 + 4) % 4 + 1) AS INTEGER)), "
    "CAST((((LENGTH(CAST(ABS(x) AS VARCHAR)) - 1 - k) % 4 + 4) % 4 + 1) AS INTEGER), '0') AS INTEGER) END",
    "CREATE OR REPLACE TEMP MACRO pgaccel_pow10(k) AS CAST(RPAD('1', CAST(k + 1 AS INTEGER), '0') AS HUGEINT)",
    # select_div_scale(a, b)
    "CREATE OR REPLACE TEMP MACRO pgaccel_div_scale(a, ka, da, b, kb, db) AS "
    "LEAST(GREATEST(16 - 4 * (pgaccel_nweight(a, ka) - pgaccel_nweight(b, kb) - "
    "CASE WHEN pgaccel_nfirst(a, ka) <= pgaccel_nfirst(b, kb) THEN 1 ELSE 0 END), da, db, 0), 1000)",
    "CREATE OR REPLACE TEMP MACRO pgaccel_div_round(n, d) AS "
    "((2 * ABS(n) + ABS(d)) // (2 * ABS(d))) * SIGN(n) * SIGN(d)",
    # the rounded quotient as an exact integer scaled by 10^r
    "CREATE OR REPLACE TEMP MACRO pgaccel_div_q(a, ka, b, kb, r) AS "
    "pgaccel_div_round(a * pgaccel_pow10(kb + r), b * pgaccel_pow10(ka))",
    # q / 10^r as DECIMAL(38, S); exact, or an error when it needs more than S decimals
    f"CREATE OR REPLACE TEMP MACRO pgaccel_div_value(q, r) AS "
    f"CASE WHEN r > {RESULT_STORAGE} AND q % pgaccel_pow10(r - {RESULT_STORAGE}) <> 0 "
    f"THEN ERROR('pgaccel: numeric result needs more than {RESULT_STORAGE} decimals') "
    f"ELSE CAST(CASE WHEN r <= {RESULT_STORAGE} THEN q * pgaccel_pow10({RESULT_STORAGE} - r) "
    f"ELSE q // pgaccel_pow10(r - {RESULT_STORAGE}) END AS DECIMAL(38, 0)) "
    f"* CAST('1e-{RESULT_STORAGE}' AS DECIMAL(38, {RESULT_STORAGE})) END",
    "CREATE OR REPLACE TEMP MACRO pgaccel_div_at(a, ka, b, kb, r) AS "
    "CASE WHEN b = 0 AND a IS NOT NULL THEN ERROR('division by zero') "
    "ELSE pgaccel_div_value(pgaccel_div_q(a, ka, b, kb, r), r) END",
    # Postgres numeric_div of exact integers a/10^ka (display scale da) and b/10^kb (db)
    "CREATE OR REPLACE TEMP MACRO pgaccel_numeric_div(a, ka, da, b, kb, db) AS "
    "pgaccel_div_at(a, ka, b, kb, pgaccel_div_scale(a, ka, da, b, kb, db))",
    # Postgres text of a value held in DECIMAL(38, k) with display scale d <= k
    "CREATE OR REPLACE TEMP MACRO pgaccel_numeric_text(v, k, d) AS "
    "CASE WHEN d > k THEN CAST(v AS VARCHAR) || CASE WHEN k = 0 THEN '.' ELSE '' END "
    "|| REPEAT('0', CAST(d - k AS INTEGER)) "
    "WHEN d = 0 AND k > 0 THEN LEFT(CAST(v AS VARCHAR), CAST(LENGTH(CAST(v AS VARCHAR)) - k - 1 AS INTEGER)) "
    "ELSE LEFT(CAST(v AS VARCHAR), CAST(LENGTH(CAST(v AS VARCHAR)) - (k - d) AS INTEGER)) END",
)


def install_macros(conn, temporary: bool = True) -> None:
    """Create the planner's DuckDB macros on a connection (idempotent).

    Temporary macros live in the connection's temp schema: every DuckDB connection
    (``cursor()``) that runs mirror SQL needs them. ``temporary=False`` creates
    them once in the database's default schema instead (not on a read-only file).
    """
    for sql in MACROS:
        conn.execute(sql if temporary else sql.replace(" TEMP MACRO ", " MACRO ", 1))


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
