"""The stack runner: embedded infrastructure, migrations, topics, the four services, clean stop.

``python -m redress_stack run`` (what ``make run`` calls) starts everything, waits until every
``/readyz`` is green, prints where things are and stops it all on Ctrl-C or SIGTERM. Setting
``REDRESS_DATABASE_URL``, ``REDRESS_KAFKA_BOOTSTRAP_SERVERS`` or ``REDRESS_SMTP_HOST`` uses an
existing PostgreSQL, Kafka or SMTP server instead of the embedded one.

It supervises rather than topples: a process that dies is started again after a backoff, with
a log line saying so, and the runner gives up (stopping everything, with the reason) only
when one keeps failing fast. The embedded broker keeps nothing across a restart, so whenever
the runner starts it, every service's outbox (PostgreSQL, the log of record) is marked for
re-publication and the services start afresh: the relays publish the whole log again in order
and the consumers' inboxes drop what they had already applied (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import collections
import importlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redress_shared.broker import ensure_topics
from redress_shared.migrations import upgrade_to_head

from redress_stack.catalog import (
    DATABASE_NAME,
    KAFKA_PORT,
    MAIL_SINK_PORT,
    POSTGRES_PORT,
    SERVICES,
    TOPIC_PARTITIONS,
    TOPICS,
    ServiceSpec,
)
from redress_stack.contract import build_asyncapi, render
from redress_stack.infra import (
    EmbeddedPostgres,
    MailSink,
    ManagedProcess,
    TansuBroker,
    free_port,
    wait_for,
)

ADMIN_KEY_FILE = "admin-api-key"
STACK_FILE = "stack.json"


class GaveUp(RuntimeError):
    """A process kept failing right after being started; restarting it again will not help."""


@dataclass
class RestartPolicy:
    """Exponential backoff between restarts of one process; give up after ``limit`` failures
    within ``window`` seconds (a crash loop), but never for failures spread over hours."""

    name: str
    window: float = 120.0
    limit: int = 5
    first_delay: float = 0.5
    max_delay: float = 30.0
    failures: collections.deque = field(default_factory=collections.deque)

    def record_failure(self, now: float) -> float:
        """Note a failure at ``now``; return how long to wait before the restart."""
        self.failures.append(now)
        while self.failures and self.failures[0] < now - self.window:
            self.failures.popleft()
        if len(self.failures) > self.limit:
            raise GaveUp(
                f"{self.name} failed {len(self.failures)} times within {self.window:.0f} s; "
                "giving up"
            )
        return min(self.max_delay, self.first_delay * 2 ** (len(self.failures) - 1))


@dataclass
class StackPorts:
    """Every port the stack listens on."""

    services: dict[str, int]
    intake_smtp: int
    postgres: int
    kafka: int
    mail_sink: int

    @classmethod
    def defaults(cls) -> StackPorts:
        """The documented local ports, each overridable by ``REDRESS_<NAME>_PORT``."""

        def env_port(name: str, default: int) -> int:
            return int(os.environ.get(f"REDRESS_{name}_PORT", default))

        return cls(
            services={s.name: env_port(s.env_name, s.port) for s in SERVICES},
            intake_smtp=env_port("INTAKE_SMTP", 2525),
            postgres=env_port("POSTGRES", POSTGRES_PORT),
            kafka=env_port("KAFKA", KAFKA_PORT),
            mail_sink=env_port("MAIL_SINK", MAIL_SINK_PORT),
        )

    @classmethod
    def free(cls) -> StackPorts:
        """Free ports for everything, so a test stack runs beside a developer's stack."""
        return cls(
            services={s.name: free_port() for s in SERVICES},
            intake_smtp=free_port(),
            postgres=free_port(),
            kafka=free_port(),
            mail_sink=free_port(),
        )


@dataclass
class Stack:
    """The whole local platform, started and stopped as one."""

    data_dir: Path
    ports: StackPorts
    admin_key: str = ""
    database_url: str = ""
    kafka_bootstrap: str = ""
    smtp: tuple[str, int] = ("127.0.0.1", 0)
    replicas: dict[str, int] = field(default_factory=dict)
    test_clock_file: Path | None = None
    _infra: list = field(default_factory=list)
    _services: dict[str, ManagedProcess] = field(default_factory=dict)
    _replica_ports: dict[str, list[int]] = field(default_factory=dict)
    _broker: TansuBroker | None = None
    _policies: dict[str, RestartPolicy] = field(default_factory=dict)
    _restart_at: dict[str, float] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        """Where every process writes its log."""
        return self.data_dir / "logs"

    @property
    def maildir(self) -> Path:
        """Where the local mail sink files outgoing e-mail."""
        return self.data_dir / "mail"

    @property
    def asyncapi_file(self) -> Path:
        """The AsyncAPI document of the events, which the services serve with their docs."""
        return self.data_dir / "asyncapi.json"

    @property
    def front_door(self) -> str:
        """The one page of every service's API (served by the first service)."""
        return f"{self.url(SERVICES[0].name)}/docs/all"

    def start(self) -> None:
        """Start infrastructure, migrate, create topics, start services, wait until ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self.asyncapi_file.write_text(render(build_asyncapi()), "utf-8")
        self.admin_key = self._admin_key()
        self._start_postgres()
        self._start_kafka()
        self._start_mail()
        for spec in SERVICES:
            _say(f"migrating {spec.name}")
            package = importlib.import_module(spec.package)
            upgrade_to_head(self.database_url, package.MIGRATIONS_DIR, spec.schema)
        self._prepare_log()
        for spec in SERVICES:
            # Extra replicas join the same consumer groups; each gets its own HTTP port.
            ports = [self.ports.services[spec.name]]
            ports += [free_port() for _ in range(self.replicas.get(spec.name, 1) - 1)]
            self._replica_ports[spec.name] = ports
            for index, port in enumerate(ports):
                name = spec.name if index == 0 else f"{spec.name}-{index + 1}"
                self._services[name] = ManagedProcess(
                    name,
                    [sys.executable, *spec.command],
                    self.log_dir / f"{name}.log",
                    env=self._service_env(spec, port, first=index == 0),
                )
        self._start_services()
        self.write_stack_file()

    def _prepare_log(self) -> None:
        """Create the topics; on a fresh embedded broker, hand the outboxes' whole history to
        the relays again (the broker lost it, PostgreSQL did not)."""
        asyncio.run(ensure_topics(self.kafka_bootstrap, TOPICS, partitions=TOPIC_PARTITIONS))
        if self._broker is not None:
            count = asyncio.run(self._mark_outboxes_for_republication())
            if count:
                _say(f"re-publishing {count} events from the outboxes to the fresh broker")

    async def _mark_outboxes_for_republication(self) -> int:
        import asyncpg

        connection = await asyncpg.connect(
            self.database_url.replace("postgresql+asyncpg://", "postgresql://")
        )
        try:
            total = 0
            for spec in SERVICES:
                status = await connection.execute(
                    f'UPDATE "{spec.schema}".outbox SET published_at = NULL '
                    "WHERE published_at IS NOT NULL AND parked_at IS NULL"
                )
                total += int(status.rsplit(" ", 1)[-1])
            return total
        finally:
            await connection.close()

    def _start_services(self) -> None:
        for process in self._services.values():
            process.start()
        for spec in SERVICES:
            for index, port in enumerate(self._replica_ports[spec.name]):
                name = spec.name if index == 0 else f"{spec.name}-{index + 1}"
                wait_for(
                    lambda port=port: self._ready(port),
                    180,
                    f"{name} /readyz",
                    self._services[name],
                )

    def _stop_services(self, timeout: float = 20.0) -> None:
        for process in self._services.values():
            if process.running and process.process is not None:
                process.process.send_signal(signal.SIGTERM)
        for process in self._services.values():
            process.stop(timeout=timeout)

    def _policy(self, name: str) -> RestartPolicy:
        return self._policies.setdefault(name, RestartPolicy(name))

    def supervise(self) -> None:
        """One look at every process: start again what died (raises :class:`GaveUp`)."""
        now = time.monotonic()
        broker_process = self._broker.process if self._broker is not None else None
        if broker_process is not None and not broker_process.running:
            self._policy("tansu").record_failure(now)
            _say(
                f"tansu exited (code {broker_process.process.returncode}); restarting it, "
                "re-publishing the outboxes and restarting the services"
            )
            self._restart_at.clear()
            # Without a broker a graceful stop only waits for Kafka timeouts; the services
            # are crash-safe (outbox, inbox), so they get little time before SIGKILL.
            self._stop_services(timeout=5.0)
            self._broker.start()
            self._prepare_log()
            self._start_services()
            return
        for component in self._infra:
            process = component.process
            if component is self._broker or process is None or process.running:
                continue
            self._policy(process.name).record_failure(now)
            _say(f"{process.name} exited (code {process.process.returncode}); restarting it")
            component.start()
        for name, process in self._services.items():
            if name in self._restart_at:
                if now >= self._restart_at[name]:
                    del self._restart_at[name]
                    _say(f"starting {name} again")
                    process.start()
                continue
            if not process.running:
                delay = self._policy(name).record_failure(now)
                code = process.process.returncode if process.process else None
                _say(
                    f"{name} exited (code {code}); restarting in {delay:.1f} s; "
                    f"its log: {process.log_path}"
                )
                self._restart_at[name] = now + delay

    def _admin_key(self) -> str:
        from_env = os.environ.get("REDRESS_ADMIN_API_KEY")
        key_file = self.data_dir / ADMIN_KEY_FILE
        if from_env:
            key = from_env
        elif key_file.exists():
            key = key_file.read_text().strip()
        else:
            key = "rdr_" + secrets.token_urlsafe(32)
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        return key

    def _start_postgres(self) -> None:
        external = os.environ.get("REDRESS_DATABASE_URL")
        if external:
            self.database_url = external
            return
        _say("starting embedded PostgreSQL")
        postgres = EmbeddedPostgres(self.data_dir / "postgres", self.ports.postgres, self.log_dir)
        postgres.start()
        self._infra.append(postgres)
        postgres.create_database(DATABASE_NAME)
        self.database_url = postgres.url(DATABASE_NAME)

    def _start_kafka(self) -> None:
        external = os.environ.get("REDRESS_KAFKA_BOOTSTRAP_SERVERS")
        if external:
            self.kafka_bootstrap = external
            return
        _say("starting Tansu (Kafka protocol, in memory; the outboxes keep the log)")
        broker = TansuBroker(self.ports.kafka, self.log_dir)
        broker.start()
        self._infra.append(broker)
        self._broker = broker
        self.kafka_bootstrap = broker.bootstrap_servers

    def _start_mail(self) -> None:
        external = os.environ.get("REDRESS_SMTP_HOST")
        if external:
            self.smtp = (external, int(os.environ.get("REDRESS_SMTP_PORT", "25")))
            return
        sink = MailSink(self.ports.mail_sink, self.maildir, self.log_dir)
        sink.start()
        self._infra.append(sink)
        self.smtp = ("127.0.0.1", self.ports.mail_sink)

    def _service_env(self, spec: ServiceSpec, port: int, first: bool = True) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "REDRESS_SERVICE_NAME": spec.name,
                "REDRESS_DB_SCHEMA": spec.schema,
                "REDRESS_HTTP_PORT": str(port),
                "REDRESS_DATABASE_URL": self.database_url,
                "REDRESS_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "REDRESS_ADMIN_API_KEY": self.admin_key,
                "REDRESS_SMTP_HOST": self.smtp[0],
                "REDRESS_SMTP_PORT": str(self.smtp[1]),
                # One SMTP listener per stack: further intake replicas serve HTTP only.
                "REDRESS_INTAKE_SMTP_PORT": str(self.ports.intake_smtp if first else 0),
                "PYTHONUNBUFFERED": "1",
                "REDRESS_HTTP_WORKERS": os.environ.get(
                    f"REDRESS_{spec.env_name}_HTTP_WORKERS",
                    str(spec.local_workers),
                ),
            }
        )
        # The docs front door shows every service at the address a browser reaches it on.
        env.setdefault(
            "REDRESS_DOCS_SERVICES", json.dumps({s.name: self.url(s.name) for s in SERVICES})
        )
        env.setdefault("REDRESS_DOCS_ASYNCAPI_FILE", str(self.asyncapi_file))
        if self.smtp == ("127.0.0.1", self.ports.mail_sink):
            # The stack's own mail sink takes any number of connections. It shares the cores
            # with the stack, so every SMTP round trip (four per message) waits for a process
            # to be scheduled: with the default 32 connections the acknowledgements queued
            # behind them at 450 complaints/s (the dispatcher's 256 slots all claimed); 64
            # carry twice as many messages per round trip. A relay elsewhere answers in
            # about a millisecond, and commonly allows 20-50 connections from one client.
            env.setdefault("REDRESS_SMTP_POOL_SIZE", "64")
        if self._broker is not None:
            # The outboxes are the log of record for the embedded broker: keep them whole so
            # the log can be re-published from its beginning, and the inboxes with them.
            env.setdefault("REDRESS_OUTBOX_RETENTION_SECONDS", "0")
            env.setdefault("REDRESS_INBOX_RETENTION_SECONDS", "0")
        if self.test_clock_file is not None:
            # Tests only: every service reads its time offset from this one file.
            env["REDRESS_TEST_CLOCK_FILE"] = str(self.test_clock_file)
        return env

    def url(self, service_name: str) -> str:
        """Base URL of a service."""
        return f"http://127.0.0.1:{self.ports.services[service_name]}"

    def _ready(self, port: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def write_stack_file(self) -> None:
        description = {
            "services": {s.name: self.url(s.name) for s in SERVICES},
            "front_door": self.front_door,
            "replicas": {
                name: [f"http://127.0.0.1:{port}" for port in ports]
                for name, ports in self._replica_ports.items()
            },
            "intake_smtp": f"127.0.0.1:{self.ports.intake_smtp}",
            "database_url": self.database_url,
            "kafka_bootstrap_servers": self.kafka_bootstrap,
            "smtp": f"{self.smtp[0]}:{self.smtp[1]}",
            "maildir": str(self.maildir),
            "admin_api_key_file": str(self.data_dir / ADMIN_KEY_FILE),
            "logs": str(self.log_dir),
            "pid": os.getpid(),
            "processes": self.process_ids(),
        }
        # Written whole, then renamed: a reader never sees half a file.
        partial = self.data_dir / (STACK_FILE + ".partial")
        partial.write_text(json.dumps(description, indent=2))
        partial.replace(self.data_dir / STACK_FILE)

    def process_ids(self) -> dict[str, int]:
        """The pid of every running process of the stack, by name (for tests and operators)."""
        processes = [*self._services.values(), *(c.process for c in self._infra)]
        return {
            p.name: p.process.pid for p in processes if p is not None and p.running and p.process
        }

    def stop(self) -> None:
        """Stop services first (they drain), then the mail sink, broker and database."""
        self._stop_services()
        for component in reversed(self._infra):
            component.stop()
        (self.data_dir / STACK_FILE).unlink(missing_ok=True)


def _say(message: str) -> None:
    print(f"[redress] {message}", flush=True)


def run(
    data_dir: Path,
    free_ports: bool = False,
    replicas: dict[str, int] | None = None,
    test_clock_file: Path | None = None,
) -> int:
    """Start the stack and keep it up until SIGINT/SIGTERM, restarting what dies.

    ``test_clock_file`` (tests only) makes every service read its clock's offset from that
    file, so an end-to-end test can move time for the whole stack.
    """
    stack = Stack(
        data_dir=data_dir.resolve(),
        ports=StackPorts.free() if free_ports else StackPorts.defaults(),
        replicas=replicas or {},
        test_clock_file=test_clock_file.resolve() if test_clock_file else None,
    )
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop_requested.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    try:
        stack.start()
        _print_banner(stack, time.monotonic() - started)
        pids = stack.process_ids()
        while not stop_requested.is_set():
            stack.supervise()
            if stack.process_ids() != pids:
                pids = stack.process_ids()
                stack.write_stack_file()
            time.sleep(0.5)
        return 0
    except GaveUp as gave_up:
        _say(f"{gave_up}; see {stack.log_dir}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _say("stopping")
        stack.stop()
        _say("stopped")


def _print_banner(stack: Stack, seconds: float) -> None:
    lines = [
        f"Redress is up ({seconds:.1f}s). Ctrl-C stops everything.",
        "",
        f"  Open {stack.front_door}",
        "  (every service's API on one page: authorise once with the admin API key below)",
        "",
    ]
    for spec in SERVICES:
        lines.append(f"  {spec.name:<22} {stack.url(spec.name)}/docs")
    lines += [
        f"  {'intake SMTP':<22} smtp://127.0.0.1:{stack.ports.intake_smtp}",
        f"  {'outgoing mail':<22} {stack.maildir} (Maildir)"
        if stack.smtp[1] == stack.ports.mail_sink
        else f"  {'outgoing mail':<22} smtp://{stack.smtp[0]}:{stack.smtp[1]}",
        f"  {'PostgreSQL':<22} {stack.database_url}",
        f"  {'Kafka':<22} {stack.kafka_bootstrap}",
        f"  {'logs':<22} {stack.log_dir}",
        f"  {'admin API key':<22} {stack.data_dir / ADMIN_KEY_FILE}",
    ]
    print("\n".join(lines), flush=True)
