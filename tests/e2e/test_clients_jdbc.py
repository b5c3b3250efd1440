"""pgjdbc cannot tell pgaccel from Postgres.

``tests/e2e/java/ClientProbe.java`` is compiled once per module against the
pgjdbc jar from the local Maven repository, then run once directly and once
through pgaccel; it prints each section's results as lines, and each test
compares one section.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import scratch_database

JAVA_DIR = Path(__file__).parent / "java"
SECTIONS = ["metadata", "prepared", "fetchsize", "batch", "errors", "warnings", "transactions"]


def _find_jar() -> str | None:
    jars = sorted(glob.glob(os.path.expanduser("~/.m2/repository/org/postgresql/postgresql/*/postgresql-*.jar")))
    jars = [j for j in jars if not j.endswith(("-sources.jar", "-javadoc.jar"))]
    return jars[-1] if jars else None


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """(java, classpath) of the compiled ClientProbe."""
    javac, java = shutil.which("javac"), shutil.which("java")
    jar = _find_jar()
    reason = ("javac/java not on PATH" if not (javac and java) else
              "pgjdbc jar not found under ~/.m2/repository/org/postgresql/postgresql/" if not jar else None)
    if reason:
        print(f"skipping pgjdbc tests: {reason}")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("jdbc-classes")
    p = subprocess.run([javac, "-d", str(out), "-cp", jar, str(JAVA_DIR / "ClientProbe.java")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return java, os.pathsep.join([jar, str(out)])


@pytest.fixture(scope="module")
def db(origin):
    with scratch_database(origin, "jdbc") as name:
        yield name


def run_probe(probe, port: int, db: str) -> dict[str, list[str]]:
    java, cp = probe
    p = subprocess.run([java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", cp, "ClientProbe",
                        f"jdbc:postgresql://127.0.0.1:{port}/{db}", "postgres", "postgres-secret", *SECTIONS],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in p.stdout.splitlines():
        if line.startswith("== "):
            current = sections.setdefault(line[3:], [])
        else:
            current.append(line)
    return sections


@pytest.fixture(scope="module")
def outputs(probe, origin, proxy, db):
    """Every section's lines, directly and through pgaccel (one JVM run each)."""
    return {"direct": run_probe(probe, origin.port, db), "pgaccel": run_probe(probe, proxy.port, db)}


def section(outputs, name: str) -> list[str]:
    direct, through = outputs["direct"][name], outputs["pgaccel"][name]
    assert through == direct
    assert not any(line.startswith("FAILED") for line in direct), direct
    return direct


def test_metadata_tables_columns_keys_and_indexes_match(outputs):
    lines = section(outputs, "metadata")
    assert any(line.startswith("table ") and "TABLE_NAME=jt_meta" in line and "REMARKS=probe table" in line
               for line in lines)
    assert sum(line.startswith("column ") for line in lines) == 8
    assert any(line.startswith("fk ") and "FKCOLUMN_NAME=meta_id" in line for line in lines)
    assert any(line.startswith("index ") and "INDEX_NAME=jt_meta_name" in line for line in lines)


def test_prepared_statement_past_prepare_threshold_becomes_server_side(outputs):
    lines = section(outputs, "prepared")
    runs = [line for line in lines if line.startswith("run ")]
    assert len(runs) == 10
    assert any(line.startswith("server statement ") for line in lines), lines
    assert "run 4 server-prepared true" in runs
    # from the 5th run pgjdbc asks for binary results: its array text then quotes elements
    assert 'row: 9001 row 9! 2024-02-29 12:34:56.789 24709.3578 {"9",NULL,"9"}' in lines


def test_fetch_size_streams_ten_thousand_rows_in_a_transaction(outputs):
    lines = section(outputs, "fetchsize")
    assert "rows 10000 sum 50005000 first c4ca4238a0b923820dcc509a6f75849b " \
           "last b7a782741f667201b54880c925faec4b" in lines
    assert "midway mid" in lines and "statement rows 50" in lines


def test_batch_insert_reports_update_counts(outputs):
    lines = section(outputs, "batch")
    assert "batch results 1000 total 1000" in lines
    assert "statement batch [10, 10, 1]" in lines
    assert any(line.startswith("batch error 23505") for line in lines)


def test_sql_exceptions_keep_sqlstate_and_server_fields(outputs):
    lines = section(outputs, "errors")
    states = [line.split()[1] for line in lines if line.startswith(("simple ", "prepared "))]
    assert states == ["22012", "22012", "42P01", "42P01", "42601", "42601", "23505", "23505", "22P02", "22P02"]
    assert lines[-1] == "still usable"


def test_notices_become_sql_warnings(outputs):
    assert section(outputs, "warnings") == ["warning 00000 note 1", "warning 01000 careful"]


def test_transactions_savepoints_and_isolation(outputs):
    lines = section(outputs, "transactions")
    assert "in tx 23505" in lines and "aborted 25P02" in lines
    assert "row: serializable {1,3}" in lines
