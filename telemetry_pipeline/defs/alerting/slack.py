"""Slack as an alert channel: dagster-slack's SlackResource, pointed at SLACK_API_BASE_URL.

The subclass adds what alerting needs and the stock resource lacks: the API base URL (a
recording server in tests, a proxy in locked-down networks), the channel, and a client timeout.
slack_sdk's own retry handlers are switched off: the outbox owns retries, so a timed-out
request is retried on a later tick with backoff instead of blocking this one.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import EnvVar
from dagster_slack import SlackResource
from pydantic import Field
from slack_sdk.errors import SlackApiError
from slack_sdk.web.client import WebClient

from telemetry_pipeline.core import settings as env
from telemetry_pipeline.core.alerting.delivery import DeliveryFailed, Sender
from telemetry_pipeline.core.alerting.messages import Message
from telemetry_pipeline.core.alerting.routing import Target

DEFAULT_SLACK_API_BASE_URL = "https://slack.com/api/"
#: Slack says to wait when it answers 429 without a Retry-After header; we wait this long.
DEFAULT_RETRY_AFTER_SECONDS = 30.0
#: Slack API errors that no retry can fix: the alert is dead on Slack (recorded, never retried).
#: invalid_blocks is this message's own; the others are the configuration's, and are also dead
#: so a wrong channel or a revoked token does not retry every alert forever (docs/alerting.md).
PERMANENT_ERRORS = frozenset({
    "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text",
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed",
    "account_inactive", "token_revoked", "missing_scope",
})


class SlackAlertResource(SlackResource):
    """Posts alerts with chat.postMessage; unconfigured (no token or channel) means skipped.

    `channel` is the default; a scoped alert of a team with its own `slack_channel` is posted
    there instead (core/alerting/routing.py), with the same token.
    """

    token: str = Field(default="", description="Bot token (SLACK_BOT_TOKEN); empty = Slack off.")
    channel: str = Field(default="", description="Channel id or name to post to (SLACK_CHANNEL).")
    base_url: str = Field(
        default=DEFAULT_SLACK_API_BASE_URL,
        description="Slack Web API base URL (SLACK_API_BASE_URL).",
    )
    timeout_seconds: float = Field(default=10.0, description="Per-request timeout.")

    def is_configured(self) -> bool:
        return bool(self.token and self.channel)

    def not_configured_reason(self) -> str:
        missing = [n for n, v in ((env.SLACK_BOT_TOKEN, self.token), (env.SLACK_CHANNEL, self.channel)) if not v]
        return f"Slack alerts are off: {' and '.join(missing)} not set"

    def get_client(self) -> WebClient:
        """A WebClient on the configured base URL, without slack_sdk's hidden retries."""
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        # slack_sdk annotates `timeout` as int but hands it to urllib, which takes seconds as float.
        timeout: Any = self.timeout_seconds
        return WebClient(token=self.token, base_url=base, timeout=timeout, retry_handlers=[])

    @contextmanager
    def sender(self) -> Iterator[Sender]:
        """A function posting one rendered alert; raises DeliveryFailed with a safe reason."""
        client = self.get_client()

        def post(message: Message, already: frozenset[str] = frozenset(), target: Target = None) -> str:
            try:
                response = client.chat_postMessage(
                    channel=target if isinstance(target, str) else self.channel,
                    text=message.slack_text,
                    blocks=message.blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                raise _api_failure(exc) from None
            except TimeoutError as exc:
                raise DeliveryFailed(f"Slack did not answer within {self.timeout_seconds:g} s") from exc
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    raise DeliveryFailed(f"Slack did not answer within {self.timeout_seconds:g} s") from None
                raise DeliveryFailed(f"Slack unreachable: {exc.reason}") from None
            except Exception as exc:  # noqa: BLE001 - whatever the client raises, the alert must stay pending
                raise DeliveryFailed(f"Slack request failed: {type(exc).__name__}") from None
            return str(response.get("ts") or "")

        yield post


def _api_failure(exc: SlackApiError) -> DeliveryFailed:
    """Classify a Slack answer: 429 waits Retry-After, 5xx and API errors back off."""
    response = exc.response
    status = getattr(response, "status_code", None)
    if status == 429:
        raw = (response.headers or {}).get("Retry-After") or (response.headers or {}).get("retry-after")
        try:
            retry_after = max(float(raw), 1.0) if raw is not None else DEFAULT_RETRY_AFTER_SECONDS
        except ValueError:
            retry_after = DEFAULT_RETRY_AFTER_SECONDS
        return DeliveryFailed(f"Slack rate limited (HTTP 429), retry after {retry_after:g} s", retry_after)
    error = None
    try:
        error = response.get("error") if isinstance(response.data, dict) else None
    except Exception:  # noqa: BLE001 - a malformed body must not hide the status
        error = None
    if status is not None and status >= 500:
        return DeliveryFailed(f"Slack server error (HTTP {status})")
    if isinstance(error, str) and error in PERMANENT_ERRORS:
        return DeliveryFailed(f"Slack rejected the message (HTTP {status}): {error}", permanent=True)
    return DeliveryFailed(f"Slack API error (HTTP {status}): {error or 'unknown'}")


def slack_from_env() -> SlackAlertResource:
    """The resource as the environment configures it; secrets stay Dagster EnvVars.

    Only variables that are set are passed as EnvVar (an EnvVar of an unset variable fails at
    resolution), so a deployment without Slack loads fine and the sensor skips the channel.
    """
    current = env.current()
    current.validate(("slack_api_base_url",))

    def var(name: str, default: str) -> str:
        return EnvVar(name) if current.is_set(name) else default

    return SlackAlertResource(
        token=var(env.SLACK_BOT_TOKEN, ""),
        channel=var(env.SLACK_CHANNEL, ""),
        base_url=var(env.SLACK_API_BASE_URL, DEFAULT_SLACK_API_BASE_URL),
    )
