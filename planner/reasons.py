"""Every route reason, with one line saying what it means.

Reasons are stable snake_case names used alike in logs, metric labels and
``EXPLAIN (ROUTE)``. A meta-test checks that each one is documented here and
covered by at least one fixture in ``tests/planner_fixtures/``.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # -- mirror ------------------------------------------------------------
    "mirror_eligible": "a pure read of mirrored tables whose DuckDB translation is proven equivalent",
    # -- federation (runs in DuckDB: the origin cannot read another source) -------
    "federation": "reads tables of a federation source: runs in DuckDB over the mirror, source copies and live scanners",
    "source_table_unknown": "names a table of a federation source that the source does not expose",
    # -- admin (answered by pgaccel itself) ----------------------------------
    "explain_route": "EXPLAIN (ROUTE) <statement>: pgaccel reports the route of the inner statement",
    "pgaccel_setting": "SET/RESET/SHOW pgaccel.<name>: a pgaccel session setting",
    # -- origin: what the statement is ----------------------------------------
    "parse_failed": "the statement could not be tokenised or parsed",
    "empty_statement": "the statement holds no SQL (only blanks, comments or semicolons)",
    "multiple_statements": "several statements in one query string (simple protocol); relayed as sent",
    "write_statement": "INSERT/UPDATE/DELETE/MERGE/TRUNCATE, or a read whose CTE writes",
    "ddl_statement": "schema or privilege change (CREATE/ALTER/DROP/GRANT/..., SELECT INTO)",
    "copy_statement": "COPY: streamed by the origin",
    "transaction_control": "BEGIN/COMMIT/ROLLBACK/SAVEPOINT/... changes transaction state",
    "session_setting": "SET/RESET/SHOW of a server setting: session state lives on the origin",
    "explain_statement": "EXPLAIN of a statement (may execute it with ANALYZE): the origin's plan",
    "session_command": "a session or utility command (LISTEN, PREPARE, DISCARD, LOCK, DO, CALL, ...)",
    "locking_clause": "SELECT ... FOR UPDATE/SHARE takes row locks on the origin",
    # -- origin: session state ------------------------------------------------
    "in_transaction": "inside an explicit transaction: reads must see the transaction's snapshot",
    "session_temp_objects": "the session has temporary objects that may shadow unqualified names",
    # -- origin: what the statement reads -------------------------------------
    "no_tables": "reads no table; nothing to gain from the mirror",
    "catalog_query": "reads pg_catalog or information_schema (origin-only state)",
    "table_not_mirrored": "reads a table (or view, or table function) the mirror does not hold",
    "unresolved_column": "a column could not be resolved against the mirror's schema",
    "unfaithful_column": "reads a column whose mirror copy is not faithful to the origin type",
    "row_level_security": "reads a table with row-level security enabled",
    # -- origin: what the statement computes ----------------------------------
    "volatile_function": "calls a volatile or time-dependent function (random(), now(), current_date, ...)",
    "origin_only_function": "calls a function with side effects or origin-only state (nextval, pg_*, set_config, ...)",
    "unknown_function": "calls a function not on the allowlist of functions proven equivalent in DuckDB",
    "unsupported_construct": "uses syntax or a type combination whose DuckDB translation is not proven equivalent",
    "collation_differs": "orders or compares text under a collation DuckDB does not reproduce",
    "inexact_float_aggregate": "sums/averages floating point values; summation order changes the last bits",
}

MIRROR_REASONS = frozenset({"mirror_eligible"})
FEDERATION_REASONS = frozenset({"federation"})
ADMIN_REASONS = frozenset({"explain_route", "pgaccel_setting"})


class Refuse(Exception):
    """Raised inside classification or a rewrite pass: the statement goes to the origin."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
