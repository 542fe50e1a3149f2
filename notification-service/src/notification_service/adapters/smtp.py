"""Outgoing e-mail over SMTP (aiosmtplib): the e-mail channel, over a small pool of
connections that stay open (and logged in) between messages."""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import secrets
from datetime import datetime
from email import policy as email_policy
from email import quoprimime
from email.utils import format_datetime, formataddr, parseaddr

import aiosmtplib
import structlog
from aiosmtplib import SMTPStatus
from aiosmtplib.email import quote_address

from notification_service.config import NotificationSettings
from notification_service.messages.model import (
    OutgoingMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)

log = structlog.get_logger(__name__)

#: The name we greet the server with (resolving the machine's FQDN per connection is slow).
LOCAL_HOSTNAME = "redress-notification.localdomain"


#: A header value the policy would write unchanged: printable ASCII that fits on its line and
#: holds nothing that reads as an encoded word.
_AS_IS = re.compile(r"[ -~]{0,64}")
#: A word that may stay as it is in a header: printable ASCII, no encoded word inside.
_PLAIN_WORD = re.compile(r"[!-~]{1,66}")


def _encoded_header(name: str, value: str) -> str:
    """``value`` as RFC 2047 words only where it is not ASCII, folded as e-mail clients do
    (a reference such as RDR-2026-000123 stays readable and searchable in the raw header)."""
    if len(name) + 2 + len(value) <= 78 and _AS_IS.fullmatch(value) and "=?" not in value:
        return value  # what the policy gives, without its header parsing (tens of microseconds)
    words = value.split(" ")
    if not all(words):  # runs of spaces, or at an end: the policy keeps them as they are
        policy = email_policy.SMTP
        folded = policy.fold(name, policy.header_factory(name, value))
        return folded[len(name) + 2 :].rstrip("\r\n")
    # Plain words as they are; each run of other words as encoded words, the spaces between
    # them inside (a decoder drops the white space between two encoded words).
    tokens: list[str] = []
    run: list[str] = []
    for word in [*words, None]:
        if word is not None and not (_PLAIN_WORD.fullmatch(word) and "=?" not in word):
            run.append(word)
            continue
        if run:
            # An encoded word fits a line, the first one's "Subject: " included (RFC 2047).
            tokens += _encoded_words(" ".join(run), min(75, 78 - len(name) - 2))
            run = []
        if word is not None:
            tokens.append(word)
    lines, line = [], ""
    width = 78 - len(name) - 2
    for token in tokens:
        if line and len(line) + 1 + len(token) > width:
            lines.append(line)
            line, width = token, 77
        else:
            line = f"{line} {token}" if line else token
    return "\r\n ".join([*lines, line])


def _encoded_words(text: str, room: int) -> list[str]:
    """``text`` as RFC 2047 encoded words (UTF-8; Q or base64, whichever is shorter), each at
    most ``room`` characters long, never splitting a character."""
    data = text.encode()
    q = quoprimime.header_length(data) <= len(base64.b64encode(data))
    room -= len("=?utf-8?q??=")
    chunks, chunk, used = [], bytearray(), 0
    for character in text:
        encoded = character.encode()
        cost = quoprimime.header_length(encoded) if q else 0
        size = used + cost if q else 4 * ((len(chunk) + len(encoded) + 2) // 3)
        if chunk and size > room:
            chunks.append(bytes(chunk))
            chunk = bytearray()
            size = cost if q else 4 * ((len(encoded) + 2) // 3)
        chunk += encoded
        used = size
    chunks.append(bytes(chunk))
    if q:
        return [quoprimime.header_encode(chunk, "utf-8") for chunk in chunks]
    return [f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=" for chunk in chunks]


class SmtpEmailSender:
    """Sends e-mail through one SMTP server: text and HTML parts, our Message-ID (so a reply's
    In-Reply-To threads back to the case) and the case reference in the subject.

    At most ``smtp_pool_size`` connections are open at once; each is connected, upgraded
    (STARTTLS) and logged in once and then reused for message after message. A connection
    the server closed or that failed is dropped and a fresh one opened; a message that found
    its reused connection dead is sent once more on a new one (same Message-ID).
    """

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings
        name, self._sender = parseaddr(settings.mail_from)
        self._from_header = formataddr((name, self._sender), charset="utf-8")
        # MAIL's argument, quoted once rather than parsed twice per message (as ``sendmail``
        # does for every MAIL and RCPT).
        self._mail_from = b"FROM:" + quote_address(self._sender).encode("ascii")
        # Boundaries unique to this process: a random prefix and a counter (a fresh uuid4 per
        # message read the kernel's random source each time). A boundary need only be absent
        # from the parts it separates, whose bodies are base64 (no "=_" in it).
        self._boundaries = map(f"=_redress_{secrets.token_hex(8)}_{{}}".format, itertools.count())
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(settings.smtp_pool_size)

    def compose(self, message: OutgoingMessage, sent_at: datetime) -> bytes:
        """The e-mail of ``message``, as sent: a multipart/alternative with the text and the
        HTML part (UTF-8, base64), written directly rather than through ``email.message``
        (whose header parsing cost milliseconds per message, the most of a send's CPU)."""
        if any("\r" in value or "\n" in value for value in (message.recipient, message.subject)):
            raise PermanentDeliveryError("a line break in a header (recipient or subject)")
        headers = {
            "From": self._from_header,
            "To": message.recipient,
            "Subject": _encoded_header("Subject", message.subject),
            "Message-ID": message.message_id,
            "Date": format_datetime(sent_at),
            "Auto-Submitted": "auto-generated",
            "Content-Language": message.language,
            "MIME-Version": "1.0",
        }
        unfolded = [value.replace("\r\n ", "") for value in headers.values()]
        if any("\r" in value or "\n" in value for value in unfolded):
            raise PermanentDeliveryError("a line break in a header (recipient or subject)")
        boundary = next(self._boundaries)
        lines = [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        lines.append("")
        for subtype, body in (("plain", message.body_text), ("html", message.body_html)):
            encoded = base64.encodebytes(body.encode()).decode().replace("\n", "\r\n")
            lines += [
                f"--{boundary}",
                f'Content-Type: text/{subtype}; charset="utf-8"',
                "Content-Transfer-Encoding: base64",
                "",
                encoded.rstrip("\r\n"),
            ]
        lines += [f"--{boundary}--", ""]
        return "\r\n".join(lines).encode()

    async def send(self, message: OutgoingMessage, sent_at: datetime) -> None:
        """Send ``message``; raise PermanentDeliveryError or TemporaryDeliveryError on failure."""
        mail = self.compose(message, sent_at)
        try:
            recipient = b"TO:" + quote_address(message.recipient).encode("ascii")
        except (ValueError, UnicodeEncodeError) as exc:  # no SMTP server takes it, ever
            raise PermanentDeliveryError(f"not an address SMTP can carry: {exc}") from exc
        async with self._slots:
            try:
                await self._send_pooled(recipient, message.recipient, mail)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [error.code for error in exc.recipients]
                if all(code >= 500 for code in codes):
                    raise PermanentDeliveryError(str(exc)) from exc
                raise TemporaryDeliveryError(str(exc)) from exc
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    raise PermanentDeliveryError(f"{exc.code} {exc.message}") from exc
                raise TemporaryDeliveryError(f"{exc.code} {exc.message}") from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise TemporaryDeliveryError(repr(exc)) from exc

    async def _send_pooled(self, rcpt_to: bytes, recipient: str, mail: bytes) -> None:
        """Send on an idle connection (or a new one); keep the connection if it still works."""
        client = self._idle.pop() if self._idle else None
        reused = client is not None and client.is_connected
        if not reused:
            client = await self._connect(client)
        assert client is not None
        try:
            await self._transaction(client, rcpt_to, recipient, mail)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
            # The server answered (and the envelope was reset): the connection is fine.
            self._idle.append(client)
            raise
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            self._discard(client)
            if not reused:
                raise
            # The pooled connection had died (an idle timeout on the server): once more.
            client = await self._connect(None)
            try:
                await self._transaction(client, rcpt_to, recipient, mail)
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
                self._idle.append(client)
                raise
            except BaseException:
                self._discard(client)
                raise
        except BaseException:
            self._discard(client)
            raise
        self._idle.append(client)

    async def _transaction(
        self, client: aiosmtplib.SMTP, rcpt_to: bytes, recipient: str, mail: bytes
    ) -> None:
        """One mail transaction (MAIL, RCPT, DATA) with the addresses quoted in advance: what
        ``sendmail`` does for one recipient, raising the same errors (and resetting the
        envelope after a refusal), without its per-message address parsing and its extra
        line-ending pass (``compose`` writes CRLF line ends already)."""
        options = [b"SIZE=%d" % len(mail)] if client.supports_extension("size") else []
        try:
            response = await client.execute_command(b"MAIL", self._mail_from, *options)
            if response.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPSenderRefused(response.code, response.message, self._sender)
            response = await client.execute_command(b"RCPT", rcpt_to)
            if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                refused = aiosmtplib.SMTPRecipientRefused(
                    response.code, response.message, recipient
                )
                raise aiosmtplib.SMTPRecipientsRefused([refused])
            await client.data(mail)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            try:
                await client.rset()
            except (ConnectionError, aiosmtplib.SMTPResponseException):
                pass  # as sendmail: a failed reset does not hide the refusal
            raise

    async def _connect(self, previous: aiosmtplib.SMTP | None) -> aiosmtplib.SMTP:
        if previous is not None:
            self._discard(previous)
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_start_tls,
            timeout=settings.smtp_timeout_seconds,
            local_hostname=LOCAL_HOSTNAME,
        )
        await client.connect()
        if client.is_ehlo_or_helo_needed:  # as sendmail does before its first MAIL
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                if not client.is_connected:
                    raise
                await client.helo()
        return client

    def _discard(self, client: aiosmtplib.SMTP) -> None:
        try:
            client.close()
        except Exception:  # noqa: BLE001  a broken connection may fail to close; it is gone
            log.debug("smtp_close_failed")

    async def aclose(self) -> None:
        """Say goodbye on every idle connection."""
        while self._idle:
            client = self._idle.pop()
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self._discard(client)
