"""`telemetry-pipeline db ...`: migrate, start, stop and locate the warehouse."""

from __future__ import annotations

import click

from telemetry_pipeline.core import settings, warehouse
from telemetry_pipeline.core.warehouse.migrate import MigrationError, migrate


def _warehouse() -> warehouse.Warehouse:
    return warehouse.configured()


@click.group("db")
def db() -> None:
    """The PostgreSQL warehouse (embedded unless TELEMETRY_DATABASE_URL is set)."""


@db.command("migrate")
def migrate_cmd() -> None:
    """Apply sql/*.sql in order; already-applied versions are skipped.

    Stops (exit 1, file named) when a migration fails or an applied file changed since.
    """
    try:
        applied = migrate(_warehouse().url())
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("up to date")


@db.command("url")
def url_cmd() -> None:
    """Print the warehouse URL (password hidden)."""
    click.echo(settings.redact_url(_warehouse().url()))


@db.command("start")
def start_cmd() -> None:
    """Start the embedded PostgreSQL (no-op with TELEMETRY_DATABASE_URL)."""
    click.echo(settings.redact_url(_warehouse().url()))


@db.command("stop")
def stop_cmd() -> None:
    """Stop the embedded PostgreSQL if it runs."""
    from telemetry_pipeline.core.warehouse import embedded

    click.echo("stopped" if embedded.stop() else "not running")


COMMANDS = [db]
