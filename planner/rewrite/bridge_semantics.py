"""Type-directed walk that proves a query's DuckDB meaning equals its Postgres meaning.

Every node is typed with Postgres' rules (``PgType``); a node kind, operator,
function or type combination without a handler here is refused (the statement goes
to the origin). Where the engines differ and the gap is known, the node is
rewritten in place so DuckDB computes the Postgres result:

- ``int / int`` truncates in Postgres: DuckDB ``//`` (which truncates toward zero
  too), with an explicit error on a zero divisor (DuckDB returns NULL).
- numeric division and ``avg`` of exact numbers: exact emulation
  (``numeric_division``), including the per-value display scale.
- ``sum(int2/int4)`` is int8, ``sum(int8)`` numeric, ``length``/``strpos`` int4,
  ``date - date`` int4, ``ntile``/``grouping`` int4: explicit casts.
- untyped literals and parameters take the type of the other operand, as in
  Postgres, and are cast explicitly (ISO date/time literals only).
- ``LIKE`` gets Postgres' default escape character; ``date_trunc`` of a date
  works on timestamptz; ``extract`` returns numeric, ``date_part`` float8.
"""

from __future__ import annotations

from .bridge_arithmetic import ArithmeticRules
from .bridge_common import Env, Source  # noqa: F401  (re-exported)
from .bridge_conditions import ConditionRules
from .bridge_queries import QueryRules
from .bridge_scalars import ScalarRules


class Bridge(QueryRules, ScalarRules, ArithmeticRules, ConditionRules):
    """One walk over one statement. ``run`` returns the output columns."""
