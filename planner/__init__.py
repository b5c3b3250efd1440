"""The planner: for each statement, decide where it runs (see ``route.py``)."""

from .reasons import REASONS
from .rewrite.numeric_division import MACROS as DUCKDB_MACROS
from .rewrite.numeric_division import install_macros
from .route import Planner, Route, SessionContext

__all__ = ["Planner", "Route", "SessionContext", "REASONS", "DUCKDB_MACROS", "install_macros"]
