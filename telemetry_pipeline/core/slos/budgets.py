"""Error budgets and burn rates of ratio SLIs, defined once (the math is in docs/slos.md).

A ratio SLI's period has a *bad fraction*: (100 - availability) / 100, or failure_rate / 100.
Its SLO *allows* a bad fraction of 1 - target/100 (availability) or target/100 (error rate).
Over a window of periods the bad fraction is sample-weighted (bad rows / rows), and
burn rate = bad fraction / allowed: 1.0 spends the budget exactly at the pace the SLO permits.

Everything here is SQL over the columns the evaluation statement (sql.py) provides:
`bad_fraction`, `allowed`, `sample_size`, `period_start`, partitioned per (slo_name, sli).
Only constants of ours are spliced in; nothing comes from input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from psycopg import sql

#: Rolling error-budget window of the daily rows (the day itself and the 29 before it).
BUDGET_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class BurnWindow:
    """A trailing window of hourly rows: `label` names its slo_status column (burn_rate_<label>)."""

    label: str
    span: timedelta


#: Google SRE Workbook windows adapted to hourly data (there is no 5-minute window: an hour is
#: the shortest period we have), longest last.
BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("1h", timedelta(hours=1)),
    BurnWindow("6h", timedelta(hours=6)),
    BurnWindow("3d", timedelta(days=3)),
)


@dataclass(frozen=True)
class BurnRule:
    """Fire `alert` when every window in `windows` burns at least `threshold` times the budget."""

    alert: str  # 'page' | 'ticket'
    windows: tuple[str, ...]
    threshold: float

    @property
    def label(self) -> str:
        """How slo_status.burn_alert_windows names the rule, e.g. '6h&1h>=6'."""
        return f"{'&'.join(self.windows)}>={self.threshold:g}"


#: In order of precedence: the first rule that fires is the row's burn_alert / burn_alert_windows.
#: 14.4x over 1 h spends 2% of a 30-day budget; 6x over 6 h spends 5%; 1x over 3 days spends 10%.
BURN_RULES: tuple[BurnRule, ...] = (
    BurnRule("page", ("1h",), 14.4),
    BurnRule("page", ("6h", "1h"), 6.0),
    BurnRule("ticket", ("3d", "6h"), 1.0),
)

#: How far before a window the evaluation must read, per granularity, so a one-partition run
#: computes the same rolling numbers as a backfill over many.
LOOKBACK: dict[str, timedelta] = {
    "hour": max(w.span for w in BURN_WINDOWS) - timedelta(hours=1),
    "day": BUDGET_WINDOW - timedelta(days=1),
    "week": timedelta(0),
}

_PARTITION = "partition by slo_name, sli order by period_start range between {} preceding and current row"


def _window_sums(span_back: timedelta) -> tuple[sql.Composable, sql.Composable]:
    """(sample-weighted bad rows, rows) over the trailing frame reaching `span_back` before a row."""
    seconds = sql.Literal(f"{int(span_back.total_seconds())} seconds")
    frame = sql.SQL(_PARTITION).format(sql.SQL("interval {}").format(seconds))
    bad = sql.SQL("sum(bad_fraction * sample_size) over ({})").format(frame)
    # only ratio SLIs (allowed is set) have a budget window; latency rows get null, not a count
    rows = sql.SQL("case when allowed is not null then sum(sample_size) over ({}) end").format(frame)
    return bad, rows


def own_burn_rate() -> sql.Composable:
    """The period's own burn rate (every granularity): its bad fraction / allowed."""
    return sql.SQL("bad_fraction / nullif(allowed, 0)")


def budget_columns() -> dict[str, sql.Composable]:
    """Daily rows: 30-day rolling budget remaining (percent, may be negative) and its sample."""
    bad, rows = _window_sums(BUDGET_WINDOW - timedelta(days=1))
    return {
        "error_budget_remaining": sql.SQL("100 * (1 - ({}) / nullif(allowed * ({}), 0))").format(bad, rows),
        "budget_window_sample": rows,
    }


def burn_window_columns() -> dict[str, sql.Composable]:
    """Hourly rows: burn_rate_<label> and sample_<label> over each trailing window."""
    columns: dict[str, sql.Composable] = {}
    for window in BURN_WINDOWS:
        bad, rows = _window_sums(window.span - timedelta(hours=1))
        columns[f"burn_rate_{window.label}"] = sql.SQL("({}) / nullif(({}) * allowed, 0)").format(bad, rows)
        columns[f"sample_{window.label}"] = rows
    return columns


def burn_alert_expressions() -> tuple[sql.Composable, sql.Composable]:
    """CASE expressions for (burn_alert, burn_alert_windows) over the burn_rate_<label> columns."""
    alert_cases: list[sql.Composable] = []
    label_cases: list[sql.Composable] = []
    for rule in BURN_RULES:
        cond = sql.SQL(" and ").join(
            sql.SQL("{} >= {}").format(sql.Identifier(f"burn_rate_{w}"), sql.Literal(rule.threshold))
            for w in rule.windows
        )
        alert_cases.append(sql.SQL("when {} then {}").format(cond, sql.Literal(rule.alert)))
        label_cases.append(sql.SQL("when {} then {}").format(cond, sql.Literal(rule.label)))
    return (
        sql.SQL("case {} end").format(sql.SQL(" ").join(alert_cases)),
        sql.SQL("case {} end").format(sql.SQL(" ").join(label_cases)),
    )
