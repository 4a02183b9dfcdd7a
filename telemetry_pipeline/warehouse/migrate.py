"""Apply the ordered, idempotent SQL files in sql/ and record which ones ran.

Each file runs in its own transaction under an advisory lock, so two processes migrating at
once (the dev command and a test, say) cannot interleave. A file already recorded is skipped;
the files are written to be re-runnable anyway (`if not exists`, `create or replace`).

A `NNNN_name.py` migration is for work too big for one transaction (converting a populated table
in place): its `run(conn)` gets the autocommit connection, commits its own steps, and must be
resumable (re-running after an interruption continues where it stopped). It is recorded once
`run` returns.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from telemetry_pipeline import settings

_MIGRATION_LOCK = 7_240_001  # arbitrary, constant advisory-lock key for migrations
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.(sql|py)$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(sql_dir: Path | None = None) -> list[Migration]:
    """Migrations in version order; a file named against the pattern is an error, not skipped."""
    folder = sql_dir or settings.SQL_DIR
    found: list[Migration] = []
    for path in sorted([*folder.glob("*.sql"), *folder.glob("*.py")]):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: migration files must be named NNNN_lowercase_name.sql (or .py)")
        found.append(Migration(match.group(1), path.stem, path))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"{folder}: two migration files share a version number")
    return found


def migrate(url: str, sql_dir: Path | None = None) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        conn.execute(
            """
            create table if not exists public.schema_migrations (
              version text primary key,
              name text not null,
              checksum text not null,
              applied_at timestamptz not null default now()
            )
            """
        )
        conn.execute("select pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            done = {row[0] for row in conn.execute("select version from public.schema_migrations")}
            for migration in discover(sql_dir):
                if migration.version in done:
                    continue
                if migration.path.suffix == ".py":
                    _run_python(conn, migration)
                with conn.transaction():
                    if migration.path.suffix == ".sql":
                        try:
                            conn.execute(migration.path.read_text())
                        except psycopg.Error as exc:
                            raise RuntimeError(f"{migration.path.name}: {exc}") from exc
                    conn.execute(
                        "insert into public.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied_now


def _run_python(conn: psycopg.Connection, migration: Migration) -> None:
    """Execute a .py migration's `run(conn)` (compiled from source: no __pycache__ in sql/)."""
    namespace: dict = {"__name__": f"telemetry_migration_{migration.version}", "__file__": str(migration.path)}
    exec(compile(migration.path.read_text(), str(migration.path), "exec"), namespace)  # noqa: S102
    try:
        namespace["run"](conn)
    except psycopg.Error as exc:
        raise RuntimeError(f"{migration.path.name}: {exc}") from exc
