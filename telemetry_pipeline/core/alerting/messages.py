"""Alert payload -> what people read: Slack Block Kit with fallback text, email text and HTML.

Everything that comes from data (names, values, tags, URLs) is first made one line of valid
text (`clean_text`: CR, LF, NUL and other control characters become spaces, lone surrogates
U+FFFD), then passes through `slack_escape` (Slack's three control characters &, <, >) or
`html.escape` before it reaches a message, so a release tag `<!channel>` shows as text and pings
nobody. Links are the only markup we write, and only to http(s) URLs.

Slack rejects a whole message (`invalid_blocks`) when one text is over its limit, so every
Block Kit text is cut to Slack's documented limits (SLACK_LIMITS) with a visible "…". The cut
happens after escaping, never inside an entity such as `&amp;` or a character (lengths are
counted in UTF-16 code units, which is never less than Slack's own count), and a link that
does not fit is replaced by its label rather than cut mid-URL.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.core.kpis.catalog import METRICS_BY_NAME
from telemetry_pipeline.core.slos.budgets import BURN_RULES
from telemetry_pipeline.core.slos.budgets import BURN_WINDOWS as HOURLY_BURN_WINDOWS

#: granularity -> slo_status asset key (SPEC section 8)
SLO_STATUS_ASSETS: dict[str, str] = {g.value: g.slo_asset for g in Granularity}

#: burn_alert_windows code -> what fired, in words: each rule's description in burn_windows.yaml
BURN_WINDOWS: dict[str, str] = {rule.label: rule.description for rule in BURN_RULES}

_COMPARATOR_WORDS = {">=": "≥", "<": "<"}

#: Slack Block Kit limits (api.slack.com/reference/block-kit): characters per text object.
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_TEXT_MAX = 3000
FIELDS_MAX = 10
BLOCKS_MAX = 50
#: The top-level `text` is the notification and fallback; Slack allows 40,000, people read less.
FALLBACK_TEXT_MAX = 3000
ELLIPSIS = "…"

#: C0/C1 control characters and the Unicode line/paragraph separators: never part of one line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: Zero-width joiner and variation selectors: meaningless (or a broken emoji) at the end of a cut.
_DANGLING = "\u200d\ufe0e\ufe0f"


@dataclass(frozen=True)
class Message:
    """One alert rendered for every channel."""

    status: str  # FIRING | RESOLVED
    subject: str  # email subject, also Slack's notification text head
    text: str  # Slack fallback text / plain part of the email (unescaped)
    slack_text: str  # the fallback text, Slack-escaped
    blocks: list[dict[str, Any]]
    html: str


def clean_text(text: object) -> str:
    """Data as one line of valid text: controls (CR, LF, NUL, ...) -> space, lone surrogates -> U+FFFD.

    A CR/LF in an SLO name must not reach an email header, and a lone surrogate cannot be
    encoded as UTF-8 at all: both would make the message impossible to send.
    """
    raw = str(text)
    if raw.isprintable():  # the common case: no control character, no surrogate
        return raw
    valid = raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub(" ", valid)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: an emoji outside the BMP counts 2, as in JavaScript."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit(escaped: str, limit: int) -> str:
    """Slack-escaped text cut to at most `limit` UTF-16 units, ending with a visible "…".

    The cut never splits a character or an entity (`&amp;`, `&lt;`, `&gt;`: in escaped text
    every '&' starts one), and drops a dangling zero-width joiner or variation selector.
    """
    if len(escaped) <= limit // 2 or utf16_len(escaped) <= limit:
        return escaped
    budget = limit - len(ELLIPSIS)
    cut = budget  # code points; each is 1 or 2 units, so this is never too short, maybe too long
    while (excess := utf16_len(escaped[:cut]) - budget) > 0:
        cut -= (excess + 1) // 2  # an excess of n units is at least ceil(n/2) code points
    head = escaped[:cut]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip(_DANGLING) + ELLIPSIS


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
    """Render one alert of `kind` (violation, resolved, burn_page, burn_ticket) from its payload.

    Raises (KeyError, ValueError) on a payload that lacks what a message needs; the delivery
    pass records such an alert as dead instead of letting it stop the tick.
    """
    payload = _clean_payload(payload)
    if payload.get("granularity") == "episode":
        return _render_episode(kind, payload)
    slo, sli, metric = payload["slo"], payload["sli"], payload.get("metric")
    granularity = payload["granularity"]
    start, end = _ts(payload["period_start"]), _ts(payload["period_end"])
    period = period_label(granularity, start, end)
    target, budget_text = _target_text(payload), _budget_text(payload)
    observed = format_value(payload.get("value"), metric)

    status = "RESOLVED" if kind == "resolved" else "FIRING"
    if kind == "violation":
        headline = f"SLO {slo} / {sli} violated"
        summary = f"{sli} was {observed} against a target of {target} in the {period}."
    elif kind == "resolved":
        recovery = payload.get("resolved_by") or {}
        headline = f"SLO {slo} / {sli} meets its target again"
        summary = (
            f"{sli} was {format_value(recovery.get('value'), metric)} (target {target}) in the "
            f"{_recovery_period(payload, end)}, after {observed} in the {period}."
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
    if offenders := payload.get("top_offenders"):
        facts.append(("Top offenders (bad rows)", _offenders_text(offenders)))

    return _message(status, subject, header, summary, facts, link, payload)


def _recovery_period(payload: dict[str, Any], end: datetime) -> str:
    """The label of the period that met the target again (a resolved payload's `resolved_by`)."""
    recovery = payload.get("resolved_by") or {}
    start = _ts(recovery.get("period_start", end))
    return period_label(payload["granularity"], start, _ts(recovery.get("period_end", end)))


def _offenders_text(offenders: list[dict[str, Any]]) -> str:
    """'acme/api (12), acme/web (3)': the repositories with the most bad rows, most first."""
    return ", ".join(f"{o['repository']} ({int(o['bad_rows']):,})" for o in offenders)


#: A grouped message names at most this many scopes (worst first) and counts the rest.
GROUP_NAMED = 10
_PLURALS = {"repository": "repositories", "workflow": "workflows", "team": "teams"}


def worst_first(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scoped alert payloads ordered worst first: furthest on the wrong side of the target.

    Lowest value first for a '>=' SLI, highest first for a '<' one; no value last; ties by name.
    """
    def rank(p: dict[str, Any]) -> tuple[bool, float, str]:
        value = p.get("value")
        if value is None:
            return True, 0.0, str(p.get("dimension_value"))
        number = float(value)
        return False, number if p.get("comparator") == ">=" else -number, str(p.get("dimension_value"))

    return sorted(payloads, key=rank)


def render_group(kind: str, payloads: list[dict[str, Any]]) -> Message:
    """One message for alerts of several scopes of one SLO, SLI, granularity, period and kind.

    The scopes are listed worst first, GROUP_NAMED of them by name with their values, then
    "and N more". Raises like `render` on a payload that lacks what the message needs.
    """
    if not payloads:
        raise ValueError("a grouped message needs at least one alert")
    ranked = worst_first([_clean_payload(p) for p in payloads])
    first = ranked[0]
    slo, sli, metric, granularity = first["slo"], first["sli"], first.get("metric"), first["granularity"]
    start, end = _ts(first["period_start"]), _ts(first["period_end"])
    period, target = period_label(granularity, start, end), _target_text(first)
    dimension = str(first.get("dimension") or "scope")
    count = len(ranked)
    scopes = f"{count} {_PLURALS.get(dimension, dimension) if count != 1 else dimension}"

    def scope_text(p: dict[str, Any]) -> str:
        observed = format_value(p.get("value"), metric)
        if kind == "resolved":
            observed += f" → {format_value((p.get('resolved_by') or {}).get('value'), metric)}"
        return f"{p['dimension_value']} {observed} ({int(p.get('sample_size') or 0):,} rows)"

    listing = ", ".join(scope_text(p) for p in ranked[:GROUP_NAMED])
    if count > GROUP_NAMED:
        listing += f" and {count - GROUP_NAMED} more"
    status = "RESOLVED" if kind == "resolved" else "FIRING"
    if kind == "violation":
        headline = f"SLO {slo} / {sli} violated in {scopes}"
        summary = f"{sli} missed its target of {target} in the {period} in {scopes}, worst first: {listing}."
    elif kind == "resolved":
        headline = f"SLO {slo} / {sli} meets its target again in {scopes}"
        summary = (f"{sli} meets its target of {target} again in the {_recovery_period(first, end)} in {scopes}, "
                   f"after the {period}: {listing}.")
    else:
        urgency = "page" if kind == "burn_page" else "ticket"
        headline = f"SLO {slo} / {sli} burning error budget ({urgency}) in {scopes}"
        summary = f"Burn-rate {urgency} in the {period} in {scopes}, worst first: {listing}."
    subject = f"[{status}] {headline}"
    facts = [
        ("SLO", slo),
        ("SLI", f"{sli} ({metric})" if metric else sli),
        ("Target", target),
        ("Period", period),
        (f"Scope ({dimension})", scopes),
    ]
    return _message(status, subject, subject, summary, facts, partition_url(granularity, start), first)


def _message(
    status: str, subject: str, header: str, summary: str, facts: list[tuple[str, str]], link: str,
    payload: dict[str, Any],
) -> Message:
    """The rendered message for every channel, from its parts."""
    runbook = payload.get("runbook_url")
    text_lines = [subject, summary, *(f"{name}: {value}" for name, value in facts)]
    text_lines.append(f"Dagster: {link}")
    if runbook:
        text_lines.append(f"Runbook: {runbook}")
    text = "\n".join(text_lines)

    return Message(
        status=status,
        subject=subject,
        text=text,
        slack_text=fit(slack_escape(f"{subject}: {summary}"), FALLBACK_TEXT_MAX),
        blocks=_blocks(header, summary, facts, link, runbook, payload.get("description")),
        html=_html(subject, summary, facts, link, runbook),
    )


def _target_text(payload: dict[str, Any]) -> str:
    """'≥ 99.9 %', '< 120,000 ms': the SLI's comparator and target with its unit."""
    raw = str(payload.get("comparator") or "")
    return f"{_COMPARATOR_WORDS.get(raw, raw)} {format_value(payload.get('target'), payload.get('metric'))}"


def _budget_text(payload: dict[str, Any]) -> str:
    budget = payload.get("budget_remaining")
    return f"{_trim(float(budget), 2)} %" if budget is not None else "n/a"


def _window_rates(windows: dict[str, Any]) -> str:
    """'5m 1000x (20 rows), 30m 250x (100 rows), ...' of a fast-burn payload's windows."""
    parts = []
    for label, w in (windows or {}).items():
        rate = w.get("burn_rate")
        rate_text = f"{_trim(float(rate), 2)}x" if rate is not None else "n/a"
        parts.append(f"{label} {rate_text} ({int(w.get('rows') or 0):,} rows)")
    return ", ".join(parts) or "n/a"


def _render_no_data(kind: str, payload: dict[str, Any]) -> Message:
    """NO DATA for a silent source of an SLO, or its resolve once rows arrive again."""
    slo, source = payload["slo"], payload["source"]
    last = _ts(payload["last_row_at"])
    if kind == "resolved":
        status, first = "RESOLVED", _ts((payload.get("resolved_by") or {}).get("first_row_at", last))
        headline = f"SLO {slo}: data from {source} again"
        summary = f"{source} has rows again (newest {first:%Y-%m-%d %H:%M:%S} UTC) after none since {last:%Y-%m-%d %H:%M:%S} UTC."
    else:
        status = "FIRING"
        headline = f"SLO {slo}: NO DATA from {source}"
        summary = (f"{source} has sent no row since {last:%Y-%m-%d %H:%M:%S} UTC "
                   f"(no_data_after {payload.get('no_data_after')}): the SLO cannot be evaluated.")
    facts = [("SLO", slo), ("Source", source), ("Last row", f"{last:%Y-%m-%d %H:%M:%S} UTC"),
             ("No data after", str(payload.get("no_data_after")))]
    subject = f"[{status}] {headline}"
    link = partition_url("hour", last.replace(minute=0, second=0, microsecond=0))
    return _message(status, subject, subject, summary, facts, link, payload)


def _render_episode(kind: str, payload: dict[str, Any]) -> Message:
    """A fast-burn page (kind fast_burn) or the resolved message closing its episode."""
    if payload.get("no_data"):
        return _render_no_data(kind, payload)
    slo, sli, metric = payload["slo"], payload["sli"], payload.get("metric")
    started = _ts(payload["episode_started_at"])
    pair = str(payload.get("pair") or "")
    target, budget_text = _target_text(payload), _budget_text(payload)
    started_text = f"{started:%Y-%m-%d %H:%M:%S} UTC"
    if kind == "resolved":
        recovery = payload.get("resolved_by") or {}
        status = "RESOLVED"
        headline = f"SLO {slo} / {sli} fast burn over"
        quiet = _ts(recovery.get("quiet_since", started))
        summary = (f"The fast-burn episode that started at {started_text} is over: the windows of {pair} "
                   f"have not both burnt at the threshold since {quiet:%H:%M:%S} UTC.")
        windows_now = _window_rates(recovery.get("windows") or {})
    else:
        status = "FIRING"
        headline = f"SLO {slo} / {sli} burning error budget fast"
        summary = (f"Since {started_text} the {payload.get('long_window')} and the {payload.get('short_window')} "
                   f"windows both burn the error budget at >= {_trim(float(payload.get('threshold') or 0), 2)}x "
                   f"(pair {pair}); {sli} was {format_value(payload.get('value'), metric)} over the last "
                   f"{payload.get('value_window')} against {target}.")
        windows_now = _window_rates(payload.get("windows") or {})
    subject = f"[{status}] {headline}"
    facts = [
        ("SLO", slo),
        ("SLI", f"{sli} ({metric})" if metric else sli),
        ("Episode started", started_text),
        ("Window pair", pair),
        ("Burn rates", windows_now),
        ("Target", target),
        ("Sample size", f"{int(payload.get('sample_size') or 0):,} ({payload.get('long_window')})"),
        ("Error budget left (30 d)", budget_text),
    ]
    link = partition_url("hour", started.replace(minute=0, second=0, microsecond=0))
    return _message(status, subject, subject, summary, facts, link, payload)


def _clean_payload(value: Any) -> Any:
    """Every string of the payload (nested too) through clean_text; other values as they are."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {k: _clean_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_payload(v) for v in value]
    return value


def is_web_url(url: str | None) -> bool:
    """Only http(s) URLs become links; anything else (javascript:, file:) is shown as text."""
    return bool(url) and str(url).lower().startswith(("http://", "https://"))


def _burn_text(payload: dict[str, Any]) -> str:
    """'page: <which windows fired> (window pair 1h>=14.4; burn rates 1h 20x, 6h 4x, 3d 0.5x)'."""
    urgency = payload.get("burn_alert") or ""
    windows = payload.get("burn_alert_windows") or ""
    rates = ", ".join(
        f"{label} {_trim(float(payload[k]), 2)}x"
        for label, k in ((w.label, w.rate_column) for w in HOURLY_BURN_WINDOWS)
        if payload.get(k) is not None
    )
    return f"{urgency}: {BURN_WINDOWS.get(windows, windows)} (window pair {windows}; burn rates {rates or 'n/a'})"


def _blocks(
    header: str, summary: str, facts: list[tuple[str, str]], link: str, runbook: str | None,
    description: str | None,
) -> list[dict[str, Any]]:
    fields = [_field(n, v) for n, v in facts][:FIELDS_MAX]
    links = [_link(link, "Open the partition in Dagster")]
    if runbook:
        links.append(_link(runbook, "Runbook"))
    links_text = " · ".join(links)
    if utf16_len(links_text) > SECTION_TEXT_MAX:  # a huge runbook URL: keep its label, not a cut link
        links_text = " · ".join([links[0], "Runbook (URL too long for Slack; see the email)"])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(slack_escape(header), HEADER_TEXT_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": fit(slack_escape(summary), SECTION_TEXT_MAX)}},
        {"type": "section", "fields": fields},
    ]
    if description:
        text = fit(slack_escape(description), CONTEXT_TEXT_MAX)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links_text}})
    return blocks[:BLOCKS_MAX]


def _field(name: str, value: str) -> dict[str, str]:
    """One '*name*\\nvalue' field within Slack's 2,000 characters (the value is what gets cut)."""
    head = f"*{slack_escape(name)}*\n"
    return {"type": "mrkdwn", "text": head + fit(slack_escape(value), FIELD_TEXT_MAX - utf16_len(head))}


def _link(url: str, label: str) -> str:
    """`<url|label>` for an http(s) URL; otherwise the label and the (escaped) text of the URL."""
    if is_web_url(url):
        return f"<{_slack_url(url)}|{label}>"
    return f"{label}: {fit(slack_escape(url), 200)}"


def _slack_url(url: str) -> str:
    """A URL inside Slack's <url|label>: escaped, and '|' and spaces (which would end it) encoded."""
    return slack_escape(url.replace("|", "%7C").replace(" ", "%20"))


def _html(subject: str, summary: str, facts: list[tuple[str, str]], link: str, runbook: str | None) -> str:
    e = html.escape
    rows = "".join(f"<tr><th align=\"left\">{e(n)}</th><td>{e(v)}</td></tr>" for n, v in facts)
    links = f'<a href="{e(link)}">Open the partition in Dagster</a>'
    if runbook and is_web_url(runbook):
        links += f' · <a href="{e(runbook)}">Runbook</a>'
    elif runbook:
        links += f" · Runbook: {e(runbook)}"
    return (
        f"<html><body><h2>{e(subject)}</h2><p>{e(summary)}</p>"
        f"<table>{rows}</table><p>{links}</p></body></html>"
    )
