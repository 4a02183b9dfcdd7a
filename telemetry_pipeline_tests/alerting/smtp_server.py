"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records the mails it accepts.

`stop()` makes the port refuse connections (SMTP down); `start()` brings it back on the same
port, so the sender's configuration stays valid across the outage. Addresses in `refuse` are
answered `550 5.1.1 mailbox unavailable` at RCPT TO, as a server does for an unknown user.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Recorder:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook
        if address.lower() in self.owner.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.owner._cond:
            self.owner.mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
            self.owner._cond.notify_all()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        """`credentials` (login, password): require SMTP AUTH (allowed without TLS on loopback)."""
        self.credentials = credentials
        self.port = free_port()
        self.mails: list[ReceivedMail] = []
        self.refuse: set[str] = set()  # lower-case addresses refused with 550 at RCPT TO
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        auth = {}
        if self.credentials is not None:
            auth = {"authenticator": self._authenticate, "auth_require_tls": False, "auth_required": True}
        self._controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()
        return self

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        ok = (login, password) == self.credentials
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for_mails(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.mails) >= count, timeout=timeout)

    def subjects(self) -> list[str]:
        return [str(m.message["Subject"]) for m in self.mails]
