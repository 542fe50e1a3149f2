"""E-mail normalisation: an RFC 5322 message becomes a complaint draft (pure, no I/O).

What it handles: multipart/alternative (the plain part preferred), HTML-only mail (turned
into readable text with ``html2text``), RFC 2047 encoded headers and any charset Python's
codecs know (koi8-r, iso-8859-x, windows-125x, ...), attachments (name, type, size and
sha256 recorded in the context; the bytes stay in the stored raw message, so they are kept
as durably as the message itself, up to the SMTP/HTTP size limits).

What is not a complaint: automatic mail (RFC 3834 ``Auto-Submitted`` other than ``no``,
``Precedence: auto_reply/bulk/junk``, ``X-Autoreply``) and delivery/disposition reports
(``multipart/report``). Those are recorded as *ignored*, never registered.

What cannot be normalised raises :class:`InvalidComplaint`; the caller quarantines the raw
message for a fix and a replay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

import html2text

from intake_service.models import ComplaintDraft, InvalidComplaint, build_customer, require_text


@dataclass(frozen=True)
class NotAComplaint:
    """An automatic message: recorded, never registered."""

    reason: str


_AUTOMATIC_PRECEDENCE = {"auto_reply", "bulk", "junk"}


def automatic_reason(message: EmailMessage) -> str | None:
    """Why ``message`` is machine-generated (auto-reply, bounce, receipt), or None."""
    auto = str(message.get("Auto-Submitted", "no")).split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if message.get_content_type() == "multipart/report":
        report = message.get_param("report-type", "")
        return f"report: {report or 'unknown'}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in _AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    if str(message.get("X-Autoreply", "")).strip().lower() in {"yes", "true"}:
        return "X-Autoreply"
    return None


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        # An unknown or lying charset: keep every byte readable rather than refuse.
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        raise InvalidComplaint("body", "the text part is not text")
    return content


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body (links kept, no Markdown line wrapping)."""
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wraps: the customer's sentences stay whole
    converter.ignore_images = True
    converter.ignore_emphasis = True
    return converter.handle(html).strip()


def _attachments(message: EmailMessage) -> list[dict]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            # message/rfc822 (a forwarded message): record it by its bytes.
            payload = part.as_bytes()
        found.append(
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        )
    return found


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception as exc:  # the header registry raises on some malformed headers
        raise InvalidComplaint(name, f"unreadable header: {exc}") from exc
    cleaned = str(value).strip() if value is not None else ""
    return cleaned or None


def _comment_name(message: EmailMessage) -> str:
    raw_from = next((value for key, value in message.raw_items() if key.lower() == "from"), "")
    name = parseaddr(str(raw_from))[0]
    try:
        return str(make_header(decode_header(name))).strip() if name else ""
    except (LookupError, UnicodeError, ValueError):
        return name.strip()


def parse_email(raw: bytes) -> ComplaintDraft | NotAComplaint:
    """Normalise a raw e-mail into a complaint draft (not yet enriched), or tell why it is
    not a complaint; raise InvalidComplaint when it cannot be normalised."""
    if not raw.strip():
        raise InvalidComplaint("message", "empty message")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    reason = automatic_reason(message)
    if reason:
        return NotAComplaint(reason)
    try:
        from_header = message["From"]
        senders = from_header.addresses if from_header else ()
    except Exception as exc:
        raise InvalidComplaint("From", f"unreadable sender: {exc}") from exc
    if not senders or not senders[0].addr_spec or "@" not in senders[0].addr_spec:
        raise InvalidComplaint("From", "the message has no sender address")
    sender = senders[0]
    # Old-style "addr (Full Name)" carries the name in a comment, which the header registry
    # drops; parseaddr still reads it.
    name = sender.display_name or _comment_name(message) or None
    body_part = message.get_body(preferencelist=("plain", "html"))
    if body_part is None:
        raise InvalidComplaint("body", "no text or HTML part")
    html_only = body_part.get_content_type() == "text/html"
    text = _text_of(body_part)
    body = require_text(html_to_text(text) if html_only else text, "body")
    context = {
        "message_id": _header(message, "Message-ID"),
        "date": _header(message, "Date"),
        "to": _header(message, "To"),
        "in_reply_to": _header(message, "In-Reply-To"),
        "html_only": html_only,
        "attachments": _attachments(message),
        "defects": sorted({type(d).__name__ for d in message.defects}),
    }
    return ComplaintDraft(
        channel="email",
        customer=build_customer(
            name=name,
            email=sender.addr_spec,
            phone=None,
            language=None,
        ),
        body=body,
        subject=_header(message, "Subject"),
        channel_message_id=context["message_id"],
        context={k: v for k, v in context.items() if v not in (None, [], False)},
    )
