"""The one catalog of Redress services: ports, processes, schemas, topics and consumer groups.

The stack runner, the tests and the deployment manifests read this; nothing else should
hard-code a port or a topic-to-service mapping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from redress_shared.events import (
    ALERTS_TOPIC,
    CASES_TOPIC,
    COMPLAINTS_TOPIC,
    NOTIFICATIONS_TOPIC,
)


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service and what it talks to."""

    name: str
    package: str
    port: int
    schema: str
    publishes: tuple[str, ...]
    consumer_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extra_ports: dict[str, int] = field(default_factory=dict)
    http_workers: int = 1
    """Worker processes on the service's port in the local stack (at most one per core)."""

    @property
    def command(self) -> list[str]:
        """Arguments after the Python interpreter that start the service."""
        return ["-m", self.package, "serve"]

    @property
    def local_workers(self) -> int:
        """HTTP worker processes on this machine: ``http_workers``, at most one per core."""
        return min(self.http_workers, os.cpu_count() or 1)

    @property
    def env_name(self) -> str:
        """Short upper-case name used in environment variables (``INTAKE``)."""
        return self.schema.upper()


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="intake-service",
        package="intake_service",
        port=8001,
        schema="intake",
        publishes=(COMPLAINTS_TOPIC,),
        extra_ports={"smtp": 2525},
        # The front door: one process tops out near 1,000 complaints/s (CPU), a spike needs
        # more; the others are bound by the database and the broker, not by one core.
        http_workers=2,
    ),
    ServiceSpec(
        name="case-service",
        package="case_service",
        port=8002,
        schema="cases",
        publishes=(CASES_TOPIC,),
        consumer_groups={
            "case-service.complaints": (COMPLAINTS_TOPIC, NOTIFICATIONS_TOPIC, ALERTS_TOPIC)
        },
    ),
    ServiceSpec(
        name="notification-service",
        package="notification_service",
        port=8003,
        schema="notification",
        publishes=(NOTIFICATIONS_TOPIC,),
        consumer_groups={"notification-service.cases": (CASES_TOPIC, ALERTS_TOPIC)},
    ),
    ServiceSpec(
        name="analytics-service",
        package="analytics_service",
        port=8004,
        schema="analytics",
        publishes=(ALERTS_TOPIC,),
        consumer_groups={"analytics-service.facts": (COMPLAINTS_TOPIC, CASES_TOPIC)},
    ),
)

TOPICS: tuple[str, ...] = (COMPLAINTS_TOPIC, CASES_TOPIC, NOTIFICATIONS_TOPIC, ALERTS_TOPIC)
TOPIC_PARTITIONS = 3

POSTGRES_PORT = 5433
KAFKA_PORT = 9092
MAIL_SINK_PORT = 1025
DATABASE_NAME = "redress"


def service(name: str) -> ServiceSpec:
    """Look a service up by its name (``case-service``) or schema (``case``)."""
    for spec in SERVICES:
        if name in (spec.name, spec.schema):
            return spec
    raise KeyError(name)
