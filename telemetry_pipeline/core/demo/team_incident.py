"""The demo's scoped incident: a failure that only one team's scope shows (SPEC section 10).

On one UTC day the first provenance generation of the mobile team's repositories errors (its
release signing key had expired). The global SLO `provenance_generation` needs 99.9 %
availability: a weekday's ~1,800 generations tolerate one error (99.95 %), so the fleet-wide
day stays met. The team's scoped SLO `provenance_generation_by_team` needs 99.5 % of the team's
own ~90 generations that day: the same error is ~1 % of them, and its day is violated. One row
is all it takes, and also the most the global day can absorb: two errors in a day would break
99.9 % for everyone, so a larger incident would no longer be visible only in its scope.

Applied after the COPY (an UPDATE of that one row), so the generator's streams are unchanged;
deterministic like the rest of the seed. The day is the fourth before `end`'s day, or for short
ranges a later full day, never one the runner-queue incident touches (its slow generations break
the global day's latency); a range without such a day has no team incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from telemetry_pipeline.core.demo.fleet import DEMO_FLEET
from telemetry_pipeline.core.demo.incidents import RUNNER_QUEUE, Incident
from telemetry_pipeline.core.demo.timeline import iso

TEAM = "mobile"
REPOSITORIES = tuple(r for r in DEMO_FLEET.repositories if r.startswith("acme/mobile-"))
REASON = "signing key expired: could not sign the provenance"
#: days before `end`'s UTC day (preferred; nearer for short ranges)
DAYS_BEFORE_END = 4


@dataclass(frozen=True)
class TeamIncident:
    """One errored provenance generation of `team` on the UTC day [day, day + 1 day)."""

    team: str
    repositories: tuple[str, ...]
    day: datetime

    def __str__(self) -> str:
        return f"team_signing_error ({self.team}) [{iso(self.day)}, {iso(self.day + timedelta(days=1))})"


def placement(start: datetime, end: datetime, incidents: Sequence[Incident] = ()) -> TeamIncident | None:
    """The incident's day: a full UTC day inside [start, end) that no runner-queue incident
    touches, DAYS_BEFORE_END before `end`'s day or the next one that qualifies; else None."""
    end_day = end.replace(hour=0, minute=0, second=0, microsecond=0)
    day = end_day - timedelta(days=DAYS_BEFORE_END)
    while day + timedelta(days=1) <= end_day:
        clear = not any(i.kind == RUNNER_QUEUE and i.start < day + timedelta(days=1) and day < i.end
                        for i in incidents)
        if day >= start and clear:
            return TeamIncident(TEAM, REPOSITORIES, day)
        day += timedelta(days=1)
    return None


def apply(conn: psycopg.Connection, incident: TeamIncident) -> int:
    """Turn the team's first provenance generation of the day into an error; rows changed (0 or 1)."""
    cur = conn.execute(
        """
        update public.telemetry_events as e
        set metadata = e.metadata || jsonb_build_object('status', 'error', 'reason', %(reason)s::text)
        from (select id from public.telemetry_events
              where event_type = 'provenance.generation' and m_repository = any(%(repositories)s)
                and event_timestamp >= %(day)s and event_timestamp < %(day)s + interval '1 day'
              order by event_timestamp, id limit 1) as first
        where e.id = first.id and e.event_timestamp >= %(day)s and e.event_timestamp < %(day)s + interval '1 day'
        """,
        {"reason": REASON, "repositories": list(incident.repositories), "day": incident.day},
    )
    return cur.rowcount
