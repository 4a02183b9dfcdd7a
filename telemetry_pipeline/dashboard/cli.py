"""`telemetry-pipeline dashboard`: the KPI/SLO page and its JSON API on 127.0.0.1:3001."""

from __future__ import annotations

import click

from telemetry_pipeline.dashboard.server import DEFAULT_HOST, DEFAULT_PORT


@click.command("dashboard")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
def dashboard(host: str, port: int) -> None:
    """Serve the KPI dashboard (page + /api/kpis, /api/slo-status, /api/violations)."""
    from telemetry_pipeline import settings
    from telemetry_pipeline.dashboard.app import create_app
    from telemetry_pipeline.dashboard.server import serve
    from telemetry_pipeline.slos.config import SloConfigError, load_slos
    from telemetry_pipeline.warehouse.resource import WarehouseResource

    try:
        load_slos()  # a broken SLO catalog stops start-up here, naming the file and field
    except SloConfigError as exc:
        raise click.ClickException(str(exc)) from None
    url = WarehouseResource(database_url=settings.database_url() or "").url()
    click.echo(f"dashboard on http://{host}:{port} (warehouse {settings.redact_url(url)})")
    serve(create_app(url), host=host, port=port)


COMMANDS = [dashboard]
