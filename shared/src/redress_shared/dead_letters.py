"""Dead letters: list what a consumer set aside on ``<topic>.dlq`` and re-drive it.

A record reaches the dead-letter topic only when it failed by itself (an outage pauses the
partition instead, see :mod:`redress_shared.kafka`). Once the cause is fixed (a corrected
handler, a released bug fix), re-driving publishes the record again on its original topic
with its original key, value and CloudEvents headers. Every consumer group reads it again;
those that applied it before drop it by its event id (the inbox), so re-driving twice or
re-driving a record another group had applied is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from redress_shared.events import dead_letter_topic

DLQ_HEADER_PREFIX = "redress_dlq_"
REDRIVEN_FROM_HEADER = "redress_redriven_from"


@dataclass(frozen=True)
class DeadLetter:
    """One record on a dead-letter topic, with why and where it failed."""

    topic: str
    """The original topic the record is re-driven to."""
    partition: int
    """Partition of the dead-letter topic."""
    offset: int
    """Offset on the dead-letter topic (with ``partition``, what to re-drive)."""
    source: str
    consumer: str
    error: str
    event_id: str | None
    event_type: str | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def _header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for header, value in headers:
        if header == name:
            return value.decode(errors="replace")
    return None


async def read_dead_letters(
    bootstrap_servers: str, topic: str, *, limit: int = 1000, idle_ms: int = 1000
) -> list[DeadLetter]:
    """The first ``limit`` dead letters of ``topic`` (oldest first per partition).

    Read without a consumer group from the beginning until a fetch of ``idle_ms`` brings
    nothing (the end offset the broker reports is not trusted, see DESIGN rule 9).
    """
    dlq = dead_letter_topic(topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(dlq, p) for p in sorted(consumer.partitions_for_topic(dlq) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while len(letters) < limit:
            batches = await consumer.getmany(timeout_ms=idle_ms, max_records=limit)
            if not any(batches.values()):
                break
            for records in batches.values():
                for record in records:
                    headers = tuple(record.headers or ())
                    letters.append(
                        DeadLetter(
                            topic=topic,
                            partition=record.partition,
                            offset=record.offset,
                            source=_header(headers, DLQ_HEADER_PREFIX + "source") or "",
                            consumer=_header(headers, DLQ_HEADER_PREFIX + "consumer") or "",
                            error=_header(headers, DLQ_HEADER_PREFIX + "error") or "",
                            event_id=_header(headers, "ce_id"),
                            event_type=_header(headers, "ce_type"),
                            key=record.key,
                            value=record.value,
                            headers=headers,
                        )
                    )
        return sorted(letters, key=lambda d: (d.partition, d.offset))[:limit]
    finally:
        await consumer.stop()


async def redrive(
    producer: AIOKafkaProducer,
    letters: Iterable[DeadLetter],
) -> int:
    """Publish ``letters`` again on their original topic (acks as the producer says); return
    how many went out."""
    sent = 0
    for letter in letters:
        headers = [
            (name, value)
            for name, value in letter.headers
            if not name.startswith(DLQ_HEADER_PREFIX) and name != REDRIVEN_FROM_HEADER
        ]
        headers.append(
            (
                REDRIVEN_FROM_HEADER,
                f"{dead_letter_topic(letter.topic)}/{letter.partition}/{letter.offset}".encode(),
            )
        )
        await producer.send_and_wait(
            letter.topic, value=letter.value, key=letter.key, headers=headers
        )
        sent += 1
    return sent


__all__ = ["DeadLetter", "read_dead_letters", "redrive"]
