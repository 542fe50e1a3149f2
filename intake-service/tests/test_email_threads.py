"""E-mail threads and repeats against real PostgreSQL: replies attached to their complaint,
forwarded mail unwrapped, the same mail re-sent under a new Message-ID, and attachment bytes
stored once with their size limit (HTTP 413, SMTP 552)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import smtplib
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from intake_service import tables
from intake_service.email.api import IntakeSmtpHandler
from intake_service.workers import run_smtp_listener
from redress_stack.infra import free_port
from sqlalchemy import func, select

RFC822 = {"Content-Type": "message/rfc822"}
COMPLAINT_RO = (
    "Încărcătorul pe care l-am cumpărat s-a oprit după două zile și nu mai pornește deloc."
)
REPLY_RO = "Numărul comenzii este SO-1042, iar încărcătorul l-am cumpărat din magazinul online."


def mail(
    sender: str,
    subject: str,
    body: str,
    *,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "complaints@example.com"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(body)
    return message


def new_address(name: str = "ana") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


async def post_email(intake, message: EmailMessage | bytes):
    raw = message if isinstance(message, bytes) else message.as_bytes()
    return await intake.post("/v1/intake/email", content=raw, headers=RFC822)


async def customer_messages(intake, complaint_id: str) -> list:
    messages = tables.complaint_messages
    async with intake.app.state.runtime.session_factory() as session:
        return (
            await session.execute(
                select(messages)
                .where(messages.c.complaint_id == uuid.UUID(complaint_id))
                .order_by(messages.c.received_at)
            )
        ).all()


async def outbox_events(intake, event_type: str, subject: str) -> list[dict]:
    outbox = tables.platform.outbox
    async with intake.app.state.runtime.session_factory() as session:
        return list(
            (
                await session.execute(
                    select(outbox.c.event).where(
                        outbox.c.event["type"].astext == event_type,
                        outbox.c.event["subject"].astext == subject,
                    )
                )
            ).scalars()
        )


async def register(intake, sender: str, message_id: str | None = None) -> dict:
    answer = await post_email(
        intake, mail(sender, "Încărcător stricat", COMPLAINT_RO, message_id=message_id)
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    return answer.json()


def quoted_reply(reference: str, new_words: str) -> str:
    return (
        f"{new_words}\n\n"
        "On Tue, 1 Dec 2026 at 10:00, Redress Customer Care <care@redress.example> wrote:\n"
        "> We received your complaint under reference "
        f"{reference}.\n> Please keep the reference in the subject if you reply.\n"
    )


# Replies ------------------------------------------------------------------------------------


async def test_a_reply_with_the_reference_in_the_subject_is_a_customer_message(intake, probe):
    sender = new_address()
    complaint = await register(intake, f"Ana Pop <{sender}>")
    reference = complaint["reference"]
    before = await probe.count(tables.complaints)

    # The customer answers our acknowledgement: its Message-ID is the notification
    # service's (unknown to intake), the reference is in the subject.
    reply = mail(
        f"Ana Pop <{sender.upper()}>",
        f"Re: Am primit reclamația dumneavoastră [{reference}]",
        quoted_reply(reference, REPLY_RO),
        in_reply_to="<9202ce1e-0caa-42fa-ac87-6943a9825c2a@redress.example>",
    )
    answer = await post_email(intake, reply)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "attached"
    assert answer.json()["complaint_id"] == complaint["complaint_id"]
    assert answer.json()["reference"] == reference
    assert await probe.count(tables.complaints) == before  # not a new complaint

    (stored,) = await customer_messages(intake, complaint["complaint_id"])
    assert stored.body == REPLY_RO  # the quoted acknowledgement is not the customer's words
    listed = (await intake.get(f"/v1/complaints/{complaint['complaint_id']}/messages")).json()
    assert [(m["id"], m["body"], m["matched_by"]) for m in listed] == [
        (str(stored.id), REPLY_RO, "reference")
    ]
    assert stored.language == "ro"
    assert stored.matched_by == "reference"
    assert stored.sender["email"] == sender  # lower-cased
    (event,) = await outbox_events(
        intake, "redress.complaint.message_received.v1", complaint["complaint_id"]
    )
    (complaint_event,) = await outbox_events(
        intake, "redress.complaint.received.v1", complaint["complaint_id"]
    )
    # Keyed like the complaint, so it reaches the case service after the complaint itself.
    assert event["key"] == complaint_event["key"]
    assert event["data"]["body"] == REPLY_RO
    assert event["data"]["reference"] == reference
    assert event["data"]["message_id"] == str(stored.id)
    raws = tables.raw_submissions
    async with intake.app.state.runtime.session_factory() as session:
        status = await session.scalar(
            select(raws.c.status).where(raws.c.id == uuid.UUID(answer.json()["submission_id"]))
        )
    assert status == "attached"

    # The same reply delivered again (same Message-ID) is a repeat, not a second message.
    again = await post_email(intake, reply)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["complaint_id"] == complaint["complaint_id"]
    assert len(await customer_messages(intake, complaint["complaint_id"])) == 1


async def test_a_reply_is_recognised_by_in_reply_to_and_by_the_references_chain(intake):
    original_id = make_msgid(domain="example.com")
    complaint = await register(intake, new_address(), message_id=original_id)

    # A colleague on copy answers the original mail, without any reference in the subject,
    # with a photo.
    first = mail(
        new_address("colleague"),
        "Re: Încărcător stricat",
        "I can confirm the charger from the same order also fails.",
        in_reply_to=original_id,
        references=original_id,
    )
    photo = os.urandom(3000)
    first.add_attachment(photo, maintype="image", subtype="jpeg", filename="charger.jpg")
    answer = await post_email(intake, first)
    assert answer.json()["status"] == "attached", answer.text
    assert answer.json()["complaint_id"] == complaint["complaint_id"]
    (listed,) = (await intake.get(f"/v1/complaints/{complaint['complaint_id']}/messages")).json()
    (attachment,) = listed["context"]["attachments"]
    download = await intake.get(
        f"/v1/complaints/{complaint['complaint_id']}/attachments/{attachment['id']}"
    )
    assert (download.status_code, download.content) == (200, photo)

    # A later answer in the thread names only the previous reply (and the chain).
    second = mail(
        new_address("colleague"),
        "Re: Re: Încărcător stricat",
        "And the replacement arrived broken too.",
        in_reply_to=first["Message-ID"],
        references=f"{original_id} {first['Message-ID']}",
    )
    answer = await post_email(intake, second)
    assert answer.json()["status"] == "attached", answer.text
    assert answer.json()["complaint_id"] == complaint["complaint_id"]
    stored = await customer_messages(intake, complaint["complaint_id"])
    assert [m.matched_by for m in stored] == ["in_reply_to", "in_reply_to"]

    # Only the References chain left (a client that drops In-Reply-To).
    third = mail(
        new_address("colleague"),
        "Charger",
        "Any news?",
        references=f"<unknown@elsewhere.example> {original_id}",
    )
    answer = await post_email(intake, third)
    assert answer.json()["status"] == "attached", answer.text
    assert (await customer_messages(intake, complaint["complaint_id"]))[-1].matched_by == (
        "references"
    )


async def test_an_unknown_or_someone_elses_reference_opens_a_new_complaint(intake, probe):
    owner = new_address()
    complaint = await register(intake, owner)
    before = await probe.count(tables.complaints)

    unknown = mail(new_address(), "Re: [RDR-1999-999999]", "My invoice is wrong, charged twice.")
    answer = await post_email(intake, unknown)
    assert (answer.status_code, answer.json()["status"]) == (202, "accepted")

    # References are sequential, so guessable: from someone else it is their own complaint.
    stranger = mail(
        new_address("mallory"), f"Re: [{complaint['reference']}]", "Please close this case."
    )
    answer = await post_email(intake, stranger)
    assert (answer.status_code, answer.json()["status"]) == (202, "accepted")
    assert answer.json()["complaint_id"] != complaint["complaint_id"]
    assert await probe.count(tables.complaints) == before + 2
    assert await customer_messages(intake, complaint["complaint_id"]) == []
    probe.problem(await intake.get(f"/v1/complaints/{uuid.uuid4()}/messages"), 404, "not-found")


# Repeats by content ----------------------------------------------------------------------------


async def test_the_same_mail_delivered_twice_with_new_message_ids_is_one_complaint(intake, probe):
    sender = new_address("twice")
    first = await post_email(intake, mail(sender, "Parcel", "My parcel never arrived, order 7."))
    before = await probe.counts()
    # A mail client retrying with a fresh Message-ID, a little reformatted on the way.
    second = await post_email(
        intake, mail(sender, "Fwd: Parcel", "My  parcel never arrived,\norder 7.\n")
    )
    assert (first.status_code, second.status_code) == (202, 200), second.text
    assert second.json()["status"] == "duplicate"
    assert second.json()["complaint_id"] == first.json()["complaint_id"]
    raws, complaints, outbox = await probe.counts()
    # The second delivery is kept (as a duplicate); no complaint, no event.
    assert (raws, complaints, outbox) == (before[0] + 1, before[1], before[2])

    # Another customer writing the very same words has a complaint of their own.
    other = await post_email(
        intake, mail(new_address("twice"), "Parcel", "My parcel never arrived, order 7.")
    )
    assert other.status_code == 202


async def test_concurrent_deliveries_of_the_same_text_make_one_complaint(intake, probe):
    sender = new_address("burst")
    before = await probe.count(tables.complaints)
    answers = await asyncio.gather(
        *(
            post_email(intake, mail(sender, "Outage", "No electricity in our street since 6am."))
            for _ in range(6)
        )
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 5 + [202], [a.text for a in answers]
    assert len({answer.json()["complaint_id"] for answer in answers}) == 1
    assert await probe.count(tables.complaints) == before + 1


# Forwarded mail ------------------------------------------------------------------------------


async def test_a_mail_forwarded_as_an_attachment_is_the_original_customers(intake):
    customer = new_address("ion")
    original = mail(
        f"Ion Popescu <{customer}>",
        "Factură greșită",
        "Mi-ați facturat de două ori aceeași comandă, vă rog să returnați banii.",
    )
    forward = EmailMessage()
    forward["From"] = "Agent Maria <maria@shop.example>"
    forward["To"] = "complaints@example.com"
    forward["Subject"] = "Fwd: Factură greșită"
    forward["Message-ID"] = make_msgid(domain="shop.example")
    forward.set_content("Customer called about this too, please handle.")
    forward.add_attachment(original)
    answer = await post_email(intake, forward)
    assert answer.status_code == 202, answer.text
    stored = (await intake.get(f"/v1/complaints/{answer.json()['complaint_id']}")).json()
    assert stored["customer"]["email"] == customer
    assert stored["customer"]["name"] == "Ion Popescu"
    assert stored["subject"] == "Factură greșită"
    assert stored["body"].startswith("Mi-ați facturat de două ori")
    assert stored["language"] == "ro"
    assert stored["category"] == "billing_error"
    assert stored["context"]["forwarded_by"] == {
        "email": "maria@shop.example",
        "name": "Agent Maria",
        "how": "attachment",
        "note": "Customer called about this too, please handle.",
    }
    assert stored["context"]["message_id"] == original["Message-ID"]


@pytest.mark.parametrize(
    "separator",
    [
        "---------- Forwarded message ---------\nFrom: {sender}\n"
        "Date: Mon, 30 Nov 2026 10:00\nSubject: Paket ni prispel\nTo: <shop@example.si>\n",
        "-----Original Message-----\nFrom: {sender}\nSent: Monday, November 30, 2026 10:00\n"
        "To: shop@example.si\nSubject: Paket ni prispel\n",
    ],
)
async def test_an_inline_forwarded_block_is_unwrapped(intake, separator):
    customer = new_address("maja")
    text = (
        "FYI, from our web shop inbox.\n\n"
        + separator.format(sender=f"Maja Novak <{customer}>")
        + "\nPaket še vedno ni prispel, naročila sem ga pred dvema tednoma.\n"
    )
    answer = await post_email(intake, mail("Luka <luka@shop.example>", "Fwd: paket", text))
    assert answer.status_code == 202, answer.text
    stored = (await intake.get(f"/v1/complaints/{answer.json()['complaint_id']}")).json()
    assert stored["customer"]["email"] == customer
    assert stored["customer"]["name"] == "Maja Novak"
    assert stored["body"] == "Paket še vedno ni prispel, naročila sem ga pred dvema tednoma."
    assert stored["subject"] == "Paket ni prispel"
    assert stored["language"] == "sl"
    assert stored["category"] == "delivery"
    forwarded_by = stored["context"]["forwarded_by"]
    assert (forwarded_by["email"], forwarded_by["how"]) == ("luka@shop.example", "inline")
    assert forwarded_by["note"] == "FYI, from our web shop inbox."


# Attachment bytes ------------------------------------------------------------------------------


def with_attachment(sender: str, content: bytes, filename: str = "invoice.pdf") -> EmailMessage:
    message = mail(sender, "Invoice", f"The attached invoice is wrong ({uuid.uuid4().hex[:6]}).")
    message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return message


async def test_attachment_bytes_are_stored_once_and_readable(intake, probe):
    content = b"%PDF-1.7\n" + os.urandom(4096)
    first = await post_email(intake, with_attachment(new_address(), content, "račun.pdf"))
    second = await post_email(intake, with_attachment(new_address(), content, "copy.pdf"))
    assert (first.status_code, second.status_code) == (202, 202)
    ids = []
    for answer in (first, second):
        stored = (await intake.get(f"/v1/complaints/{answer.json()['complaint_id']}")).json()
        (attachment,) = stored["context"]["attachments"]
        assert attachment["sha256"] == hashlib.sha256(content).hexdigest()
        ids.append((stored["id"], attachment["id"]))
        download = await intake.get(f"/v1/complaints/{stored['id']}/attachments/{attachment['id']}")
        assert download.status_code == 200
        assert download.content == content
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["etag"] == f'"{attachment["sha256"]}"'
    assert (
        "filename*=UTF-8''ra%C4%8Dun.pdf"
        in (await intake.get(f"/v1/complaints/{ids[0][0]}/attachments/{ids[0][1]}")).headers[
            "content-disposition"
        ]
    )
    contents = tables.attachment_contents
    async with intake.app.state.runtime.session_factory() as session:
        copies = await session.scalar(
            select(func.count())
            .select_from(contents)
            .where(contents.c.sha256 == hashlib.sha256(content).hexdigest())
        )
    assert copies == 1  # the same bytes twice are stored once

    # An attachment id is only readable through its own complaint.
    wrong = await intake.get(f"/v1/complaints/{ids[1][0]}/attachments/{ids[0][1]}")
    probe.problem(wrong, 404, "not-found")
    probe.problem(
        await intake.get(f"/v1/complaints/{ids[0][0]}/attachments/{uuid.uuid4()}"),
        404,
        "not-found",
    )


async def test_oversized_attachments_are_refused_over_http_and_write_nothing(intake, probe):
    before = await probe.counts()
    # Over the attachment limit (32 KiB in the tests) but within the request limit.
    too_big = with_attachment(new_address(), os.urandom(40 * 1024))
    problem = probe.problem(await post_email(intake, too_big), 413, "attachment-too-large")
    assert problem["max_bytes"] == 32 * 1024
    assert problem["filename"] == "invoice.pdf"
    # A 20 MB attachment is refused on its declared length, before it is read.
    huge = with_attachment(new_address(), b"\0" * (20 * 1024 * 1024))
    probe.problem(await post_email(intake, huge), 413, "payload-too-large")
    assert await probe.counts() == before


async def test_smtp_refuses_an_oversized_attachment_with_552(intake, probe):
    runtime = intake.app.state.runtime
    port = free_port()
    limits = runtime.settings.policy()
    listener = asyncio.create_task(
        run_smtp_listener(
            IntakeSmtpHandler(runtime.session_factory, runtime.clock, limits),
            "127.0.0.1",
            port,
            1024 * 1024,
        )
    )
    try:

        def send(raw: bytes) -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.ehlo()
                client.mail("sender@example.com")
                client.rcpt("complaints@example.com")
                return client.data(raw)

        async def send_when_listening(raw: bytes) -> tuple[int, bytes]:
            for _ in range(100):
                try:
                    return await asyncio.to_thread(send, raw)
                except ConnectionRefusedError:
                    await asyncio.sleep(0.05)
            raise AssertionError("the SMTP listener never started")

        before = await probe.counts()
        big = with_attachment(new_address(), os.urandom(40 * 1024))
        code, reply = await send_when_listening(big.as_bytes(policy=policy.SMTP))
        assert code == 552, reply
        assert b"limit" in reply
        assert await probe.counts() == before

        # Unparseable mail is kept: 250 (the sender must not bounce it), naming the
        # quarantine id.
        code, reply = await send_when_listening(
            b"To: complaints@example.com\r\nSubject: no sender\r\n\r\nHello\r\n"
        )
        assert code == 250 and b"quarantine" in reply
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


def _cpython_email_data():
    try:
        import test.test_email as suite
    except ImportError:
        return None
    from pathlib import Path

    data = Path(suite.__file__).parent / "data"
    return data if data.is_dir() else None


CPYTHON_DATA = _cpython_email_data()


@pytest.mark.skipif(
    CPYTHON_DATA is None,
    reason="CPython's test_email data is not installed (Debian: libpython3.11-testsuite)",
)
async def test_cpythons_groupwise_forward_is_unwrapped(intake):
    # msg_46: a whole message whose body is the forwarded original (message/rfc822).
    assert CPYTHON_DATA is not None
    answer = await post_email(intake, (CPYTHON_DATA / "msg_46.txt").read_bytes())
    assert answer.status_code in (200, 202), answer.text
    stored = (await intake.get(f"/v1/complaints/{answer.json()['complaint_id']}")).json()
    assert stored["customer"] == {
        "name": "Dr. Sender",
        "email": "sender@example.net",
        "phone": None,
        "language": None,
    }
    assert stored["body"] == "Testing email forwarding with Groupwise 1.2.2010"
    assert stored["context"]["message_id"] == "<4B66B890.4070408@teconcept.de>"
    assert stored["context"]["forwarded_by"]["name"] == "Sender"
    assert stored["context"]["forwarded_by"]["how"] == "attachment"
