"""A throwaway PostgreSQL cluster on a free loopback port.

Used by the test suite, ``pgaccel demo`` and the benchmarks. ``initdb`` refuses
to run as root, so when we are root the cluster runs as an unprivileged OS user
(created on first use). The cluster lives in a temporary directory that
:meth:`LocalPostgres.stop` removes.

TCP connections authenticate with SCRAM-SHA-256 (like a production origin);
the unix socket in the data directory trusts everyone (for setup only).
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

OS_USER = "pgaccel-pg"
SUPERUSER = "postgres"
SUPERPASS = "postgres-secret"


def pg_bindir() -> str:
    for version in ("15", "16", "17", "14"):
        d = f"/usr/lib/postgresql/{version}/bin"
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(found)
    raise RuntimeError("PostgreSQL server binaries not found (install postgresql-15)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_os_user() -> pwd.struct_passwd | None:
    """Return the unprivileged account to run Postgres as, or None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
            check=True,
        )
        return pwd.getpwnam(OS_USER)


@dataclass
class LocalPostgres:
    """A throwaway cluster. ``start()`` then ``dsn()``; ``stop()`` removes it."""

    port: int = 0
    settings: dict[str, str] = field(default_factory=dict)
    keep: bool = False
    datadir: str = ""
    _base: str = ""
    _proc_user: pwd.struct_passwd | None = None

    def start(self) -> "LocalPostgres":
        bindir = pg_bindir()
        self._proc_user = _ensure_os_user()
        self._base = tempfile.mkdtemp(prefix="pgaccel-pg-")
        os.chmod(self._base, 0o755)
        self.datadir = os.path.join(self._base, "data")
        pwfile = os.path.join(self._base, "pw")
        with open(pwfile, "w") as f:
            f.write(SUPERPASS + "\n")
        if self._proc_user:
            os.chown(self._base, self._proc_user.pw_uid, self._proc_user.pw_gid)
            os.chown(pwfile, self._proc_user.pw_uid, self._proc_user.pw_gid)
        self._run(
            [f"{bindir}/initdb", "-D", self.datadir, "-U", SUPERUSER, f"--pwfile={pwfile}",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
             "--locale=C.UTF-8", "--no-sync"],
        )
        os.unlink(pwfile)
        self.port = self.port or free_port()
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self._base}'",
            "wal_level": "logical",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "max_connections": "700",
            "shared_buffers": "128MB",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
            "logging_collector": "off",
            "timezone": "'UTC'",
        }
        conf.update(self.settings)
        with open(os.path.join(self.datadir, "postgresql.auto.conf"), "a") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        logfile = os.path.join(self._base, "postgres.log")
        self._run([f"{bindir}/pg_ctl", "-D", self.datadir, "-l", logfile, "-w", "-t", "60", "start"])
        log.info("throwaway postgres on 127.0.0.1:%d (%s)", self.port, self.datadir)
        return self

    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        if self._proc_user:
            argv = ["runuser", "-u", OS_USER, "--"] + argv
        return subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def socket_dir(self) -> str:
        return self._base

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = SUPERPASS) -> str:
        pw = f" password={password}" if password is not None else ""
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}{pw}"

    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = SUPERPASS) -> str:
        pw = f":{password}" if password is not None else ""
        return f"postgresql://{user}{pw}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL as superuser over the trusted unix socket; return stdout."""
        out = subprocess.run(
            [f"{pg_bindir()}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self._base, "-p",
             str(self.port), "-U", SUPERUSER, "-d", dbname, "-At", "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return out.stdout

    def restart(self) -> None:
        self._run([f"{pg_bindir()}/pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "restart",
                   "-l", os.path.join(self._base, "postgres.log")])

    def stop_server(self, mode: str = "fast") -> None:
        self._run([f"{pg_bindir()}/pg_ctl", "-D", self.datadir, "-m", mode, "-w", "stop"])

    def start_server(self) -> None:
        self._run([f"{pg_bindir()}/pg_ctl", "-D", self.datadir, "-l",
                   os.path.join(self._base, "postgres.log"), "-w", "start"])

    def stop(self) -> None:
        if not self._base:
            return
        try:
            if os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
                self._run([f"{pg_bindir()}/pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop"])
        except subprocess.CalledProcessError as e:  # already down
            log.warning("pg_ctl stop: %s", e.stderr.decode(errors="replace").strip())
        if not self.keep:
            shutil.rmtree(self._base, ignore_errors=True)
        self._base = ""

    def __enter__(self) -> "LocalPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
