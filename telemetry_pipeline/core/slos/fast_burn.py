"""Burn rates of the open period: rolling windows ending now, straight from the raw rows.

The hourly slo_status rows can only page after their hour closed; an outage at 10:01 would
page after 11:05. This module reads the last `FAST_BURN.longest` (6 h) of raw rows instead,
one set-based statement per source (telemetry_events by event_timestamp, slsa_audit_metrics
by audited_at: both indexed), so one evaluation costs the same whatever the size of the
table. Every ratio SLI of every SLO gets, per window (5m, 30m, 1h, 6h in burn_windows.yaml),
its rows and bad rows; rows inside a maintenance window of that SLO/SLI are left out.

Only SPEC columns and the typed `m_status` column are read, so the query works unchanged on a
partitioned telemetry_events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

import psycopg
from psycopg import sql

from telemetry_pipeline.core.kpis.catalog import CONDITIONS, METRICS_BY_NAME, Agg, Metric, Source
from telemetry_pipeline.core.kpis.sql import sample_condition
from telemetry_pipeline.core.slos.budgets import FAST_BURN, FastBurn, FastBurnPair
from telemetry_pipeline.core.slos.config import RATIO_SLIS, Sli, Slo, SloCatalog

#: Per source: its rows of (now - longest, now] with the typed columns the catalog's
#: conditions refer to, and `ts` for the windows. Constants of ours; values are parameters.
_SOURCE_ROWS: dict[Source, str] = {
    Source.EVENTS: """
        select event_timestamp as ts, event_type, m_status as status
        from public.telemetry_events
        where event_timestamp > %(since)s and event_timestamp <= %(now)s
    """,
    Source.AUDITS: """
        select audited_at as ts, status
        from public.slsa_audit_metrics
        where audited_at > %(since)s and audited_at <= %(now)s
    """,
}

#: Maintenance windows overlapping the evaluated range (a handful of rows).
_SILENCES = """
    select slo_name, sli, starts_at, ends_at from public.slo_maintenance_windows
    where ends_at > %(since)s and starts_at <= %(now)s
"""


@dataclass(frozen=True)
class WindowBurn:
    """One rolling window of one SLI: its rows, bad rows and burn rate (None without rows).

    The rate is exact (a Fraction), so a window at exactly 14.4x fires as the rule says,
    whatever binary floating point would make of 72 / 5000 / 0.001.
    """

    window: str
    rows: int
    bad: int
    allowed: Fraction

    @property
    def exact_rate(self) -> Fraction | None:
        return Fraction(self.bad, self.rows) / self.allowed if self.rows else None

    @property
    def rate(self) -> float | None:
        exact = self.exact_rate
        return float(exact) if exact is not None else None


@dataclass(frozen=True)
class SliBurn:
    """Every window of one ratio SLI at one evaluation time, and which pair (if any) fires."""

    slo: Slo
    sli: Sli
    windows: dict[str, WindowBurn]
    #: Windows of a caller's own starts (evaluate's `extra`), e.g. the dashboard's open budget part.
    extra: dict[str, WindowBurn] = field(default_factory=dict)

    def holds(self, pair: FastBurnPair) -> bool:
        """Both windows of the pair burn at >= its threshold (sample not considered)."""
        threshold = Fraction(str(pair.threshold))
        rates = (self.windows[pair.long].exact_rate, self.windows[pair.short].exact_rate)
        return all(r is not None and r >= threshold for r in rates)

    def fires(self, pair: FastBurnPair) -> bool:
        """The pair holds and its long window has at least the SLO's min_sample_size rows."""
        return self.holds(pair) and self.windows[pair.long].rows >= self.slo.min_sample_size

    def firing_pair(self, policy: FastBurn = FAST_BURN) -> FastBurnPair | None:
        """The first pair of the policy that fires (pairs are in order of precedence)."""
        return next((p for p in policy.pairs if self.fires(p)), None)

    def rates_text(self) -> str:
        """'5m 1000x (12 rows), 30m ...' for messages and the sensor's log."""
        return ", ".join(
            f"{w.window} {w.rate:.4g}x ({w.rows} rows)" if w.rate is not None else f"{w.window} n/a (0 rows)"
            for w in self.windows.values()
        )


def allowed_fraction(sli: Sli) -> Fraction:
    """The bad fraction the SLO allows (docs/slos.md): 1 - target/100, or target/100 for error rate."""
    share = Fraction(str(sli.target)) / 100
    return 1 - share if sli.comparator == ">=" else share


def _bad_condition(metric: Metric) -> str:
    """The rows that spend budget: errors for availability, the rate's condition for error rate."""
    if metric.agg is Agg.AVAILABILITY:
        return CONDITIONS[metric.source]["error"]
    return metric.condition


def _ratio_slis(catalog: SloCatalog) -> list[tuple[Slo, Sli, Metric]]:
    """The ratio SLIs of the global SLOs: a scoped SLO's raw-row burn would be the global one again
    (the same rows, not split by scope), paging the same incident twice."""
    return [
        (slo, sli, METRICS_BY_NAME[sli.metric])
        for slo in catalog
        if slo.scope is None
        for sli in slo.slis
        if sli.name in RATIO_SLIS
    ]


def _statement(source: Source, slis: list[tuple[Slo, Sli, Metric]], labels: Sequence[str]) -> sql.Composed:
    """One scan of a source's recent rows: per SLI and window label, [rows, bad rows].

    The inner query decides once per row, for each SLI, whether the row is in its sample (and
    outside its maintenance windows) and whether it is bad; the aggregates then only compare
    the row's time with each window's start (`start_<i>_<window>`, see window_params).
    """
    inner: list[sql.Composable] = [sql.SQL("r.ts")]
    columns: list[sql.Composable] = []
    for i, (slo, sli, metric) in enumerate(slis):
        silenced = sql.SQL(
            "exists (select 1 from silences m where m.slo_name = {} and (m.sli is null or m.sli = {})"
            " and r.ts >= m.starts_at and r.ts < m.ends_at)"
        ).format(sql.Literal(slo.name), sql.Literal(sli.name))
        inner.append(sql.SQL("(({}) and not {}) as {}").format(
            sample_condition(metric), silenced, sql.Identifier(f"sample_{i}")))
        inner.append(sql.SQL("coalesce({}, false) as {}").format(
            sql.SQL(_bad_condition(metric)), sql.Identifier(f"bad_{i}")))
        for label in labels:
            start = sql.Placeholder(f"start_{i}_{label}")
            in_sample = sql.SQL("{} and r.ts > {}").format(sql.Identifier(f"sample_{i}"), start)
            columns.append(sql.SQL("count(*) filter (where {})").format(in_sample))
            columns.append(sql.SQL("count(*) filter (where {} and {})").format(in_sample, sql.Identifier(f"bad_{i}")))
    # offset 0 keeps the per-row decisions in the inner query instead of repeating them per aggregate
    return sql.SQL("with silences as materialized ({}) select {} from (select {} from ({}) r offset 0) r").format(
        sql.SQL(_SILENCES), sql.SQL(", ").join(columns), sql.SQL(", ").join(inner), sql.SQL(_SOURCE_ROWS[source])
    )


#: (slo, sli) -> window label -> the (exclusive) start of that SLI's window ending now
Extra = Mapping[tuple[str, str], Mapping[str, datetime]]


def window_params(
    slis: list[tuple[Slo, Sli, Metric]], now: datetime, policy: FastBurn,
    reset: dict[tuple[str, str], datetime] | None = None, extra: Extra | None = None,
) -> dict[str, object]:
    """Parameters of _statement: `now`, `since` and each SLI's window starts.

    A short window of a pair starts no earlier than the SLI's `reset` (its last episode's
    close): the 30-minute window still full of the incident that just resolved must not open a
    second episode for it. `extra` windows start where the caller says (an SLI it leaves out
    gets an empty window); `since` reaches back to the earliest start of all.
    """
    shorts = {p.short for p in policy.pairs}
    params: dict[str, object] = {"now": now}
    since = now - policy.longest
    labels = _extra_labels(extra)
    for i, (slo, sli, _metric) in enumerate(slis):
        after = (reset or {}).get((slo.name, sli.name), now - policy.longest)
        for label, span in policy.spans.items():
            params[f"start_{i}_{label}"] = max(now - span, after) if label in shorts else now - span
        own = (extra or {}).get((slo.name, sli.name), {})
        for label in labels:
            start = min(own.get(label, now), now)
            params[f"start_{i}_{label}"] = start
            since = min(since, start)
    params["since"] = since
    return params


def _extra_labels(extra: Extra | None) -> list[str]:
    """The extra window labels, in first-seen order; they must not shadow a policy window."""
    return list(dict.fromkeys(label for starts in (extra or {}).values() for label in starts))


def evaluate(
    conn: psycopg.Connection, catalog: SloCatalog, now: datetime, policy: FastBurn = FAST_BURN,
    reset: dict[tuple[str, str], datetime] | None = None, extra: Extra | None = None,
) -> list[SliBurn]:
    """The rolling windows ending at `now` of every ratio SLI of the catalog.

    `reset`: (slo, sli) -> instant before which the short windows of that SLI count no rows.
    `extra`: (slo, sli) -> label -> start of further windows ending at `now`, counted in the
    same scan (SliBurn.extra); the dashboard's "as of now" budget reads its open part so.
    """
    labels = _extra_labels(extra)
    if clash := set(labels) & set(policy.windows):
        raise ValueError(f"extra windows {sorted(clash)} shadow the policy's windows")
    results: list[SliBurn] = []
    for source in Source:
        slis = [t for t in _ratio_slis(catalog) if t[2].source is source]
        if not slis:
            continue
        params = window_params(slis, now, policy, reset, extra)
        all_labels = [*policy.windows, *labels]
        counts = list(conn.execute(_statement(source, slis, all_labels), params).fetchone() or ())
        per_sli = 2 * len(all_labels)
        for i, (slo, sli, _metric) in enumerate(slis):
            mine = counts[i * per_sli:(i + 1) * per_sli]
            windows = {
                label: WindowBurn(label, int(mine[2 * k]), int(mine[2 * k + 1]), allowed_fraction(sli))
                for k, label in enumerate(all_labels)
            }
            results.append(SliBurn(slo, sli, {w: windows[w] for w in policy.windows},
                                   {w: windows[w] for w in labels}))
    return results
