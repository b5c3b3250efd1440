"""pgaccel: a PostgreSQL-wire query-acceleration proxy."""

__version__ = "0.1.0"
