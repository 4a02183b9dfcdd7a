"""Build the sensor's input by hand: slo_status rows plus their materialisation events.

Rows are inserted directly (values chosen by the test), and each partition's materialisation is
reported to the Dagster instance as the slo_status assets would report it, so the sensor reads
exactly what production gives it: storage-id-ordered ASSET_MATERIALIZATION events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from dagster import AssetKey, AssetMaterialization, DagsterInstance

from telemetry_pipeline.core.alerting.messages import SLO_STATUS_ASSETS
from telemetry_pipeline.core.granularity import PERIODS, partition_key_for, period_start_of

#: (slo, sli) -> (metric, comparator, target), as slos.yaml declares them
SLIS = {
    ("provenance_generation", "availability"): ("provenance_availability", ">=", 99.9),
    ("provenance_generation", "latency_p95"): ("provenance_p95_duration_ms", "<", 300000),
    ("provenance_generation", "error_rate"): ("provenance_failure_rate", "<", 1.0),
    ("validation", "availability"): ("validation_availability", ">=", 99.9),
    ("validation", "error_rate"): ("validation_failure_rate", "<", 0.5),
    ("audit_observer", "availability"): ("audit_availability", ">=", 99.5),
    ("audit_observer", "latency_p95"): ("audit_p95_duration_ms", "<", 180000),
    ("audit_observer", "error_rate"): ("audit_failure_rate", "<", 2.0),
    ("validation", "latency_p95"): ("validation_p95_duration_ms", "<", 120000),
}


def period(granularity: str, periods_ago: int, now: datetime | None = None) -> datetime:
    """Start of the period `periods_ago` periods before the current one (0 = current)."""
    current = period_start_of(now or datetime.now(UTC), granularity)
    return current - PERIODS[granularity] * periods_ago


@dataclass
class Row:
    slo: str
    sli: str
    granularity: str
    period_start: datetime
    value: float
    sample_size: int
    met: bool | None = None  # None: computed from value, comparator and target
    evaluated_at: datetime | None = None  # None: now()
    budget: float | None = None
    burn_alert: str | None = None
    burn_alert_windows: str | None = None
    burn_rates: tuple[float | None, float | None, float | None] = (None, None, None)

    @property
    def partition_key(self) -> str:
        return partition_key_for(self.period_start, self.granularity)


def upsert(conn: psycopg.Connection, rows: Iterable[Row]) -> None:
    """Write rows to slo_status as the SLO assets do: replace the (slo, sli, period) row."""
    for r in rows:
        metric, comparator, target = SLIS[(r.slo, r.sli)]
        met = r.met if r.met is not None else (r.value >= target if comparator == ">=" else r.value < target)
        conn.execute(
            """
            insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start,
              period_end, value, target, comparator, met, sample_size, error_budget_remaining,
              evaluated_at, burn_alert, burn_alert_windows, burn_rate_1h, burn_rate_6h, burn_rate_3d)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()), %s, %s, %s, %s, %s)
            on conflict (slo_name, sli, aggregation_period, period_start, dimension, dimension_value) do update set
              value = excluded.value, met = excluded.met, sample_size = excluded.sample_size,
              error_budget_remaining = excluded.error_budget_remaining,
              evaluated_at = excluded.evaluated_at, burn_alert = excluded.burn_alert,
              burn_alert_windows = excluded.burn_alert_windows
            """,
            (r.slo, r.sli, metric, r.granularity, r.period_start, r.period_start + PERIODS[r.granularity],
             r.value, target, comparator, met, r.sample_size, r.budget, r.evaluated_at,
             r.burn_alert, r.burn_alert_windows, *r.burn_rates),
        )


def report_materializations(instance: DagsterInstance, rows: Iterable[Row]) -> None:
    """One materialisation event per distinct (asset, partition), as a run would store it."""
    seen: set[tuple[str, str]] = set()
    for r in rows:
        asset = SLO_STATUS_ASSETS[r.granularity]
        if (asset, r.partition_key) in seen:
            continue
        seen.add((asset, r.partition_key))
        instance.report_runless_asset_event(
            AssetMaterialization(asset_key=AssetKey(asset), partition=r.partition_key)
        )


def materialize(conn: psycopg.Connection, instance: DagsterInstance, rows: list[Row]) -> None:
    upsert(conn, rows)
    report_materializations(instance, rows)


def alerts(conn: psycopg.Connection) -> list[dict]:
    """The outbox, oldest first, as dicts."""
    cur = conn.execute(
        """select key, kind, state, suppressed_reason, slack_state, email_state, attempts, last_error,
                  next_attempt_at, sent_at, payload
           from public.slo_alerts order by period_start, id"""
    )
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def age_retries(conn: psycopg.Connection) -> None:
    """Let the backoff elapse: every pending alert becomes due (time passing, not a sleep)."""
    conn.execute(
        "update public.slo_alerts set next_attempt_at = now() - interval '1 second' where state = 'pending'"
    )
    conn.execute("update public.slo_alert_channel_pauses set paused_until = now() - interval '1 second'")


HOUR = timedelta(hours=1)
