"""The result cache: keys (key.py), table generations (generations.py), stored
entries (entry.py, store.py), single flight and background refresh (flight.py),
prewarming (prewarm.py). Pure Python, no sockets; the proxy drives it.

How the proxy uses it (one ResultCache, Generations, SingleFlight, Refresher and
Prewarmer per server):

* Session scope: ``scope = KeyScope.for_session(current_user, database, settings)``,
  rebuilt whenever a RESULT_SETTINGS value or the role may have changed (SET, RESET,
  DISCARD, SET ROLE, set_config()); while unknown, do not use the cache.
* A read eligible by the planner, outside a transaction, ``pgaccel.cache`` on, and
  ``is_cacheable(sql, allowlist=..., timezone=...)`` ok: ``key = scope.key(sql,
  params, param_formats, param_types, result_formats)``; ``r =
  cache.lookup(key, None, max_staleness, not_before=session.last_write_at)``.
  fresh: send ``r.entry.payload`` then ReadyForQuery (simple Query) / the payload
  for Execute. stale: the same, and ``refresher.schedule(key, recompute)``.
  miss: ``payload = await flight.run(key, compute)`` where ``compute`` does
  ``t = cache.begin(tables)``, runs the query, encodes the frames, ``cache.put(key,
  payload, t, rows=n, sql=sql, expires_at=c.expires_at)`` and returns the payload.
* Changes: ``cache.generations.bump(tables)`` on a write's CommandComplete and
  again when its transaction ends; ``bump_all()`` for DDL or unknown targets;
  ``cache.generations.observe(changed, verified_at, tracked_tables)`` after each
  poll of the mirror's change feed, and ``bump`` after each sync swap.
"""

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
