"""A customer hears from us at every step, in their language, over real processes.

The stack runner starts every service and a local mail sink (a Maildir); the case is driven
through the case service's HTTP API exactly as an agent would, and the e-mails are read
back from what the SMTP server received.
"""

from __future__ import annotations

import email
import mailbox
import uuid
from email import policy

import httpx
from redress_testing import eventually


def _received(maildir_path: str, address: str) -> list[email.message.EmailMessage]:
    maildir = mailbox.Maildir(maildir_path, factory=None, create=False)
    return [
        email.message_from_bytes(maildir.get_bytes(key), policy=policy.default)
        for key in maildir.iterkeys()
        if address in maildir.get_message(key)["To"]
    ]


async def test_a_customer_gets_every_message_of_their_case_in_romanian(stack):
    services = stack["services"]
    intake, cases, notifications = (
        services["intake-service"],
        services["case-service"],
        services["notification-service"],
    )
    address = f"ana.{uuid.uuid4().hex[:8]}@example.com"
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        submitted = await client.post(
            f"{intake}/v1/complaints",
            json={
                "customer": {"name": "Ana Pop", "email": address, "language": "ro"},
                "subject": "Încărcător defect",
                "body": "Încărcătorul nu mai încarcă după o săptămână.",
                "category": "product_defect",
            },
        )
        assert submitted.status_code == 202, submitted.text
        complaint_id = submitted.json()["complaint_id"]

        async def opened():
            page = (
                await client.get(f"{cases}/v1/cases", params={"complaint_id": complaint_id})
            ).json()
            return page["items"][0] if page["items"] else None

        case = await eventually(opened, timeout=180)
        case_id, reference = case["id"], case["reference"]

        async def act(method: str, path: str, body: dict) -> None:
            answer = await client.request(method, f"{cases}/v1/cases/{case_id}{path}", json=body)
            assert answer.status_code in (200, 201), answer.text

        await act("POST", "/transitions", {"action": "start"})
        await act(
            "POST",
            "/messages",
            {"kind": "response", "body": "Vă trimitem astăzi un încărcător nou, gratuit."},
        )
        await act(
            "PUT",
            "/decision",
            {
                "validity": "justified",
                "explanation": "Cablul încărcătorului era defect din fabricație.",
                "root_cause": "manufacturing_defect",
            },
        )
        await act("POST", "/transitions", {"action": "resolve", "reason": "Încărcător înlocuit."})
        await act("POST", "/transitions", {"action": "close"})

        wanted = {"acknowledgement", "response", "decision", "survey"}

        async def all_sent():
            listed = (
                await client.get(f"{notifications}/v1/notifications", params={"case_id": case_id})
            ).json()
            sent = {n["template"]: n for n in listed if n["status"] == "sent"}
            return sent if wanted <= set(sent) else None

        sent = await eventually(all_sent, timeout=180)
        for notification in sent.values():
            assert notification["language"] == "ro"
            assert notification["channel"] == "email"
            assert notification["template_version"] == 1

        async def in_the_mailbox():
            received = _received(stack["maildir"], address)
            ids = {m["Message-ID"] for m in received}
            return received if {sent[k]["message_id"] for k in wanted} <= ids else None

        received = await eventually(in_the_mailbox, timeout=60)
        by_id = {m["Message-ID"]: m for m in received}
        # Nothing doubled: one e-mail per notification.
        assert len(received) == len(by_id)

        def text(kind: str) -> str:
            message = by_id[sent[kind]["message_id"]]
            assert reference in message["Subject"]
            html_part = message.get_body(preferencelist=("html",)).get_content()
            assert '<html lang="ro" dir="ltr">' in html_part
            return message.get_body(preferencelist=("plain",)).get_content()

        assert "Stimate/Stimată Ana Pop" in text("acknowledgement")
        assert f"cu numărul de referință {reference}" in text("acknowledgement")
        assert "un încărcător nou, gratuit" in text("response")
        decision = text("decision")
        assert "vă dăm dreptate" in decision and "defect din fabricație" in decision
        assert f"/survey/{reference}" in text("survey")
        assert by_id[sent["survey"]["message_id"]]["Subject"].startswith("Cum ne-am descurcat?")

        async def outcomes_on_the_case():
            history = (await client.get(f"{cases}/v1/cases/{case_id}/events")).json()
            noted = [entry for entry in history if entry["action"] == "notification_sent"]
            return noted if len(noted) >= len(wanted) else None

        await eventually(outcomes_on_the_case, timeout=120)


# Complaints as customers write them, with no declared language: intake identifies it and the
# acknowledgement goes out in it (right to left for Arabic).
UNDECLARED = {
    "ja": (
        "充電器が壊れています",
        "先週購入した充電器が三日で動かなくなりました。注文番号は 58213 です。交換か返金を"
        "お願いします。",
        "ltr",
    ),
    "ar": (
        "الشاحن لا يعمل",
        "اشتريت شاحنًا الأسبوع الماضي وتوقف عن العمل بعد ثلاثة أيام. رقم الطلب 58213. أرجو "
        "استبداله أو استرداد المبلغ.",
        "rtl",
    ),
    "el": (
        "Ο φορτιστής δεν λειτουργεί",
        "Αγόρασα έναν φορτιστή την περασμένη εβδομάδα και σταμάτησε να λειτουργεί μετά από "
        "τρεις μέρες. Αριθμός παραγγελίας 58213. Παρακαλώ αντικαταστήστε τον ή επιστρέψτε τα "
        "χρήματα.",
        "ltr",
    ),
}


async def test_japanese_arabic_and_greek_complaints_are_acknowledged_in_their_language(stack):
    from notification_service.templates.default_templates import BUILT_IN

    intake = stack["services"]["intake-service"]
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    run = uuid.uuid4().hex[:8]
    submitted: dict[str, tuple[str, str]] = {}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        for language, (subject, body, _) in UNDECLARED.items():
            address = f"{language}.{run}@example.com"
            answer = await client.post(
                f"{intake}/v1/complaints",
                json={"customer": {"email": address}, "subject": subject, "body": body},
            )
            assert answer.status_code == 202, answer.text
            submitted[language] = (address, answer.json()["reference"])

    async def acknowledged():
        found = {lang: _received(stack["maildir"], a) for lang, (a, _) in submitted.items()}
        return found if all(found.values()) else None

    mails = await eventually(acknowledged, timeout=180)
    for language, (_, reference) in submitted.items():
        [message] = mails[language]
        template = BUILT_IN["acknowledgement"][language].subject
        assert message["Subject"] == template.replace("{{ reference }}", reference), language
        html_part = message.get_body(preferencelist=("html",)).get_content()
        assert f'<html lang="{language}" dir="{UNDECLARED[language][2]}">' in html_part
        plain = message.get_body(preferencelist=("plain",)).get_content()
        assert reference in plain
