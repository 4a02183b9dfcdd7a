"""The dashboard's filters: one parser for the page's URL and every JSON API endpoint.

The page keeps its whole state in the query string and sends that same query string to the API,
so a shared link, a Grafana panel and a script all go through this one validation. Every
parameter is optional; a bad value raises ParamError naming the parameter, which the API turns
into a 400 whose body says which one and why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import PERIODS, period_start_of
from telemetry_pipeline.core.kpis.catalog import METRICS, METRICS_BY_NAME
from telemetry_pipeline.core.scopes.teams import DIMENSIONS
from telemetry_pipeline.core.slos.config import SloCatalog

#: Quick ranges of the page, ending now.
RANGES: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DEFAULT_RANGE = "7d"
GROUPS: tuple[str, ...] = ("provenance", "audit", "operational")

#: Points per series above which the API downsamples (about one point per horizontal pixel of
#: a full-width chart); `max_points` overrides it within these bounds.
DEFAULT_MAX_POINTS = 1000
MAX_POINTS_BOUNDS = (10, 20000)
DEFAULT_LIMIT = 100
LIMIT_BOUNDS = (1, 1000)
#: A from/to span longer than this is refused: it only makes PostgreSQL read the whole table.
MAX_SPAN = timedelta(days=3 * 366)

#: from/to must lie in [MIN_TIME, MAX_TIME]: a year inside Python's calendar (years 1..9999) on
#: each side, so the default from (to - 7 days), the week alignment of the chart's left edge and
#: the padding of downsampling buckets never step outside it.
MIN_TIME = datetime(2, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9999, 1, 1, tzinfo=UTC)
#: Longer values are refused before parsing (the longest ISO 8601 date-time is ~32 characters).
MAX_VALUE_LENGTH = 64
_ASCII_INT = re.compile(r"[+-]?[0-9]{1,12}")

PARAMETERS = frozenset({"granularity", "range", "from", "to", "metric", "group", "slo", "max_points", "limit"})
#: A scoped view (SPEC section 10): one of these, naming a repository, workflow or team.
PARAMETERS |= frozenset(DIMENSIONS)
#: Longer scope values are refused (GitHub's owner/name/workflow stays far below this).
MAX_SCOPE_LENGTH = 512
_REPEATABLE = frozenset({"metric", "group", "slo"})


@dataclass(frozen=True)
class Scope:
    """One dimension value the view is narrowed to, e.g. repository 'acme/api'."""

    dimension: str  # repository | workflow | team
    value: str


class ParamError(ValueError):
    """A query parameter is malformed; `param` names it for the 400 response."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True)
class View:
    """A validated dashboard view: which periods of which granularity, which metrics and SLOs."""

    granularity: str
    start: datetime  # inclusive; periods whose period_start >= period_start_of(start) are shown
    end: datetime  # exclusive
    range: str | None  # the quick range, or None for a custom from/to
    metrics: tuple[str, ...]  # catalog order
    slos: tuple[str, ...]  # catalog order
    groups: tuple[str, ...]
    max_points: int
    limit: int
    scope: Scope | None = None  # None: the global rows

    @property
    def first_period(self) -> datetime:
        """Start of the first period overlapping the view (the chart's left edge)."""
        return period_start_of(self.start, self.granularity)

    @property
    def period_count(self) -> int:
        """How many periods of the granularity the view spans (the series' length before downsampling)."""
        length = PERIODS[self.granularity]
        return max(1, math.ceil((self.end - self.first_period) / length))

    @property
    def bucket_periods(self) -> int:
        """Periods merged into one chart point: 1 unless the series would exceed max_points."""
        return max(1, math.ceil(self.period_count / self.max_points))

    def query(self) -> dict[str, list[str]]:
        """The view as query parameters (what the page writes into its URL)."""
        q: dict[str, list[str]] = {self.scope.dimension: [self.scope.value]} if self.scope else {}
        q["granularity"] = [self.granularity]
        if self.range:
            q["range"] = [self.range]
        else:
            q["from"] = [iso(self.start)]
            q["to"] = [iso(self.end)]
        return q


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with a Z, the one timestamp format of the API's responses."""
    # isoformat, not strftime: %Y drops the leading zeros of years before 1000.
    return ts.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _shown(raw: str) -> str:
    """A value quoted for an error message, cut short when huge."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def parse_time(param: str, raw: str) -> datetime:
    """ISO 8601 date or date-time. A date is midnight UTC; a date-time without offset is UTC.

    Only ASCII digits, at most MAX_VALUE_LENGTH characters, and within [MIN_TIME, MAX_TIME] once
    converted to UTC (an offset may push a time past the calendar's edge: that is refused here,
    naming the parameter, rather than overflowing later).
    """
    text = raw.strip()
    example = "e.g. 2025-03-01 or 2025-03-01T00:00:00Z"
    if not text:
        raise ParamError(param, f"empty; expected an ISO 8601 date or date-time, {example}")
    if len(text) > MAX_VALUE_LENGTH:
        raise ParamError(param, f"{len(text)} characters is too long for a date-time; {example}")
    if not (text.isascii() and text.isprintable()):  # fromisoformat ignores a trailing NUL
        raise ParamError(
            param, f"{_shown(raw)} has non-ASCII or control characters; expected an ISO 8601 date-time, {example}"
        )
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            ts = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            ts = datetime.fromisoformat(_restore_plus(text))
            ts = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ParamError(param, f"{_shown(raw)} is outside the calendar once converted to UTC") from None
    except ValueError:
        raise ParamError(param, f"{_shown(raw)} is not an ISO 8601 date or date-time ({example})") from None
    if not MIN_TIME <= ts <= MAX_TIME:
        raise ParamError(param, f"{iso(ts)} is outside the supported range {iso(MIN_TIME)}..{iso(MAX_TIME)}")
    return ts


def _restore_plus(text: str) -> str:
    """An unencoded '+' of an offset arrives as a space (form decoding); put it back."""
    if "T" in text and text.count(" ") == 1:
        return text.replace(" ", "+")
    return text


def default_granularity(span: timedelta) -> str:
    """Hours up to a week, days up to a year, weeks beyond: a readable number of points."""
    if span <= timedelta(days=7):
        return "hour"
    if span <= timedelta(days=366):
        return "day"
    return "week"


def scoped_granularity(granularity: str) -> str:
    """The granularity a scoped view defaults to: `granularity` when scoped rows exist for it
    (TELEMETRY_DIMENSION_GRANULARITIES), else the next coarser one that has them."""
    scoped = settings.current().dimension_granularities
    order = list(PERIODS)
    return next((g for g in order[order.index(granularity):] if g in scoped), order[-1])


def parse_scope(query: Mapping[str, list[str]]) -> Scope | None:
    """The scope parameter (at most one of repository, workflow, team), checked for shape only;
    whether the value exists is the database's answer (scopes.require_known)."""
    given = [d for d in DIMENSIONS if query.get(d)]
    if len(given) > 1:
        raise ParamError(given[1], f"one scope at a time: give {given[0]} or {given[1]}, not both")
    if not given:
        return None
    dimension = given[0]
    value = query[dimension][0]
    if len(value) > MAX_SCOPE_LENGTH:
        raise ParamError(dimension, f"{len(value)} characters is too long (at most {MAX_SCOPE_LENGTH})")
    if not value.isprintable() or value != value.strip():
        raise ParamError(dimension, f"{_shown(value)} has control characters or surrounding spaces")
    return Scope(dimension, value)


def _int(param: str, raw: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    # int() would also take '1_000', Arabic-Indic or full-width digits and 4000-digit strings.
    if not _ASCII_INT.fullmatch(raw.strip()):
        raise ParamError(param, f"{_shown(raw)} is not an integer")
    value = int(raw)
    if not low <= value <= high:
        raise ParamError(param, f"{value} is out of range; expected {low}..{high}")
    return value


def _single(query: Mapping[str, list[str]], param: str) -> str | None:
    values = query.get(param) or []
    if len(values) > 1:
        raise ParamError(param, "given more than once")
    return values[0] if values else None


def _choices(param: str, values: Iterable[str], known: Iterable[str]) -> set[str]:
    known_list = list(known)
    chosen: set[str] = set()
    for raw in values:
        for value in (v.strip() for v in raw.split(",")):
            if value not in known_list:
                raise ParamError(param, f"unknown value {value!r}; expected one of {', '.join(known_list)}")
            chosen.add(value)
    return chosen


def parse_view(query: Mapping[str, list[str]], catalog: SloCatalog, now: datetime) -> View:
    """Validate a query string (parameter -> values, as parse_qs gives) into a View.

    Metric selection: `metric` names metrics directly; `group` and `slo` narrow the catalog to
    those groups / the metrics of those SLOs. Without any of them every metric is shown.
    """
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter; expected some of {', '.join(sorted(PARAMETERS))}")
    # An empty value (`?slo=`, as an HTML form sends for "all") means the parameter's default.
    query = {k: [v for v in values if v.strip()] for k, values in query.items()}
    query = {k: values for k, values in query.items() if values}
    for param, values in query.items():
        if param not in _REPEATABLE and len(values) > 1:
            raise ParamError(param, "given more than once")

    now = now.astimezone(UTC)
    range_raw = _single(query, "range")
    from_raw, to_raw = _single(query, "from"), _single(query, "to")
    if range_raw is not None and (from_raw is not None or to_raw is not None):
        raise ParamError("range", "give either range or from/to, not both")
    if from_raw is None and to_raw is None:
        range_name = range_raw if range_raw is not None else DEFAULT_RANGE
        if range_name not in RANGES:
            raise ParamError("range", f"unknown value {range_name!r}; expected one of {', '.join(RANGES)}")
        start, end = now - RANGES[range_name], now
    else:
        range_name = None
        end = parse_time("to", to_raw) if to_raw is not None else now
        start = parse_time("from", from_raw) if from_raw is not None else end - RANGES[DEFAULT_RANGE]
        if start >= end:
            raise ParamError("from", f"{iso(start)} is not before to={iso(end)}")
        if end - start > MAX_SPAN:
            raise ParamError("from", f"the span from..to is longer than {MAX_SPAN.days} days")

    scope = parse_scope(query)
    granularity = _single(query, "granularity") or default_granularity(end - start)
    if scope is not None and _single(query, "granularity") is None:
        granularity = scoped_granularity(granularity)
    if granularity not in PERIODS:
        raise ParamError("granularity", f"unknown value {granularity!r}; expected one of {', '.join(PERIODS)}")

    slo_names = [s.name for s in catalog]
    slos = _choices("slo", query.get("slo", []), slo_names)
    groups = _choices("group", query.get("group", []), GROUPS)
    metrics = _choices("metric", query.get("metric", []), METRICS_BY_NAME)
    selected = [m.name for m in METRICS]
    if metrics:
        selected = [m for m in selected if m in metrics]
    if groups:
        selected = [m for m in selected if METRICS_BY_NAME[m].group in groups]
    if slos:
        slo_metrics = {sli.metric for slo in catalog if slo.name in slos for sli in slo.slis}
        selected = [m for m in selected if m in slo_metrics]

    max_points_raw = _single(query, "max_points")
    limit_raw = _single(query, "limit")
    return View(
        granularity=granularity,
        start=start,
        end=end,
        range=range_name,
        metrics=tuple(selected),
        slos=tuple(n for n in slo_names if not slos or n in slos),
        groups=tuple(g for g in GROUPS if not groups or g in groups),
        max_points=(
            _int("max_points", max_points_raw, MAX_POINTS_BOUNDS) if max_points_raw else DEFAULT_MAX_POINTS
        ),
        limit=_int("limit", limit_raw, LIMIT_BOUNDS) if limit_raw else DEFAULT_LIMIT,
        scope=scope,
    )
