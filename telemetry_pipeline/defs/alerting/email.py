"""Email as an alert channel: stdlib smtplib, one SMTP session per delivery pass.

Messages are multipart (plain text + HTML) and carry `Auto-Submitted: auto-generated`
(RFC 3834) so vacation responders and ticket systems do not answer them. The SMTP password is a
Dagster EnvVar; errors name the server, never the credentials.

ALERT_EMAIL_TO is an RFC 5322 address list (`"Dev, Team" <dev@x>, ops@x`; ';' separates too);
a value that does not parse stops start-up naming the variable. The server's answer is kept
per recipient: one it refuses (550) is recorded with the reply and retried, the ones it accepted
are never mailed that alert again.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from telemetry_pipeline.core import settings as env
from telemetry_pipeline.core.alerting.delivery import DeliveryFailed, Sender
from telemetry_pipeline.core.alerting.messages import Message, clean_text
from telemetry_pipeline.core.alerting.routing import Target


class EmailAlertResource(ConfigurableResource):
    """Sends alerts through an SMTP server; unconfigured (no host, sender or recipients) = skipped.

    `recipients` is the default list; a scoped alert of a team with its own `email` addresses
    goes to those instead (core/alerting/routing.py).
    """

    host: str = Field(default="", description="SMTP server (SMTP_HOST); empty = email off.")
    port: int = Field(default=25, description="SMTP port (SMTP_PORT).")
    sender: str = Field(default="", description="From address (SMTP_FROM).")
    recipients: str = Field(default="", description="To addresses, an RFC 5322 address list (ALERT_EMAIL_TO).")
    username: str = Field(default="", description="SMTP login (SMTP_USERNAME), optional.")
    password: str = Field(default="", description="SMTP password (SMTP_PASSWORD), optional.")
    starttls: bool = Field(default=False, description="Upgrade with STARTTLS (SMTP_STARTTLS).")
    timeout_seconds: float = Field(default=10.0, description="Connect/command timeout.")

    def recipient_list(self) -> list[str]:
        """The envelope addresses (dev@x) of ALERT_EMAIL_TO, in order, each once."""
        return [address for _name, address in parse_recipients(self.recipients)]

    def to_header(self) -> str:
        """The To header: every configured recipient with its display name."""
        return ", ".join(formataddr(pair) for pair in parse_recipients(self.recipients))

    def is_configured(self) -> bool:
        return bool(self.host and self.sender and self._recipients_or_error()[0])

    def not_configured_reason(self) -> str:
        recipients, error = self._recipients_or_error()
        if error:  # changed to garbage while running: email is off, Slack goes on
            return f"email alerts are off: {error}"
        missing = [
            n for n, v in ((env.SMTP_HOST, self.host), (env.SMTP_FROM, self.sender),
                           (env.ALERT_EMAIL_TO, recipients)) if not v
        ]
        return f"email alerts are off: {' and '.join(missing)} not set"

    def _recipients_or_error(self) -> tuple[list[str], str | None]:
        """The recipients, or none and why: a bad list must not stop the other channel's pass."""
        try:
            return self.recipient_list(), None
        except ValueError as exc:
            return [], str(exc)

    def build(self, message: Message, to: tuple[str, ...] | None = None) -> EmailMessage:
        """The email of one rendered alert (text and HTML alternatives), to `to` or the default list."""
        email = EmailMessage()
        email["Subject"] = clean_text(message.subject)  # a CR/LF would be a header injection
        email["From"] = self.sender
        email["To"] = ", ".join(to) if to else self.to_header()
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

        def send(message: Message, already: frozenset[str] = frozenset(), target: Target = None) -> str:
            nonlocal session
            to = target if isinstance(target, tuple) and target else None  # a team's addresses
            recipients = [r for r in (to or self.recipient_list()) if r not in already]
            if not recipients:
                return ""  # every recipient accepted it on an earlier attempt
            try:
                email = self.build(message, to)
                email.as_bytes()  # fails here, on this message only, if a header cannot be encoded
            except Exception as exc:  # noqa: BLE001 - this message can never be sent as it is
                raise DeliveryFailed(f"the email could not be built: {type(exc).__name__}: {exc}"[:300],
                                     permanent=True) from None
            try:
                if session is None:
                    session = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
                    session.ehlo()
                    if self.starttls:
                        session.starttls(context=ssl.create_default_context())
                        session.ehlo()
                    if self.username:
                        session.login(self.username, self.password)
                refused = session.send_message(email, from_addr=self.sender, to_addrs=recipients)
            except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused; the session is fine
                raise _refusal(where, [], exc.recipients, len(recipients)) from None
            except Exception as exc:  # noqa: BLE001 - SMTP, socket, TLS or encoding: stay pending
                _close(session)
                session = None
                raise DeliveryFailed(f"{where}: {type(exc).__name__}: {_safe(exc)}") from None
            if refused:
                accepted = [r for r in recipients if r not in refused]
                raise _refusal(where, accepted, refused, len(recipients))
            return str(email["Message-ID"])

        try:
            yield send
        finally:
            _close(session)


def _refusal(where: str, accepted: list[str], refused: dict, asked: int) -> DeliveryFailed:
    """Some recipients refused: a per-alert failure naming each with the server's reply."""
    replies = {addr: _reply(code, text) for addr, (code, text) in refused.items()}
    listed = "; ".join(f"{addr} ({reply})" for addr, reply in replies.items())
    return DeliveryFailed(f"{where}: {len(replies)} of {asked} recipients refused: {listed}"[:1000],
                          per_alert=True, accepted=accepted, refused=replies)


def _reply(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {decoded}"[:300]


def parse_recipients(raw: str, variable: str = env.ALERT_EMAIL_TO) -> list[tuple[str, str]]:
    """(display name, address) pairs of an RFC 5322 address list, each address once.

    ';' separates like ',' (what people type, and what groups end with). Anything that is not
    a plain local@domain address raises ValueError naming `variable`.
    """
    pairs: list[tuple[str, str]] = []
    for name, address in getaddresses([raw]):
        if not name and not address:
            continue  # an empty element: 'a@x,, b@x' or the separator of 'a@x; b@x'
        local, at, domain = address.rpartition("@")
        if not (at and local and domain) or any(ch.isspace() or ch in '<>,;"' for ch in address):
            raise ValueError(f"{variable}: {clean_text(name or address or raw)!r} is not an email address "
                             f"(expected an RFC 5322 address list, e.g. '\"Dev, Team\" <dev@example.org>, ops@example.org')")
        if all(address.lower() != a.lower() for _n, a in pairs):
            pairs.append((name, address))
    if raw.strip() and not pairs:
        raise ValueError(f"{variable}={clean_text(raw)!r} holds no email address")
    return pairs


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
    if current.is_set(env.ALERT_EMAIL_TO):
        parse_recipients(current.environ[env.ALERT_EMAIL_TO])  # an unparsable list stops start-up here

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
