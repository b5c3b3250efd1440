"""The result cache: keys (key.py), table generations (generations.py), stored
entries (entry.py, store.py), single flight and background refresh (flight.py),
prewarming (prewarm.py). Pure Python, no sockets; the proxy drives it."""

from .entry import Entry
from .flight import Refresher, SingleFlight
from .generations import Generations, TableState
from .key import Allowlist, Cacheability, CacheKey, KeyScope, Statement, analyse, is_cacheable, normalise
from .prewarm import Prewarmer
from .store import FRESH, MISS, STALE, Lookup, ResultCache, Ticket

__all__ = [
    "Allowlist", "Cacheability", "CacheKey", "KeyScope", "Entry", "FRESH", "Generations", "Lookup", "MISS",
    "Prewarmer", "Refresher", "ResultCache", "STALE", "SingleFlight", "Statement", "TableState",
    "Ticket", "analyse", "is_cacheable", "normalise",
]
