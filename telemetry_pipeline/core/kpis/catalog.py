"""Every KPI of SPEC section 5, defined once.

A metric is data: which source it reads (telemetry events or audit rows), which rows form its
sample, and how the value is aggregated over that sample. `sql.py` turns this list into one
GROUP BY per source and granularity; nothing else in the code spells a metric out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    """Where a metric's rows come from, and the typed column names it reads there."""

    EVENTS = "events"  # telemetry_events, typed via stored generated columns (sql/0001)
    AUDITS = "audits"  # slsa_audit_metrics


class Agg(StrEnum):
    COUNT = "count"  # number of rows in the sample
    RATE = "rate"  # 100 * rows matching `where` / sample rows
    AVAILABILITY = "availability"  # 100 * (1 - error rows / sample rows)
    AVG = "avg"  # mean of `column` over sample rows where it is a number
    P95 = "p95"  # percentile_cont(0.95) of `column` over sample rows where it is a number


@dataclass(frozen=True)
class Metric:
    name: str
    source: Source
    agg: Agg
    unit: str
    group: str  # dashboard grouping: provenance, audit, operational
    description: str
    event_type: str | None = None  # EVENTS: restrict the sample to this event_type (None = all)
    column: str | None = None  # AVG / P95: the numeric column
    where: str | None = None  # RATE: the numerator's condition (a key of CONDITIONS)
    #: EVENTS: whether status `cancelled` is in the sample. SPEC section 3: only event_count
    #: counts cancelled steps; they gave no result, so every rate, availability and duration
    #: (and error_rate's denominator) leaves them out.
    counts_cancelled: bool = False

    def __post_init__(self) -> None:
        """Each metric is checked when the catalog is built, so a bad one fails on import."""
        where = f"KPI catalog metric {self.name!r}"
        if self.agg is Agg.RATE:
            if self.where not in CONDITIONS[self.source]:
                raise ValueError(f"{where}: a rate needs `where` = one of {sorted(CONDITIONS[self.source])}, "
                                 f"got {self.where!r}")
        elif self.where is not None:
            raise ValueError(f"{where}: `where` applies to rates only")
        if self.agg in (Agg.AVG, Agg.P95):
            if not self.column or not self.column.isidentifier():
                raise ValueError(f"{where}: {self.agg} needs `column`, a numeric column name")
        elif self.column is not None:
            raise ValueError(f"{where}: `column` applies to avg and p95 only")
        if self.event_type is not None and self.source is not Source.EVENTS:
            raise ValueError(f"{where}: `event_type` applies to the events source only")

    @property
    def condition(self) -> str:
        """A rate's numerator condition as SQL over the source's typed columns."""
        if self.where is None:
            raise ValueError(f"KPI catalog metric {self.name!r} is not a rate")
        return CONDITIONS[self.source][self.where]

    @property
    def value_column(self) -> str:
        """The numeric column an avg or p95 aggregates."""
        if self.column is None:
            raise ValueError(f"KPI catalog metric {self.name!r} aggregates no column")
        return self.column


#: Row conditions a RATE may count, per source. SQL over the source's typed columns.
CONDITIONS: dict[Source, dict[str, str]] = {
    Source.EVENTS: {
        "success": "status = 'success'",
        "failure_or_error": "status in ('failure', 'error')",
        "error": "status = 'error'",
    },
    Source.AUDITS: {
        "success": "status = 'success'",
        "failure_or_error": "status in ('failure', 'error')",
        "error": "status = 'error'",
        "sha256_verified": "sha256_verified",
        "predicate_type_verified": "predicate_type_verified",
        "supabase_synced": "supabase_synced",
    },
}

#: The sources whose statement of one period (every scheduled tick's) groups the period's rows
#: first, by the typed columns that their samples (event type, status) and CONDITIONS read, the
#: value columns aside (core/kpis/sql.py); a sample or condition must then read nothing else (a
#: test checks it). Events only: an hour at the 100M-a-year rate holds ~11k events and 16
#: metrics filter them two dozen ways, while its ~600 audits cost more grouped (by status and
#: three booleans) than filtered (measured: 0.95 -> 1.30 ms).
GROUP_COLUMNS: dict[Source, tuple[str, ...]] = {
    Source.EVENTS: ("event_type", "status"),
}

GEN = "provenance.generation"
VAL = "provenance.validation"

E, A = Source.EVENTS, Source.AUDITS

METRICS: tuple[Metric, ...] = (
    # provenance generation
    Metric("provenance_count", E, Agg.COUNT, "count", "provenance", "Provenance generations", GEN),
    Metric("provenance_success_rate", E, Agg.RATE, "percent", "provenance",
           "Share of provenance generations that succeeded", GEN, where="success"),
    Metric("provenance_failure_rate", E, Agg.RATE, "percent", "provenance",
           "Share of provenance generations that failed or errored", GEN, where="failure_or_error"),
    Metric("provenance_availability", E, Agg.AVAILABILITY, "percent", "provenance",
           "100 minus the share of provenance generations that could not run", GEN),
    Metric("provenance_avg_duration_ms", E, Agg.AVG, "ms", "provenance",
           "Mean provenance generation time", GEN, column="duration_ms"),
    Metric("provenance_p95_duration_ms", E, Agg.P95, "ms", "provenance",
           "95th percentile provenance generation time", GEN, column="duration_ms"),
    Metric("artifact_avg_size_bytes", E, Agg.AVG, "bytes", "operational",
           "Mean size of the artifacts provenance was generated for", GEN, column="artifact_size_bytes"),
    # provenance validation
    Metric("validation_count", E, Agg.COUNT, "count", "provenance", "Provenance validations", VAL),
    Metric("provenance_validation_rate", E, Agg.RATE, "percent", "provenance",
           "Share of provenance validations that verified", VAL, where="success"),
    Metric("validation_failure_rate", E, Agg.RATE, "percent", "provenance",
           "Share of provenance validations that failed or errored", VAL, where="failure_or_error"),
    Metric("validation_availability", E, Agg.AVAILABILITY, "percent", "provenance",
           "100 minus the share of validations that could not run", VAL),
    Metric("validation_p95_duration_ms", E, Agg.P95, "ms", "provenance",
           "95th percentile validation time", VAL, column="duration_ms"),
    # audit observer
    Metric("audit_count", A, Agg.COUNT, "count", "audit", "Artifact audits"),
    Metric("audit_success_rate", A, Agg.RATE, "percent", "audit",
           "Share of audits that passed", where="success"),
    Metric("audit_failure_rate", A, Agg.RATE, "percent", "audit",
           "Share of audits that failed or errored", where="failure_or_error"),
    Metric("audit_availability", A, Agg.AVAILABILITY, "percent", "audit",
           "100 minus the share of audits that could not run"),
    Metric("audit_p95_duration_ms", A, Agg.P95, "ms", "audit",
           "95th percentile audit time", column="duration_ms"),
    Metric("sha256_verification_rate", A, Agg.RATE, "percent", "audit",
           "Share of audits whose artifact digest matched the provenance subject", where="sha256_verified"),
    Metric("predicate_type_verification_rate", A, Agg.RATE, "percent", "audit",
           "Share of audits whose predicateType was accepted", where="predicate_type_verified"),
    Metric("supabase_sync_rate", A, Agg.RATE, "percent", "audit",
           "Share of audit results synced to the metrics store", where="supabase_synced"),
    # operational
    Metric("workflow_run_avg_duration_ms", E, Agg.AVG, "ms", "operational",
           "Mean workflow run time", "workflow.run", column="duration_ms"),
    Metric("api_avg_response_time_ms", E, Agg.AVG, "ms", "operational",
           "Mean API response time", "api.request", column="duration_ms"),
    Metric("event_count", E, Agg.COUNT, "count", "operational", "All telemetry events", counts_cancelled=True),
    Metric("error_rate", E, Agg.RATE, "percent", "operational",
           "Share of all events whose step could not run", where="error"),
)

METRICS_BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
if len(METRICS_BY_NAME) != len(METRICS):
    raise ValueError("KPI catalog: metric names must be unique")

#: Metrics shown as numeric materialisation metadata (plotted over partitions in the Dagster UI).
HEADLINE_METRICS: tuple[str, ...] = (
    "provenance_success_rate",
    "provenance_p95_duration_ms",
    "provenance_validation_rate",
    "audit_success_rate",
    "error_rate",
    "event_count",
)
if unknown := set(HEADLINE_METRICS) - set(METRICS_BY_NAME):
    raise ValueError(f"KPI catalog: unknown headline metrics {sorted(unknown)}")
