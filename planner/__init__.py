"""The planner: for each statement, decide where it runs (see ``route.py``)."""

from .reasons import REASONS
from .route import Planner, Route, SessionContext

__all__ = ["Planner", "Route", "SessionContext", "REASONS"]
