"""One delivery pass: send the due alerts of the outbox on every configured channel.

Rules of the pass:
- a channel that is not configured is skipped with one log line and marked 'skipped' on the
  pending alerts (when no channel at all is configured, alerts simply stay pending);
- the first failure of a channel ends that channel for this pass (Slack down must not cost one
  timeout per alert); the failed alert backs off, the others keep their turn for the next tick;
- a resolved message goes to a channel only after its violation went there;
- the pass stops starting new sends after `budget_seconds`, so a tick stays well inside
  Dagster's sensor timeout; what is left is due on the next tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import psycopg

from telemetry_pipeline.alerting import outbox
from telemetry_pipeline.alerting.messages import Message, render


class DeliveryFailed(Exception):
    """A channel could not deliver; `reason` is safe to log (no secrets), `retry_after` in s."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


#: Sends one rendered alert; returns the channel's reference (Slack ts, email Message-ID).
Sender = Callable[[Message], str]


class Channel(Protocol):
    name: str

    def is_configured(self) -> bool: ...

    def not_configured_reason(self) -> str: ...

    def open(self) -> AbstractContextManager[Sender]: ...


@dataclass
class ResourceChannel:
    """Adapts a channel resource (Slack, email) to the pass: a name plus its sender session."""

    name: str
    resource: object
    session: Callable[[], AbstractContextManager[Sender]]

    def is_configured(self) -> bool:
        return self.resource.is_configured()  # type: ignore[attr-defined]

    def not_configured_reason(self) -> str:
        return self.resource.not_configured_reason()  # type: ignore[attr-defined]

    def open(self) -> AbstractContextManager[Sender]:
        return self.session()


@dataclass
class DeliveryReport:
    """What one pass did, per channel."""

    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # channel -> reason of its failure
    completed: int = 0  # alerts that reached state 'sent'
    pending_left: int = 0
    skipped_channels: list[str] = field(default_factory=list)
    locked_out: bool = False

    def summary(self) -> str:
        parts = [f"{n} sent on {c}" for c, n in self.sent.items() if n]
        parts += [f"{c} failing ({reason})" for c, reason in self.failed.items()]
        parts.append(f"{self.pending_left} pending")
        return ", ".join(parts)


def deliver(
    conn: psycopg.Connection,
    channels: list[Channel],
    now: Callable[[], datetime],
    log: logging.Logger | logging.LoggerAdapter,
    *,
    batch: int = 500,
    budget_seconds: float = 25.0,
) -> DeliveryReport:
    """Deliver due alerts; `conn` must be autocommit (each result is committed on its own)."""
    report = DeliveryReport()
    with outbox.delivery_lock(conn) as got_lock:
        if not got_lock:
            log.info("another delivery pass holds the outbox lock; not delivering this tick")
            report.locked_out = True
            return report
        active = [c for c in channels if c.is_configured()]
        if not active:
            report.pending_left = outbox.count_pending(conn)
            if report.pending_left:
                log.info(
                    "no alert channel configured (%s); %d alerts stay pending",
                    "; ".join(c.not_configured_reason() for c in channels), report.pending_left,
                )
            return report
        for channel in channels:
            if channel not in active:
                skipped = outbox.skip_channel(conn, channel.name)
                report.skipped_channels.append(channel.name)
                if skipped:
                    log.info("%s; %d pending alerts skip it", channel.not_configured_reason(), skipped)
        started = time.monotonic()
        with ExitStack() as stack:
            senders: dict[str, Sender] = {}
            broken: set[str] = set()
            # channel states of this pass's alerts: a violation sent a moment ago lets its
            # resolved message (later in the same batch) go out in the same pass
            states_by_key: dict[str, dict[str, str]] = {}
            for alert in outbox.due_alerts(conn, now(), batch):
                states_by_key[alert.key] = alert.states
                if alert.resolves_key in states_by_key:
                    alert.parent_states = dict(states_by_key[alert.resolves_key])
                if time.monotonic() - started > budget_seconds:
                    log.info("delivery budget of %.0f s used; the rest is due next tick", budget_seconds)
                    break
                if len(broken) == len(active):
                    break
                _deliver_one(conn, alert, active, senders, broken, stack, now, log, report)
        report.pending_left = outbox.count_pending(conn)
    return report


def _deliver_one(
    conn: psycopg.Connection,
    alert: outbox.DueAlert,
    active: list[Channel],
    senders: dict[str, Sender],
    broken: set[str],
    stack: ExitStack,
    now: Callable[[], datetime],
    log: logging.Logger | logging.LoggerAdapter,
    report: DeliveryReport,
) -> None:
    message: Message | None = None
    for channel in active:
        name = channel.name
        if alert.states.get(name) != "pending" or name in broken:
            continue
        parent = alert.parent_states.get(name)
        if parent == "pending":
            continue  # the violation has not reached this channel yet; resolve after it
        if parent == "skipped":
            if outbox.mark_channel_skipped(conn, alert, name, now()):
                report.completed += 1
            continue
        if message is None:
            message = render(alert.kind, alert.payload)
        if name not in senders:
            senders[name] = stack.enter_context(channel.open())
        try:
            reference = senders[name](message)
        except DeliveryFailed as exc:
            broken.add(name)
            report.failed[name] = exc.reason
            next_at = outbox.mark_failed(conn, alert, f"{name}: {exc.reason}", now(), exc.retry_after)
            log.warning(
                "alert %s not delivered on %s: %s; retry at %s (attempt %d)",
                alert.key, name, exc.reason, f"{next_at:%Y-%m-%d %H:%M:%S}Z", alert.attempts,
            )
            continue
        report.sent[name] = report.sent.get(name, 0) + 1
        if outbox.mark_channel_sent(conn, alert, name, reference, now()):
            report.completed += 1

