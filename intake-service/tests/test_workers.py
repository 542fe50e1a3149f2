"""Intake with two worker processes (``REDRESS_HTTP_WORKERS=2``), over real processes: both
workers accept HTTP on the one port and SMTP on the listener's port, and the service stops
cleanly: SIGTERM to the supervisor stops every worker, and so does SIGKILL (no orphan keeps
the ports); ``/metrics`` counts every worker's requests, whichever worker answers."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redress_stack.infra import free_port
from redress_testing import eventually


def complaint_mail(index: int) -> bytes:
    return (
        f"From: Maja <maja.workers{index}@example.si>\r\n"
        "To: complaints@example.com\r\n"
        "Subject: Invoice\r\n"
        "\r\n"
        f"Invoice {index} was charged twice.\r\n"
    ).encode()


class TwoWorkers:
    """``python -m intake_service serve`` with two workers, its ports and its processes."""

    def __init__(self, settings, log_path) -> None:  # noqa: ANN001
        self.http_port, self.smtp_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("REDRESS_")}
        env |= {
            "REDRESS_DATABASE_URL": settings.database_url,
            "REDRESS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "REDRESS_ADMIN_API_KEY": settings.admin_api_key.get_secret_value(),
            "REDRESS_HTTP_PORT": str(self.http_port),
            "REDRESS_INTAKE_SMTP_PORT": str(self.smtp_port),
            "REDRESS_HTTP_WORKERS": "2",
            # The supervisor's metrics directory; a supervisor killed with SIGKILL leaves it.
            "TMPDIR": str(log_path.parent),
        }
        self.admin_key = env["REDRESS_ADMIN_API_KEY"]
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "intake_service", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.supervisor = psutil.Process(self.process.pid)
        self._seen: dict[int, psutil.Process] = {}

    def workers(self) -> list[psutil.Process]:
        """The worker processes (multiprocessing's resource tracker is not one)."""
        workers = [
            child
            for child in self.supervisor.children()
            if "resource_tracker" not in " ".join(child.cmdline())
        ]
        self._seen |= {worker.pid: worker for worker in workers}
        return workers

    async def ready(self) -> bool:
        """Both workers are up and intake answers ready."""
        if self.process.poll() is not None:
            raise AssertionError(f"intake exited with {self.process.returncode}")
        if len(self.workers()) != 2:
            return False
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{self.url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    def server_of(self, client: socket.socket, server_port: int) -> int | None:
        """The pid of the worker holding the server side of ``client``'s connection."""
        local_port = client.getsockname()[1]
        for worker in self.workers():
            for connection in worker.net_connections(kind="tcp"):
                if (
                    connection.laddr.port == server_port
                    and connection.raddr
                    and connection.raddr.port == local_port
                ):
                    return worker.pid
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for worker in self._seen.values():
            try:
                worker.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def two_workers(intake_settings, tmp_path) -> Iterator[TwoWorkers]:
    service = TwoWorkers(intake_settings, tmp_path / "intake.log")
    try:
        yield service
    finally:
        service.stop()


def http_get(port: int, path: str) -> tuple[socket.socket, bytes]:
    """A kept-open connection and the answer to one GET on it."""
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: intake\r\n\r\n".encode())
    return client, client.recv(65536)


def http_get_whole(port: int, path: str) -> tuple[socket.socket, bytes]:
    """A kept-open connection and the whole body of the answer to one GET on it."""
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: intake\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += client.recv(65536)
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += client.recv(65536)
    return client, body


def complaints_posted(metrics: str) -> float:
    """``POST /v1/complaints`` requests counted in a scrape of ``/metrics``, any status."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "redress_http_requests_total"
        and sample.labels.get("method") == "POST"
        and sample.labels.get("route") == "/v1/complaints"
    )


async def test_metrics_count_every_workers_requests(two_workers):
    service = two_workers
    await eventually(service.ready)
    workers = {worker.pid for worker in service.workers()}

    posted = 8
    # A connection per request, so that both workers take some.
    headers = {"Authorization": f"Bearer {service.admin_key}"}
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=headers, limits=limits) as client:
        for index in range(posted):
            answer = await client.post(
                f"{service.url}/v1/complaints",
                json={
                    "customer": {"email": f"ana.metrics{index}@example.com"},
                    "body": f"Charger {index} broke.",
                },
            )
            assert answer.status_code == 202, answer.text

    # Scrape until each worker has answered at least twice: every answer counts them all.
    scrapes: dict[int, int] = dict.fromkeys(workers, 0)
    open_connections = []
    while min(scrapes.values()) < 2:
        client, metrics = await asyncio.to_thread(http_get_whole, service.http_port, "/metrics")
        open_connections.append(client)
        scrapes[service.server_of(client, service.http_port)] += 1
        assert complaints_posted(metrics.decode()) == posted
    for client in open_connections:
        client.close()


async def test_two_workers_serve_http_and_smtp_and_stop_on_sigterm(two_workers):
    service = two_workers
    await eventually(service.ready)
    workers = {worker.pid for worker in service.workers()}

    # Each connection is accepted by one worker; keep opening them until both have served.
    served_http: set[int] = set()
    open_connections = []
    while served_http != workers:
        client, answer = await asyncio.to_thread(http_get, service.http_port, "/healthz")
        open_connections.append(client)
        assert answer.startswith(b"HTTP/1.1 200")
        served_http.add(service.server_of(client, service.http_port))
    for client in open_connections:
        client.close()

    # SMTP: every worker listens on the port itself (SO_REUSEPORT), and each takes mail.
    for worker in service.workers():
        listening = {c.laddr.port for c in worker.net_connections("tcp") if c.status == "LISTEN"}
        assert service.smtp_port in listening

    def send_mail(index: int) -> tuple[int | None, int, bytes]:
        with smtplib.SMTP("127.0.0.1", service.smtp_port, timeout=60) as client:
            client.ehlo()
            pid = service.server_of(client.sock, service.smtp_port)
            client.mail("maja.workers@example.si")
            client.rcpt("complaints@example.com")
            code, reply = client.data(complaint_mail(index))
            return pid, code, reply

    served_smtp: set[int | None] = set()
    while served_smtp != workers:
        pid, code, reply = await asyncio.to_thread(send_mail, len(served_smtp))
        assert code == 250 and b"Accepted as RDR-" in reply
        served_smtp.add(pid)

    headers = {"Authorization": f"Bearer {service.admin_key}"}
    async with httpx.AsyncClient(headers=headers) as client:
        answer = await client.post(
            f"{service.url}/v1/complaints",
            json={"customer": {"email": "ana.workers@example.com"}, "body": "Broken charger."},
        )
    assert answer.status_code in (200, 202)

    processes = [service.supervisor, *service.workers()]
    service.process.send_signal(signal.SIGTERM)
    _gone, alive = await asyncio.to_thread(psutil.wait_procs, processes, 60)
    assert not alive
    assert service.process.wait() == 0


async def test_workers_stop_when_their_supervisor_is_killed(two_workers):
    service = two_workers
    await eventually(service.ready)
    workers = service.workers()

    service.process.send_signal(signal.SIGKILL)
    service.process.wait()
    _gone, alive = await asyncio.to_thread(psutil.wait_procs, workers, 60)
    assert not alive
