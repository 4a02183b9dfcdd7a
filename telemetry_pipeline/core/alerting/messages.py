"""Alert payload -> what people read: Slack Block Kit with fallback text, email text and HTML.

Everything that comes from data (names, values, tags, URLs) passes through `slack_escape`
(Slack's three control characters &, <, >) or `html.escape` before it reaches a message, so a
release tag `<!channel>` shows as text and pings nobody. Links are the only markup we write.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.core.kpis.catalog import METRICS_BY_NAME

#: granularity -> slo_status asset key (SPEC section 8)
SLO_STATUS_ASSETS: dict[str, str] = {g.value: g.slo_asset for g in Granularity}

#: burn_alert_windows code -> what fired, in words
BURN_WINDOWS = {
    "1h>=14.4": "the 1-hour window burns the error budget at >= 14.4x (fast burn)",
    "6h&1h>=6": "the 6-hour and the 1-hour windows both burn at >= 6x",
    "3d&6h>=1": "the 3-day and the 6-hour windows both burn at >= 1x (slow burn)",
}

_COMPARATOR_WORDS = {">=": "≥", "<": "<"}


@dataclass(frozen=True)
class Message:
    """One alert rendered for every channel."""

    status: str  # FIRING | RESOLVED
    subject: str  # email subject, also Slack's notification text head
    text: str  # Slack fallback text / plain part of the email (unescaped)
    slack_text: str  # the fallback text, Slack-escaped
    blocks: list[dict[str, Any]]
    html: str


def slack_escape(text: object) -> str:
    """Escape Slack's control characters so data can never form a mention or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_value(value: Any, metric: str | None) -> str:
    """A metric value with its unit, rounded for people (97.5 %, 312,000 ms)."""
    if value is None:
        return "n/a"
    number = float(value)
    unit = METRICS_BY_NAME[metric].unit if metric in METRICS_BY_NAME else ""
    if unit == "percent":
        return f"{_trim(number, 3)} %"
    if unit in ("ms", "bytes"):
        return f"{number:,.0f} {unit}"
    return _trim(number, 3)


def _trim(number: float, decimals: int) -> str:
    text = f"{number:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def period_label(granularity: str, start: datetime, end: datetime) -> str:
    """'hour 2025-01-01 10:00-11:00 UTC', 'day 2025-01-01 (UTC)', 'week of 2025-01-06 (UTC)'."""
    if granularity == "hour":
        return f"hour {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"
    if granularity == "day":
        return f"day {start:%Y-%m-%d} (UTC)"
    return f"week of {start:%Y-%m-%d} (UTC)"


def partition_url(granularity: str, period_start: datetime) -> str:
    """The slo_status partition of the alert in the Dagster UI."""
    g = Granularity.parse(granularity)
    asset, key = g.slo_asset, g.partition_key(period_start)
    return f"{settings.dagster_webserver_url()}/assets/{asset}?partition={quote(key, safe='-:')}"


def _ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def render(kind: str, payload: dict[str, Any]) -> Message:
    """Render one alert of `kind` (violation, resolved, burn_page, burn_ticket) from its payload."""
    slo, sli, metric = payload["slo"], payload["sli"], payload.get("metric")
    granularity = payload["granularity"]
    start, end = _ts(payload["period_start"]), _ts(payload["period_end"])
    period = period_label(granularity, start, end)
    raw_comparator = str(payload.get("comparator") or "")
    comparator = _COMPARATOR_WORDS.get(raw_comparator, raw_comparator)
    target = f"{comparator} {format_value(payload.get('target'), metric)}"
    observed = format_value(payload.get("value"), metric)
    budget = payload.get("budget_remaining")
    budget_text = f"{_trim(float(budget), 2)} %" if budget is not None else "n/a"

    status = "RESOLVED" if kind == "resolved" else "FIRING"
    if kind == "violation":
        headline = f"SLO {slo} / {sli} violated"
        summary = f"{sli} was {observed} against a target of {target} in the {period}."
    elif kind == "resolved":
        recovery = payload.get("resolved_by") or {}
        r_start, r_end = _ts(recovery.get("period_start", end)), _ts(recovery.get("period_end", end))
        headline = f"SLO {slo} / {sli} meets its target again"
        summary = (
            f"{sli} was {format_value(recovery.get('value'), metric)} (target {target}) in the "
            f"{period_label(granularity, r_start, r_end)}, after {observed} in the {period}."
        )
    else:
        urgency = "page" if kind == "burn_page" else "ticket"
        windows = payload.get("burn_alert_windows") or ""
        headline = f"SLO {slo} / {sli} burning error budget ({urgency}: {windows})"
        summary = f"Burn-rate {_burn_text(payload)} in the {period}; {sli} was {observed} against {target}."
    subject = f"[{status}] {headline}"
    # The header is plain_text, where Slack documents no entity decoding: it holds only the SLO
    # and SLI names (validated identifiers) and fixed words, never the window rule's '&' and '>'.
    header = subject.split(" (", 1)[0] if kind.startswith("burn_") else subject
    tags = [str(t) for t in payload.get("tags") or []]
    link = partition_url(granularity, start)
    runbook = payload.get("runbook_url")
    facts = [
        ("SLO", slo),
        ("SLI", f"{sli} ({metric})" if metric else sli),
        ("Observed", observed),
        ("Target", target),
        ("Period", period),
        ("Sample size", f"{int(payload.get('sample_size') or 0):,}"),
        ("Error budget left (30 d)", budget_text),
    ]
    if kind == "violation" and payload.get("burn_alert"):
        facts.append(("Burn rate", _burn_text(payload)))
    if tags:
        facts.append(("Releases involved", ", ".join(tags)))

    text_lines = [subject, summary, *(f"{name}: {value}" for name, value in facts)]
    text_lines.append(f"Dagster: {link}")
    if runbook:
        text_lines.append(f"Runbook: {runbook}")
    text = "\n".join(text_lines)

    return Message(
        status=status,
        subject=subject,
        text=text,
        slack_text=slack_escape(f"{subject}: {summary}"),
        blocks=_blocks(header, summary, facts, link, runbook, payload.get("description")),
        html=_html(subject, summary, facts, link, runbook),
    )


def _burn_text(payload: dict[str, Any]) -> str:
    """'page: <which windows fired> (window pair 1h>=14.4; burn rates 1h 20x, 6h 4x, 3d 0.5x)'."""
    urgency = payload.get("burn_alert") or ""
    windows = payload.get("burn_alert_windows") or ""
    rates = ", ".join(
        f"{label} {_trim(float(payload[k]), 2)}x"
        for label, k in (("1h", "burn_rate_1h"), ("6h", "burn_rate_6h"), ("3d", "burn_rate_3d"))
        if payload.get(k) is not None
    )
    return f"{urgency}: {BURN_WINDOWS.get(windows, windows)} (window pair {windows}; burn rates {rates or 'n/a'})"


def _blocks(
    header: str, summary: str, facts: list[tuple[str, str]], link: str, runbook: str | None,
    description: str | None,
) -> list[dict[str, Any]]:
    fields = [{"type": "mrkdwn", "text": f"*{slack_escape(n)}*\n{slack_escape(v)}"} for n, v in facts]
    links = [f"<{_slack_url(link)}|Open the partition in Dagster>"]
    if runbook:
        links.append(f"<{_slack_url(runbook)}|Runbook>")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": slack_escape(header)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(summary)}},
        {"type": "section", "fields": fields[:10]},
    ]
    if description:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(description)}]})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": " · ".join(links)}})
    return blocks


def _slack_url(url: str) -> str:
    """A URL inside Slack's <url|label>: escaped, and a '|' (which would end the URL) encoded."""
    return slack_escape(url.replace("|", "%7C"))


def _html(subject: str, summary: str, facts: list[tuple[str, str]], link: str, runbook: str | None) -> str:
    e = html.escape
    rows = "".join(f"<tr><th align=\"left\">{e(n)}</th><td>{e(v)}</td></tr>" for n, v in facts)
    links = f'<a href="{e(link)}">Open the partition in Dagster</a>'
    if runbook:
        links += f' · <a href="{e(runbook)}">Runbook</a>'
    return (
        f"<html><body><h2>{e(subject)}</h2><p>{e(summary)}</p>"
        f"<table>{rows}</table><p>{links}</p></body></html>"
    )
