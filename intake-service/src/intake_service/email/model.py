"""E-mail normalisation: an RFC 5322 message becomes a complaint draft (pure, no I/O).

What it handles: multipart/alternative (the plain part preferred), HTML-only mail (turned
into readable text with ``html2text``), RFC 2047 encoded headers and any charset Python's
codecs know (koi8-r, iso-8859-x, windows-125x, ...), attachments (name, type, size and
sha256 recorded in the context; the bytes travel on the draft to be stored apart),
forwarded mail (a ``message/rfc822`` part, or an inline "Forwarded message" / "Original
Message" block found with ``quotequail``: the original sender is the customer, the
forwarder is kept in the context) and replies (In-Reply-To / References kept for matching,
the new words without the quoted history in ``reply_text``).

What is not a complaint: automatic mail (RFC 3834 ``Auto-Submitted`` other than ``no``,
``Precedence: auto_reply/bulk/junk``, ``X-Autoreply``) and delivery/disposition reports
(``multipart/report``). Those are recorded as *ignored*, never registered.

What cannot be normalised raises :class:`InvalidComplaint`; the caller quarantines the raw
message for a fix and a replay.

Bounded work: before the parser sees a message, :func:`check_structure` measures it in one
linear pass over the bytes (header block size, MIME parts, nesting) against
:class:`~intake_service.config.MimeLimits`; a message over a limit is never parsed. A
forwarded chain is unwrapped from the parsed tree, one level per enclosed message, at most
``max_depth`` levels (never re-serialised and re-parsed). ``quotequail`` backtracks on long
lines (an "On ... wrote:" pattern with several ``.*``), so it reads a bounded view of the
text (:func:`unwrap_quoted`). Every regex of ours is linear (possessive or bounded runs).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

import html2text
import lxml.html
import quotequail
from lxml import etree
from redress_shared.errors import DomainError

from intake_service.complaints.model import (
    AttachmentFile,
    ComplaintDraft,
    InvalidComplaint,
    build_customer,
    require_text,
)
from intake_service.config import MimeLimits


@dataclass(frozen=True)
class NotAComplaint:
    """An automatic message: recorded, never registered."""

    reason: str


class EmptyMessage(DomainError):
    """The message has no bytes: nothing is stored."""

    def __init__(self) -> None:
        super().__init__("The body has no bytes.")


class UnparseableMessage(DomainError):
    """The message is stored but could not be normalised: it waits in quarantine for a fix
    and a replay under ``submission_id``."""

    def __init__(self, reason: str | None, submission_id: uuid.UUID) -> None:
        super().__init__(
            reason,
            submission_id=str(submission_id),
            status_now="quarantined",
            replay=f"/v1/quarantine/{submission_id}/replay",
        )
        self.submission_id = submission_id


@dataclass(frozen=True)
class ThreadMatch:
    """The registered complaint an e-mail answers, and how it was recognised."""

    complaint_id: uuid.UUID
    reference: str
    customer_key: str
    matched_by: str


DEFAULT_LIMITS = MimeLimits()

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
    return storable(content)


HTML_MAX_DEPTH = 32
"""Elements nested deeper are flattened to their text before html2text sees the HTML
(html2text is quadratic in list nesting: 12,500 nested ``<ol><li>`` took 97 s)."""


def _well_formed_html(html: str) -> str | None:
    """``html`` re-serialised by libxml2 (C, linear; recovers from broken markup, so
    html2text's pure-Python parser only sees well-formed input, on which it is linear), with
    nesting beyond :data:`HTML_MAX_DEPTH` flattened; None when there is no document in it."""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    stack = [(root, 0)]
    while stack:
        element, depth = stack.pop()
        if depth >= HTML_MAX_DEPTH:
            etree.strip_tags(element, "*")
            continue
        stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))
    return lxml.html.tostring(root, encoding="unicode")


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body (links kept, no Markdown line wrapping); markup
    libxml2 finds no document in is kept as it is."""
    well_formed = _well_formed_html(html) if html.strip() else None
    if well_formed is None:
        return html.strip()
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wraps: the customer's sentences stay whole
    converter.ignore_images = True
    converter.ignore_emphasis = True
    return converter.handle(well_formed).strip()


def _attachments(message: EmailMessage) -> list[AttachmentFile]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            # message/rfc822 (a forwarded message): kept by its bytes.
            payload = part.as_bytes()
        filename = part.get_filename()
        found.append(
            AttachmentFile(
                storable(filename) if filename else filename, part.get_content_type(), payload
            )
        )
    return found


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception as exc:  # the header registry raises on some malformed headers
        raise InvalidComplaint(name, f"unreadable header: {exc}") from exc
    cleaned = storable(str(value)).strip() if value is not None else ""
    return cleaned or None


def storable(text: str) -> str:
    """``text`` without NUL characters: PostgreSQL cannot store them, and in an e-mail they
    are debris (a mislabelled UTF-16 part, say), never meaning. The raw message keeps them."""
    return text.replace("\x00", "")


def _comment_name(message: EmailMessage) -> str:
    raw_from = next((value for key, value in message.raw_items() if key.lower() == "from"), "")
    name = parseaddr(str(raw_from))[0]
    try:
        return str(make_header(decode_header(name))).strip() if name else ""
    except (LookupError, UnicodeError, ValueError):
        return name.strip()


def message_ids(value: str | None) -> list[str]:
    """The ``<id>`` tokens of an In-Reply-To or References header."""
    return [f"<{token}>" for token in _MESSAGE_ID.findall(value or "")]


_MESSAGE_ID = re.compile(r"<([^<>\s]{1,998}+)>")
_FORWARD_PREFIX = re.compile(r"^\s*+(?:(?:fwd?|tr|wg|pd)\s*+:\s*+)++", re.IGNORECASE)


# Structure limits, checked on the bytes before parsing ----------------------------------------

_BOUNDARY_PARAM = re.compile(rb'boundary[ \t]*+=[ \t]*+"?([^"\r\n;]{1,200})', re.IGNORECASE)
_ENCLOSED = re.compile(
    rb"^content-type:[ \t]*+message/(?:rfc822|global)", re.IGNORECASE | re.MULTILINE
)


def _over(what: str, found: int, limit: int) -> InvalidComplaint:
    return InvalidComplaint("message", f"{what}: {found} over the limit of {limit}")


def check_structure(raw: bytes, limits: MimeLimits) -> None:
    """Raise InvalidComplaint when ``raw`` exceeds ``limits`` (header block, MIME parts,
    nesting), measured in one linear pass over the bytes, before any parsing.

    Parts are the delimiter lines of the boundaries the message declares; nesting is the
    most boundaries open at once, or the number of enclosed messages (``message/rfc822``
    parts, counted all, which errs on the safe side), whichever is larger.
    """
    boundaries = {m.group(1).strip() for m in _BOUNDARY_PARAM.finditer(raw)}
    enclosed = len(_ENCLOSED.findall(raw))
    if enclosed > limits.max_depth:
        raise _over("enclosed messages", enclosed, limits.max_depth)
    open_boundaries: list[bytes] = []
    parts = 0
    in_header, header_bytes = True, 0
    for line in raw.split(b"\n"):
        if in_header:
            header_bytes += len(line) + 1
            if header_bytes > limits.max_header_bytes:
                raise _over("header block bytes", header_bytes, limits.max_header_bytes)
            if not line.strip():
                in_header, header_bytes = False, 0
            continue
        if not (boundaries and line.startswith(b"--")):
            continue
        token = line[2:].rstrip()
        if token in boundaries:
            if token in open_boundaries:
                del open_boundaries[open_boundaries.index(token) + 1 :]
            else:
                open_boundaries.append(token)
                if len(open_boundaries) > limits.max_depth:
                    raise _over("MIME nesting", len(open_boundaries), limits.max_depth)
            parts += 1
            if parts > limits.max_parts:
                raise _over("MIME parts", parts, limits.max_parts)
            in_header = True
        elif token.endswith(b"--") and token[:-2] in open_boundaries:
            del open_boundaries[open_boundaries.index(token[:-2]) :]


# Quoted history and inline forwards, read by quotequail on a bounded view -----------------------

QUOTE_LINE_CHARS = 160
"""Longer lines are shown to quotequail as a placeholder: no "On ... wrote:" or header line
is that long, and its patterns backtrack on long lines (cubic in the length)."""
QUOTE_LINES = 300
"""quotequail looks for the start of a quote or forward in the first lines only; the rest
is one placeholder line (kept, and given back in the result)."""
_PLACEHOLDER = "\ue000{nonce}:{index}\ue000"


def unwrap_quoted(body: str) -> dict | None:
    """``quotequail.unwrap(body)``, bounded: the library sees at most :data:`QUOTE_LINES`
    lines of at most :data:`QUOTE_LINE_CHARS` characters; longer lines and the rest of the
    text are placeholders that the result gets back verbatim."""
    lines = body.split("\n")
    nonce = uuid.uuid4().hex
    originals: list[str] = []

    def placeholder(segment: str) -> str:
        # The quote marker stays visible: quotequail decides on it, and strips it.
        prefix = "> " if segment.startswith("> ") else ">" if segment.startswith(">") else ""
        originals.append(segment[len(prefix) :])
        return prefix + _PLACEHOLDER.format(nonce=nonce, index=len(originals) - 1)

    view = [line if len(line) <= QUOTE_LINE_CHARS else placeholder(line) for line in lines]
    if len(view) > QUOTE_LINES:
        view[QUOTE_LINES:] = [placeholder("\n".join(lines[QUOTE_LINES:]))]
    unwrapped = quotequail.unwrap("\n".join(view))
    if not unwrapped or not originals:
        return unwrapped
    marker = re.compile("\ue000" + nonce + ":([0-9]{1,9})\ue000")

    def restore(value: str) -> str:
        return marker.sub(lambda m: originals[int(m.group(1))], value).strip()

    return {k: restore(v) if isinstance(v, str) else v for k, v in unwrapped.items()}


def _sender(message: EmailMessage, header: str = "From") -> tuple[str, str | None]:
    try:
        from_header = message[header]
        senders = from_header.addresses if from_header else ()
    except Exception as exc:
        raise InvalidComplaint(header, f"unreadable sender: {exc}") from exc
    if not senders or not senders[0].addr_spec or "@" not in senders[0].addr_spec:
        raise InvalidComplaint(header, "the message has no sender address")
    sender = senders[0]
    # Old-style "addr (Full Name)" carries the name in a comment, which the header registry
    # drops; parseaddr still reads it.
    return storable(sender.addr_spec), storable(
        sender.display_name or _comment_name(message)
    ) or None


def _body(message: EmailMessage, limits: MimeLimits) -> tuple[str, bool]:
    body_part = message.get_body(preferencelist=("plain", "html"))
    if body_part is None:
        raise InvalidComplaint("body", "no text or HTML part")
    html_only = body_part.get_content_type() == "text/html"
    text = _text_of(body_part)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_text_bytes:
        raise _over("decoded text bytes", size, limits.max_text_bytes)
    return (html_to_text(text) if html_only else text).strip(), html_only


def _forwarded_part(message: EmailMessage) -> EmailMessage | None:
    """The enclosed original of a forwarded message (a ``message/rfc822`` part), if any."""
    if message.get_content_type() == "message/rfc822":
        enclosed = message.get_payload()
        inner = enclosed[0] if isinstance(enclosed, list) and enclosed else None
    else:
        inner = next(
            (
                part.get_payload()[0]
                for part in message.iter_attachments()
                if part.get_content_type() == "message/rfc822" and part.get_payload()
            ),
            None,
        )
    if isinstance(inner, EmailMessage) and inner.get("From"):
        return inner
    return None


def _forwarder(address: str, name: str | None, note: str, how: str) -> dict:
    forwarded_by = {"email": address.lower(), "name": name, "how": how}
    if note.strip():
        forwarded_by["note"] = note.strip()
    return forwarded_by


def _unwrap_inline_forward(unwrapped: dict | None) -> dict | None:
    """An inline forwarded block ("---------- Forwarded message ---------", "-----Original
    Message-----", ...) whose header names a sender address, as quotequail read it."""
    if not unwrapped or unwrapped.get("type") != "forward":
        return None
    address = parseaddr(str(unwrapped.get("from") or ""))[1]
    if "@" not in address or not str(unwrapped.get("text") or "").strip():
        return None
    return unwrapped


def _reply_text(body: str, unwrapped: dict | None) -> str | None:
    """The new words on top of a reply, without the quoted history; None if not a reply."""
    if unwrapped and unwrapped.get("type") == "reply":
        top = str(unwrapped.get("text_top") or "").strip()
        return top or None
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    kept = "\n".join(lines).strip()
    return kept if kept and kept != body.strip() else None


def parse_email(raw: bytes, limits: MimeLimits = DEFAULT_LIMITS) -> ComplaintDraft | NotAComplaint:
    """Normalise a raw e-mail into a complaint draft (not yet enriched), or tell why it is
    not a complaint; raise InvalidComplaint when it cannot be normalised or exceeds
    ``limits`` (checked before parsing, see :func:`check_structure`)."""
    if not raw.strip():
        raise InvalidComplaint("message", "empty message")
    check_structure(raw, limits)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return _draft_of(message, limits, depth=0)


def _draft_of(
    message: EmailMessage, limits: MimeLimits, depth: int
) -> ComplaintDraft | NotAComplaint:
    """The draft of a parsed message; ``depth`` counts the forwards unwrapped so far."""
    reason = automatic_reason(message)
    if reason:
        return NotAComplaint(reason)
    enclosed = _forwarded_part(message)
    if enclosed is not None:
        if depth >= limits.max_depth:
            raise _over("forwarded levels", depth + 1, limits.max_depth)
        return _forwarded_draft(message, enclosed, limits, depth + 1)
    address, name = _sender(message)
    body, html_only = _body(message, limits)
    body = require_text(body, "body")
    subject = _header(message, "Subject")
    forwarded_by = None
    unwrapped = unwrap_quoted(body)
    inline = _unwrap_inline_forward(unwrapped)
    if inline is not None:
        forwarded_by = _forwarder(address, name, str(inline.get("text_top") or ""), "inline")
        name, address = parseaddr(str(inline["from"]))
        body = require_text(str(inline["text"]), "body")
        subject = str(inline.get("subject") or "").strip() or _unforwarded(subject)
    attachments = _attachments(message)
    replies_to = tuple(
        dict.fromkeys(
            message_ids(_header(message, "In-Reply-To"))
            + list(reversed(message_ids(_header(message, "References"))))
        )
    )
    context = {
        "message_id": _header(message, "Message-ID"),
        "date": _header(message, "Date"),
        "to": _header(message, "To"),
        "in_reply_to": _header(message, "In-Reply-To"),
        "references": list(replies_to),
        "html_only": html_only,
        "attachments": [attachment.document() for attachment in attachments],
        "defects": sorted({type(d).__name__ for d in message.defects}),
        "forwarded_by": forwarded_by,
    }
    return ComplaintDraft(
        channel="email",
        customer=build_customer(name=name or None, email=address, phone=None, language=None),
        body=body,
        subject=subject,
        channel_message_id=context["message_id"],
        context={k: v for k, v in context.items() if v not in (None, [], False)},
        attachments=tuple(attachments),
        replies_to=replies_to if forwarded_by is None else (),
        reply_text=_reply_text(body, unwrapped) if forwarded_by is None else None,
    )


def _unforwarded(subject: str | None) -> str | None:
    """The subject without "Fwd:"-style prefixes."""
    if subject is None:
        return None
    return _FORWARD_PREFIX.sub("", subject).strip() or None


def _forwarded_draft(
    outer: EmailMessage, inner: EmailMessage, limits: MimeLimits, depth: int
) -> ComplaintDraft:
    """A message forwarded as an attachment: the enclosed original is the complaint (read
    from the parsed tree, ``depth`` levels down)."""
    forwarder_address, forwarder_name = _sender(outer)
    try:
        note = _body(outer, limits)[0]
    except InvalidComplaint:
        note = ""  # forwarded without a word of its own
    inner_draft = _draft_of(inner, limits, depth)
    if isinstance(inner_draft, NotAComplaint):
        raise InvalidComplaint("message/rfc822", f"the forwarded message is {inner_draft.reason}")
    context = dict(inner_draft.context or {})
    context["forwarded_by"] = _forwarder(forwarder_address, forwarder_name, note, "attachment")
    context["forwarding_message_id"] = _header(outer, "Message-ID")
    # The forwarding mail's own attachments (besides the enclosed original) are kept too.
    extra = [a for a in _attachments(outer) if a.content_type != "message/rfc822"]
    attachments = (*inner_draft.attachments, *extra)
    if extra:
        context["attachments"] = [attachment.document() for attachment in attachments]
    return replace(
        inner_draft,
        subject=inner_draft.subject or _unforwarded(_header(outer, "Subject")),
        # The forwarding mail's Message-ID is the channel id: another forward of the same
        # original is another delivery, caught by the content fingerprint instead.
        channel_message_id=_header(outer, "Message-ID") or inner_draft.channel_message_id,
        context=context,
        attachments=attachments,
        replies_to=(),
        reply_text=None,
    )
