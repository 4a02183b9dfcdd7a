"""One line for "the warehouse cannot be reached", instead of a psycopg traceback.

Every command that connects (db migrate, dashboard, ingest, demo, ...) goes through the top-level
CLI, which turns a connection failure into `Error: cannot reach the warehouse at host:port/db:
<cause>` and exit status 1. The password is never shown: only host, port, database and user.
"""

from __future__ import annotations

import os
import re

from telemetry_pipeline.core import settings

_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")
_FAILED = re.compile(r'(?:connection to server (?:at|on) .*?failed|connection failed):\s*')


def describe_target(url: str) -> str:
    """`user@host:port/db` of a libpq URL or conninfo string, without the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        # SQLAlchemy-style schemes (postgresql+psycopg://) are accepted; libpq wants the plain one.
        info = conninfo_to_dict(_SCHEME.sub("postgresql://", url, count=1))
    except Exception:  # noqa: BLE001 - an unparsable URL still gets a (redacted) mention
        return settings.redact_url(url)
    host = info.get("host") or os.environ.get("PGHOST") or "localhost"
    port = info.get("port") or os.environ.get("PGPORT") or "5432"
    user = str(info["user"]) if info.get("user") else None
    db = info.get("dbname") or user or "postgres"
    return f"{user + '@' if user else ''}{host}:{port}/{db}"


def cause(exc: BaseException) -> str:
    """The libpq reason (e.g. 'Connection refused'), on one line."""
    first_line = str(exc).strip().split("\n")[0]
    return _FAILED.split(first_line)[-1].strip() or type(exc).__name__


def message(exc: BaseException, url: str | None = None) -> str:
    """The one line a command prints when it cannot connect to the warehouse at `url`."""
    target = url or settings.database_url()
    where = describe_target(target) if target else "the embedded PostgreSQL"
    return f"cannot reach the warehouse at {where}: {cause(exc)}"
