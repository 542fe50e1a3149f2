"""Intake's promises across real processes (the stack runner, every service running):

* a poison e-mail is quarantined (422 naming it, nothing lost), an operator corrects it,
  and the replay becomes a case readable at the case service;
* a customer's e-mail reply to the acknowledgement (the real one, read from the outgoing
  mail) becomes a customer message on the case, and resumes the case that was waiting on
  the customer.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import smtplib
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import httpx
from redress_testing import eventually

RFC822 = {"Content-Type": "message/rfc822"}


async def case_of(client: httpx.AsyncClient, cases_url: str, complaint_id: str) -> dict:
    async def opened():
        page = await client.get(f"{cases_url}/v1/cases", params={"complaint_id": complaint_id})
        return page.json()["items"]

    (case,) = await eventually(opened, timeout=120)
    return case


async def test_a_poison_mail_is_quarantined_then_replayed_into_a_case(stack):
    intake, cases_url = stack["services"]["intake-service"], stack["services"]["case-service"]
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    # A web form relay that lost the From header: nobody to answer, so no complaint yet.
    poison = (
        "To: complaints@example.com\r\n"
        f"Message-ID: {make_msgid(domain='forms.example')}\r\n"
        "Subject: =?utf-8?q?Pre=C4=8Dna_faktura?=\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Račun ste mi zaračunali dvakrat, prosim vrnite denar za naročilo SO-5521.\r\n"
    ).encode()
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        refused = await client.post(f"{intake}/v1/intake/email", content=poison, headers=RFC822)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["type"] == "urn:redress:problem:unparseable-message"
        submission = problem["submission_id"]

        listed = (await client.get(f"{intake}/v1/quarantine", params={"limit": 500})).json()
        (item,) = [i for i in listed["items"] if i["id"] == submission]
        assert item["status"] == "quarantined" and "From" in item["error"]

        # The operator found the sender in the form relay's log and corrects the message.
        corrected = b"From: Maja Novak <maja.replay@example.si>\r\n" + poison
        replayed = await client.post(
            f"{intake}{problem['replay']}", json={"corrected_message": corrected.decode()}
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["status"] == "accepted"
        complaint_id = replayed.json()["complaint_id"]

        case = await case_of(client, cases_url, complaint_id)
        assert case["reference"] == replayed.json()["reference"]
        assert case["category"] == "billing_error"
        assert case["language"] == "sl"
        assert case["channel"] == "email"
        listed = (await client.get(f"{intake}/v1/quarantine", params={"limit": 500})).json()
        assert submission not in {i["id"] for i in listed["items"]}


def send_smtp(address: str, message: EmailMessage) -> tuple[int, bytes]:
    host, port = address.split(":")
    with smtplib.SMTP(host, int(port), timeout=60) as client:
        client.ehlo()
        client.mail(str(message["From"]).split("<")[-1].rstrip(">"))
        client.rcpt("complaints@example.com")
        return client.data(message.as_bytes(policy=policy.SMTP))


async def test_a_reply_to_the_acknowledgement_becomes_a_customer_message(stack):
    cases_url = stack["services"]["case-service"]
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    customer = f"ana.{uuid.uuid4().hex[:8]}@example.ro"
    complaint = EmailMessage()
    complaint["From"] = f"Ana Pop <{customer}>"
    complaint["To"] = "complaints@example.com"
    complaint["Subject"] = "Încărcător stricat"
    complaint["Message-ID"] = make_msgid(domain="example.ro")
    complaint.set_content(
        "Încărcătorul cumpărat luna trecută s-a oprit după două zile și nu mai pornește."
    )
    code, reply = await asyncio.to_thread(send_smtp, stack["intake_smtp"], complaint)
    assert code == 250 and b"Accepted as RDR-" in reply, reply
    reference = reply.decode().split("Accepted as ")[1].strip()

    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        page = await eventually(
            lambda: _cases_with_reference(client, cases_url, reference), timeout=120
        )
        (case,) = page
        case_id = case["id"]
        for action, data in (
            ("start", {}),
            ("request_info", {"reason": "Which order was it?"}),
        ):
            moved = await client.post(
                f"{cases_url}/v1/cases/{case_id}/transitions", json={"action": action, **data}
            )
            assert moved.status_code == 200, moved.text

        # The acknowledgement the customer received (the real outgoing e-mail).
        def acknowledgement():
            maildir = mailbox.Maildir(stack["maildir"], create=False)
            # Read as the customer's mail client would: headers decoded and unfolded.
            parsed = (BytesParser(policy=policy.default).parsebytes(bytes(m)) for m in maildir)
            return next(
                (m for m in parsed if m["To"] == customer and reference in m["Subject"]), None
            )

        async def acknowledged():
            return await asyncio.to_thread(acknowledgement)

        ack = await eventually(acknowledged, timeout=120)
        answer = EmailMessage()
        answer["From"] = f"Ana Pop <{customer}>"
        answer["To"] = str(ack["From"])
        answer["Subject"] = f"Re: {ack['Subject']}"
        answer["Message-ID"] = make_msgid(domain="example.ro")
        answer["In-Reply-To"] = ack["Message-ID"]
        answer["References"] = ack["Message-ID"]
        quoted = "\n".join(
            f"> {line}"
            for line in ack.get_body(preferencelist=("plain",)).get_content().splitlines()
        )
        answer.set_content(
            "Comanda este SO-1042, cumpărată din magazinul online pe 3 noiembrie.\n\n"
            f"On Tue, 1 Dec 2026, {ack['From']} wrote:\n{quoted}\n"
        )
        code, reply = await asyncio.to_thread(send_smtp, stack["intake_smtp"], answer)
        assert code == 250, reply
        assert b"(attached)" in reply  # not a new complaint

        async def resumed():
            current = (await client.get(f"{cases_url}/v1/cases/{case_id}")).json()
            return current if current["status"] == "investigating" else None

        await eventually(resumed, timeout=120)
        outcomes = (await client.get(f"{cases_url}/v1/cases/{case_id}/outcomes")).json()
        (message,) = [m for m in outcomes["messages"] if m["kind"] == "customer"]
        assert message["body"] == (
            "Comanda este SO-1042, cumpărată din magazinul online pe 3 noiembrie."
        )
        assert message["author"] == customer
        history = (await client.get(f"{cases_url}/v1/cases/{case_id}/events")).json()
        actions = [(entry["action"], entry["actor"]) for entry in history]
        assert ("customer_message_received", "customer") in actions
        # The reply is what resumed the case; only the record of e-mails sent to the customer,
        # which lands whenever the notification service reports it, may come after it.
        changes = [action for action in actions if not action[0].startswith("notification_")]
        assert changes[-1] == ("resume", "customer")
        # Still one case for the customer: the reply opened nothing.
        assert len(await _cases_with_reference(client, cases_url, reference)) == 1
        mine = await client.get(f"{cases_url}/v1/cases", params={"limit": 200})
        assert [
            c["id"] for c in mine.json()["items"] if c["customer_key"] == case["customer_key"]
        ] == [case_id]
    assert_no_errors_logged(Path(stack["logs"]))


async def _cases_with_reference(client: httpx.AsyncClient, cases_url: str, reference: str):
    page = (await client.get(f"{cases_url}/v1/cases", params={"limit": 200})).json()
    return [c for c in page["items"] if c["reference"] == reference]


def assert_no_errors_logged(log_dir: Path) -> None:
    """No service logged an error (a reply that failed in a consumer would)."""
    for log_file in sorted(log_dir.glob("*-service.log")):
        for line in log_file.read_text().splitlines():
            record = json.loads(line)
            assert record.get("level") not in ("error", "critical", "exception"), (
                f"{log_file.name}: {line}"
            )
