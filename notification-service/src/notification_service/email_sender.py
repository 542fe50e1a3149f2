"""Outgoing e-mail over SMTP (aiosmtplib)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from notification_service.config import NotificationSettings


@dataclass(frozen=True)
class OutgoingEmail:
    """One e-mail ready to send."""

    message_id: str
    recipient: str
    subject: str
    body_text: str


class PermanentDeliveryError(Exception):
    """The server refused the message for good (5xx); retrying will not help."""


class TemporaryDeliveryError(Exception):
    """The message could not be sent now (network, 4xx); retry later."""


class SmtpEmailSender:
    """Sends e-mail through one SMTP server."""

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    async def send(self, email: OutgoingEmail, sent_at) -> None:  # noqa: ANN001
        """Send ``email``; raise PermanentDeliveryError or TemporaryDeliveryError on failure."""
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id
        message["Date"] = format_datetime(sent_at)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(email.body_text)
        settings = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                start_tls=settings.smtp_start_tls,
                timeout=settings.smtp_timeout_seconds,
            )
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
