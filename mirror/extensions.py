"""Loading DuckDB extensions from their pip packages (no downloads: never INSTALL).

``duckdb-extension-<name>`` ships ``extensions/v<duckdb version>/<file>.duckdb_extension``
inside the package directory.
"""

from __future__ import annotations

import importlib
import os

import duckdb

_PACKAGES = {
    "postgres": ("duckdb_extension_postgres_scanner", "postgres_scanner"),
    "postgres_scanner": ("duckdb_extension_postgres_scanner", "postgres_scanner"),
    "mysql": ("duckdb_extension_mysql_scanner", "mysql_scanner"),
    "mysql_scanner": ("duckdb_extension_mysql_scanner", "mysql_scanner"),
    "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner"),
    "sqlite_scanner": ("duckdb_extension_sqlite_scanner", "sqlite_scanner"),
    "tpch": ("duckdb_extension_tpch", "tpch"),
}


def extension_path(name: str) -> str:
    pkg_name, file = _PACKAGES[name]
    pkg = importlib.import_module(pkg_name)
    base = os.path.join(os.path.dirname(pkg.__file__), "extensions")
    path = os.path.join(base, f"v{duckdb.__version__}", f"{file}.duckdb_extension")
    if os.path.exists(path):
        return path
    for d in sorted(os.listdir(base), reverse=True):
        p = os.path.join(base, d, f"{file}.duckdb_extension")
        if os.path.exists(p):
            return p
    raise RuntimeError(f"DuckDB extension {name} not found in package {pkg_name} ({base})")


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"LOAD '{extension_path(name)}'")
