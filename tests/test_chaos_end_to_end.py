"""Nothing accepted is lost and nothing is doubled through crashes and restarts, over real
processes.

While complaints are posted continuously, every service is killed with SIGKILL once and then
the broker (which keeps nothing across a restart); the stack runner starts each again. In a
second run the whole stack is stopped right after complaints were accepted and started again
on the same data folder. Every complaint answered 202/200 must end with exactly one case,
exactly one acknowledgement e-mail, exactly one count in analytics and exactly one webhook
message per case event, and the complaints topic must again hold every complaint from
offset 0.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from redress_testing import eventually, recorded_topic, run_stack
from redress_testing.webhook_receiver import WebhookReceiver

WEBHOOK_ENV = {
    "REDRESS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "REDRESS_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "REDRESS_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "2",
    "REDRESS_WEBHOOK_DISPATCH_INTERVAL_SECONDS": "0.05",
}
KILLED_IN_TURN = [
    "intake-service",
    "case-service",
    "notification-service",
    "analytics-service",
    "tansu",
]


def complaint(run: str, index: int) -> dict:
    return {
        "customer": {"email": f"chaos-{run}-{index}@example.com", "language": "ro"},
        "subject": f"Complaint {index}",
        "body": f"Încărcătorul nu merge ({run} {index}).",
        "category": "product_defect",
        "product": {"sku": "CH-20"},
    }


class Poster:
    """Posts complaints with a few workers; a refused connection or a 5xx is retried with the
    same Idempotency-Key (what a careful client does), so only answered complaints count."""

    def __init__(self, client: httpx.AsyncClient, intake_url: str, run: str) -> None:
        self.client, self.intake_url, self.run = client, intake_url, run
        self.accepted: dict[str, str] = {}  # Idempotency-Key -> complaint id
        self.retries = 0
        self._next = 0

    async def post_one(self) -> None:
        index, self._next = self._next, self._next + 1
        key = f"{self.run}-{index}"
        while True:
            try:
                response = await self.client.post(
                    f"{self.intake_url}/v1/complaints",
                    json=complaint(self.run, index),
                    headers={"Idempotency-Key": key},
                )
                if response.status_code in (200, 202):
                    self.accepted[key] = response.json()["complaint_id"]
                    return
                assert response.status_code >= 500, response.text
            except httpx.TransportError:
                pass
            self.retries += 1
            await asyncio.sleep(0.2)

    async def post_until(self, done: asyncio.Event, workers: int = 3) -> None:
        async def worker() -> None:
            while not done.is_set():
                await self.post_one()

        await asyncio.gather(*(worker() for _ in range(workers)))


def running_pids(data_dir: Path) -> dict[str, int]:
    return json.loads((data_dir / "stack.json").read_text())["processes"]


async def kill_and_await_restart(data_dir: Path, name: str) -> None:
    """SIGKILL ``name`` and wait until the runner has started it again (a new pid)."""
    old = running_pids(data_dir)[name]
    os.kill(old, signal.SIGKILL)

    async def restarted() -> bool:
        current = running_pids(data_dir)
        return (
            name in current
            and current[name] != old
            and all(service in current for service in KILLED_IN_TURN)
        )

    await eventually(restarted, timeout=180)


async def settled(client: httpx.AsyncClient, stack: dict, accepted: dict[str, str]) -> dict:
    """Wait until every accepted complaint has its case, e-mail and count; return the facts."""
    services = stack["services"]
    complaint_ids = set(accepted.values())

    async def cases_opened():
        found = []
        for complaint_id in complaint_ids:
            page = await client.get(
                f"{services['case-service']}/v1/cases", params={"complaint_id": complaint_id}
            )
            if page.status_code != 200 or not page.json()["items"]:
                return None
            found += page.json()["items"]
        return found

    cases = await eventually(cases_opened, timeout=300)

    def mail_recipients() -> Counter:
        return Counter(m["To"] for m in mailbox.Maildir(stack["maildir"], create=False))

    async def acknowledged():
        recipients = mail_recipients()
        return recipients if len(recipients) >= len(complaint_ids) else None

    await eventually(acknowledged, timeout=300)

    async def counted():
        trend = (
            await client.get(
                f"{services['analytics-service']}/v1/analytics/trends",
                params={"bucket": "day", "group_by": "category"},
            )
        ).json()
        total = sum(trend.get("totals", {}).values())
        return total if total >= len(complaint_ids) else None

    total = await eventually(counted, timeout=300)
    return {"cases": cases, "recipients": mail_recipients(), "counted": total}


async def test_kill_9_of_every_service_and_the_broker_loses_and_doubles_nothing(
    tmp_path_factory,
):
    data_dir = tmp_path_factory.mktemp("chaos")
    runner = run_stack(data_dir, env=WEBHOOK_ENV)
    stack = next(runner)
    receiver = WebhookReceiver()
    await receiver.start()
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            subscription = await client.post(
                f"{stack['services']['notification-service']}/v1/webhooks",
                json={"url": receiver.url("/chaos"), "event_types": ["redress.case.opened.v1"]},
            )
            assert subscription.status_code == 201, subscription.text
            poster = Poster(client, stack["services"]["intake-service"], "kill")
            done = asyncio.Event()
            posting = asyncio.create_task(poster.post_until(done))
            for name in KILLED_IN_TURN:
                before = len(poster.accepted)

                async def more_accepted(before=before) -> bool:
                    return len(poster.accepted) >= before + 10

                await eventually(more_accepted, timeout=180)
                await kill_and_await_restart(data_dir, name)

            async def enough_accepted() -> bool:
                return len(poster.accepted) >= 100

            await eventually(enough_accepted, timeout=180)
            done.set()
            await posting
            accepted = poster.accepted
            facts = await settled(client, stack, accepted)

            async def every_case_delivered():
                opened = {json.loads(r.body)["id"] for r in receiver.requests if r.answered == 200}
                return opened if len(opened) >= len(accepted) else None

            await eventually(every_case_delivered, timeout=300)
    finally:
        await receiver.stop()
        next(runner, None)

    complaint_ids = set(accepted.values())
    assert len(complaint_ids) == len(accepted)  # one complaint per Idempotency-Key
    assert Counter(c["complaint_id"] for c in facts["cases"]) == Counter(complaint_ids)
    assert facts["recipients"] == Counter(
        f"chaos-kill-{key.rsplit('-', 1)[1]}@example.com" for key in accepted
    )
    assert facts["counted"] == len(accepted)
    # One webhook message per case opened: as many distinct events as cases, each event under
    # one webhook-id however often a restart made the sender repeat it.
    messages = {r.headers["webhook-id"]: json.loads(r.body)["id"] for r in receiver.requests}
    assert len(set(messages.values())) == len(facts["cases"])
    assert Counter(messages.values()).most_common(1)[0][1] == 1
    print(
        f"\nchaos: {len(accepted)} complaints accepted while {len(KILLED_IN_TURN)} processes "
        f"were killed ({', '.join(KILLED_IN_TURN)}); {poster.retries} client retries; "
        f"cases {len(facts['cases'])}, acknowledgements {sum(facts['recipients'].values())}, "
        f"counted {facts['counted']}, webhook messages {len(messages)} "
        f"({len(receiver.requests)} requests); lost 0, doubled 0; "
        f"{time.monotonic() - started:.0f} s"
    )


async def test_a_stop_right_after_accepting_resumes_where_it_was(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("restart")
    runner = run_stack(data_dir)
    stack = next(runner)
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        poster = Poster(client, stack["services"]["intake-service"], run)
        # Enough that the stop usually lands on work in flight (the stack drains on SIGTERM:
        # the sends under way finish and are recorded, so a quick machine may finish all).
        # Either way the restart resumes: the embedded broker comes back empty, every outbox
        # is published again and each consumer must drop what it had applied.
        await asyncio.gather(*(poster.post_one() for _ in range(300)))
    next(runner, None)  # SIGTERM the whole stack, whatever is still in flight
    acknowledged_before_stop = len(mailbox.Maildir(stack["maildir"], create=False))

    runner = run_stack(data_dir)
    stack = next(runner)
    try:
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            facts = await settled(client, stack, poster.accepted)
        async with recorded_topic(
            stack["kafka_bootstrap_servers"], "redress.complaints.v1"
        ) as events:

            async def whole_log():
                received = {
                    e.data["complaint_id"] for e in events if e.type.endswith("received.v1")
                }
                return received >= set(poster.accepted.values())

            await eventually(whole_log, timeout=120)
    finally:
        next(runner, None)
    assert Counter(c["complaint_id"] for c in facts["cases"]) == Counter(poster.accepted.values())
    assert sum(facts["recipients"].values()) == len(poster.accepted)
    assert facts["counted"] == len(poster.accepted)
    print(
        f"\nrestart: {len(poster.accepted)} complaints accepted, {acknowledged_before_stop} "
        f"acknowledged before the stop; after the restart cases {len(facts['cases'])}, "
        f"acknowledgements {sum(facts['recipients'].values())}, counted {facts['counted']}"
    )
