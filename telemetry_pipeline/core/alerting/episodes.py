"""Fast-burn episodes: one page per (slo, sli) incident, one resolved message when it is over.

An evaluation (fast_burn.evaluate, rolling windows ending `now`) opens an episode for an SLI
whose first firing pair (burn_windows.yaml, in order) holds with enough rows in its long
window, and records its page in the slo_alerts outbox (kind 'fast_burn'); the usual delivery
pass sends it. While the episode is open, every evaluation where the fired pair's condition
still holds moves `last_firing_at`; once it has been false for `resolve_after` (10 min) the
episode closes with one 'resolved' alert. Episodes live in public.slo_episodes, at most one
open per SLI (partial unique index), so repeated ticks, two evaluators or a restarted daemon
never page twice. Closed-period violations overlapping an episode are recorded, not sent
(rules.py).

`now` is a parameter everywhere: the sensor passes the wall clock, tests drive time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from telemetry_pipeline.core.slos.budgets import FAST_BURN, FastBurn, FastBurnPair, parse_span
from telemetry_pipeline.core.slos.config import SloCatalog
from telemetry_pipeline.core.slos.fast_burn import SliBurn, evaluate


@dataclass
class EpisodeReport:
    """What one evaluation did: alerts to deliver, and the state of each ratio SLI for the log."""

    pending_ids: list[int] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    burns: list[SliBurn] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"fast burn: {len(self.opened)} episodes opened, {len(self.closed)} closed"]
        lines += [f"{b.slo.name}/{b.sli.name}: {b.rates_text()}" for b in self.burns]
        return "; ".join(lines)


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds")


def alert_key(slo: str, sli: str, started_at: datetime, kind: str) -> str:
    """slo|sli|episode|<start, UTC seconds>|kind: unique per episode, like every outbox key."""
    return "|".join((slo, sli, "episode", started_at.strftime("%Y-%m-%dT%H:%M:%SZ"), kind))


def _windows_payload(burn: SliBurn) -> dict[str, Any]:
    return {
        w.window: {"rows": w.rows, "bad": w.bad, "burn_rate": w.rate} for w in burn.windows.values()
    }


def _page_payload(conn: psycopg.Connection, burn: SliBurn, pair: FastBurnPair, now: datetime) -> dict[str, Any]:
    """Everything the page needs: the SLI, the pair that fired, every window's rates."""
    long = burn.windows[pair.long]
    bad_fraction = long.bad / long.rows
    value = 100 * (1 - bad_fraction) if burn.sli.comparator == ">=" else 100 * bad_fraction
    budget = conn.execute(
        """select error_budget_remaining, period_start from public.slo_status
           where slo_name = %s and sli = %s and aggregation_period = 'day'
             and error_budget_remaining is not null
           order by period_start desc limit 1""",
        (burn.slo.name, burn.sli.name),
    ).fetchone()
    return {
        "slo": burn.slo.name, "sli": burn.sli.name, "metric": burn.sli.metric,
        "granularity": "episode", "period_start": _iso(now), "period_end": _iso(now),
        "episode_started_at": _iso(now),
        "value": value, "value_window": pair.long, "target": burn.sli.target,
        "comparator": burn.sli.comparator, "sample_size": long.rows,
        "min_sample_size": burn.slo.min_sample_size,
        "pair": pair.label, "threshold": pair.threshold, "long_window": pair.long, "short_window": pair.short,
        "windows": _windows_payload(burn),
        "description": burn.slo.description, "runbook_url": burn.slo.runbook_url,
        "budget_remaining": float(budget[0]) if budget else None,
        "budget_day": _iso(budget[1]) if budget else None,
        "evaluated_at": _iso(now),
    }


_OPEN_EPISODES = """
    select id, slo_name, sli, started_at, pair, last_firing_at, alert_key
    from public.slo_episodes where closed_at is null
    for update
"""

#: Per SLI its last episode's close: the next episode's short windows start after it.
_LAST_CLOSES = """
    select slo_name, sli, max(closed_at) from public.slo_episodes
    where closed_at > %(since)s and closed_at <= %(now)s
    group by slo_name, sli
"""

_OPEN = """
    insert into public.slo_episodes (slo_name, sli, started_at, pair, last_firing_at, alert_key)
    values (%(slo)s, %(sli)s, %(now)s, %(pair)s, %(now)s, %(key)s)
    on conflict (slo_name, sli) where closed_at is null do nothing
    returning id
"""

#: An episode-like alert (a fast-burn page, a NO DATA, their resolves): recorded once by key.
INSERT_EPISODE_ALERT = """
    insert into public.slo_alerts (key, kind, state, slo_name, sli, aggregation_period,
                                   period_start, period_end, resolves_key, payload)
    values (%(key)s, %(kind)s, 'pending', %(slo)s, %(sli)s, 'episode', %(start)s, %(end)s,
            %(resolves)s, %(payload)s)
    on conflict (key) do nothing
    returning id
"""


def record_episodes(
    conn: psycopg.Connection, catalog: SloCatalog, now: datetime, policy: FastBurn = FAST_BURN
) -> EpisodeReport:
    """Evaluate the rolling windows ending `now`; open, extend and close episodes (idempotent)."""
    closes = conn.execute(_LAST_CLOSES, {"now": now, "since": now - policy.longest}).fetchall()
    reset = {(r[0], r[1]): r[2] for r in closes}
    report = EpisodeReport(burns=evaluate(conn, catalog, now, policy, reset))
    pairs = {p.label: p for p in policy.pairs}
    quiet_for = parse_span(policy.resolve_after)
    with conn.transaction():
        open_rows = {(r[1], r[2]): r for r in conn.execute(_OPEN_EPISODES).fetchall()}
        for burn in report.burns:
            name = f"{burn.slo.name}/{burn.sli.name}"
            episode = open_rows.get((burn.slo.name, burn.sli.name))
            if episode is None:
                pair = burn.firing_pair(policy)
                if pair is not None and _open(conn, burn, pair, now, report):
                    report.opened.append(name)
                continue
            episode_id, _slo, _sli, started_at, pair_label, last_firing_at, page_key = episode
            fired = pairs.get(pair_label)
            if fired is not None and burn.holds(fired):
                conn.execute("update public.slo_episodes set last_firing_at = greatest(last_firing_at, %s) "
                             "where id = %s", (now, episode_id))
            elif now - last_firing_at >= quiet_for:
                _close(conn, burn, episode_id, started_at, last_firing_at, page_key, now, report)
                report.closed.append(name)
    return report


def _open(conn: psycopg.Connection, burn: SliBurn, pair: FastBurnPair, now: datetime, report: EpisodeReport) -> bool:
    key = alert_key(burn.slo.name, burn.sli.name, now, "fast_burn")
    if conn.execute(_OPEN, {"slo": burn.slo.name, "sli": burn.sli.name, "now": now, "pair": pair.label,
                            "key": key}).fetchone() is None:
        return False  # another evaluator opened it first
    row = conn.execute(INSERT_EPISODE_ALERT, {
        "key": key, "kind": "fast_burn", "slo": burn.slo.name, "sli": burn.sli.name, "start": now,
        "end": now, "resolves": None, "payload": Jsonb(_page_payload(conn, burn, pair, now)),
    }).fetchone()
    if row is not None:
        report.pending_ids.append(row[0])
    return True


def _close(
    conn: psycopg.Connection, burn: SliBurn, episode_id: int, started_at: datetime, last_firing_at: datetime,
    page_key: str, now: datetime, report: EpisodeReport,
) -> None:
    key = alert_key(burn.slo.name, burn.sli.name, started_at, "resolved")
    page = conn.execute("select payload from public.slo_alerts where key = %s", (page_key,)).fetchone()
    payload = dict(page[0]) if page else {"slo": burn.slo.name, "sli": burn.sli.name, "granularity": "episode",
                                          "episode_started_at": _iso(started_at)}
    payload.update({
        "period_start": _iso(started_at), "period_end": _iso(now),
        "resolved_by": {"at": _iso(now), "quiet_since": _iso(last_firing_at), "windows": _windows_payload(burn)},
    })
    conn.execute("update public.slo_episodes set closed_at = %s, resolved_key = %s where id = %s",
                 (now, key, episode_id))
    row = conn.execute(INSERT_EPISODE_ALERT, {
        "key": key, "kind": "resolved", "slo": burn.slo.name, "sli": burn.sli.name, "start": started_at,
        "end": now, "resolves": page_key, "payload": Jsonb(payload),
    }).fetchone()
    if row is not None:
        report.pending_ids.append(row[0])
