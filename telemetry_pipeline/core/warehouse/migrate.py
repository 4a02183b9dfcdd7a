"""Apply the ordered, idempotent SQL files in sql/ and record which ones ran.

Each file runs in its own transaction under an advisory lock, taken before anything else (even
the creation of `schema_migrations`), so two processes migrating a fresh database at once (the
dev command and a test, say) cannot interleave: the second waits, then finds nothing to do. A
file already recorded is skipped; the files are written to be re-runnable anyway.

Each row records the sha256 of the file as applied. A recorded file whose bytes changed since
stops the run with MigrationError naming it: an applied migration is never edited, a change goes
into a new file. Rows written before checksums were recorded get the current file's checksum on
the next run (trusted once, verified from then on).

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

from telemetry_pipeline.core import settings

_MIGRATION_LOCK = 7_240_001  # arbitrary, constant advisory-lock key for migrations
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.(sql|py)$")


class MigrationError(RuntimeError):
    """A migration failed or an applied file changed; the message names the file."""


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
    """Apply pending migrations; return the names applied (empty when up to date).

    Raises MigrationError naming the file when a migration fails or an applied file changed.
    """
    applied_now: list[str] = []
    migrations = discover(sql_dir)
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        # The lock comes first: `create table if not exists` is not safe against a concurrent
        # creator (both see no table, one fails on the catalog's unique index).
        conn.execute("select pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            _ensure_bookkeeping(conn)
            done = _verified(conn, migrations)
            for migration in migrations:
                if migration.version in done:
                    continue
                if migration.path.suffix == ".py":
                    _run_python(conn, migration)
                with conn.transaction():
                    if migration.path.suffix == ".sql":
                        try:
                            conn.execute(migration.path.read_text())
                        except psycopg.Error as exc:
                            raise MigrationError(f"{migration.path.name}: {exc}") from exc
                    conn.execute(
                        "insert into public.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied_now


def _ensure_bookkeeping(conn: psycopg.Connection) -> None:
    """schema_migrations, with its checksum column (installs from before checksums lack it)."""
    conn.execute(
        """
        create table if not exists public.schema_migrations (
          version text primary key,
          name text not null,
          checksum text,
          applied_at timestamptz not null default now()
        )
        """
    )
    conn.execute("alter table public.schema_migrations add column if not exists checksum text")


def _verified(conn: psycopg.Connection, migrations: list[Migration]) -> set[str]:
    """Versions already applied, after checking each file still has the checksum it was applied with.

    A row without a checksum (recorded before checksums existed) gets the file's current one.
    """
    recorded: dict[str, str | None] = dict(conn.execute("select version, checksum from public.schema_migrations").fetchall())
    for migration in migrations:
        if migration.version not in recorded:
            continue
        stored = recorded[migration.version]
        if not stored:
            conn.execute(
                "update public.schema_migrations set checksum = %s where version = %s",
                (migration.checksum, migration.version),
            )
        elif stored != migration.checksum:
            raise MigrationError(
                f"{migration.path}: changed since it was applied (recorded sha256 {stored[:12]}..., "
                f"file now {migration.checksum[:12]}...); never edit an applied migration, add a new file"
            )
    return set(recorded)


def _run_python(conn: psycopg.Connection, migration: Migration) -> None:
    """Execute a .py migration's `run(conn)` (compiled from source: no __pycache__ in sql/)."""
    namespace: dict = {"__name__": f"telemetry_migration_{migration.version}", "__file__": str(migration.path)}
    exec(compile(migration.path.read_text(), str(migration.path), "exec"), namespace)  # noqa: S102
    try:
        namespace["run"](conn)
    except psycopg.Error as exc:
        raise MigrationError(f"{migration.path.name}: {exc}") from exc
