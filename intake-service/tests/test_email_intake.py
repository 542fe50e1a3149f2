"""E-mail intake (HTTP ``message/rfc822`` and the SMTP listener) against real PostgreSQL:
stored first, normalised, deduplicated by Message-ID, automatic mail ignored, failures
quarantined and replayed. Includes CPython's own test_email messages (written by others)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import smtplib
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from intake_service import tables
from intake_service.email.api import IntakeSmtpHandler
from intake_service.workers import run_smtp_listener
from redress_stack.infra import free_port
from sqlalchemy import select

RFC822 = {"Content-Type": "message/rfc822"}


def message(*headers: str, body: bytes | str = "", message_id: str | None = None) -> bytes:
    """A raw message with CRLF line ends, a fresh Message-ID unless one is given."""
    lines = [*headers, f"Message-ID: {message_id or f'<{uuid.uuid4()}@example.com>'}"]
    head = "\r\n".join(lines).encode()
    if isinstance(body, str):
        body = body.encode()
    return head + b"\r\n\r\n" + body


async def post_email(intake, raw: bytes):
    return await intake.post("/v1/intake/email", content=raw, headers=RFC822)


async def read(intake, answer) -> dict:
    response = await intake.get(f"/v1/complaints/{answer.json()['complaint_id']}")
    assert response.status_code == 200, response.text
    return response.json()


async def raw_row(intake, submission_id: str):
    raws = tables.raw_submissions
    async with intake.app.state.runtime.session_factory() as session:
        return (
            await session.execute(select(raws).where(raws.c.id == uuid.UUID(submission_id)))
        ).one()


async def test_a_plain_mail_with_encoded_headers_becomes_a_complaint(intake, probe):
    raw = message(
        "From: =?utf-8?q?Ana_P=C3=B3p?= <Ana.Pop@Example.COM>",
        "To: complaints@example.com",
        "Subject: =?utf-8?b?w45uY8SDcmPEg3RvcnVsIHMtYSBzdHJpY2F0?=",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        body="Încărcătorul s-a stricat după două zile. Comanda SO-1042, cod produs CH-20.\r\n",
    )
    answer = await post_email(intake, raw)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    stored = await read(intake, answer)
    assert stored["channel"] == "email"
    assert stored["customer"]["email"] == "ana.pop@example.com"
    assert stored["customer"]["name"] == "Ana Póp"
    assert stored["subject"] == "Încărcătorul s-a stricat"
    assert stored["body"].startswith("Încărcătorul s-a stricat după două zile.")
    assert stored["language"] == "ro"
    assert stored["category"] == "product_defect"
    assert stored["order_ref"] == "SO-1042"
    assert stored["product"] == {"sku": "CH-20"}
    row = await raw_row(intake, answer.json()["submission_id"])
    assert row.payload == raw  # the raw message, byte for byte, for audit
    assert row.status == "accepted"
    event = await probe.event_of(stored["id"])
    assert event["data"]["channel_message_id"] == stored["channel_message_id"]


@pytest.mark.parametrize(
    ("charset", "text", "language"),
    [
        ("koi8-r", "Посылка так и не пришла, хотя я заплатил две недели назад.", "ru"),
        ("iso-8859-2", "Paket še vedno ni prispel, čeprav sem ga plačala pred tednom.", "sl"),
        ("windows-1251", "Посилка досі не прийшла, хоча я заплатив два тижні тому.", "uk"),
    ],
)
async def test_non_utf8_charsets_are_decoded(intake, charset, text, language):
    raw = message(
        "From: customer@example.com",
        "Subject: =?"
        + charset
        + "?b?"
        + base64.b64encode("Жалоба".encode(charset, "replace")).decode()
        + "?=",
        f"Content-Type: text/plain; charset={charset}",
        "Content-Transfer-Encoding: 8bit",
        body=text.encode(charset) + b"\r\n",
    )
    answer = await post_email(intake, raw)
    assert answer.status_code == 202, answer.text
    stored = await read(intake, answer)
    assert stored["body"] == text
    assert stored["language"] == language
    if charset != "iso-8859-2":  # Latin-2 has no Cyrillic: the subject degrades to '?'
        assert stored["subject"] == "Жалоба"


async def test_html_only_mail_is_turned_into_readable_text(intake):
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Mans <b>internets</b> nedarbojas jau tr&#299;s dienas.</p>"
        "<p>L&#363;dzu, <a href='https://example.lv/status'>salabojiet</a> to!</p>"
        "</body></html>"
    )
    raw = message(
        "From: janis@example.lv",
        "Subject: Internets",
        "Content-Type: text/html; charset=utf-8",
        body=html,
    )
    answer = await post_email(intake, raw)
    assert answer.status_code == 202, answer.text
    stored = await read(intake, answer)
    assert "<" not in stored["body"] and "color" not in stored["body"]
    assert "Mans internets nedarbojas jau trīs dienas." in stored["body"]
    assert "salabojiet" in stored["body"]
    assert stored["context"]["html_only"] is True
    assert stored["language"] == "lv"
    assert stored["category"] == "outage"


async def test_alternative_prefers_plain_and_attachments_are_recorded(intake):
    picture = os.urandom(2048)
    raw = message(
        "From: maja@example.si",
        "Subject: Pokvarjen grelnik",
        'Content-Type: multipart/mixed; boundary="outer"',
        "MIME-Version: 1.0",
        body=(
            "--outer\r\n"
            'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
            "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Grelnik se je pokvaril po dveh dneh.\r\n"
            "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            "<p>HTML version</p>\r\n"
            "--alt--\r\n"
            "--outer\r\n"
            'Content-Type: image/jpeg; name="photo.jpg"\r\n'
            'Content-Disposition: attachment; filename="photo.jpg"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(picture).decode().replace("\n", "\r\n")
            + "--outer--\r\n"
        ),
    )
    answer = await post_email(intake, raw)
    assert answer.status_code == 202, answer.text
    stored = await read(intake, answer)
    assert stored["body"] == "Grelnik se je pokvaril po dveh dneh."
    (recorded,) = stored["context"]["attachments"]
    assert recorded == {
        "id": recorded["id"],
        "filename": "photo.jpg",
        "content_type": "image/jpeg",
        "size": 2048,
        "sha256": hashlib.sha256(picture).hexdigest(),
    }
    download = await intake.get(f"/v1/complaints/{stored['id']}/attachments/{recorded['id']}")
    assert download.status_code == 200
    assert download.content == picture
    assert download.headers["content-type"] == "image/jpeg"
    assert 'filename="photo.jpg"' in download.headers["content-disposition"]
    assert download.headers["x-content-type-options"] == "nosniff"


async def test_the_same_mail_delivered_twice_is_one_complaint(intake, probe):
    raw = message(
        "From: twice@example.com",
        "Subject: Delivery",
        body="My parcel never arrived.\r\n",
    )
    first = await post_email(intake, raw)
    before = await probe.count(tables.complaints)
    second = await post_email(intake, raw)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    assert second.json()["complaint_id"] == first.json()["complaint_id"]
    assert await probe.count(tables.complaints) == before
    # The second delivery is stored too (nothing accepted is dropped), marked duplicate.
    assert (await raw_row(intake, second.json()["submission_id"])).status == "duplicate"


@pytest.mark.parametrize(
    "headers",
    [
        ("Auto-Submitted: auto-replied", "Subject: Out of office"),
        ("Auto-Submitted: auto-generated", "Subject: Your ticket"),
        ("Precedence: bulk", "Subject: Newsletter"),
        (
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
            "Subject: Undelivered Mail Returned to Sender",
        ),
    ],
)
async def test_auto_replies_and_bounces_are_recorded_but_never_complaints(intake, probe, headers):
    body = "I am out of the office until Monday.\r\n"
    if "multipart/report" in headers[0]:
        body = (
            "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; x@example.com\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n--b--\r\n"
        )
    before = await probe.counts()
    answer = await post_email(intake, message("From: robot@example.com", *headers, body=body))
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "ignored"
    assert answer.json()["complaint_id"] is None
    raws, complaints, outbox = await probe.counts()
    assert (raws, complaints, outbox) == (before[0] + 1, before[1], before[2])
    assert (await raw_row(intake, answer.json()["submission_id"])).status == "ignored"


async def test_a_poison_mail_is_quarantined_then_replayed_after_a_fix(intake, probe):
    poison = message(
        "To: complaints@example.com",  # no From: nobody to answer
        "Subject: Rēķins",
        "Content-Type: text/plain; charset=utf-8",
        body="Rēķinā naudu iekasēja divreiz. Ja neatmaksāsiet, vērsīšos tiesā.\r\n",
    )
    before = await probe.counts()
    answer = await post_email(intake, poison)
    # Refused as a complaint, but kept: the problem names the quarantined submission.
    problem = probe.problem(answer, 422, "unparseable-message")
    assert "From" in problem["detail"]
    assert problem["status_now"] == "quarantined"
    submission = problem["submission_id"]
    assert problem["replay"] == f"/v1/quarantine/{submission}/replay"
    assert await probe.counts() == (before[0] + 1, before[1], before[2])

    listed = (await intake.get("/v1/quarantine", params={"limit": 500})).json()
    item = next(i for i in listed["items"] if i["id"] == submission)
    assert item["channel"] == "email"
    assert item["attempts"] == 1
    assert item["size_bytes"] == len(poison)

    # Replaying without a fix fails the same way and stays in quarantine.
    still = await intake.post(f"/v1/quarantine/{submission}/replay")
    probe.problem(still, 422, "still-quarantined")
    assert (await raw_row(intake, submission)).attempts == 2

    # The operator supplies the sender (from the phone call that followed, say).
    fixed = b"From: Ilze Kalnina <ilze@example.lv>\r\n" + poison
    replayed = await intake.post(
        f"/v1/quarantine/{submission}/replay", json={"corrected_message": fixed.decode()}
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "accepted"
    stored = await read(intake, replayed)
    assert stored["customer"]["email"] == "ilze@example.lv"
    assert stored["language"] == "lv"
    assert stored["category"] == "billing_error"
    assert stored["priority_hint"] == "high"  # "vērsīšos tiesā": a legal threat
    event = await probe.event_of(stored["id"])
    assert event["data"]["reference"] == stored["reference"]
    row = await raw_row(intake, submission)
    assert (row.status, row.payload, row.corrected_payload) == ("accepted", poison, fixed)
    listed = (await intake.get("/v1/quarantine", params={"limit": 500})).json()
    assert submission not in {i["id"] for i in listed["items"]}

    again = await intake.post(f"/v1/quarantine/{submission}/replay")
    assert probe.problem(again, 409, "not-quarantined")["status_now"] == "accepted"
    probe.problem(await intake.post(f"/v1/quarantine/{uuid.uuid4()}/replay"), 404, "not-found")


async def test_truncated_and_broken_mime_is_kept_never_lost(intake, probe):
    # Cut off in the middle of a multipart: no closing boundary, half a base64 attachment.
    truncated = message(
        "From: cut@example.com",
        "Subject: Truncated",
        'Content-Type: multipart/mixed; boundary="zz"',
        body="--zz\r\nContent-Type: text/plain\r\n\r\nThe kettle is broken.\r\n"
        "--zz\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBER",
    )
    answer = await post_email(intake, truncated)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    stored = await read(intake, answer)
    assert stored["body"] == "The kettle is broken."
    assert "CloseBoundaryNotFoundDefect" in stored["context"]["defects"]

    # Only headers survived: nothing to register, so it waits in quarantine.
    headers_only = message("From: cut@example.com", "Subject: Truncated", "Content-Type: text/pl")
    answer = await post_email(intake, headers_only)
    problem = probe.problem(answer, 422, "unparseable-message")
    kept = await raw_row(intake, problem["submission_id"])
    assert (kept.status, kept.payload) == ("quarantined", headers_only)

    # Bytes that are not UTF-8 in a UTF-8 part: kept readable, not refused.
    invalid = message(
        "From: bytes@example.com",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        body=b"The bill is wrong \xff\xfe twice.\r\n",
    )
    answer = await post_email(intake, invalid)
    assert answer.status_code == 202, answer.text
    assert (await read(intake, answer))["body"].startswith("The bill is wrong")


async def test_bad_http_requests_are_refused_and_write_nothing(intake, probe):
    before = await probe.counts()
    probe.problem(
        await intake.post("/v1/intake/email", content=b"  \r\n", headers=RFC822),
        422,
        "empty-message",
    )
    probe.problem(
        await intake.post(
            "/v1/intake/email",
            content=b"From: a@b.c\r\n\r\nx",
            headers={"Content-Type": "text/plain"},
        ),
        415,
        "unsupported-media-type",
    )
    attachment = base64.encodebytes(os.urandom(80 * 1024))
    big = message("From: big@example.com", body=b"see attached\r\n" + attachment)
    probe.problem(await post_email(intake, big), 413, "payload-too-large")
    assert await probe.counts() == before


# CPython's own test_email messages ----------------------------------------------------------


def _cpython_email_data() -> Path | None:
    try:
        import test.test_email as suite
    except ImportError:
        return None
    data = Path(suite.__file__).parent / "data"
    return data if data.is_dir() else None


CPYTHON_DATA = _cpython_email_data()
needs_cpython_data = pytest.mark.skipif(
    CPYTHON_DATA is None,
    reason="CPython's test_email data is not installed (Debian: libpython3.11-testsuite)",
)


@needs_cpython_data
async def test_cpython_messages_are_normalised(intake):
    assert CPYTHON_DATA is not None
    seen = {}
    for name in (
        "msg_01.txt",
        "msg_03.txt",
        "msg_05.txt",
        "msg_07.txt",
        "msg_11.txt",
        "msg_25.txt",
        "msg_26.txt",
        "msg_45.txt",
    ):
        answer = await post_email(intake, (CPYTHON_DATA / name).read_bytes())
        assert answer.status_code in (200, 202, 422), answer.text
        seen[name] = answer

    first = await read(intake, seen["msg_01.txt"])
    assert first["customer"]["email"] == "bbb@ddd.com"
    assert first["customer"]["name"] == "John X. Doe"  # an old-style comment name
    assert first["subject"] == "This is a test message"
    assert first["body"] == "Hi,\n\nDo you like this message?\n\n-Me"
    assert first["channel_message_id"] == "<15090.61304.110929.45684@aaa.zzz.org>"
    # msg_03 is the same message (same Message-ID) without a Content-Type: a repeat.
    assert seen["msg_03.txt"].status_code == 200
    assert seen["msg_03.txt"].json()["complaint_id"] == first["id"]

    assert seen["msg_05.txt"].json()["status"] == "ignored"  # a delivery-status report
    assert seen["msg_25.txt"].json()["status"] == "ignored"  # Auto-Submitted: auto-generated
    # A bare message/rfc822 with no sender anywhere: kept in quarantine, answered 422.
    assert seen["msg_11.txt"].status_code == 422
    assert seen["msg_11.txt"].json()["type"] == "urn:redress:problem:unparseable-message"

    dingus = await read(intake, seen["msg_07.txt"])
    assert dingus["customer"]["email"] == "barry@digicool.com"
    assert dingus["subject"] == "Here is your dingus fish"
    assert dingus["body"] == "Hi there,\n\nThis is the dingus fish."
    (gif,) = dingus["context"]["attachments"]
    assert (gif["filename"], gif["content_type"]) == ("dingusfish.gif", "image/gif")
    assert gif["size"] > 0 and len(gif["sha256"]) == 64

    riscos = await read(intake, seen["msg_26.txt"])
    assert riscos["body"] == "Simple email with attachment."
    assert riscos["context"]["attachments"][0]["filename"] == "clock.bmp"

    signed = await read(intake, seen["msg_45.txt"])
    assert signed["body"] == "This is the signed contents."
    assert signed["context"]["attachments"][0]["content_type"] == "application/pgp-signature"


@needs_cpython_data
async def test_every_cpython_message_is_stored_and_answered(intake, probe):
    assert CPYTHON_DATA is not None
    files = sorted(CPYTHON_DATA.glob("msg_*.txt"))
    assert len(files) > 40
    before = await probe.count(tables.raw_submissions)
    statuses = []
    for path in files:
        answer = await post_email(intake, path.read_bytes())
        assert answer.status_code in (200, 202, 422), (path.name, answer.text)
        document = answer.json()
        statuses.append(document.get("status_now") or document["status"])
    # Every message was stored, whatever became of it: nothing accepted is lost.
    assert await probe.count(tables.raw_submissions) == before + len(files)
    assert {"accepted", "ignored", "quarantined"} <= set(statuses)


# The SMTP listener feeds the same path --------------------------------------------------------


async def test_smtp_listener_stores_and_registers_mail(intake, probe):
    runtime = intake.app.state.runtime
    port = free_port()
    listener = asyncio.create_task(
        run_smtp_listener(
            IntakeSmtpHandler(runtime.session_factory, runtime.clock), "127.0.0.1", port, 50_000
        )
    )
    try:
        await asyncio.sleep(0.2)

        def send(raw: bytes) -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.ehlo()
                client.mail("sender@example.com")
                client.rcpt("complaints@example.com")
                return client.data(raw)

        complaint = message(
            "From: Maja <maja.smtp@example.si>",
            "Subject: Račun",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            body="Račun ste mi zaračunali dvakrat.\r\n".encode(),
        )
        code, reply = await asyncio.to_thread(send, complaint)
        assert code == 250 and b"Accepted as RDR-" in reply

        auto = message("From: robot@example.com", "Auto-Submitted: auto-replied", body="Away.")
        code, reply = await asyncio.to_thread(send, auto)
        assert code == 250 and b"(ignored)" in reply

        before = await probe.counts()
        too_big = message("From: big@example.com", body=(b"x" * 70 + b"\r\n") * 1000)
        code, _reply = await asyncio.to_thread(send, too_big)
        assert code == 552
        assert await probe.counts() == before
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_a_mail_stored_but_never_normalised_is_listed_and_replayable(intake, probe):
    # What a crash between the first commit and normalisation leaves behind.
    runtime = intake.app.state.runtime
    submission = uuid.uuid4()
    # A whole sentence: three words ("Paket ni prispel.") are too few to tell Slovenian from
    # its neighbours, and a mail has no declared language to fall back on.
    raw = message(
        "From: stalled@example.com",
        body="Paket še vedno ni prispel, čeprav sem ga naročila pred dvema tednoma.\r\n",
    )
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            tables.raw_submissions.insert().values(
                id=submission,
                channel="email",
                content_type="message/rfc822",
                payload=raw,
                received_at=runtime.clock.now() - timedelta(minutes=6),
                submitted_by="smtp:127.0.0.1",
                status="received",
            )
        )
    listed = (await intake.get("/v1/quarantine", params={"limit": 500})).json()
    item = next(i for i in listed["items"] if i["id"] == str(submission))
    assert item["status"] == "received"
    replayed = await intake.post(f"/v1/quarantine/{submission}/replay")
    assert replayed.status_code == 202, replayed.text
    stored = await read(intake, replayed)
    assert (stored["language"], stored["category"]) == ("sl", "delivery")


async def test_ready_while_the_language_models_load_in_the_background(intake):
    response = await intake.get("/readyz")
    assert response.status_code == 200, response.text
