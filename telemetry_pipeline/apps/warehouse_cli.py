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


@db.command("partitions")
def partitions_cmd() -> None:
    """Create the monthly partitions of the raw tables ahead (and give rows in the DEFAULT
    partition their own month); the daily warehouse_maintenance job does the same."""
    from telemetry_pipeline.core.warehouse.maintenance import ensure_all_partitions

    created = ensure_all_partitions(_warehouse().url())
    click.echo("\n".join(f"created {name}" for name in created) if created else "up to date")


@db.command("retention")
@click.option("--apply", "execute", is_flag=True, help="Drop the months listed (default: only list them).")
@click.option(
    "--months", type=click.IntRange(min=1), default=None,
    help="Months to keep besides the current one (default: TELEMETRY_RETENTION_MONTHS; unset keeps all).",
)
def retention_cmd(execute: bool, months: int | None) -> None:
    """List (or with --apply, drop) raw monthly partitions past retention whose KPI and
    slo_status periods are all materialised; KPIs and SLO history are kept."""
    from telemetry_pipeline.core.warehouse import retention

    try:
        months = months if months is not None else retention.retention_months()
    except settings.SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    if months is None:
        click.echo(f"{retention.RETENTION_MONTHS_ENV} is unset: keeping every month")
        return
    decisions = retention.run(_warehouse().url(), months=months, execute=execute)
    for decision in decisions:
        click.echo(decision.render())
    if not decisions:
        click.echo(f"nothing older than {months} months besides the current one")


COMMANDS = [db]
