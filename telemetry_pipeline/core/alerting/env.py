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

#: How burn-rate alerts reach people: "inline" (default) puts the window pair that fired into the
#: violation message of the same hour and sends nothing more, so every message is one SPEC section 7
#: implies; "separate" also sends each burn episode as its own page/ticket message.
ALERT_BURN_RATE_MESSAGES = "ALERT_BURN_RATE_MESSAGES"
BURN_MODES = ("inline", "separate")


def burn_rate_messages() -> str:
    """The burn-rate delivery mode; an unknown value stops the sensor naming the variable."""
    mode = (os.environ.get(ALERT_BURN_RATE_MESSAGES) or "inline").strip().lower()
    if mode not in BURN_MODES:
        raise ValueError(f"{ALERT_BURN_RATE_MESSAGES}={mode!r}: expected one of {', '.join(BURN_MODES)}")
    return mode


def is_set(name: str) -> bool:
    """Set and not blank (an empty variable counts as unset)."""
    return bool((os.environ.get(name) or "").strip())
