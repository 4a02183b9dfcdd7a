"""Environment -> one typed `Settings` object: every variable the product reads is named here.

The README's table of variables and this module cannot drift apart because nothing else reads
the environment (Dagster's own switches in defs/dagster_tuning.py aside, and the secrets that
Dagster resolves itself as `EnvVar`s at run time). Values are parsed when a program first asks
for them, once per process (`current()` re-reads only if the environment changed, which only
tests do). A malformed value raises `SettingsError` naming the variable and what it expects;
each field is parsed on its own, so a bad TELEMETRY_PARTITIONS_START stops the Dagster code
location (which validates every field it uses when it loads) while `emit`, the collector and
the dashboard, which never read it, keep working.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")

#: Repository root (the package is installed editable, so this is the clone's folder).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT_ROOT / "sql"

# --- the warehouse and Dagster ------------------------------------------------------------
DATABASE_URL_ENV = "TELEMETRY_DATABASE_URL"
DATA_DIR_ENV = "TELEMETRY_DATA_DIR"
PARTITIONS_START_ENV = "TELEMETRY_PARTITIONS_START"
DAGSTER_WEBSERVER_URL_ENV = "DAGSTER_WEBSERVER_URL"
SLOS_FILE_ENV = "TELEMETRY_SLOS_FILE"
#: The teams file of SPEC section 10 (unset = no teams: every repository is `unowned`).
TEAMS_FILE_ENV = "TELEMETRY_TEAMS_FILE"
#: Granularities that get scoped (per repository / workflow / team) KPI rows.
DIMENSION_GRANULARITIES_ENV = "TELEMETRY_DIMENSION_GRANULARITIES"
DEFAULT_DIMENSION_GRANULARITIES = ("day", "week")
_GRANULARITIES = ("hour", "day", "week")
#: Raw months kept besides the current one (unset = keep everything); see core/warehouse/retention.py.
RETENTION_MONTHS_ENV = "TELEMETRY_RETENTION_MONTHS"
#: Dagster's own storage (dagster.yaml reads it); unset = `<warehouse db>_dagster` beside it.
DAGSTER_PG_URL_ENV = "DAGSTER_PG_URL"
DEFAULT_PARTITIONS_START = "2025-01-01"
DEFAULT_DAGSTER_WEBSERVER_URL = "http://localhost:3000"

# --- event collection -----------------------------------------------------------------------
#: Base URL of the collector (`emit` posts to <url>/v1/events when set).
COLLECTOR_URL_ENV = "TELEMETRY_COLLECTOR_URL"
#: Bearer token the collector requires on POST /v1/events (and `emit` sends).
COLLECTOR_TOKEN_ENV = "TELEMETRY_COLLECTOR_TOKEN"
#: Shared secret of the GitHub webhook (X-Hub-Signature-256).
GITHUB_WEBHOOK_SECRET_ENV = "GITHUB_WEBHOOK_SECRET"
#: Largest request body the collector reads, in bytes.
COLLECTOR_MAX_BODY_ENV = "TELEMETRY_COLLECTOR_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1 << 20
#: How far back (days, by event time) the late-data sensor re-materialises partitions.
LATE_DATA_LOOKBACK_ENV = "TELEMETRY_LATE_DATA_LOOKBACK_DAYS"
DEFAULT_LATE_DATA_LOOKBACK_DAYS = 7.0

#: Set by GitHub Actions in every step; `emit` takes them as the default --repository / --workflow.
GITHUB_REPOSITORY_ENV = "GITHUB_REPOSITORY"
GITHUB_WORKFLOW_ENV = "GITHUB_WORKFLOW"

# --- alert channels (SPEC section 8) ----------------------------------------------------------
# Only whether they are set is read here: the values (the bot token, the SMTP password) are
# resolved by Dagster at run time as EnvVars and never logged or shown in the UI.
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

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

#: The variables these settings read (a change of any of them gives a new `current()`).
_VARIABLES = (
    DATABASE_URL_ENV, DATA_DIR_ENV, PARTITIONS_START_ENV, DAGSTER_WEBSERVER_URL_ENV, SLOS_FILE_ENV,
    TEAMS_FILE_ENV, DIMENSION_GRANULARITIES_ENV, RETENTION_MONTHS_ENV,
    DAGSTER_PG_URL_ENV,
    COLLECTOR_URL_ENV, COLLECTOR_TOKEN_ENV, GITHUB_WEBHOOK_SECRET_ENV, COLLECTOR_MAX_BODY_ENV,
    LATE_DATA_LOOKBACK_ENV, GITHUB_REPOSITORY_ENV, GITHUB_WORKFLOW_ENV, SLACK_BOT_TOKEN, SLACK_CHANNEL, SLACK_API_BASE_URL, SMTP_HOST, SMTP_PORT,
    SMTP_FROM, ALERT_EMAIL_TO, SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS, ALERT_BURN_RATE_MESSAGES,
)

#: The fields the Dagster code location uses, validated together when it loads.
CODE_LOCATION_FIELDS = (
    "partitions_start", "late_data_lookback", "burn_rate_messages", "slack_api_base_url",
    "smtp_port", "smtp_starttls", "dimension_granularities", "retention_months",
)


class SettingsError(ValueError):
    """A malformed environment value; the message names the variable and what it expects."""


def _parse(name: str, raw: str, parse: Callable[[str], T], valid: Callable[[T], bool], expected: str) -> T:
    try:
        value = parse(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not {expected}") from None
    if not valid(value):
        raise SettingsError(f"{name}={raw!r} is not {expected}")
    return value


def _digits(raw: str) -> int:
    """Plain decimal digits only (int() would also take '+25' or ' 25')."""
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


def parse_bool(name: str, raw: str) -> bool:
    """A yes/no variable; anything else is an error naming the variable."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no)")


@dataclass(frozen=True)
class Settings:
    """The environment, typed. Each field is parsed on first use and then kept."""

    environ: Mapping[str, str] = field(repr=False)

    def _get(self, name: str) -> str | None:
        """Set and not blank, else None (an empty variable counts as unset)."""
        value = self.environ.get(name)
        return value if value and value.strip() else None

    def is_set(self, name: str) -> bool:
        return self._get(name) is not None

    # --- the warehouse and Dagster ----------------------------------------------------------
    @cached_property
    def data_dir(self) -> Path:
        """The git-ignored folder holding the embedded PostgreSQL and Dagster's home."""
        return Path(self._get(DATA_DIR_ENV) or PROJECT_ROOT / ".data").resolve()

    @cached_property
    def database_url(self) -> str | None:
        """The warehouse URL when an external PostgreSQL is configured, else None (embedded)."""
        return self._get(DATABASE_URL_ENV)

    @cached_property
    def partitions_start(self) -> date:
        """First partition date (TELEMETRY_PARTITIONS_START, default 2025-01-01)."""
        raw = self._get(PARTITIONS_START_ENV) or DEFAULT_PARTITIONS_START
        return _parse(PARTITIONS_START_ENV, raw, date.fromisoformat, lambda _: True, "a date (expected YYYY-MM-DD)")

    @cached_property
    def dagster_webserver_url(self) -> str:
        """Base URL of the Dagster UI, used for links in alerts and on the dashboard."""
        return (self._get(DAGSTER_WEBSERVER_URL_ENV) or DEFAULT_DAGSTER_WEBSERVER_URL).rstrip("/")

    @cached_property
    def dagster_pg_url(self) -> str | None:
        return self._get(DAGSTER_PG_URL_ENV)

    @cached_property
    def slos_file(self) -> Path | None:
        """TELEMETRY_SLOS_FILE when set (else the packaged slos.yaml is used)."""
        raw = self._get(SLOS_FILE_ENV)
        return Path(raw) if raw else None

    @cached_property
    def teams_file(self) -> Path | None:
        """TELEMETRY_TEAMS_FILE when set (else there are no teams)."""
        raw = self._get(TEAMS_FILE_ENV)
        return Path(raw.strip()) if raw else None

    @cached_property
    def dimension_granularities(self) -> tuple[str, ...]:
        """TELEMETRY_DIMENSION_GRANULARITIES: comma-separated subset of hour,day,week (default day,week)."""
        raw = self._get(DIMENSION_GRANULARITIES_ENV)
        if raw is None:
            return DEFAULT_DIMENSION_GRANULARITIES
        chosen = [part.strip().lower() for part in raw.split(",") if part.strip()]
        if not chosen or any(g not in _GRANULARITIES for g in chosen):
            raise SettingsError(
                f"{DIMENSION_GRANULARITIES_ENV}={raw!r} is not a comma-separated list of hour, day, week"
            )
        return tuple(g for g in _GRANULARITIES if g in chosen)

    @cached_property
    def retention_months(self) -> int | None:
        """TELEMETRY_RETENTION_MONTHS: raw months kept besides the current one; None = keep all."""
        raw = self._get(RETENTION_MONTHS_ENV)
        if raw is None:
            return None
        return _parse(RETENTION_MONTHS_ENV, raw.strip(), _digits, lambda m: m >= 1,
                      "a whole number of months >= 1")

    # --- event collection -----------------------------------------------------------------
    @cached_property
    def collector_url(self) -> str | None:
        return self._get(COLLECTOR_URL_ENV)

    @cached_property
    def collector_token(self) -> str | None:
        return self._get(COLLECTOR_TOKEN_ENV)

    @cached_property
    def github_webhook_secret(self) -> str | None:
        return self._get(GITHUB_WEBHOOK_SECRET_ENV)

    @cached_property
    def github_repository(self) -> str | None:
        """GITHUB_REPOSITORY (`owner/name`), the default of `emit --repository`."""
        return self._get(GITHUB_REPOSITORY_ENV)

    @cached_property
    def github_workflow(self) -> str | None:
        """GITHUB_WORKFLOW (the workflow's name), the default of `emit --workflow`."""
        return self._get(GITHUB_WORKFLOW_ENV)

    @cached_property
    def collector_max_body_bytes(self) -> int:
        raw = self._get(COLLECTOR_MAX_BODY_ENV)
        if raw is None:
            return DEFAULT_MAX_BODY_BYTES
        return _parse(COLLECTOR_MAX_BODY_ENV, raw, int, lambda v: v > 0, "a positive integer")

    @cached_property
    def late_data_lookback(self) -> timedelta:
        """The late-data sensor's lookback (TELEMETRY_LATE_DATA_LOOKBACK_DAYS, default 7)."""
        raw = self._get(LATE_DATA_LOOKBACK_ENV)
        if raw is None:
            return timedelta(days=DEFAULT_LATE_DATA_LOOKBACK_DAYS)
        days = _parse(LATE_DATA_LOOKBACK_ENV, raw, float, lambda d: 0 < d <= 366,
                      "a number of days between 0 and 366")
        return timedelta(days=days)

    # --- alert channels ---------------------------------------------------------------------
    @cached_property
    def slack_api_base_url(self) -> str | None:
        raw = self._get(SLACK_API_BASE_URL)
        if raw is not None and not raw.strip().startswith(("http://", "https://")):
            raise SettingsError(f"{SLACK_API_BASE_URL}={raw.strip()!r} is not an http(s) URL")
        return raw

    @cached_property
    def smtp_port(self) -> int | None:
        raw = self._get(SMTP_PORT)
        if raw is None:
            return None
        raw = raw.strip()
        return _parse(SMTP_PORT, raw, _digits, lambda p: 0 < p < 65536, "a TCP port (1-65535)")

    @cached_property
    def smtp_starttls(self) -> bool | None:
        raw = self._get(SMTP_STARTTLS)
        return None if raw is None else parse_bool(SMTP_STARTTLS, raw)

    @cached_property
    def burn_rate_messages(self) -> str:
        """The burn-rate delivery mode (ALERT_BURN_RATE_MESSAGES: inline or separate)."""
        mode = (self._get(ALERT_BURN_RATE_MESSAGES) or "inline").strip().lower()
        if mode not in BURN_MODES:
            raise SettingsError(f"{ALERT_BURN_RATE_MESSAGES}={mode!r}: expected one of {', '.join(BURN_MODES)}")
        return mode

    def validate(self, fields: tuple[str, ...] = CODE_LOCATION_FIELDS) -> None:
        """Parse `fields` now; one error lists every malformed variable among them."""
        errors = []
        for name in fields:
            try:
                getattr(self, name)
            except SettingsError as exc:
                errors.append(str(exc))
        if errors:
            raise SettingsError("; ".join(errors))


@lru_cache(maxsize=4)
def _settings(values: tuple[str | None, ...]) -> Settings:
    return Settings({k: v for k, v in zip(_VARIABLES, values, strict=True) if v is not None})


def current() -> Settings:
    """The process's settings (parsed once; a new object only if the environment changed)."""
    return _settings(tuple(os.environ.get(name) for name in _VARIABLES))


# Thin accessors for the most used fields.
def data_dir() -> Path:
    return current().data_dir


def database_url() -> str | None:
    return current().database_url


def partitions_start() -> date:
    return current().partitions_start


def dagster_webserver_url() -> str:
    return current().dagster_webserver_url


def redact_url(url: str) -> str:
    """Hide the password part of a connection URL so it can appear in logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
