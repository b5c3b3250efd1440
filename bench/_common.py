"""Shared pieces of the benchmarks: machine facts, the peers we compare against
(PgBouncer, pgaccel) as child processes we own, pgbench runs and markdown tables.

Every process started here is stopped by the ``Stack`` that started it, by pid,
also on Ctrl-C and on errors (use it as a context manager).
"""

from __future__ import annotations

import os
import platform
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from proxy.localpg import OS_USER, SUPERPASS, SUPERUSER, LocalPostgres, free_port, pg_bindir  # noqa: E402

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
PGACCEL = os.path.join(REPO, ".venv", "bin", "pgaccel")


# ---------------------------------------------------------------- facts

def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError) as e:
        return f"unavailable ({e.__class__.__name__})"


def machine_facts() -> dict[str, str]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    commit = _first_line(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    return {
        "nproc": _first_line(["nproc"]),
        "cpu": cpu or platform.processor() or "unknown",
        "memory": mem or "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": _first_line([os.path.join(pg_bindir(), "postgres"), "--version"]),
        "pgbench": _first_line([PGBENCH, "--version"]),
        "pgbouncer": _first_line([PGBOUNCER, "--version"]),
        "pgaccel commit": commit,
    }


def print_header(title: str) -> None:
    print(f"# {title}\n")
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    for k, v in machine_facts().items():
        print(f"{k}: {v}")
    print(flush=True)


# ---------------------------------------------------------------- processes

def wait_port(port: int, proc: subprocess.Popen | None, timeout: float, log: str = "") -> None:
    """Wait until 127.0.0.1:port accepts; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before listening"
                               + (f":\n{tail(log)}" if log else ""))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not listening on 127.0.0.1:{port} after {timeout:.0f} s"
                                   + (f":\n{tail(log)}" if log else ""))
            time.sleep(0.1)


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"


def _run_as() -> pwd.struct_passwd | None:
    return pwd.getpwnam(OS_USER) if os.geteuid() == 0 else None


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _is_running(pid: int, comm: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process named ``comm``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    state = stat[stat.rindex(")") + 2:].split()[0]
    return name == comm and state not in ("Z", "X")


@dataclass
class Stack:
    """Owns the throwaway Postgres, temp dirs and child processes of one run."""

    pg: LocalPostgres | None = None
    procs: list[tuple[str, subprocess.Popen, str]] = field(default_factory=list)
    # (pid, command name) of processes started through a wrapper (runuser)
    wrapped: list[tuple[int, str, subprocess.Popen]] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)

    def __enter__(self) -> "Stack":
        # SIGTERM behaves like Ctrl-C so the cleanup runs.
        signal.signal(signal.SIGTERM, _interrupt)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tempdir(self, prefix: str) -> str:
        d = tempfile.mkdtemp(prefix=prefix)
        self.dirs.append(d)
        user = _run_as()
        if user:
            os.chmod(d, 0o750)
            os.chown(d, user.pw_uid, user.pw_gid)
        return d

    def start_postgres(self, **settings: str) -> LocalPostgres:
        self.pg = LocalPostgres(settings=dict(settings))
        self.pg.start()
        return self.pg

    def spawn(self, name: str, argv: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
        # A new session: a Ctrl-C in the terminal does not reach it; we stop it ourselves.
        f = open(log, "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True)
        finally:
            f.close()
        self.procs.append((name, proc, log))
        return proc

    def stop_proc(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def close(self) -> None:
        # A process under runuser is stopped by its own pid; runuser then exits with
        # it (SIGTERM to runuser would make it wait 2 s and then SIGKILL the child).
        for pid, comm, wrapper in self.wrapped:
            if _is_running(pid, comm):
                os.kill(pid, signal.SIGTERM)
                try:
                    wrapper.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        for _name, proc, _log in reversed(self.procs):
            try:
                self.stop_proc(proc)
            except Exception as e:  # keep stopping the rest
                print(f"warning: stopping {_name} (pid {proc.pid}): {e}", file=sys.stderr)
        self.procs.clear()
        for pid, comm, _wrapper in self.wrapped:
            if _is_running(pid, comm):
                print(f"warning: {comm} (pid {pid}) outlived its wrapper; killing it", file=sys.stderr)
                os.kill(pid, signal.SIGKILL)
        self.wrapped.clear()
        if self.pg is not None:
            self.pg.stop()
            self.pg = None
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs.clear()

    # ------------------------------------------------------------ peers

    def start_pgbouncer(self, pg: LocalPostgres, pool_size: int, pool_mode: str = "session") -> int:
        """PgBouncer on a free loopback port in front of ``pg``, SCRAM both sides."""
        d = self.tempdir("pgaccel-bench-pgbouncer-")
        port = free_port()
        ini = os.path.join(d, "pgbouncer.ini")
        users = os.path.join(d, "userlist.txt")
        log = os.path.join(d, "pgbouncer.log")
        pidfile = os.path.join(d, "pgbouncer.pid")
        with open(users, "w") as f:
            f.write(f'"{SUPERUSER}" "{SUPERPASS}"\n')
        with open(ini, "w") as f:
            f.write(f"""[databases]
* = host=127.0.0.1 port={pg.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {users}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = {max(100, pool_size * 2)}
max_db_connections = 0
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {log}
pidfile = {pidfile}
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
""")
        user = _run_as()
        argv = [PGBOUNCER, ini]
        if user:
            for p in (ini, users):
                os.chown(p, user.pw_uid, user.pw_gid)
                os.chmod(p, 0o600)
            argv = ["runuser", "-u", OS_USER, "--", *argv]
        proc = self.spawn("pgbouncer", argv, os.path.join(d, "stdout.log"))
        wait_port(port, proc, 15, log)
        try:  # checked at close: PgBouncer must not outlive runuser
            with open(pidfile) as f:
                self.wrapped.append((int(f.read().strip()), "pgbouncer", proc))
        except (OSError, ValueError):
            pass
        return port

    def start_pgaccel(self, pg: LocalPostgres, extra_toml: str = "") -> int:
        """``pgaccel serve`` in pass-through mode in front of ``pg``."""
        d = self.tempdir("pgaccel-bench-pgaccel-")
        port = free_port()
        conf = os.path.join(d, "pgaccel.toml")
        with open(conf, "w") as f:
            f.write(f"""[server]
listen = "127.0.0.1:{port}"
log_level = "warning"

[auth]
method = "passthrough"

[origin]
dsn = "{pg.url()}"
{extra_toml}""")
        log = os.path.join(d, "pgaccel.log")
        # PYTHONPATH: import this checkout's packages even if the venv's editable
        # install predates a package's __init__.py (it then maps it as a namespace).
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = self.spawn("pgaccel", [PGACCEL, "serve", "--config", conf], log, env=env)
        wait_port(port, proc, 30, log)
        return port


# ---------------------------------------------------------------- pgbench

def pg_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PGPASSWORD=SUPERPASS, PGUSER=SUPERUSER, PGHOST="127.0.0.1", PGSSLMODE="disable",
               PGCONNECT_TIMEOUT="10")
    return env


def pgbench_init(port: int, scale: int) -> float:
    t0 = time.monotonic()
    out = subprocess.run([PGBENCH, "-i", "-q", "-s", str(scale), "-h", "127.0.0.1", "-p", str(port),
                          "-U", SUPERUSER, "postgres"], env=pg_env(), capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"pgbench -i failed:\n{out.stderr}")
    return time.monotonic() - t0


@dataclass
class BenchResult:
    tps: float | None = None
    latency_ms: float | None = None
    failed_tx: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.tps is not None and not self.error


_TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.M)
_LAT = re.compile(r"^latency average = ([\d.]+) ms", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)


def parse_pgbench(stdout: str) -> BenchResult:
    tps, lat, failed = _TPS.search(stdout), _LAT.search(stdout), _FAILED.search(stdout)
    return BenchResult(float(tps.group(1)) if tps else None, float(lat.group(1)) if lat else None,
                       int(failed.group(1)) if failed else 0)


def pgbench_run(port: int, args: list[str], seconds: int) -> BenchResult:
    argv = [PGBENCH, *args, "-T", str(seconds), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER,
            "postgres"]
    try:
        out = subprocess.run(argv, env=pg_env(), capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return BenchResult(error=f"pgbench did not finish within {seconds + 60} s")
    res = parse_pgbench(out.stdout)
    if out.returncode or not res.ok:
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        res.error = f"pgbench exit {out.returncode}: " + " | ".join(lines[-3:] or ["no output"])
    elif res.failed_tx:
        res.error = f"{res.failed_tx} failed transactions"
    return res


# ---------------------------------------------------------------- output

def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(fmt(r) for r in rows)])
