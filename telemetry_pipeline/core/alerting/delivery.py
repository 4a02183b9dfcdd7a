"""One delivery pass: send the due alerts of the outbox on every configured channel.

Rules of the pass:
- a channel that is not configured is skipped with one log line and marked 'skipped' on the
  pending alerts (when no channel at all is configured, alerts simply stay pending);
- the first failure of a channel ends that channel for this pass (Slack down must not cost one
  timeout per alert); the failed alert backs off, the others keep their turn for the next tick;
- a failure that is the alert's own, not the channel's, never ends the channel: a permanent
  rejection (Slack's invalid_blocks, channel_not_found, not_in_channel, invalid_auth; a
  message that cannot be built) marks the channel 'dead' on that alert, never retried; an
  email some recipients refused records them and retries only them; an alert whose payload
  cannot be rendered is dead on every pending channel. One bad alert never stops the pass;
- a channel that asked us to wait (429 + Retry-After) is paused for every alert until then;
- a resolved message goes to a channel only after its violation went there;
- the due alerts of a scoped SLO's scopes with the same SLO, SLI, granularity, period and kind
  leave as one message per channel target (routing.py), listing the scopes worst first; each
  alert keeps its own per-channel state, all set in one statement once the message went out,
  so a retry sends only the scopes whose message failed;
- the pass stops starting new sends after `budget_seconds`, so a tick stays well inside
  Dagster's sensor timeout; what is left is due on the next tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import psycopg

from telemetry_pipeline.core.alerting import outbox
from telemetry_pipeline.core.alerting.messages import Message, render, render_group
from telemetry_pipeline.core.alerting.routing import Router, Target


class DeliveryFailed(Exception):
    """A channel could not deliver; `reason` is safe to log (no secrets), `retry_after` in s.

    `permanent`: the channel will never accept this message (the alert is dead on it).
    `per_alert`: the channel works, only this message failed (keep using it this pass).
    `accepted` / `refused`: email recipients the server took / refused (address -> reply).
    """

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        *,
        permanent: bool = False,
        per_alert: bool = False,
        accepted: list[str] | None = None,
        refused: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
        self.per_alert = per_alert or permanent
        self.accepted = accepted or []
        self.refused = refused or {}


class Sender(Protocol):
    """Sends one rendered alert; returns the channel's reference (Slack ts, email Message-ID).

    `already`: recipients that accepted this alert on an earlier attempt (email only).
    `target`: where to send instead of the channel's default (a team's Slack channel or its
    e-mail addresses, routing.py); None = the default.
    """

    def __call__(self, message: Message, already: frozenset[str] = frozenset(), target: Target = None) -> str: ...


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
    retrying: int = 0  # channel attempts that failed this pass and are retried later
    dead: int = 0  # channel attempts given up for good this pass
    pending_left: int = 0
    skipped_channels: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} sent on {c}" for c, n in self.sent.items() if n]
        parts += [f"{c} failing ({reason})" for c, reason in self.failed.items()]
        parts.append(f"deliveries: {sum(self.sent.values())} sent, {self.retrying} retrying, {self.dead} dead")
        parts.append(f"{self.pending_left} pending")
        return ", ".join(parts)


def deliver(
    conn: psycopg.Connection,
    channels: list[Channel],
    now: Callable[[], datetime],
    log: logging.Logger | logging.LoggerAdapter,
    *,
    batch: int = 100,
    budget_seconds: float = 25.0,
    router: Router | None = None,
) -> DeliveryReport:
    """Deliver due alerts; `conn` must be autocommit (each result is committed on its own).

    `router` sends scoped alerts to their team's channels (default: everything to the defaults).
    """
    report = DeliveryReport()
    router = router if router is not None else Router()
    with outbox.delivery_lock(conn) as got_lock:
        if not got_lock:
            log.info("another delivery pass holds the outbox lock; not delivering this tick")
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
        # Each channel result is its own commit; not waiting for its WAL flush (~5 ms on a busy
        # disk) is what keeps a burst of 1,000 alerts inside one tick. The result is durable
        # against any crash of this process at once, and against a crash of the PostgreSQL
        # server itself within ~0.6 s (3 x wal_writer_delay): only that could re-send a message.
        conn.execute("set synchronous_commit = off")
        deadline = time.monotonic() + budget_seconds
        with ExitStack() as stack:
            broken: set[str] = set()
            run = _Pass(conn, active, {}, broken, stack, now, log, report, router)
            for name, until in outbox.paused_channels(conn, now()).items():
                if any(c.name == name for c in active):
                    broken.add(name)
                    log.info("%s is paused until %s (it asked us to wait)", name, f"{until:%H:%M:%S}Z")
            grouped: set[int] = set()  # scoped alerts already handled with their group this pass
            for alert in _due_in_batches(conn, now, batch):
                if alert.id in grouped:
                    continue
                if len(broken) == len(active):
                    break
                if time.monotonic() > deadline:
                    log.info("delivery budget of %.0f s used; the rest is due next tick", budget_seconds)
                    break
                if alert.dimension is None:
                    _deliver_one(run, alert)
                    continue
                group = outbox.due_scope_group(conn, alert, now())
                grouped.update(a.id for a in group)
                for member in group:
                    if member.resolves_key and "pending" in member.parent_states.values():
                        member.parent_states = outbox.channel_states(conn, member.resolves_key)
                _deliver_group(run, group)
        report.pending_left = outbox.count_pending(conn)
    return report


def _due_in_batches(
    conn: psycopg.Connection, now: Callable[[], datetime], batch: int
) -> Iterator[outbox.DueAlert]:
    """Every alert due at the start of the pass, once, `batch` payloads in memory at a time.

    A resolved message whose violation was still pending when its batch was read looks at the
    violation again: sent a moment ago in this pass, it lets the resolve go out in this pass too.
    """
    after: tuple[datetime, int] | None = None
    while True:
        due = outbox.due_alerts(conn, now(), batch, after)
        for alert in due:
            after = alert.position
            if alert.resolves_key and "pending" in alert.parent_states.values():
                alert.parent_states = outbox.channel_states(conn, alert.resolves_key)
            yield alert
        if len(due) < batch:
            return


@dataclass
class _Pass:
    """What one delivery pass carries from alert to alert: its channels, senders and report."""

    conn: psycopg.Connection
    active: list[Channel]
    senders: dict[str, Sender]
    broken: set[str]  # channels that failed this pass
    stack: ExitStack
    now: Callable[[], datetime]
    log: logging.Logger | logging.LoggerAdapter
    report: DeliveryReport
    router: Router

    def send(
        self, channel: Channel, alerts: list[outbox.DueAlert], message: Message, already: frozenset[str],
        target: Target,
    ) -> None:
        """Send one message carrying `alerts` on `channel`; record the result on each of them."""
        name = channel.name
        if name not in self.senders:
            self.senders[name] = self.stack.enter_context(channel.open())
        try:
            reference = self.senders[name](message, already, target)
        except DeliveryFailed as exc:
            failure = exc
        except Exception as exc:  # noqa: BLE001 - a sender bug must not stop the other alerts
            failure = DeliveryFailed(f"unexpected error: {_brief(exc)}", per_alert=True)
        else:
            self.report.sent[name] = self.report.sent.get(name, 0) + len(alerts)
            for alert in alerts:
                retried = [a for a, r in alert.email_recipients.items() if (r or {}).get("state") != "sent"]
                if name == "email" and retried:  # the recipients refused before took it this time
                    outbox.record_recipients(self.conn, alert, retried, {}, self.now())
            outbox.mark_group_sent(self.conn, alerts, name, reference, self.now())
            return
        for alert in alerts:
            _failed(self.conn, alert, name, failure, self.broken, self.now, self.log, self.report)

    def give_up(self, alert: outbox.DueAlert, exc: Exception) -> None:
        """An alert whose message cannot be built: dead on every pending channel."""
        _give_up_everywhere(self.conn, alert, self.active, f"message could not be built: {_brief(exc)}",
                            self.now, self.log, self.report)

    def ready(self, alert: outbox.DueAlert, name: str) -> bool:
        """Whether `alert` is to be sent on channel `name` now (a resolve only after its violation)."""
        if alert.states.get(name) != "pending" or name in self.broken:
            return False
        parent = alert.parent_states.get(name)
        if parent == "pending":
            return False  # the violation has not reached this channel yet; resolve after it
        if parent in ("skipped", "dead"):  # the violation never reached this channel: nor does its resolve
            outbox.mark_channel_skipped(self.conn, alert, name, self.now())
            return False
        return True


def _deliver_one(run: _Pass, alert: outbox.DueAlert) -> None:
    message: Message | None = None
    for channel in run.active:
        if not run.ready(alert, channel.name):
            continue
        if message is None:
            try:
                message = render(alert.kind, alert.payload)
            except Exception as exc:  # noqa: BLE001 - a broken payload is this alert's problem only
                run.give_up(alert, exc)
                return
        run.send(channel, [alert], message, alert.accepted_recipients() if channel.name == "email" else frozenset(),
                 None)


def _deliver_group(run: _Pass, group: list[outbox.DueAlert]) -> None:
    """The scopes of one SLO, SLI, granularity, period and kind: one message per channel target.

    Per channel, the alerts still pending there are bucketed by target (and, for email, by the
    recipients that already took them, so nobody gets a scope twice); each bucket is one message
    whose result is recorded on every alert in it.
    """
    for channel in run.active:
        name = channel.name
        buckets: dict[tuple[Target, frozenset[str]], list[outbox.DueAlert]] = {}
        for alert in group:
            if run.ready(alert, name):
                target = run.router.target(name, alert.dimension, alert.dimension_value)
                already = alert.accepted_recipients() if name == "email" else frozenset()
                buckets.setdefault((target, already), []).append(alert)
        for (target, already), members in buckets.items():
            if name in run.broken:
                break
            try:
                message = render_group(members[0].kind, [m.payload for m in members])
            except Exception as exc:  # noqa: BLE001 - a broken payload is these alerts' problem only
                for member in members:
                    run.give_up(member, exc)
                continue
            run.send(channel, members, message, already, target)


def _failed(
    conn: psycopg.Connection,
    alert: outbox.DueAlert,
    name: str,
    exc: DeliveryFailed,
    broken: set[str],
    now: Callable[[], datetime],
    log: logging.Logger | logging.LoggerAdapter,
    report: DeliveryReport,
) -> None:
    """Record one failed attempt: dead for good, or retried (ending the channel's pass if it is down)."""
    if exc.accepted or exc.refused:
        outbox.record_recipients(conn, alert, exc.accepted, exc.refused, now())
    if exc.permanent:
        report.dead += 1
        outbox.mark_channel_dead(conn, alert, name, exc.reason, now())
        log.warning("alert %s is dead on %s (never retried): %s", alert.key, name, exc.reason)
        return
    report.retrying += 1
    if not exc.per_alert:
        broken.add(name)
        report.failed[name] = exc.reason
    next_at = outbox.mark_failed(conn, alert, f"{name}: {exc.reason}", now(), exc.retry_after)
    if exc.retry_after is not None:
        outbox.pause_channel(conn, name, next_at, exc.reason)
    log.warning(
        "alert %s not delivered on %s: %s; retry at %s (attempt %d)",
        alert.key, name, exc.reason, f"{next_at:%Y-%m-%d %H:%M:%S}Z", alert.attempts,
    )


def _give_up_everywhere(
    conn: psycopg.Connection,
    alert: outbox.DueAlert,
    active: list[Channel],
    reason: str,
    now: Callable[[], datetime],
    log: logging.Logger | logging.LoggerAdapter,
    report: DeliveryReport,
) -> None:
    """An alert no channel can ever be sent: dead on each of its pending channels."""
    for channel in active:
        if alert.states.get(channel.name) == "pending":
            report.dead += 1
            outbox.mark_channel_dead(conn, alert, channel.name, reason, now())
    log.warning("alert %s is dead (never retried): %s", alert.key, reason)


def _brief(exc: BaseException) -> str:
    """An exception for the outbox and the log: its type and first 300 characters."""
    return f"{type(exc).__name__}: {exc}"[:300]
