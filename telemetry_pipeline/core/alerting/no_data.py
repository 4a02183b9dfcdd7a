"""NO DATA: the dead man's switch of every SLO source (SPEC section 11).

A source of an SLO (the event type of its event metrics, or the audit table) that received rows
in the last 7 days but none for the SLO's `no_data_after` (slos.yaml, default 2h) raises one
'no_data' alert naming the source and its last row; one 'resolved' follows when rows arrive
again. A source silent for more than 7 days is history, not an incident (the backfill rule:
no page for old silence). State lives in public.slo_no_data (sql/0082), at most one open per
(slo, source), so ticks and restarts raise it once. Each lookup reads the newest row of one
source through the timestamp index: cost independent of the table's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from telemetry_pipeline.core.alerting.episodes import INSERT_EPISODE_ALERT
from telemetry_pipeline.core.kpis.catalog import METRICS_BY_NAME, Source
from telemetry_pipeline.core.slos.config import Slo, SloCatalog

#: A source silent for longer than this is not alerted on (old silence, a retired pipeline).
HISTORY = timedelta(days=7)

_LAST_ROW = {
    Source.EVENTS: """select event_timestamp from public.telemetry_events
                      where event_type = %(event_type)s and event_timestamp > %(since)s
                        and event_timestamp <= %(now)s
                      order by event_timestamp desc limit 1""",
    Source.AUDITS: """select audited_at from public.slsa_audit_metrics
                      where audited_at > %(since)s and audited_at <= %(now)s
                      order by audited_at desc limit 1""",
}


@dataclass
class NoDataReport:
    pending_ids: list[int] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"no data: {len(self.raised)} raised, {len(self.resolved)} resolved"


def source_name(metric_name: str) -> str:
    """The NO DATA source a metric reads: 'events:<event_type>' or 'audits'."""
    metric = METRICS_BY_NAME[metric_name]
    return f"events:{metric.event_type}" if metric.source is Source.EVENTS else "audits"


def sources_of(slo: Slo) -> list[tuple[str, Source, str | None]]:
    """(name, source, event_type) of every source the SLO's SLIs read, e.g. 'events:provenance.validation'."""
    found: dict[str, tuple[str, Source, str | None]] = {}
    for sli in slo.slis:
        metric = METRICS_BY_NAME[sli.metric]
        found.setdefault(source_name(sli.metric), (source_name(sli.metric), metric.source, metric.event_type))
    return list(found.values())


def _key(slo: str, source: str, last_row_at: datetime, kind: str) -> str:
    return "|".join((slo, source, "no_data", last_row_at.strftime("%Y-%m-%dT%H:%M:%SZ"), kind))


def record_no_data(conn: psycopg.Connection, catalog: SloCatalog, now: datetime) -> NoDataReport:
    """Raise and resolve NO DATA alerts as of `now` (idempotent)."""
    report = NoDataReport()
    with conn.transaction():
        open_rows = {
            (r[0], r[1]): r[2:]
            for r in conn.execute("select slo_name, source, id, last_row_at, alert_key from public.slo_no_data "
                                  "where resolved_at is null for update").fetchall()
        }
        for slo in catalog:
            for name, source, event_type in sources_of(slo):
                row = conn.execute(_LAST_ROW[source], {"event_type": event_type, "since": now - HISTORY,
                                                       "now": now}).fetchone()
                last = row[0] if row else None
                state = open_rows.get((slo.name, name))
                payload = {"slo": slo.name, "source": name, "granularity": "episode", "no_data": True,
                           "no_data_after": slo.no_data_after, "description": slo.description,
                           "runbook_url": slo.runbook_url}
                if state is None and last is not None and now - last >= slo.no_data_span:
                    key = _key(slo.name, name, last, "no_data")
                    conn.execute("insert into public.slo_no_data (slo_name, source, last_row_at, raised_at, alert_key) "
                                 "values (%s, %s, %s, %s, %s) on conflict do nothing", (slo.name, name, last, now, key))
                    payload |= {"last_row_at": last.isoformat(), "raised_at": now.isoformat()}
                    _alert(conn, report, key, "no_data", slo.name, name, last, now, None, payload)
                    report.raised.append(f"{slo.name}/{name}")
                elif state is not None and last is not None and last > state[1]:
                    key = _key(slo.name, name, state[1], "resolved")
                    conn.execute("update public.slo_no_data set resolved_at = %s, resolved_key = %s where id = %s",
                                 (now, key, state[0]))
                    payload |= {"last_row_at": state[1].isoformat(),
                                "resolved_by": {"at": now.isoformat(), "first_row_at": last.isoformat()}}
                    _alert(conn, report, key, "resolved", slo.name, name, state[1], now, state[2], payload)
                    report.resolved.append(f"{slo.name}/{name}")
    return report


def _alert(
    conn: psycopg.Connection, report: NoDataReport, key: str, kind: str, slo: str, source: str,
    start: datetime, end: datetime, resolves: str | None, payload: dict,
) -> None:
    row = conn.execute(INSERT_EPISODE_ALERT, {"key": key, "kind": kind, "slo": slo, "sli": source, "start": start,
                                       "end": end, "resolves": resolves, "payload": Jsonb(payload)}).fetchone()
    if row is not None:
        report.pending_ids.append(row[0])
