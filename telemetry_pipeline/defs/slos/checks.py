"""The per-SLO asset checks of slo_status_{hourly,daily,weekly}: what each result covers.

A check result covers the partitions the run wrote. When one of them holds a violation of the
SLO (met = false with at least min_sample_size rows), it is a WARN naming the periods. When none
of them holds a row of the SLO at all (an hour without events, say), passing it would say
"green" about nothing while the dashboard still shows the last evaluated period violated: the
result then reports that latest evaluated period instead (the one the dashboard's SLO panel
shows) and keeps its verdict. The `covers` metadata says which of the two a result is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

from telemetry_pipeline.core.granularity import PERIODS, partition_key_for
from telemetry_pipeline.core.slos.config import SloCatalog
from telemetry_pipeline.core.slos.sql import MAX_LISTED_VIOLATIONS, SloWindowResult, Violation


def check_name(slo_name: str) -> str:
    """The asset check of one SLO (SLO names are validated identifiers)."""
    return f"{slo_name}_slo_met"


def check_specs(key: AssetKey, catalog: SloCatalog) -> list[AssetCheckSpec]:
    """One WARN check per SLO, its description saying what a result covers."""
    return [
        AssetCheckSpec(
            check_name(slo.name),
            asset=key,
            description=(
                f"{slo.description} Covers the partitions the run wrote: warns when any SLI is "
                f"violated in one of them (met = false with at least {slo.min_sample_size} rows in "
                "the sample). When none of them holds a row of this SLO (no data in the window), "
                "the result reports the latest evaluated period instead, as the dashboard does, so "
                "an empty period never turns a violated SLO green. SLIs: "
                + "; ".join(f"{s.name} {s.metric} {s.comparator} {s.target:g}" for s in slo.slis)
            ),
        )
        for slo in catalog
    ]


@dataclass(frozen=True)
class LatestPeriod:
    """The latest evaluated period of one SLI of an SLO, whatever the run's window."""

    sli: str
    period_start: datetime
    violation: Violation | None


def latest_periods(conn: psycopg.Connection, catalog: SloCatalog, granularity: str,
                   slo_names: list[str]) -> dict[str, list[LatestPeriod]]:
    """Per SLO of `slo_names`, the latest slo_status row of each SLI at `granularity` (one query)."""
    if not slo_names:
        return {}
    min_samples = {slo.name: slo.min_sample_size for slo in catalog}
    rows = conn.execute(
        """
        select distinct on (slo_name, sli) slo_name, sli, period_start, met, value::float8,
               target::float8, comparator, sample_size
        from public.slo_status
        where aggregation_period = %s and slo_name = any(%s)
        -- a scoped SLO: the latest period's worst scope (an unmet row before the met ones)
        order by slo_name, sli, period_start desc, met, sample_size desc
        """,
        (granularity, slo_names),
    ).fetchall()
    latest: dict[str, list[LatestPeriod]] = {}
    for slo_name, sli, start, met, value, target, comparator, n in rows:
        violated = not met and n >= min_samples[slo_name]
        violation = Violation(sli, start, value, target, comparator, n) if violated else None
        latest.setdefault(slo_name, []).append(LatestPeriod(sli, start, violation))
    return latest


def slos_without_rows(catalog: SloCatalog, result: SloWindowResult) -> list[str]:
    """The SLOs of which the run's window holds no slo_status row."""
    return [slo.name for slo in catalog if slo.name not in result.slos_with_rows]


def _describe(v: Violation, granularity: str) -> str:
    return (
        f"{partition_key_for(v.period_start, granularity)} {v.sli}={v.value:g} "
        f"(target {v.comparator} {v.target:g}, n={v.sample_size})"
    )


def window_label(result: SloWindowResult) -> str:
    """`first…last` partition keys of the run's window."""
    first = partition_key_for(result.start, result.granularity)
    last = partition_key_for(result.end - PERIODS[result.granularity], result.granularity)
    return first if first == last else f"{first}…{last}"


def check_results(key: AssetKey, catalog: SloCatalog, result: SloWindowResult,
                  latest: dict[str, list[LatestPeriod]]) -> list[AssetCheckResult]:
    """One WARN-severity result per SLO: over the window, or its latest period when the window is empty.

    `latest` holds the latest periods of the SLOs without rows in the window (latest_periods).
    """
    window = window_label(result)
    empty = set(slos_without_rows(catalog, result))
    results = []
    for slo in catalog:
        if slo.name in empty:
            periods = latest.get(slo.name, [])
            violations = [p.violation for p in periods if p.violation is not None]
            count = len(violations)
            if periods:
                newest = partition_key_for(max(p.period_start for p in periods), result.granularity)
                state = "violated" if violations else "met or below the minimum sample"
                covers = f"no data in {window}; latest evaluated period {newest}: {state}"
            else:
                covers = f"no data in {window}; never evaluated"
            small = 0
        else:
            violations = result.violations.get(slo.name, [])  # the first MAX_LISTED_VIOLATIONS
            count = result.violation_counts.get(slo.name, 0)
            covers = f"partitions {window}: violations in the window this run wrote"
            small = result.small_sample_unmet.get(slo.name, 0)
        listed = [_describe(v, result.granularity) for v in violations[:MAX_LISTED_VIOLATIONS]]
        results.append(
            AssetCheckResult(
                asset_key=key,
                check_name=check_name(slo.name),
                passed=not count,
                severity=AssetCheckSeverity.WARN,
                description=covers,
                metadata={
                    "covers": covers,
                    "violations": count,
                    "violating_periods": "\n".join(listed) if listed else "none",
                    "unmet_below_min_sample": small,
                },
            )
        )
    return results
