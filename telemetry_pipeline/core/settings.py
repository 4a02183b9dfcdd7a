"""Environment -> typed settings.

Everything the product reads from the environment is named here once, so the README's table of
variables and the code cannot drift apart. Values are read when asked for, never at import time.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

#: Repository root (the package is installed editable, so this is the clone's folder).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT_ROOT / "sql"

DATABASE_URL_ENV = "TELEMETRY_DATABASE_URL"
DATA_DIR_ENV = "TELEMETRY_DATA_DIR"
PARTITIONS_START_ENV = "TELEMETRY_PARTITIONS_START"
DAGSTER_WEBSERVER_URL_ENV = "DAGSTER_WEBSERVER_URL"

DEFAULT_PARTITIONS_START = "2025-01-01"
DEFAULT_DAGSTER_WEBSERVER_URL = "http://localhost:3000"


def data_dir() -> Path:
    """The git-ignored folder holding the embedded PostgreSQL and Dagster's home."""
    return Path(os.environ.get(DATA_DIR_ENV) or PROJECT_ROOT / ".data").resolve()


def database_url() -> str | None:
    """The warehouse URL when an external PostgreSQL is configured, else None (embedded)."""
    return os.environ.get(DATABASE_URL_ENV) or None


def partitions_start() -> date:
    """First partition date; a malformed value stops start-up naming the variable."""
    raw = os.environ.get(PARTITIONS_START_ENV) or DEFAULT_PARTITIONS_START
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(
            f"{PARTITIONS_START_ENV}={raw!r} is not a date (expected YYYY-MM-DD)"
        ) from exc


def dagster_webserver_url() -> str:
    """Base URL of the Dagster UI, used for links in alerts and on the dashboard."""
    return (os.environ.get(DAGSTER_WEBSERVER_URL_ENV) or DEFAULT_DAGSTER_WEBSERVER_URL).rstrip("/")


def redact_url(url: str) -> str:
    """Hide the password part of a connection URL so it can appear in logs and errors."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
