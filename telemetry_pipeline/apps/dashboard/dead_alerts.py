"""Dead alerts for the dashboard: alerts a channel gave up on for good (docs/alerting.md).

A dead alert is never retried, so nobody hears of it unless it is shown: this is the list an
operator works through (fix the channel or the data, then re-queue, see docs/alerting.md). It does
not depend on the page's time window or SLO filter: a dead alert matters whenever it happened.
"""

from __future__ import annotations

from typing import Any

import psycopg

from telemetry_pipeline.apps.dashboard.links import partition_links
from telemetry_pipeline.apps.dashboard.params import View, iso
from telemetry_pipeline.core.slos.config import SloCatalog

#: Newest first; more than this is a broken channel, and the total says how many there are.
LIMIT = 50

_DEAD = """
select key, kind, state, slo_name, sli, aggregation_period, period_start, slack_state, email_state,
       dead_error, dead_at, count(*) over () as total
from public.slo_alerts
where dead_at is not null
order by dead_at desc, id desc
limit %(limit)s
"""


def dead_alerts(conn: psycopg.Connection, _view: View, _catalog: SloCatalog) -> dict[str, Any]:
    """`/api/dead-alerts`: the newest LIMIT dead alerts with their errors, and how many in all."""
    found = conn.execute(_DEAD, {"limit": LIMIT}).fetchall()
    rows = [
        {
            "key": key, "kind": kind, "state": state, "slo_name": slo, "sli": sli, "granularity": granularity,
            "period_start": iso(start), "slack_state": slack_state, "email_state": email_state,
            "error": error, "dead_at": iso(dead_at), **partition_links(start, granularity),
        }
        for key, kind, state, slo, sli, granularity, start, slack_state, email_state, error, dead_at, _total
        in found
    ]
    return {"total": found[0][-1] if found else 0, "limit": LIMIT, "dead_alerts": rows}
