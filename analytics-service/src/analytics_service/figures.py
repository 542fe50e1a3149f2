"""Case figures: facts merged from case events (inside the consumer's transaction) and the
SLA, outcome, satisfaction and customer queries over them.

Every fact is merged with a rule that does not depend on arrival order (earliest stop time,
newest team, highest status version, latest remedy state), so redelivered, reordered and
late events leave the same rows, and a replay from offset 0 rebuilds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from redress_shared.clock import Clock
from redress_shared.events import (
    CaseAssignedV1,
    CaseOpenedV1,
    CaseRemedyChangedV1,
    CaseResponseAddedV1,
    CaseSatisfactionRecordedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
    EventEnvelope,
)
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
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service import tables
from analytics_service.alerts import settle_condition
from analytics_service.models import (
    ACKNOWLEDGING_ACTIONS,
    CLOCK_STOPPED_COLUMN,
    FIRST_RESPONSE_ACTIONS,
    OPEN_CASE_STATUSES,
    SlaClock,
    month_of,
    satisfaction_conditions,
)

progress = tables.case_progress

# How each case-progress column merges an incoming value with the stored one.
_EARLIEST = {
    "acknowledged_at",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    *(f"{clock.value}_warned_at" for clock in SlaClock),
    *(f"{clock.value}_breached_at" for clock in SlaClock),
}
_FIRST_KNOWN = {
    "complaint_id",
    "received_at",
    "reference",
    "opened_at",
    "priority",
    "customer_tier",
    "acknowledge_due_at",
    "first_response_due_at",
    "resolve_due_at",
}


async def _merge_progress(session: AsyncSession, case_id: Any, **values: Any) -> None:
    """Upsert one case's progress row, merging each given column by its rule."""
    statement = insert(progress).values(case_id=case_id, **values)
    excluded = statement.excluded
    merged: dict[str, Any] = {}
    for column in values:
        if column in _EARLIEST:
            merged[column] = func.least(progress.c[column], excluded[column])
        elif column in _FIRST_KNOWN:
            merged[column] = func.coalesce(progress.c[column], excluded[column])
        elif column in ("reopened", "was_paused"):
            merged[column] = progress.c[column] | excluded[column]
    if "team" in values:
        newer_team = or_(
            progress.c.team_changed_at.is_(None),
            excluded.team_changed_at >= progress.c.team_changed_at,
        )
        merged["team"] = case((newer_team, excluded.team), else_=progress.c.team)
        merged["team_changed_at"] = func.greatest(
            progress.c.team_changed_at, excluded.team_changed_at
        )
    if "status" in values:
        newer_status = or_(
            progress.c.status_version.is_(None),
            excluded.status_version > progress.c.status_version,
        )
        merged["status"] = case((newer_status, excluded.status), else_=progress.c.status)
        merged["status_version"] = func.greatest(progress.c.status_version, excluded.status_version)
    await session.execute(statement.on_conflict_do_update(index_elements=["case_id"], set_=merged))


async def record_case_progress(session: AsyncSession, event: EventEnvelope) -> None:
    """Merge what a case event says about the case's SLA clocks, team and status."""
    payload = event.payload()
    if isinstance(payload, CaseOpenedV1):
        team = {"team": payload.team, "team_changed_at": payload.opened_at} if payload.team else {}
        await _merge_progress(
            session,
            payload.case_id,
            complaint_id=payload.complaint_id,
            reference=payload.reference,
            opened_at=payload.opened_at,
            priority=payload.priority,
            customer_tier=payload.customer_tier,
            # The complaint's receipt (when the clocks start), if the complaint came first.
            received_at=select(tables.complaint_facts.c.received_at)
            .where(tables.complaint_facts.c.complaint_id == payload.complaint_id)
            .scalar_subquery(),
            # Version 0: any lifecycle change that follows is newer than the opening status.
            status=payload.status,
            status_version=0,
            acknowledge_due_at=payload.due.acknowledge_by,
            first_response_due_at=payload.due.first_response_by,
            resolve_due_at=payload.due.resolve_by,
            **team,
        )
    elif isinstance(payload, CaseStatusChangedV1):
        at = payload.occurred_at
        stops: dict[str, Any] = {}
        if payload.action in ACKNOWLEDGING_ACTIONS:
            stops["acknowledged_at"] = at
        if payload.action in FIRST_RESPONSE_ACTIONS:
            stops["first_responded_at"] = at
        if payload.to_status == "resolved":
            stops["resolved_at"] = at
        if payload.to_status == "closed":
            stops["closed_at"] = at
        await _merge_progress(
            session,
            payload.case_id,
            status=payload.to_status,
            status_version=payload.version,
            reopened=payload.action == "reopen",
            was_paused=payload.to_status == "awaiting_customer",
            **stops,
        )
    elif isinstance(payload, CaseResponseAddedV1):
        at = payload.occurred_at
        await _merge_progress(session, payload.case_id, acknowledged_at=at, first_responded_at=at)
    elif isinstance(payload, CaseSlaV1):
        kind = "breached" if event.type.endswith("sla_breached.v1") else "warned"
        await _merge_progress(
            session, payload.case_id, **{f"{payload.clock}_{kind}_at": payload.occurred_at}
        )
    elif isinstance(payload, CaseAssignedV1):
        await _merge_progress(
            session, payload.case_id, team=payload.team, team_changed_at=payload.occurred_at
        )
    else:  # pragma: no cover - the consumer routes only the types above here
        raise TypeError(f"no case progress in {event.type}")


async def record_complaint_receipt(session: AsyncSession, event: EventEnvelope) -> None:
    """A complaint's fact row was just recorded: copy its receipt time onto its case's
    progress row, if the case came first (so the SLA figures need no join)."""
    complaint = event.payload()
    await session.execute(
        progress.update()
        .where(
            progress.c.complaint_id == complaint.complaint_id,
            progress.c.received_at.is_(None),
        )
        .values(received_at=complaint.received_at)
    )


async def record_remedy(session: AsyncSession, event: EventEnvelope) -> None:
    """Keep each remedy's newest state (an older, late change does not overwrite it)."""
    remedy = event.payload()
    assert isinstance(remedy, CaseRemedyChangedV1)
    facts = tables.remedy_facts
    statement = insert(facts).values(
        remedy_id=remedy.remedy_id,
        case_id=remedy.case_id,
        remedy_type=remedy.remedy_type,
        status=remedy.status,
        amount=Decimal(remedy.amount) if remedy.amount is not None else None,
        currency=remedy.currency,
        changed_at=remedy.occurred_at,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["remedy_id"],
            set_={
                column: excluded[column]
                for column in ("remedy_type", "status", "amount", "currency", "changed_at")
            },
            where=facts.c.changed_at < excluded.changed_at,
        )
    )


async def record_satisfaction(
    session: AsyncSession, clock: Clock, event: EventEnvelope, min_answers: int = 10
) -> None:
    """Keep each case's newest satisfaction survey, then raise or clear the satisfaction
    alerts of its month (and of the month of the survey it replaced)."""
    survey = event.payload()
    assert isinstance(survey, CaseSatisfactionRecordedV1)
    facts = tables.satisfaction_facts
    replaced = await session.scalar(
        select(facts.c.recorded_at).where(facts.c.case_id == survey.case_id)
    )
    statement = insert(facts).values(
        case_id=survey.case_id,
        coefficient=Decimal(survey.coefficient),
        would_recommend=survey.would_recommend,
        would_continue=survey.would_continue,
        recorded_at=survey.occurred_at,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["case_id"],
            set_={
                column: excluded[column]
                for column in ("coefficient", "would_recommend", "would_continue", "recorded_at")
            },
            where=facts.c.recorded_at < excluded.recorded_at,
        )
    )
    months = {month_of(survey.occurred_at)}
    if replaced is not None:
        months.add(month_of(replaced))
    for month in sorted(months):
        await evaluate_satisfaction(session, clock, month, min_answers)


SATISFACTION = "satisfaction"


async def evaluate_satisfaction(
    session: AsyncSession, clock: Clock, month: tuple[date, date], min_answers: int
) -> None:
    """Raise or clear the month's satisfaction alerts (calendar months in UTC, over the
    surveys recorded in them; subject ``all``)."""
    surveys = tables.satisfaction_facts
    start, end = month
    row = (
        await session.execute(
            select(
                func.avg(surveys.c.coefficient).label("coefficient"),
                func.count(surveys.c.would_recommend).label("recommend_answers"),
                func.count().filter(surveys.c.would_recommend.is_(True)).label("recommend"),
                func.count(surveys.c.would_continue).label("continue_answers"),
                func.count().filter(surveys.c.would_continue.is_(True)).label("would_continue"),
            ).where(surveys.c.recorded_at >= start, surveys.c.recorded_at < end)
        )
    ).one()
    conditions = satisfaction_conditions(
        row.coefficient,
        row.recommend_answers,
        row.recommend,
        row.continue_answers,
        row.would_continue,
        min_answers,
    )
    for flag, (count, threshold) in conditions.items():
        await settle_condition(
            session,
            clock,
            kind=SATISFACTION,
            subject="all",
            attribution=flag.value,
            period=month,
            count=count,
            threshold=threshold,
        )


# --- SLA -------------------------------------------------------------------------------------

ALL = "all"


@dataclass(frozen=True)
class ClockFigures:
    """How one SLA clock fared for a group of cases."""

    met: int
    breached: int
    pending: int
    median_minutes: float | None
    p90_minutes: float | None

    @property
    def within_target_share(self) -> float | None:
        """Met among the cases whose clock has an outcome; ``None`` before any."""
        decided = self.met + self.breached
        return round(self.met / decided, 4) if decided else None


@dataclass(frozen=True)
class SlaGroup:
    """SLA figures of the cases of one priority and team (``all`` for a total)."""

    priority: str
    team: str
    cases: int
    clocks: dict[SlaClock, ClockFigures]


@dataclass(frozen=True)
class CaseAtRisk:
    """An open case with a clock that warned or breached and has not stopped."""

    case_id: Any
    reference: str | None
    priority: str | None
    team: str | None
    status: str
    clock: SlaClock
    state: str
    due_at: datetime | None
    since: datetime


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
    sessions: async_sessionmaker[AsyncSession],
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
    async with sessions() as session:
        # The percentiles sort every group's times (a year is ~260 000 cases at a million
        # complaints): in memory rather than in temporary files. SET LOCAL lasts for the
        # session's (auto-begun, read-only) transaction, which may be a shared snapshot.
        await session.execute(text(f"SET LOCAL work_mem = '{SLA_WORK_MEM}'"))
        result = (await session.execute(query)).all()
    return [_sla_group(row) for row in result]


def _sla_group(row: Row) -> SlaGroup:
    clocks = {}
    for clock in SlaClock:
        met, breached = row._mapping[f"{clock.value}_met"], row._mapping[f"{clock.value}_breached"]
        median, p90 = row._mapping[f"{clock.value}_percentiles"] or (None, None)
        clocks[clock] = ClockFigures(
            met=met,
            breached=breached,
            pending=row.cases - met - breached,
            median_minutes=round(float(median), 2) if median is not None else None,
            p90_minutes=round(float(p90), 2) if p90 is not None else None,
        )
    return SlaGroup(
        priority=ALL if row.all_priorities else row.priority,
        team=ALL if row.all_teams else row.team,
        cases=row.cases,
        clocks=clocks,
    )


async def cases_at_risk(
    sessions: async_sessionmaker[AsyncSession],
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
    # The order of ``_worst_clock``, in SQL so that only the first ``limit`` rows are read:
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
    async with sessions() as session:
        total = await session.scalar(select(func.count()).select_from(progress).where(*where))
        rows = (await session.execute(query)).all()
    return [_worst_clock(row, now) for row in rows], total or 0


def _worst_clock(row: Row, now: datetime) -> CaseAtRisk:
    """The clock most in trouble: a breach beats a warning, the earlier deadline wins."""
    candidates = []
    for clock, stopped_column in CLOCK_STOPPED_COLUMN.items():
        stopped = None if clock is SlaClock.RESOLVE else row._mapping[stopped_column]
        warned = row._mapping[f"{clock.value}_warned_at"]
        breached = row._mapping[f"{clock.value}_breached_at"]
        due = row._mapping[f"{clock.value}_due_at"]
        overdue = due is not None and due < now and not row.was_paused
        if stopped is not None or (warned is None and breached is None and not overdue):
            continue
        state = "breached" if breached is not None or overdue else "warning"
        since = breached or (due if overdue else None) or warned
        candidates.append((state != "breached", due or since, clock, state, since))
    _, _, clock, state, since = min(candidates, key=lambda c: (c[0], c[1]))
    return CaseAtRisk(
        case_id=row.case_id,
        reference=row.reference,
        priority=row.priority,
        team=row.team,
        status=row.status,
        clock=clock,
        state=state,
        due_at=row._mapping[f"{clock.value}_due_at"],
        since=since,
    )


# --- Outcomes --------------------------------------------------------------------------------

VALIDITIES = ("justified", "partly_justified", "unjustified")


@dataclass(frozen=True)
class RemedyCounts:
    """Remedies of one type, in their latest state."""

    remedy_type: str
    remedies: int
    declined: int
    delivered: int


@dataclass(frozen=True)
class RemedyValue:
    """Remedies given with a value, in one currency."""

    currency: str
    remedies: int
    total: Decimal


@dataclass(frozen=True)
class Outcomes:
    """Decisions, remedies and reopenings of a cohort of cases."""

    cases: int
    decisions: dict[str, int]
    remedies_by_type: list[RemedyCounts]
    remedy_value: list[RemedyValue]
    resolved: int
    reopened: int

    @property
    def decided(self) -> int:
        """Cases with a decision."""
        return sum(self.decisions.values())

    @property
    def reopen_rate(self) -> float | None:
        """Reopened at least once among the cases resolved at least once."""
        return round(self.reopened / self.resolved, 4) if self.resolved else None


async def outcomes(
    sessions: async_sessionmaker[AsyncSession], *, start: datetime, end: datetime
) -> Outcomes:
    """Outcomes of the cases opened in [start, end): each case's latest decision, its
    remedies in their latest state (declined ones count by type but carry no value), and
    how many resolved cases were reopened."""
    decisions, remedies = tables.decision_facts, tables.remedy_facts
    given = remedies.c.status != "declined"
    async with sessions() as session:
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
        by_validity = {validity: counts._mapping[validity] for validity in VALIDITIES}
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
    by_type: dict[str, RemedyCounts] = {}
    value: dict[str, RemedyValue] = {}
    for row in per_type_and_currency:
        seen = by_type.get(row.remedy_type, RemedyCounts(row.remedy_type, 0, 0, 0))
        by_type[row.remedy_type] = RemedyCounts(
            row.remedy_type,
            seen.remedies + row.remedies,
            seen.declined + row.declined,
            seen.delivered + row.delivered,
        )
        if row.valued:
            seen_value = value.get(row.currency, RemedyValue(row.currency, 0, Decimal(0)))
            value[row.currency] = RemedyValue(
                row.currency, seen_value.remedies + row.valued, seen_value.total + row.total
            )
    return Outcomes(
        cases=counts.cases,
        decisions={validity: by_validity.get(validity, 0) for validity in VALIDITIES},
        remedies_by_type=[by_type[kind] for kind in sorted(by_type)],
        remedy_value=[value[currency] for currency in sorted(value)],
        resolved=counts.resolved,
        reopened=counts.reopened,
    )


# --- Satisfaction ----------------------------------------------------------------------------


async def satisfaction(
    sessions: async_sessionmaker[AsyncSession],
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
    async with sessions() as session:
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


# --- Customers -------------------------------------------------------------------------------


async def repeat_complainers(
    sessions: async_sessionmaker[AsyncSession],
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
    async with sessions() as session:
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
    sessions: async_sessionmaker[AsyncSession], *, start: datetime, end: datetime
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
    async with sessions() as session:
        return list((await session.execute(query)).all())
