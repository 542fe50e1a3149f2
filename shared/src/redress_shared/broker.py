"""Kafka clients beside the consumer loop: the producer every service publishes with, and the
creation of the topics (with their dead-letter topics)."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from redress_shared.events import dead_letter_topic
from redress_shared.settings import ServiceSettings

TOPIC_ALREADY_EXISTS = 36


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas; idempotence is a setting (Tansu lacks it)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.kafka_client_id_prefix}-{settings.service_name}",
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=2,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: Sequence[str], partitions: int = 3, replication: int = 1
) -> None:
    """Create ``topics`` and their dead-letter topics if they do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        wanted = [*topics, *(dead_letter_topic(t) for t in topics)]
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [
                NewTopic(name, num_partitions=partitions, replication_factor=replication)
                for name in missing
            ]
        )
        for name, code, *_ in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"could not create topic {name}: error code {code}")
    finally:
        await admin.close()
