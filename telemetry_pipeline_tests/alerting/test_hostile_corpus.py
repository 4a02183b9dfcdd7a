"""A hostile corpus: every text field of an alert filled with what data can hold, rendered and
sent to the loopback Slack API server (which enforces Block Kit's limits) and the real SMTP server.

Each case must give a message Slack accepts, in which data forms no mention, link or entity
fragment, no text is cut inside a character or an escape, and an email whose headers hold no
CR/LF. Slack error codes are classified against the same server: permanent ones make the alert
dead, the others are retried.
"""

from __future__ import annotations

import re
from itertools import product

import pytest

from telemetry_pipeline.core.alerting.delivery import DeliveryFailed
from telemetry_pipeline.core.alerting.messages import ELLIPSIS, Message, render, utf16_len
from telemetry_pipeline.defs.alerting.slack import PERMANENT_ERRORS
from telemetry_pipeline_tests.alerting.conftest import email_resource, slack_resource
from telemetry_pipeline_tests.alerting.slack_api_server import block_kit_errors
from telemetry_pipeline_tests.alerting.test_messages import PAYLOAD

HOSTILE = {
    "huge": "x" * 5000,
    "amps": "&" * 4000,
    "angles": "<" * 3000,
    "mixed_escapes": ">&<" * 1500,
    "entity_at_field_edge": "x" * 1975 + "&" * 10,
    "entity_at_section_edge": "y" * 2990 + "&amp;" * 4,
    "channel": "<!channel> <!here> <!everyone>",
    "mention": "<@U0123> <#C0123|general> <!subteam^S1|@team>",
    "fake_link": "<https://evil.example.org|click me>",
    "mrkdwn": "*bold* _it_ ~strike~ `code` ```block``` > quote",
    "pipe_gt": "a|b>c<d",
    "emoji": "😀" * 2000,
    "emoji_odd_edge": "z" + "😀" * 1600,
    "zwj_family": "👩‍👩‍👧‍👦" * 400,
    "combining": "e\u0301" * 1700,
    "lone_surrogate": "broken \ud83d text \udc00",
    "crlf": "line1\r\nBcc: victim@example.org\r\n\r\nbody",
    "nul": "nul\x00inside\x00",
    "separators": "para\u2028graph\u2029end\x85",
    "controls": "\t\v\f\x1b[31mred\x7f",
    "rtl": "\u202egnp.exe",
    "empty": "",
    "web_url": "https://runbooks.example.org/" + "p" * 4000,
    "url_with_specials": "https://runbooks.example.org/a b|c>d&e",
    "script_url": "javascript:alert(1)",
}

#: payload field -> how a hostile string is put there
FIELDS = {
    "slo": lambda s: {"slo": s},
    "sli": lambda s: {"sli": s},
    "description": lambda s: {"description": s},
    "runbook_url": lambda s: {"runbook_url": s},
    "tag": lambda s: {"tags": [s, "v2", s[:100]]},
    "windows": lambda s: {"burn_alert_windows": s, "burn_alert": "page", "burn_rate_1h": 20.0},
}
KINDS = ("violation", "burn_page")
CASES = list(product(FIELDS, HOSTILE, KINDS))
assert len(CASES) >= 300

#: the only markup we write: <http(s) url|label>
OUR_LINK = re.compile(r"<https?://[^|<>\s]*\|(Open the partition in Dagster|Runbook)>")
ENTITY_FRAGMENT = re.compile(r"&(?!amp;|lt;|gt;)")
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _payload(field: str, text: str) -> dict:
    return {**PAYLOAD, **FIELDS[field](text)}


def _slack_texts(message: Message) -> list[str]:
    texts = [message.slack_text]
    for block in message.blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", [])]
    return texts


def _check(message: Message) -> None:
    assert block_kit_errors({"text": message.slack_text, "blocks": message.blocks}) == []
    for text in _slack_texts(message):
        bare = OUR_LINK.sub("", text)
        assert "<" not in bare and ">" not in bare, text[:200]
        assert not ENTITY_FRAGMENT.search(text), text[-40:]
        assert not CONTROLS.search(text), text[:200]
        text.encode("utf-8")  # no lone surrogate
        assert not text[:-1].endswith("\u200d")
    header = message.blocks[0]["text"]["text"]
    assert utf16_len(header) <= 150
    assert not CONTROLS.search(message.subject) and "\n" not in message.subject


@pytest.mark.parametrize(("field", "name", "kind"), CASES, ids=[f"{f}-{n}-{k}" for f, n, k in CASES])
def test_hostile_text_renders_within_slack_limits(field, name, kind):
    message = render(kind, _payload(field, HOSTILE[name]))
    _check(message)
    if len(HOSTILE[name]) > 3000 and field in ("description", "tag"):
        assert any(t.endswith(ELLIPSIS) for t in _slack_texts(message))


def test_the_whole_corpus_is_accepted_by_slack_and_smtp(slack_api, smtp):
    messages = [render(kind, _payload(field, HOSTILE[name])) for field, name, kind in CASES]
    with slack_resource(slack_api).sender() as post:
        references = [post(m) for m in messages]
    assert len(set(references)) == len(CASES) == len(slack_api.messages)
    assert {r.mode for r in slack_api.requests} == {"ok"}

    resource = email_resource(smtp)
    with resource.sender_session() as send:
        for m in messages:
            send(m)
    assert smtp.wait_for_mails(len(CASES))
    for mail in smtp.mails:
        assert mail.rcpt_tos == ["oncall@example.org", "sre@example.org"]
        assert mail.message["Bcc"] is None and len(mail.message.get_all("Subject")) == 1
        assert "\n" not in str(mail.message["Subject"]).strip()
    html_parts = [mail.message.get_body(("html",)).get_content() for mail in smtp.mails]
    assert not any("javascript:" in h and 'href="javascript:' in h for h in html_parts)


TRANSIENT = ["internal_error", "fatal_error", "ratelimited", "request_timeout", "service_unavailable",
             "team_added_to_org", "unknown_future_error"]


@pytest.mark.parametrize("error", sorted(PERMANENT_ERRORS) + TRANSIENT)
def test_slack_errors_are_classified_permanent_or_retried(slack_api, error):
    slack_api.reject = {"FIRING": error}
    with slack_resource(slack_api).sender() as post, pytest.raises(DeliveryFailed) as failed:
        post(render("violation", PAYLOAD))
    assert failed.value.permanent is (error in PERMANENT_ERRORS)
    assert failed.value.reason.endswith(error) and failed.value.retry_after is None
    assert slack_api.requests[-1].mode == f"error:{error}"
