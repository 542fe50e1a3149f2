"""Analytics use cases: record facts from events (inside the consumer's transaction) and
answer figure queries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from redress_shared.events import CaseOpenedV1, ComplaintReceivedV1, EventEnvelope
from sqlalchemy import String, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service import tables
from analytics_service.models import Bucket, Dimension, check_range, region_of


async def record_complaint(session: AsyncSession, event: EventEnvelope) -> bool:
    """Insert the fact row of a received complaint (a repeat changes nothing); whether it is
    new."""
    complaint = event.payload()
    assert isinstance(complaint, ComplaintReceivedV1)
    product = complaint.product.sku or complaint.product.name if complaint.product else None
    inserted = await session.scalar(
        insert(tables.complaint_facts)
        .values(
            complaint_id=complaint.complaint_id,
            received_at=complaint.received_at,
            channel=complaint.channel,
            category=complaint.category,
            product=product,
            supplier=complaint.supplier,
            language=complaint.language,
            customer_key=complaint.customer.customer_key,
            region=region_of(complaint.customer.phone),
            # The opening priority and customer tier of the complaint's case, if it came first.
            priority=_from_case("priority", complaint.complaint_id),
            customer_tier=_from_case("customer_tier", complaint.complaint_id),
        )
        .on_conflict_do_nothing(index_elements=["complaint_id"])
        .returning(tables.complaint_facts.c.complaint_id)
    )
    return inserted is not None


def _from_case(column: str, complaint_id: object):  # noqa: ANN202
    """A column of the complaint's case fact row (the first case recorded), as SQL."""
    cases = tables.case_facts
    return select(cases.c[column]).where(cases.c.complaint_id == complaint_id).scalar_subquery()


async def record_case_opened(session: AsyncSession, event: EventEnvelope) -> None:
    """Upsert the fact row of an opened case, and copy its priority and customer tier onto the
    complaint's fact row (if the complaint came first) so that priority trends and the
    per-tier figure need no join. Either order ends with the values of the first case
    recorded for the complaint, as the join gave."""
    opened = event.payload()
    assert isinstance(opened, CaseOpenedV1)
    await session.execute(
        insert(tables.case_facts)
        .values(
            case_id=opened.case_id,
            complaint_id=opened.complaint_id,
            priority=opened.priority,
            customer_tier=opened.customer_tier,
            opened_at=opened.opened_at,
        )
        # Any conflict: a repeat of this case, or (should the case service ever misbehave)
        # a second case for the same complaint; the first one counts.
        .on_conflict_do_nothing()
    )
    complaints, cases = tables.complaint_facts, tables.case_facts
    await session.execute(
        complaints.update()
        .where(
            complaints.c.complaint_id == opened.complaint_id,
            cases.c.complaint_id == complaints.c.complaint_id,
            or_(
                complaints.c.priority.is_distinct_from(cases.c.priority),
                complaints.c.customer_tier.is_distinct_from(cases.c.customer_tier),
            ),
        )
        .values(priority=cases.c.priority, customer_tier=cases.c.customer_tier)
    )


def _trend_source(group_by: Dimension):  # noqa: ANN202
    """The rows a trend counts and the column it groups them by."""
    facts = tables.complaint_facts
    # Every dimension, priority included (the case's opening priority, kept on the row), is a
    # column of the fact row: a trend is an index-only scan of the covering receipt-time index.
    return facts, facts.c[group_by.value]


async def complaint_totals(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    start: datetime,
    end: datetime,
    group_by: Dimension,
) -> dict[str, int]:
    """Complaints received in [start, end) per group (for the change against a window)."""
    facts = tables.complaint_facts
    source, dimension = _trend_source(group_by)
    group = func.coalesce(cast(dimension, String), literal("unknown")).label("group")
    query = (
        select(group, func.count().label("count"))
        .select_from(source)
        .where(facts.c.received_at >= start, facts.c.received_at < end)
        .group_by(group)
    )
    async with session_factory() as session:
        return {row.group: row.count for row in (await session.execute(query)).all()}


async def complaint_trend(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    group_by: Dimension,
    time_zone: ZoneInfo,
    max_buckets: int,
) -> list[tuple[datetime, str, int]]:
    """Complaint counts per bucket (in ``time_zone``) and group, received in [start, end)."""
    check_range(start, end, bucket, max_buckets)
    facts = tables.complaint_facts
    local_time = func.timezone(time_zone.key, facts.c.received_at)
    bucket_start = func.date_trunc(bucket.value, local_time).label("bucket_start")
    source, dimension = _trend_source(group_by)
    group = func.coalesce(cast(dimension, String), literal("unknown")).label("group")
    query = (
        select(bucket_start, group, func.count().label("count"))
        .select_from(source)
        .where(facts.c.received_at >= start, facts.c.received_at < end)
        .group_by(bucket_start, group)
        .order_by(bucket_start, group)
    )
    async with session_factory() as session:
        rows = (await session.execute(query)).all()
    return [(row.bucket_start.replace(tzinfo=time_zone), row.group, row.count) for row in rows]
