"""Email as an alert channel: stdlib smtplib, one SMTP session per delivery pass.

Messages are multipart (plain text + HTML) and carry `Auto-Submitted: auto-generated`
(RFC 3834) so vacation responders and ticket systems do not answer them. The SMTP password is a
Dagster EnvVar; errors name the server, never the credentials.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from telemetry_pipeline.core import settings as env
from telemetry_pipeline.core.alerting.delivery import DeliveryFailed, Sender
from telemetry_pipeline.core.alerting.messages import Message


class EmailAlertResource(ConfigurableResource):
    """Sends alerts through an SMTP server; unconfigured (no host, sender or recipients) = skipped."""

    host: str = Field(default="", description="SMTP server (SMTP_HOST); empty = email off.")
    port: int = Field(default=25, description="SMTP port (SMTP_PORT).")
    sender: str = Field(default="", description="From address (SMTP_FROM).")
    recipients: str = Field(default="", description="Comma-separated To addresses (ALERT_EMAIL_TO).")
    username: str = Field(default="", description="SMTP login (SMTP_USERNAME), optional.")
    password: str = Field(default="", description="SMTP password (SMTP_PASSWORD), optional.")
    starttls: bool = Field(default=False, description="Upgrade with STARTTLS (SMTP_STARTTLS).")
    timeout_seconds: float = Field(default=10.0, description="Connect/command timeout.")

    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.split(",") if r.strip()]

    def is_configured(self) -> bool:
        return bool(self.host and self.sender and self.recipient_list())

    def not_configured_reason(self) -> str:
        missing = [
            n for n, v in ((env.SMTP_HOST, self.host), (env.SMTP_FROM, self.sender),
                           (env.ALERT_EMAIL_TO, self.recipient_list())) if not v
        ]
        return f"email alerts are off: {' and '.join(missing)} not set"

    def build(self, message: Message) -> EmailMessage:
        """The email of one rendered alert (text and HTML alternatives)."""
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.sender
        email["To"] = ", ".join(self.recipient_list())
        email["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self.sender.rpartition("@")[2] or None
        email["Message-ID"] = make_msgid(domain=domain)
        email["Auto-Submitted"] = "auto-generated"
        email["X-Auto-Response-Suppress"] = "All"
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        return email

    @contextmanager
    def sender_session(self) -> Iterator[Sender]:
        """A function sending one alert; connects on first use and reuses the session."""
        session: smtplib.SMTP | None = None
        where = f"SMTP {self.host}:{self.port}"

        def send(message: Message) -> str:
            nonlocal session
            email = self.build(message)
            try:
                if session is None:
                    session = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
                    session.ehlo()
                    if self.starttls:
                        session.starttls(context=ssl.create_default_context())
                        session.ehlo()
                    if self.username:
                        session.login(self.username, self.password)
                session.send_message(email, from_addr=self.sender, to_addrs=self.recipient_list())
            except Exception as exc:  # noqa: BLE001 - SMTP, socket, TLS or encoding: stay pending
                _close(session)
                session = None
                raise DeliveryFailed(f"{where}: {type(exc).__name__}: {_safe(exc)}") from None
            return str(email["Message-ID"])

        try:
            yield send
        finally:
            _close(session)


def _safe(exc: BaseException) -> str:
    """An SMTP error for logs: the server's reply code and text, never what we sent."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"[:300]
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)[:300]


def _close(session: smtplib.SMTP | None) -> None:
    if session is None:
        return
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


def email_from_env() -> EmailAlertResource:
    """The resource as the environment configures it; SMTP_PASSWORD stays a Dagster EnvVar."""
    current = env.current()
    current.validate(("smtp_port", "smtp_starttls"))

    def var(name: str) -> str:
        return EnvVar(name) if current.is_set(name) else ""

    return EmailAlertResource(
        host=var(env.SMTP_HOST),
        sender=var(env.SMTP_FROM),
        recipients=var(env.ALERT_EMAIL_TO),
        username=var(env.SMTP_USERNAME),
        password=var(env.SMTP_PASSWORD),
        port=EnvVar.int(env.SMTP_PORT) if current.smtp_port is not None else 25,
        starttls=bool(current.smtp_starttls),
    )
