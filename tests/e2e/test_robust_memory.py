"""pgaccel relays large results without holding them: its RSS stays bounded while
1 GB streams through, and while a client stalls in front of a large result."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from bench.memory import PgaccelProcess, RssSampler, big_query, stream_query
from tests.protocol.rawpg import RawConn, query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pgaccel_proc(origin):
    p = PgaccelProcess({"server": {"log_level": "warning"}, "auth": {"method": "passthrough"},
                        "origin": {"dsn": origin.url()}})
    try:
        yield p
    finally:
        assert p.stop() == 0


def test_1gb_result_streams_through_with_peak_rss_under_200mb(pgaccel_proc):
    sql, nrows = big_query(1000)
    with RssSampler(pgaccel_proc.pid, 0.1) as rss:
        nbytes, rows, secs = stream_query(pgaccel_proc.port, sql)
    assert rows == nrows
    assert nbytes > 1_000_000_000
    print(f"\n1 GB through pgaccel: {nbytes:,} bytes in {secs:.2f}s = {nbytes / secs / 1e6:.0f} MB/s, "
          f"peak RSS {rss.peak_mb:.0f} MB ({len(rss.samples)} samples)")
    assert rss.peak_mb < 200


def test_stalled_reader_of_a_large_result_does_not_grow_pgaccel(pgaccel_proc):
    """Backpressure: while the client does not read, pgaccel stops reading the origin."""
    base = pgaccel_proc.rss_kb() / 1024
    conn = RawConn(pgaccel_proc.port, timeout=30)
    try:
        conn.login("postgres", password="postgres-secret")
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sql, nrows = big_query(300)
        with RssSampler(pgaccel_proc.pid, 0.1) as rss:
            conn.send(query(sql))
            time.sleep(1.5)                     # 300 MB are ready at the origin; we read nothing
            stalled_peak = rss.peak_mb
            rows = _drain_rows(conn)
        assert rows == nrows
        print(f"\nstalled reader: RSS {base:.0f} MB before, {stalled_peak:.0f} MB while stalled, "
              f"{rss.peak_mb:.0f} MB peak")
        assert stalled_peak - base < 50
        assert rss.peak_mb < 200
    finally:
        conn.close()


def _drain_rows(conn: RawConn) -> int:
    """Read to ReadyForQuery without keeping the rows (RawConn.read_msg would copy a lot)."""
    rows, buf = 0, bytearray()
    sock = conn.sock
    pos = 0
    while True:
        chunk = sock.recv(1 << 20)
        assert chunk, "connection closed"
        buf += chunk
        while len(buf) - pos >= 5:
            (ln,) = struct.unpack_from("!i", buf, pos + 1)
            if len(buf) - pos < ln + 1:
                break
            t = buf[pos]
            pos += ln + 1
            if t == ord("D"):
                rows += 1
            elif t == ord("Z"):
                return rows
        del buf[:pos]
        pos = 0
