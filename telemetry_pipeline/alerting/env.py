"""The environment variables of the alert channels (SPEC section 8), named once.

They are read only by `slack_from_env()` / `email_from_env()` when the code location loads,
and only to decide which Dagster EnvVars to pass: the values themselves (the bot token, the
SMTP password) are resolved by Dagster at run time and never logged or shown in the UI.
"""

from __future__ import annotations

import os

SLACK_BOT_TOKEN = "SLACK_BOT_TOKEN"
SLACK_CHANNEL = "SLACK_CHANNEL"
SLACK_API_BASE_URL = "SLACK_API_BASE_URL"

SMTP_HOST = "SMTP_HOST"
SMTP_PORT = "SMTP_PORT"
SMTP_FROM = "SMTP_FROM"
ALERT_EMAIL_TO = "ALERT_EMAIL_TO"
SMTP_USERNAME = "SMTP_USERNAME"
SMTP_PASSWORD = "SMTP_PASSWORD"
SMTP_STARTTLS = "SMTP_STARTTLS"


def is_set(name: str) -> bool:
    """Set and not blank (an empty variable counts as unset)."""
    return bool((os.environ.get(name) or "").strip())
