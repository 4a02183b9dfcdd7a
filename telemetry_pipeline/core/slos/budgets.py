"""Error budgets and burn rates of ratio SLIs, defined once (the math is in docs/slos.md).

A ratio SLI's period has a *bad fraction*: (100 - availability) / 100, or failure_rate / 100.
Its SLO *allows* a bad fraction of 1 - target/100 (availability) or target/100 (error rate).
Over a window of periods the bad fraction is sample-weighted (bad rows / rows), and
burn rate = bad fraction / allowed: 1.0 spends the budget exactly at the pace the SLO permits.

Everything here is SQL over the columns the evaluation statement (sql.py) provides:
`bad_fraction`, `allowed`, `budget_sample` (the sample, 0 inside a maintenance window),
`period_start`, partitioned per (slo_name, sli).
Only constants of ours are spliced in; nothing comes from input.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from psycopg import sql
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

BURN_WINDOWS_FILE = Path(__file__).with_name("burn_windows.yaml")
#: The windows slo_status has columns for (sql/0020_slo_burn_rates.sql).
TABLE_WINDOWS = ("1h", "6h", "3d")
_SPAN = re.compile(r"^([1-9][0-9]*)([mhd])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def parse_span(label: str) -> timedelta:
    """'5m' -> 5 minutes, '1h' -> 1 hour, '3d' -> 3 days."""
    match = _SPAN.match(label)
    if not match:
        raise ValueError(f"{label!r} is not a span like 5m, 1h or 30d")
    return int(match.group(1)) * _UNITS[match.group(2)]


class BurnWindow(BaseModel):
    """A trailing window of hourly rows: `label` names its slo_status column (burn_rate_<label>)."""

    model_config = ConfigDict(frozen=True)

    label: str

    @property
    def span(self) -> timedelta:
        return parse_span(self.label)

    @property
    def rate_column(self) -> str:
        return f"burn_rate_{self.label}"

    @property
    def sample_key(self) -> str:
        return f"sample_{self.label}"


class BurnRule(BaseModel):
    """Fire `alert` when every window in `windows` burns at least `threshold` times the budget."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert: Literal["page", "ticket"]
    windows: tuple[str, ...]
    threshold: float
    description: str

    @property
    def label(self) -> str:
        """How slo_status.burn_alert_windows names the rule, e.g. '6h&1h>=6'."""
        return f"{'&'.join(self.windows)}>={self.threshold:g}"


class FastBurnPair(BaseModel):
    """Page when both the `long` and the `short` rolling window burn at >= `threshold` (SPEC 11)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    long: str
    short: str
    threshold: float

    @property
    def label(self) -> str:
        """How alerts name the pair, e.g. '1h&5m>=14.4'."""
        return f"{self.long}&{self.short}>={self.threshold:g}"


class FastBurn(BaseModel):
    """Rolling windows ending now, read from the raw rows once a minute (fast_burn.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    windows: tuple[str, ...]
    pairs: tuple[FastBurnPair, ...]
    #: An episode closes once the condition of its pair has been false this long.
    resolve_after: str

    @field_validator("windows")
    @classmethod
    def _spans(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for label in value:
            parse_span(label)
        if len(set(value)) != len(value):
            raise ValueError("windows must be unique")
        return value

    @field_validator("resolve_after")
    @classmethod
    def _resolve_span(cls, value: str) -> str:
        parse_span(value)
        return value

    @model_validator(mode="after")
    def _pairs(self) -> FastBurn:
        if not self.pairs:
            raise ValueError("pairs: at least one pair is needed")
        for pair in self.pairs:
            if missing := {pair.long, pair.short} - set(self.windows):
                raise ValueError(f"pair {pair.label}: unknown windows {sorted(missing)}")
            if parse_span(pair.short) >= parse_span(pair.long):
                raise ValueError(f"pair {pair.label}: the short window must be shorter than the long one")
            if pair.threshold <= 0:
                raise ValueError(f"pair {pair.label}: threshold must be > 0")
        return self

    @property
    def spans(self) -> dict[str, timedelta]:
        """window label -> its length."""
        return {w: parse_span(w) for w in self.windows}

    @property
    def longest(self) -> timedelta:
        """How far back one evaluation reads rows."""
        return max(self.spans.values())


class BurnPolicy(BaseModel):
    """burn_windows.yaml: the budget window, the burn windows and the alert rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    budget_window: str
    windows: tuple[str, ...]
    rules: tuple[BurnRule, ...]
    fast_burn: FastBurn

    @field_validator("budget_window", "windows")
    @classmethod
    def _spans(cls, value: Any) -> Any:
        for label in (value,) if isinstance(value, str) else value:
            parse_span(label)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BurnPolicy:
        if unknown := set(self.windows) - set(TABLE_WINDOWS):
            raise ValueError(f"windows {sorted(unknown)} have no slo_status columns (only {TABLE_WINDOWS})")
        if len(set(self.windows)) != len(self.windows):
            raise ValueError("windows must be unique")
        for rule in self.rules:
            if missing := set(rule.windows) - set(self.windows):
                raise ValueError(f"rule {rule.label}: unknown windows {sorted(missing)}")
        return self


def load_policy(path: Path = BURN_WINDOWS_FILE) -> BurnPolicy:
    """Read and validate a burn-window file; errors name the file and the field."""
    try:
        return BurnPolicy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "file"
        raise ValueError(f"{path}: field {where}: {first['msg']}") from None


POLICY = load_policy()
#: Rolling error-budget window of the daily rows (the day itself and the 29 before it).
BUDGET_WINDOW = parse_span(POLICY.budget_window)
#: The burn windows, longest last.
BURN_WINDOWS: tuple[BurnWindow, ...] = tuple(
    sorted((BurnWindow(label=w) for w in POLICY.windows), key=lambda w: w.span)
)
#: In order of precedence: the first rule that fires is the row's burn_alert / burn_alert_windows.
BURN_RULES: tuple[BurnRule, ...] = POLICY.rules
#: Fast burn from the raw rows of the open period (SPEC section 11).
FAST_BURN: FastBurn = POLICY.fast_burn

#: How far before a window the evaluation must read, per granularity, so a one-partition run
#: computes the same rolling numbers as a backfill over many.
LOOKBACK: dict[str, timedelta] = {
    "hour": max(w.span for w in BURN_WINDOWS) - timedelta(hours=1),
    "day": BUDGET_WINDOW - timedelta(days=1),
    "week": timedelta(0),
}

#: Per SLI and scope value (null for a global SLO): a scoped SLO has one budget per value.
_PARTITION = "partition by slo_name, sli, dimension_value order by period_start range between {} preceding and current row"


def _window_sums(span_back: timedelta) -> tuple[sql.Composable, sql.Composable]:
    """(sample-weighted bad rows, rows) over the trailing frame reaching `span_back` before a row."""
    seconds = sql.Literal(f"{int(span_back.total_seconds())} seconds")
    frame = sql.SQL(_PARTITION).format(sql.SQL("interval {}").format(seconds))
    # budget_sample: the row's sample, 0 inside a maintenance window (excluded from budgets)
    bad = sql.SQL("sum(bad_fraction * budget_sample) over ({})").format(frame)
    # only ratio SLIs (allowed is set) have a budget window; latency rows get null, not a count
    rows = sql.SQL("case when allowed is not null then sum(budget_sample) over ({}) end").format(frame)
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
        columns[window.rate_column] = sql.SQL("({}) / nullif(({}) * allowed, 0)").format(bad, rows)
        columns[window.sample_key] = rows
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
