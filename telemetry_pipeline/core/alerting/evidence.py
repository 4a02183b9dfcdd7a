"""The release tags behind an alert: which releases' rows broke the SLI in that period.

An on-call engineer's first question is "which release?". For each new alert about to be sent,
the tags of the offending rows of its period (errored steps for availability, failed or errored
for error rate, slower than target for latency) are added to the payload, most frequent first.
Tags are free text from workflows: messages.py escapes them (a tag `<!channel>` pings nobody).

This reads the source tables (telemetry_events, slsa_audit_metrics) directly, the one place the
alerting stage looks past slo_status; it runs only for alerts that will be delivered (a handful
per tick, never for suppressed backfill history), one statement per metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from telemetry_pipeline.core.kpis.catalog import CONDITIONS, METRICS_BY_NAME, Agg, Metric, Source

#: At most this many tags per alert (the most frequent).
MAX_TAGS = 5

#: Per source: its rows in the alert's period, typed as the KPI catalog's conditions expect.
_ROWS: dict[Source, str] = {
    Source.EVENTS: """
        select tag, event_type, m_status as status, m_duration_ms as duration_ms
        from public.telemetry_events
        where event_timestamp >= a.period_start and event_timestamp < a.period_end
    """,
    Source.AUDITS: """
        select tag, status, duration_ms::float8 as duration_ms, sha256_verified,
               predicate_type_verified, supabase_synced
        from public.slsa_audit_metrics
        where audited_at >= a.period_start and audited_at < a.period_end
    """,
}


def offending_rows(metric: Metric, comparator: str) -> sql.Composable | None:
    """SQL condition for the rows that count against an SLI on `metric`; None if none do."""
    parts: list[sql.Composable] = []
    if metric.event_type is not None:
        parts.append(sql.SQL("event_type = {}").format(sql.Literal(metric.event_type)))
    if metric.agg is Agg.AVAILABILITY:
        parts.append(sql.SQL(CONDITIONS[metric.source]["error"]))
    elif metric.agg is Agg.RATE:
        # A rate that must stay low ('<') is hurt by its numerator rows, one that must stay
        # high ('>=') by the rest.
        condition = sql.SQL(metric.condition)
        parts.append(condition if comparator == "<" else sql.SQL("not coalesce({}, false)").format(condition))
    elif metric.agg in (Agg.P95, Agg.AVG):
        op = ">=" if comparator == "<" else "<"
        parts.append(sql.SQL("{} {} a.target").format(sql.Identifier(metric.value_column), sql.SQL(op)))
    else:
        return None
    return sql.SQL(" and ").join(parts)


def attach_tags(conn: psycopg.Connection, alert_ids: Sequence[int]) -> int:
    """Add `tags` (offending release tags, most frequent first) to these alerts' payloads."""
    if not alert_ids:
        return 0
    groups = conn.execute(
        """
        select payload->>'metric', payload->>'comparator', array_agg(id)
        from public.slo_alerts
        where id = any(%s) and kind <> 'resolved' and not payload ? 'tags'
        group by 1, 2
        """,
        (list(alert_ids),),
    ).fetchall()
    updated = 0
    for metric_name, comparator, ids in groups:
        if metric_name not in METRICS_BY_NAME or comparator not in (">=", "<"):
            continue
        condition = offending_rows(METRICS_BY_NAME[metric_name], comparator)
        if condition is None:
            continue
        statement = sql.SQL(
            """
            update public.slo_alerts u
            set payload = u.payload || jsonb_build_object('tags', t.tags)
            from (
              select a.id, coalesce((
                select jsonb_agg(x.tag order by x.n desc, x.tag)
                from (
                  select r.tag, count(*) as n
                  from ({rows}) r
                  where r.tag is not null and {condition}
                  group by r.tag
                  order by n desc, r.tag
                  limit {limit}
                ) x
              ), '[]'::jsonb) as tags
              from (
                select id, period_start, period_end, (payload->>'target')::float8 as target
                from public.slo_alerts where id = any(%(ids)s)
              ) a
            ) t
            where u.id = t.id
            """
        ).format(rows=sql.SQL(_ROWS[METRICS_BY_NAME[metric_name].source]), condition=condition,
                 limit=sql.Literal(MAX_TAGS))
        updated += conn.execute(statement, {"ids": ids}).rowcount
    return updated
