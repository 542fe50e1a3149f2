"""Figure queries over the fact rows: SLA per priority and team, cases at risk, outcomes of
a cohort, satisfaction per period, repeat complainers and complaints per tier."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Row,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.facts.model import CLOCK_STOPPED_COLUMN, SlaClock
from analytics_service.figures.model import (
    OPEN_CASE_STATUSES,
    VALIDITIES,
    CaseAtRisk,
    Outcomes,
    SlaGroup,
    outcomes_of,
    sla_group_of,
    worst_clock,
)

progress = tables.case_progress


def _stopped_late(clock: SlaClock) -> Any:
    """The clock stopped after the deadline set at opening, with no pause that could have
    moved it: a breach even if the case service's timer had not reported it yet."""
    stopped = progress.c[CLOCK_STOPPED_COLUMN[clock]]
    due = progress.c[f"{clock.value}_due_at"]
    return func.coalesce(and_(stopped > due, ~progress.c.was_paused), false())


def _overdue(clock: SlaClock, now: datetime) -> Any:
    """The deadline set at opening has passed, with no pause that could have moved it."""
    due = progress.c[f"{clock.value}_due_at"]
    return func.coalesce(and_(due < now, ~progress.c.was_paused), false())


SLA_WORK_MEM = "64MB"


def _minutes(stop: Any, start: Any) -> Any:
    # ``date_part`` is double precision, which the percentiles take anyway; ``extract`` is
    # numeric, several times slower to compute and sort per case.
    return func.date_part("epoch", stop - start) / 60.0


async def sla_figures(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    priority: str | None = None,
    team: str | None = None,
) -> list[SlaGroup]:
    """SLA figures of the cases opened in [start, end): per priority and team, per priority,
    and in total. A clock is *met* when it stopped without a breach, *breached* when the case
    service reported a breach, *pending* otherwise (still running, or cancelled). Times run
    from the complaint's receipt (when the clocks start) to the stop, in calendar minutes."""
    started = func.coalesce(progress.c.received_at, progress.c.opened_at)
    base = select(
        func.coalesce(progress.c.priority, literal("unknown")).label("priority"),
        func.coalesce(progress.c.team, literal("unassigned")).label("team"),
        started.label("started_at"),
        *(progress.c[column] for column in CLOCK_STOPPED_COLUMN.values()),
        *(progress.c[f"{clock.value}_breached_at"] for clock in SlaClock),
        *(_stopped_late(clock).label(f"{clock.value}_late") for clock in SlaClock),
    ).where(progress.c.opened_at >= start, progress.c.opened_at < end)
    if priority is not None:
        base = base.where(progress.c.priority == priority)
    if team is not None:
        base = base.where(func.coalesce(progress.c.team, literal("unassigned")) == team)
    rows = base.subquery("sla_cases")
    measures: list[Any] = [func.count().label("cases")]
    for clock, stopped_column in CLOCK_STOPPED_COLUMN.items():
        stopped = rows.c[stopped_column]
        breached = or_(
            rows.c[f"{clock.value}_breached_at"].is_not(None), rows.c[f"{clock.value}_late"]
        )
        minutes = _minutes(stopped, rows.c.started_at)
        measures += [
            func.count().filter(and_(stopped.is_not(None), ~breached)).label(f"{clock.value}_met"),
            func.count().filter(breached).label(f"{clock.value}_breached"),
            # Both percentiles from one sort of the group's times.
            func.percentile_cont(postgresql.array([0.5, 0.9]))
            .within_group(minutes)
            .filter(stopped.is_not(None))
            .label(f"{clock.value}_percentiles"),
        ]
    query = (
        select(
            func.grouping(rows.c.priority).label("all_priorities"),
            func.grouping(rows.c.team).label("all_teams"),
            rows.c.priority,
            rows.c.team,
            *measures,
        )
        .group_by(
            func.grouping_sets(
                tuple_(rows.c.priority, rows.c.team), tuple_(rows.c.priority), tuple_()
            )
        )
        # Totals last: per priority and team, then per priority, then everything.
        .order_by(
            func.grouping(rows.c.priority),
            rows.c.priority,
            func.grouping(rows.c.team),
            rows.c.team,
        )
    )
    # The percentiles sort every group's times (a year is ~260 000 cases at a million
    # complaints): in memory rather than in temporary files. SET LOCAL lasts for the
    # session's (auto-begun, read-only) transaction, which may be a shared snapshot.
    await session.execute(text(f"SET LOCAL work_mem = '{SLA_WORK_MEM}'"))
    result = (await session.execute(query)).all()
    return [sla_group_of(row._mapping) for row in result]


async def cases_at_risk(
    session: AsyncSession,
    *,
    now: datetime,
    priority: str | None = None,
    team: str | None = None,
    limit: int = 100,
) -> tuple[list[CaseAtRisk], int]:
    """Open cases at ``now`` with a clock that has not stopped and warned, breached or is past
    its deadline; breached first, then by due time; and how many there are in all."""
    breached_clocks, warned_clocks = [], []
    for clock, stopped_column in CLOCK_STOPPED_COLUMN.items():
        # An open case's resolution clock is running by definition (reopening restarts it).
        running = (
            literal(True) if clock is SlaClock.RESOLVE else progress.c[stopped_column].is_(None)
        )
        breached = or_(progress.c[f"{clock.value}_breached_at"].is_not(None), _overdue(clock, now))
        warned = progress.c[f"{clock.value}_warned_at"].is_not(None)
        due = progress.c[f"{clock.value}_due_at"]
        breached_clocks.append((and_(running, breached), due))
        warned_clocks.append((and_(running, warned), due))
    any_breached = or_(*(flag for flag, _ in breached_clocks))
    where = [
        progress.c.status.in_(OPEN_CASE_STATUSES),
        or_(any_breached, *(flag for flag, _ in warned_clocks)),
    ]
    if priority is not None:
        where.append(progress.c.priority == priority)
    if team is not None:
        where.append(func.coalesce(progress.c.team, literal("unassigned")) == team)
    # The order of ``worst_clock``, in SQL so that only the first ``limit`` rows are read:
    # breached first, then by the deadline of the clock most in trouble.
    earliest_breached_due = func.least(*(case((flag, due)) for flag, due in breached_clocks))
    earliest_warned_due = func.least(*(case((flag, due)) for flag, due in warned_clocks))
    query = (
        select(progress)
        .where(*where)
        .order_by(
            any_breached.desc(),
            case((any_breached, earliest_breached_due), else_=earliest_warned_due)
            .asc()
            .nulls_last(),
            progress.c.case_id,
        )
        .limit(limit)
    )
    total = await session.scalar(select(func.count()).select_from(progress).where(*where))
    rows = (await session.execute(query)).all()
    return [worst_clock(row._mapping, now) for row in rows], total or 0


async def outcomes(session: AsyncSession, *, start: datetime, end: datetime) -> Outcomes:
    """Outcomes of the cases opened in [start, end): each case's latest decision, its
    remedies in their latest state (declined ones count by type but carry no value), and
    how many resolved cases were reopened."""
    decisions, remedies = tables.decision_facts, tables.remedy_facts
    given = remedies.c.status != "declined"
    # One pass over the cohort (an index-only scan), each case with its decision.
    counts = (
        await session.execute(
            select(
                func.count().label("cases"),
                func.count().filter(progress.c.resolved_at.is_not(None)).label("resolved"),
                func.count()
                .filter(and_(progress.c.resolved_at.is_not(None), progress.c.reopened))
                .label("reopened"),
                *(
                    func.count().filter(decisions.c.validity == validity).label(validity)
                    for validity in VALIDITIES
                ),
            )
            .select_from(progress)
            .outerjoin(decisions, decisions.c.case_id == progress.c.case_id)
            .where(progress.c.opened_at >= start, progress.c.opened_at < end)
        )
    ).one()
    # One pass over the cohort's remedies, per type and currency (a handful of rows),
    # summed up per type and per currency below.
    valued = and_(given, remedies.c.amount.is_not(None), remedies.c.currency.is_not(None))
    per_type_and_currency = (
        await session.execute(
            select(
                remedies.c.remedy_type,
                remedies.c.currency,
                func.count().label("remedies"),
                func.count().filter(remedies.c.status == "declined").label("declined"),
                func.count().filter(remedies.c.status == "delivered").label("delivered"),
                func.count().filter(valued).label("valued"),
                func.sum(remedies.c.amount).filter(valued).label("total"),
            )
            .select_from(progress)
            .join(remedies, remedies.c.case_id == progress.c.case_id)
            .where(progress.c.opened_at >= start, progress.c.opened_at < end)
            .group_by(remedies.c.remedy_type, remedies.c.currency)
        )
    ).all()
    return outcomes_of(counts._mapping, per_type_and_currency)


async def satisfaction(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    bucket: str,
    time_zone: str,
) -> list[dict[str, Any]]:
    """Per period (aligned in ``time_zone``): the surveys recorded in it (mean coefficient,
    would-recommend and would-continue answers), and the cases closed in it with how many
    of those answered a survey (the response rate)."""
    surveys = tables.satisfaction_facts

    def period_of(moment: Any) -> Any:
        return func.date_trunc(bucket, func.timezone(time_zone, moment)).label("period")

    survey_period = period_of(surveys.c.recorded_at)
    closed_period = period_of(progress.c.closed_at)
    answered = (
        await session.execute(
            select(
                survey_period,
                func.count().label("surveys"),
                func.avg(surveys.c.coefficient).label("coefficient"),
                func.count(surveys.c.would_recommend).label("recommend_answers"),
                func.count().filter(surveys.c.would_recommend.is_(True)).label("recommend"),
                func.count(surveys.c.would_continue).label("continue_answers"),
                func.count().filter(surveys.c.would_continue.is_(True)).label("continue"),
            )
            .where(surveys.c.recorded_at >= start, surveys.c.recorded_at < end)
            .group_by(survey_period)
        )
    ).all()
    closed = (
        await session.execute(
            select(
                closed_period,
                func.count().label("closed"),
                func.count(surveys.c.case_id).label("closed_answered"),
            )
            .select_from(progress)
            .outerjoin(surveys, surveys.c.case_id == progress.c.case_id)
            .where(progress.c.closed_at >= start, progress.c.closed_at < end)
            .group_by(closed_period)
        )
    ).all()
    periods: dict[Any, dict[str, Any]] = {}
    for row in answered:
        periods.setdefault(row.period, {}).update(row._asdict())
    for row in closed:
        periods.setdefault(row.period, {}).update(row._asdict())
    return [periods[period] for period in sorted(periods)]


async def repeat_complainers(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    min_complaints: int,
    limit: int,
) -> tuple[list[Row], int, int]:
    """Customers with at least ``min_complaints`` complaints received in [start, end), most
    complaints first; how many such customers there are; and how many complained at all."""
    complaints = tables.complaint_facts
    per_customer = (
        select(
            complaints.c.customer_key,
            func.count().label("complaints"),
            func.min(complaints.c.received_at).label("first_at"),
            func.max(complaints.c.received_at).label("last_at"),
        )
        .where(complaints.c.received_at >= start, complaints.c.received_at < end)
        .group_by(complaints.c.customer_key)
        .subquery("per_customer")
    )
    repeat = per_customer.c.complaints >= min_complaints
    totals = (
        await session.execute(
            select(func.count().filter(repeat).label("repeat"), func.count().label("all"))
        )
    ).one()
    rows = (
        await session.execute(
            select(per_customer)
            .where(repeat)
            .order_by(
                per_customer.c.complaints.desc(),
                per_customer.c.last_at.desc(),
                per_customer.c.customer_key,
            )
            .limit(limit)
        )
    ).all()
    return list(rows), totals.repeat, totals.all


async def complaints_per_tier(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[Row]:
    """Complaints received in [start, end) and distinct customers, per customer tier (the
    tier the case service knew when it opened the complaint's case; ``unknown`` before)."""
    complaints = tables.complaint_facts
    # The tier is kept on the complaint's fact row (copied from its case): no join; and the
    # distinct customers are counted by grouping twice (hashing), not by sorting every row.
    per_customer = (
        select(
            func.coalesce(complaints.c.customer_tier, literal("unknown")).label("tier"),
            complaints.c.customer_key,
            func.count().label("complaints"),
        )
        .where(complaints.c.received_at >= start, complaints.c.received_at < end)
        .group_by(literal_column("1"), complaints.c.customer_key)
        .subquery("per_customer")
    )
    query = (
        select(
            per_customer.c.tier,
            cast(func.sum(per_customer.c.complaints), Integer).label("complaints"),
            func.count().label("customers"),
        )
        .group_by(per_customer.c.tier)
        .order_by(per_customer.c.tier)
    )
    return list((await session.execute(query)).all())
