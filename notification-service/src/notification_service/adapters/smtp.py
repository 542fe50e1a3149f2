"""Outgoing e-mail over SMTP (aiosmtplib): the e-mail channel."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from notification_service.config import NotificationSettings
from notification_service.messages.model import (
    OutgoingMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)


class SmtpEmailSender:
    """Sends e-mail through one SMTP server: text and HTML parts, our Message-ID (so a reply's
    In-Reply-To threads back to the case) and the case reference in the subject."""

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    async def send(self, message: OutgoingMessage, sent_at: datetime) -> None:
        """Send ``message``; raise PermanentDeliveryError or TemporaryDeliveryError on failure."""
        mail = EmailMessage()
        mail["From"] = self._settings.mail_from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Message-ID"] = message.message_id
        mail["Date"] = format_datetime(sent_at)
        mail["Auto-Submitted"] = "auto-generated"
        mail["Content-Language"] = message.language
        mail.set_content(message.body_text)
        mail.add_alternative(message.body_html, subtype="html")
        settings = self._settings
        try:
            await aiosmtplib.send(
                mail,
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
