"""A session that writes through pgaccel reads its own writes, whatever the mirror knows."""

from __future__ import annotations

import psycopg
import pytest

from proxy.config import from_dict
from proxy.server import ServerThread


@pytest.fixture(params=["logical", "snapshot"])
def mirrored(request, origin, fresh_db, origin_conn, tmp_path):
    origin_conn.execute("CREATE TABLE events (id serial PRIMARY KEY, kind text NOT NULL)")
    origin_conn.execute("INSERT INTO events (kind) SELECT 'seed' FROM generate_series(1, 100)")
    slot = f"rw_{fresh_db}"
    cfg = from_dict({
        "server": {"listen": "127.0.0.1:0"},
        "origin": {"dsn": origin.url(fresh_db)},
        "mirror": {"enabled": True, "path": str(tmp_path / "m.duckdb"), "mode": request.param,
                   "slot": slot, "max_staleness": "-1"},
    })
    st = ServerThread(cfg).start()
    try:
        yield f"host=127.0.0.1 port={st.port} dbname={fresh_db} user=postgres password=postgres-secret"
    finally:
        st.stop()
        origin.psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    f"WHERE slot_name = '{slot}'")


def test_a_session_counts_the_row_it_just_inserted(mirrored):
    with psycopg.connect(mirrored, autocommit=True) as c:
        assert c.execute("EXPLAIN (ROUTE) SELECT count(*) FROM events").fetchone()[0] == "mirror"
        assert c.execute("SELECT count(*) FROM events").fetchone() == (100,)
        for n in range(101, 106):
            c.execute("INSERT INTO events (kind) VALUES ('click')")
            assert c.execute("SELECT count(*) FROM events").fetchone() == (n,)


def test_a_write_committed_in_a_transaction_is_read_back_after_commit(mirrored):
    with psycopg.connect(mirrored) as c:
        c.execute("INSERT INTO events (kind) VALUES ('tx')")
        c.commit()
        c.autocommit = True
        assert c.execute("SELECT count(*) FROM events WHERE kind = 'tx'").fetchone() == (1,)
