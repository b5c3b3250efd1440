"""Planner tests from SQL fixture files (tests/planner_fixtures/*.sql).

One loader, one parametrised test: adding a case is adding a block of SQL.
Block format (blocks separated by blank lines)::

    -- title: integer division truncates
    -- expect: mirror mirror_eligible read      (target reason [kind])
    -- ctx: in_transaction temp search_path=a,b timezone=Europe/Paris   (optional)
    -- collation: en_US.UTF-8                   (optional; default C.UTF-8)
    -- detail: text the route detail must contain                       (optional)
    -- duckdb: SELECT ...                       (optional; exact DuckDB SQL)
    SELECT ...
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

import pytest

from planner import Planner, SessionContext
from planner.testing import make_catalog

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "planner_fixtures"
_HEADER = re.compile(r"^--\s*(title|expect|ctx|collation|detail|duckdb):\s*(.*)$")


@dataclass(frozen=True)
class Case:
    file: str
    title: str
    sql: str
    target: str
    reason: str
    kind: str | None
    ctx: SessionContext
    collation: str
    detail: str | None
    duckdb: str | None


def _ctx(flags: str) -> SessionContext:
    kw: dict = {"search_path": ("public",), "in_transaction": False}
    for flag in flags.split():
        if flag == "in_transaction":
            kw["in_transaction"] = True
        elif flag == "temp":
            kw["has_temp_objects"] = True
        elif flag.startswith("search_path="):
            kw["search_path"] = tuple(flag.split("=", 1)[1].split(","))
        elif flag.startswith("timezone="):
            kw["timezone"] = flag.split("=", 1)[1]
        elif flag.startswith("datestyle="):
            kw["datestyle"] = flag.split("=", 1)[1].replace("_", " ")
        else:
            raise ValueError(f"unknown ctx flag {flag!r}")
    return SessionContext(**kw)


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(FIXTURES.glob("*.sql")):
        for block in re.split(r"\n\s*\n", path.read_text()):
            header: dict[str, str] = {}
            sql_lines = []
            for line in block.strip().splitlines():
                m = _HEADER.match(line)
                if m and not sql_lines:
                    header[m.group(1)] = m.group(2).strip()
                else:
                    sql_lines.append(line)
            if "title" not in header:
                continue              # a file comment
            expect = header["expect"].split()
            cases.append(Case(
                file=path.name, title=header["title"], sql="\n".join(sql_lines),
                target=expect[0], reason=expect[1], kind=expect[2] if len(expect) > 2 else None,
                ctx=_ctx(header.get("ctx", "")), collation=header.get("collation", "C.UTF-8"),
                detail=header.get("detail"), duckdb=header.get("duckdb")))
    return cases


CASES = load_cases()
PLANNER = Planner()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}:{c.title}" for c in CASES])
def test_fixture(case: Case) -> None:
    # one catalog version per collation: the memo key includes the version
    route = PLANNER.decide(case.sql, case.ctx, make_catalog(case.collation, version=hash(case.collation)))
    got = (route.target, route.reason) + ((route.kind,) if case.kind else ())
    want = (case.target, case.reason) + ((case.kind,) if case.kind else ())
    assert got == want, f"{case.title}: detail={route.detail!r}"
    if case.detail is not None:
        assert case.detail in route.detail
    if case.duckdb is not None:
        assert " ".join(route.sql.split()) == " ".join(case.duckdb.split())
    if route.target == "mirror":
        assert route.sql and route.tables and route.columns
    elif route.target == "federation" and route.reason == "federation":
        assert route.sql and route.sources and route.columns
    else:
        assert route.sql is None
