"""Delivery state of the slo_alerts outbox: what is due, what succeeded, when to retry.

Each channel result is committed on its own, right after the channel answered: a message that
reached Slack is marked sent before anything else happens, so a crash, a failing email server
or a daemon restart can never make it go out twice. Failures keep the alert pending with an
exponential backoff (or Slack's Retry-After), so nothing is ever dropped by a passing outage.
A permanent rejection (the channel will never accept this message) marks the channel 'dead' on
the alert with its error instead: never retried, and the alert, once no channel is pending, is
in state 'dead' (listed on the dashboard) rather than blocking or repeating.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from telemetry_pipeline.core.warehouse import one

#: channel name -> (state column, reference column); identifiers of our own schema only.
CHANNEL_COLUMNS: dict[str, tuple[str, str]] = {
    "slack": ("slack_state", "slack_ts"),
    "email": ("email_state", "email_message_id"),
}

#: Retry schedule of one alert after a failed delivery: 15 s, 30 s, then every minute. A pass
#: gives a failing channel up after its first failure, so however many alerts are pending a
#: down channel costs one request per tick; a short cap means little delay once it is back.
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_CAP = timedelta(minutes=1)

#: Delivery passes exclude each other (a manual tick and the daemon, two daemons): a message is
#: only ever in flight once. Arbitrary constant, distinct from the migration lock.
_DELIVERY_LOCK = 7_240_030


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones (1 -> 15 s, doubling, capped)."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


@dataclass
class DueAlert:
    """A pending alert ready for a delivery attempt, with its channels' states."""

    id: int
    key: str
    kind: str
    resolves_key: str | None
    payload: dict[str, Any]
    attempts: int
    states: dict[str, str]  # channel -> pending | sent | skipped | dead
    parent_states: dict[str, str] = field(default_factory=dict)  # resolved: its violation's states
    position: tuple[datetime, int] | None = None  # (period_start, id): the delivery order
    email_recipients: dict[str, Any] = field(default_factory=dict)  # address -> {"state": ...}
    dimension: str | None = None  # the scope of a scoped SLO's alert (null: global)
    dimension_value: str | None = None

    def accepted_recipients(self) -> frozenset[str]:
        """Email addresses the server already accepted this alert for: never mailed again."""
        return frozenset(a for a, r in self.email_recipients.items() if (r or {}).get("state") == "sent")


@contextmanager
def delivery_lock(conn: psycopg.Connection) -> Iterator[bool]:
    """Hold the outbox's delivery lock for the block; yields False if another pass holds it."""
    got = one(conn.execute("select pg_try_advisory_lock(%s)", (_DELIVERY_LOCK,)))[0]
    try:
        yield bool(got)
    finally:
        if got:
            conn.execute("select pg_advisory_unlock(%s)", (_DELIVERY_LOCK,))


_DUE_COLUMNS = """
        select a.id, a.key, a.kind, a.resolves_key, a.payload, a.attempts, a.slack_state, a.email_state,
               p.slack_state, p.email_state, a.period_start, a.email_recipients, a.dimension, a.dimension_value
        from public.slo_alerts a
        left join public.slo_alerts p on p.key = a.resolves_key
"""


def due_alerts(
    conn: psycopg.Connection, now: datetime, limit: int, after: tuple[datetime, int] | None = None
) -> list[DueAlert]:
    """Pending alerts whose next attempt is due, oldest period first (a violation before its resolve).

    `after` is the (period_start, id) of the last alert of the previous batch: a pass reads the
    due alerts in batches (bounded memory) and visits each once.
    """
    rows = conn.execute(
        _DUE_COLUMNS + """
        where a.state = 'pending' and a.next_attempt_at <= %(now)s
          and (%(after_start)s::timestamptz is null or (a.period_start, a.id) > (%(after_start)s, %(after_id)s))
        order by a.period_start, a.id
        limit %(limit)s
        """,
        {"now": now, "limit": limit, "after_start": after[0] if after else None,
         "after_id": after[1] if after else None},
    ).fetchall()
    return [_due(r) for r in rows]


def due_scope_group(conn: psycopg.Connection, alert: DueAlert, now: datetime) -> list[DueAlert]:
    """The due alerts of every scope of `alert`'s SLO, SLI, granularity, period and kind (it included).

    A delivery pass sends them as one message per channel target (docs/alerting.md "Scoped alerts").
    """
    rows = conn.execute(
        _DUE_COLUMNS + """
        join public.slo_alerts g on g.id = %(id)s
        where a.state = 'pending' and a.next_attempt_at <= %(now)s and a.dimension is not null
          and a.slo_name = g.slo_name and a.sli = g.sli and a.aggregation_period = g.aggregation_period
          and a.period_start = g.period_start and a.kind = g.kind and a.dimension = g.dimension
        order by a.id
        """,
        {"id": alert.id, "now": now},
    ).fetchall()
    return [_due(r) for r in rows] or [alert]


def _due(r: tuple[Any, ...]) -> DueAlert:
    return DueAlert(
        id=r[0], key=r[1], kind=r[2], resolves_key=r[3], payload=r[4], attempts=r[5],
        states={"slack": r[6], "email": r[7]},
        parent_states={"slack": r[8], "email": r[9]} if r[8] is not None else {},
        position=(r[10], r[0]), email_recipients=r[11] or {}, dimension=r[12], dimension_value=r[13],
    )


def channel_states(conn: psycopg.Connection, key: str) -> dict[str, str]:
    """The per-channel states of one alert, read now."""
    row = conn.execute("select slack_state, email_state from public.slo_alerts where key = %s", (key,)).fetchone()
    return {"slack": row[0], "email": row[1]} if row else {}


def count_pending(conn: psycopg.Connection) -> int:
    return int(one(conn.execute("select count(*) from public.slo_alerts where state = 'pending'"))[0])


def count_dead(conn: psycopg.Connection) -> int:
    """Alerts some channel gave up on for good (all time): the operator's to-do list."""
    return int(one(conn.execute("select count(*) from public.slo_alerts where state = 'dead'"))[0])


def skip_channel(conn: psycopg.Connection, channel: str) -> int:
    """Mark an unconfigured channel 'skipped' on every pending alert; finish what that completes."""
    state_col, _ = CHANNEL_COLUMNS[channel]
    skipped = conn.execute(
        sql.SQL(
            "update public.slo_alerts set {col} = 'skipped', updated_at = now() "
            "where state = 'pending' and {col} = 'pending'"
        ).format(col=sql.Identifier(state_col))
    ).rowcount
    if skipped:
        _finish_complete(conn, None)
    return skipped


def mark_group_sent(
    conn: psycopg.Connection, alerts: list[DueAlert], channel: str, reference: str, now: datetime
) -> bool:
    """Alerts delivered together in one message: all marked sent on `channel` in one statement,
    so a crash can never leave part of a sent message pending (and re-sent)."""
    for alert in alerts:
        alert.states[channel] = "sent"
    return _set_channel(conn, [a.id for a in alerts], channel, "sent", reference, now)


def mark_channel_skipped(conn: psycopg.Connection, alert: DueAlert, channel: str, now: datetime) -> bool:
    """A resolved message whose violation never went to this channel skips it too."""
    alert.states[channel] = "skipped"
    return _set_channel(conn, [alert.id], channel, "skipped", None, now)


def mark_channel_dead(
    conn: psycopg.Connection, alert: DueAlert, channel: str, error: str, now: datetime
) -> bool:
    """A permanent rejection: the channel gives this alert up for good, keeping the error."""
    alert.states[channel] = "dead"
    return _set_channel(conn, [alert.id], channel, "dead", None, now, f"{channel}: {error}"[:1000])


def record_recipients(
    conn: psycopg.Connection, alert: DueAlert, accepted: list[str], refused: dict[str, str], now: datetime
) -> None:
    """Per-recipient email result: accepted ones are never mailed again, refused ones retried."""
    at = now.isoformat()
    update = {a: {"state": "sent", "at": at} for a in accepted}
    update |= {a: {"state": "refused", "error": e[:300], "at": at} for a, e in refused.items()}
    if not update:
        return
    conn.execute(
        "update public.slo_alerts set email_recipients = email_recipients || %s, updated_at = now() where id = %s",
        (Jsonb(update), alert.id),
    )
    alert.email_recipients = {**alert.email_recipients, **update}


def _set_channel(
    conn: psycopg.Connection, alert_ids: list[int], channel: str, value: str, reference: str | None, now: datetime,
    dead_error: str | None = None,
) -> bool:
    """One statement (one commit: the delivery pass is on an autocommit connection): set the
    channel's state, finish the alert when no channel is left pending ('dead' when a channel
    gave it up, else 'sent'), and mark the violation a finished resolved message closes as
    'resolved'. Returns True when some alert is now finished."""
    state_col, ref_col = CHANNEL_COLUMNS[channel]
    (other_col,) = (cols[0] for name, cols in CHANNEL_COLUMNS.items() if name != channel)
    row = conn.execute(
        sql.SQL(
            """
            with done as (
              update public.slo_alerts a
              set {state} = %(value)s, {ref} = coalesce(%(ref)s, a.{ref}), updated_at = now(),
                  state = case when a.{other} = 'pending' then a.state
                               when 'dead' in (%(value)s, a.{other}) then 'dead' else 'sent' end,
                  dead_error = case when %(dead)s::text is null then a.dead_error
                                    else concat_ws('; ', a.dead_error, %(dead)s::text) end,
                  dead_at = case when %(dead)s::text is null then a.dead_at else %(now)s end,
                  sent_at = case when a.{other} <> 'pending' and 'sent' in (%(value)s, a.{other})
                                 then %(now)s else a.sent_at end
              where a.id = any(%(ids)s) and a.state = 'pending'
              returning a.state, a.kind, a.resolves_key
            ),
            closed as (
              update public.slo_alerts p set state = 'resolved', updated_at = now()
              from done
              where done.kind = 'resolved' and done.state in ('sent', 'dead')
                and p.key = done.resolves_key and p.state = 'sent'
              returning p.id
            )
            select count(*) filter (where state in ('sent', 'dead')), (select count(*) from closed) from done
            """
        ).format(state=sql.Identifier(state_col), ref=sql.Identifier(ref_col), other=sql.Identifier(other_col)),
        {"value": value, "ref": reference, "now": now, "ids": alert_ids, "dead": dead_error},
    ).fetchone()
    return row is not None and row[0] > 0


def mark_failed(
    conn: psycopg.Connection, alert: DueAlert, error: str, now: datetime, retry_after: float | None
) -> datetime:
    """Keep the alert pending, count the attempt and schedule the next one; returns when."""
    attempts = alert.attempts + 1
    delay = timedelta(seconds=retry_after) if retry_after is not None else backoff(attempts)
    next_at = now + delay
    conn.execute(
        """
        update public.slo_alerts
        set attempts = %s, last_error = %s, next_attempt_at = %s, updated_at = now()
        where id = %s
        """,
        (attempts, error[:1000], next_at, alert.id),
    )
    alert.attempts = attempts
    return next_at


def pause_channel(conn: psycopg.Connection, channel: str, until: datetime, reason: str) -> None:
    """Do not call `channel` before `until` (it asked us to wait), whichever alert is due."""
    conn.execute(
        """
        insert into public.slo_alert_channel_pauses (channel, paused_until, reason) values (%s, %s, %s)
        on conflict (channel) do update
        set paused_until = greatest(excluded.paused_until, slo_alert_channel_pauses.paused_until),
            reason = excluded.reason, updated_at = now()
        """,
        (channel, until, reason),
    )


def paused_channels(conn: psycopg.Connection, now: datetime) -> dict[str, datetime]:
    """Channels still inside a pause, with its end."""
    rows = conn.execute(
        "select channel, paused_until from public.slo_alert_channel_pauses where paused_until > %s", (now,)
    ).fetchall()
    return dict(rows)


def _finish_complete(conn: psycopg.Connection, alert_id: int | None, now: datetime | None = None) -> int:
    """Pending alerts with no channel left pending become 'sent'; their violation 'resolved'."""
    rows = conn.execute(
        """
        update public.slo_alerts
        set state = case when 'dead' in (slack_state, email_state) then 'dead' else 'sent' end,
            updated_at = now(),
            sent_at = case when 'sent' in (slack_state, email_state) then coalesce(%s, now()) end
        where state = 'pending' and slack_state <> 'pending' and email_state <> 'pending'
          and (%s::bigint is null or id = %s::bigint)
        returning kind, resolves_key
        """,
        (now, alert_id, alert_id),
    ).fetchall()
    closed = [r[1] for r in rows if r[0] == "resolved" and r[1]]  # dead or sent: finished either way
    if closed:
        conn.execute(
            "update public.slo_alerts set state = 'resolved', updated_at = now() "
            "where key = any(%s) and state = 'sent'",
            (closed,),
        )
    return len(rows)
