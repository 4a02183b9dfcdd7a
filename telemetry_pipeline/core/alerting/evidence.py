"""What is behind a global alert: the releases and the repositories whose rows broke the SLI.

An on-call engineer's first questions are "which release?" and "where?". For each new global
alert about to be sent, two lists are added to its payload from the period's *bad rows* (the
rows of the SLI's sample that count as failures: errored steps for availability, failed or
errored for error rate, slower than target for latency):
  tags            the release tags of the bad rows, most frequent first (at most MAX_TAGS);
  top_offenders   the repositories with the most bad rows, with their counts (at most
                  MAX_OFFENDERS), so a global violation says where to look first.
Tags and repositories are free text from workflows: messages.py escapes them.

The rows are the KPI catalog's own source rows and sample conditions (core/kpis), so a bad row
here is exactly a row the KPI counted against the SLI. This is the one place the alerting stage
looks past slo_status; it runs only for alerts that will be delivered (a handful per tick, never
for suppressed backfill history), one set-based statement per metric and list.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from telemetry_pipeline.core.kpis.catalog import CONDITIONS, METRICS_BY_NAME, Agg, Metric
from telemetry_pipeline.core.kpis.sql import SCOPE_COLUMNS, SOURCE_ROWS, sample_condition

#: At most this many tags per alert (the most frequent).
MAX_TAGS = 5
#: At most this many repositories in an alert's top offenders (the most bad rows).
MAX_OFFENDERS = 5


def bad_rows(metric: Metric, comparator: str) -> sql.Composable | None:
    """SQL condition for the rows of the sample that count against an SLI on `metric`; None if none do.

    Over the catalog's typed source columns; a latency condition compares with `a.target`.
    """
    parts: list[sql.Composable] = [sample_condition(metric)]
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
    return sql.SQL(" and ").join(sql.SQL("({})").format(p) for p in parts)


def _period_rows(metric: Metric) -> sql.Composable:
    """The catalog's source rows of the alert's period `a`, with the release tag and the scope keys."""
    return sql.SQL(SOURCE_ROWS[metric.source]).format(
        granularity=sql.Literal("hour"), start=sql.SQL("a.period_start"), end=sql.SQL("a.period_end"),
        scope=sql.SQL(", tag") + sql.SQL(SCOPE_COLUMNS),
    )


#: payload key -> (grouped column, one list element, at most how many)
_LISTS: dict[str, tuple[str, str, int]] = {
    "tags": ("tag", "to_jsonb(x.key)", MAX_TAGS),
    "top_offenders": ("repository", "jsonb_build_object('repository', x.key, 'bad_rows', x.n)", MAX_OFFENDERS),
}


def attach_evidence(conn: psycopg.Connection, alert_ids: Sequence[int]) -> int:
    """Add `tags` and `top_offenders` to these alerts' payloads (global, not resolved, not yet set)."""
    if not alert_ids:
        return 0
    groups = conn.execute(
        """
        select payload->>'metric', payload->>'comparator', array_agg(id)
        from public.slo_alerts
        where id = any(%s) and kind <> 'resolved' and dimension is null and not payload ? 'tags'
        group by 1, 2
        """,
        (list(alert_ids),),
    ).fetchall()
    updated = 0
    for metric_name, comparator, ids in groups:
        if metric_name not in METRICS_BY_NAME or comparator not in (">=", "<"):
            continue
        metric = METRICS_BY_NAME[metric_name]
        condition = bad_rows(metric, comparator)
        if condition is None:
            continue
        lists = [
            sql.SQL(
                """{key}, coalesce((
                  select jsonb_agg({element} order by x.n desc, x.key)
                  from (select r.{column} as key, count(*) as n
                        from ({rows}) r
                        where r.{column} is not null and {condition}
                        group by r.{column} order by n desc, r.{column} limit {limit}) x
                ), '[]'::jsonb)"""
            ).format(key=sql.Literal(key), element=sql.SQL(element), column=sql.Identifier(column),
                     rows=_period_rows(metric), condition=condition, limit=sql.Literal(limit))
            for key, (column, element, limit) in _LISTS.items()
        ]
        statement = sql.SQL(
            """
            update public.slo_alerts u
            set payload = u.payload || t.evidence
            from (
              select a.id, jsonb_build_object({lists}) as evidence
              from (
                select id, period_start, period_end, (payload->>'target')::float8 as target
                from public.slo_alerts where id = any(%(ids)s)
              ) a
            ) t
            where u.id = t.id
            """
        ).format(lists=sql.SQL(", ").join(lists))
        updated += conn.execute(statement, {"ids": ids}).rowcount
    return updated
