"""Memory benchmark: stream a large result through pgaccel and watch its RSS.

    .venv/bin/python bench/memory.py [--mb 1000] [--interval 0.1]

Starts a throwaway Postgres and ``pgaccel serve`` (a child process, pass-through
auth), then reads ``SELECT repeat('x', 1000) FROM generate_series(1, N)`` with a
raw-socket client that discards rows as they come, sampling pgaccel's VmRSS
every ``--interval`` seconds. The same stream read directly from Postgres is the
baseline. Prints bytes streamed, time, throughput and peak RSS; the target is a
peak RSS under 200 MB for a 1 GB result (a relay must not buffer the result).

The pieces (``PgaccelProcess``, ``RssSampler``, ``stream_query``) are also used
by the test suite (tests/e2e/test_robust_memory.py, test_lifecycle_serve.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from proxy.localpg import SUPERPASS, SUPERUSER, LocalPostgres, free_port  # noqa: E402

PGACCEL = os.path.join(REPO, ".venv", "bin", "pgaccel")
ROW_BYTES = 1000
TARGET_PEAK_RSS_MB = 200


# ---------------------------------------------------------------- the pgaccel child process

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_value(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(config: dict[str, dict]) -> str:
    out = []
    for section, kv in config.items():
        out.append(f"[{section}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in kv.items()]
        out.append("")
    return "\n".join(out)


class PgaccelProcess:
    """``pgaccel serve --config <tmp>.toml`` as a child process we own (stopped by pid).

    ``config`` is a dict of TOML sections; ``server.listen`` defaults to a free port.
    """

    def __init__(self, config: dict[str, dict], wait: bool = True) -> None:
        self.dir = tempfile.mkdtemp(prefix="pgaccel-proc-")
        cfg = {k: dict(v) for k, v in config.items()}
        server = cfg.setdefault("server", {})
        if "listen" not in server:
            server["listen"] = f"127.0.0.1:{free_port()}"
        self.port = int(server["listen"].rsplit(":", 1)[1])
        self.config_path = os.path.join(self.dir, "pgaccel.toml")
        with open(self.config_path, "w") as f:
            f.write(to_toml(cfg))
        self.log_path = os.path.join(self.dir, "pgaccel.log")
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([PGACCEL, "serve", "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        if wait:
            self.wait_listening()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgaccel exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"pgaccel not listening after {timeout}s:\n{self.log()}")
                time.sleep(0.05)

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode

    def __enter__(self) -> "PgaccelProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- RSS

def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's VmRSS every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(rss_kb(self.pid))
            except OSError:
                return
            self._stop.wait(self.interval)

    @property
    def peak_mb(self) -> float:
        return max(self.samples, default=0) / 1024

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            self.samples.append(rss_kb(self.pid))
        except OSError:
            pass


# ---------------------------------------------------------------- a raw streaming reader

def _frame(t: bytes, body: bytes) -> bytes:
    return t + struct.pack("!i", len(body) + 4) + body


class _Reader:
    """Reads backend messages off a socket into one reusable buffer (no per-row copies)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray(1 << 20)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.total = 0

    def _fill(self) -> None:
        if self.start:
            n = self.end - self.start
            self.buf[:n] = self.buf[self.start:self.end]
            self.start, self.end = 0, n
        if self.end == len(self.buf):
            self.buf.extend(bytes(len(self.buf)))
            self.view = memoryview(self.buf)
        n = self.sock.recv_into(self.view[self.end:])
        if n == 0:
            raise ConnectionError("server closed the connection")
        self.end += n
        self.total += n

    def message(self) -> tuple[bytes, bytes]:
        while self.end - self.start < 5:
            self._fill()
        t = bytes(self.buf[self.start:self.start + 1])
        (ln,) = struct.unpack_from("!i", self.buf, self.start + 1)
        while self.end - self.start < ln + 1:
            self._fill()
        body = bytes(self.buf[self.start + 5:self.start + 1 + ln]) if t != b"D" else b""
        self.start += ln + 1
        return t, body


def _login(sock: socket.socket, rd: _Reader, user: str, password: str, dbname: str) -> None:
    params = b"user\0" + user.encode() + b"\0database\0" + dbname.encode() + b"\0\0"
    body = struct.pack("!i", 196608) + params
    sock.sendall(struct.pack("!i", len(body) + 4) + body)
    scram = None
    while True:
        t, body = rd.message()
        if t == b"E":
            raise RuntimeError(f"login failed: {body!r}")
        if t == b"R":
            (code,) = struct.unpack("!i", body[:4])
            if code == 3:
                sock.sendall(_frame(b"p", password.encode() + b"\0"))
            elif code == 5:
                inner = hashlib.md5((password + user).encode()).hexdigest()
                sock.sendall(_frame(b"p", ("md5" + hashlib.md5(inner.encode() + body[4:8]).hexdigest())
                                    .encode() + b"\0"))
            elif code == 10:
                import scramp

                scram = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
                first = scram.get_client_first().encode()
                sock.sendall(_frame(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
            elif code == 11:
                scram.set_server_first(body[4:].decode())
                sock.sendall(_frame(b"p", scram.get_client_final().encode()))
            elif code == 12:
                scram.set_server_final(body[4:].decode())
        elif t == b"Z":
            return


def stream_query(port: int, sql: str, user: str = SUPERUSER, password: str = SUPERPASS,
                 dbname: str = "postgres", host: str = "127.0.0.1") -> tuple[int, int, float]:
    """Run ``sql`` and read the whole result, discarding rows.

    Returns (bytes received for the result, data rows, seconds from sending the
    query to ReadyForQuery)."""
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        rd = _Reader(sock)
        _login(sock, rd, user, password, dbname)
        before = rd.total - (rd.end - rd.start)
        t0 = time.perf_counter()
        sock.sendall(_frame(b"Q", sql.encode() + b"\0"))
        rows, err = 0, None
        while True:
            t, body = rd.message()
            if t == b"D":
                rows += 1
            elif t == b"E":
                err = body
            elif t == b"Z":
                break
        seconds = time.perf_counter() - t0
        sock.sendall(_frame(b"X", b""))
        if err:
            raise RuntimeError(f"query failed: {err!r}")
        return rd.total - before, rows, seconds


def big_query(mb: int) -> tuple[str, int]:
    rows = mb * 1_000_000 // ROW_BYTES
    return f"SELECT repeat('x', {ROW_BYTES}) FROM generate_series(1, {rows})", rows


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=1000, help="size of the result in MB (default 1000)")
    ap.add_argument("--interval", type=float, default=0.1, help="RSS sampling interval, seconds")
    args = ap.parse_args()
    sql, nrows = big_query(args.mb)
    print(f"# pgaccel memory: streaming a {args.mb} MB result ({nrows} rows of {ROW_BYTES} bytes)\n")
    print(f"query: {sql}")
    with LocalPostgres() as pg:
        direct_bytes, _, direct_s = stream_query(pg.port, sql)
        cfg = {"server": {"log_level": "warning"}, "auth": {"method": "passthrough"},
               "origin": {"dsn": pg.url()}}
        with PgaccelProcess(cfg) as px:
            idle_mb = px.rss_kb() / 1024
            with RssSampler(px.pid, args.interval) as rss:
                got, rows, secs = stream_query(px.port, sql)
            after_mb = px.rss_kb() / 1024
    assert rows == nrows, (rows, nrows)
    print()
    print("| path | bytes | seconds | MB/s | pgaccel RSS idle | peak | after |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| direct to Postgres | {direct_bytes:,} | {direct_s:.2f} | {direct_bytes / direct_s / 1e6:.0f}"
          " | | | |")
    print(f"| through pgaccel | {got:,} | {secs:.2f} | {got / secs / 1e6:.0f} | {idle_mb:.0f} MB"
          f" | {rss.peak_mb:.0f} MB | {after_mb:.0f} MB |")
    print(f"\nRSS samples: {len(rss.samples)} every {args.interval}s; target peak < {TARGET_PEAK_RSS_MB} MB: "
          + ("met" if rss.peak_mb < TARGET_PEAK_RSS_MB else "NOT met"))
    return 0 if rss.peak_mb < TARGET_PEAK_RSS_MB else 1


if __name__ == "__main__":
    sys.exit(main())
