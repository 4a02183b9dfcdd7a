"""`telemetry-pipeline`: the project's command line.

Each domain keeps its commands beside its code (warehouse/cli.py, demo/cli.py, events/cli.py,
dashboard/cli.py, devserver.py); this file only names them. A domain is imported when one of its
commands runs, not before: `emit` runs in every release workflow step and must not pay for
importing Dagster.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

#: command name -> module whose COMMANDS holds it
COMMAND_MODULES: dict[str, str] = {
    "db": "telemetry_pipeline.apps.warehouse_cli",
    "demo": "telemetry_pipeline.apps.demo_cli",
    "ingest": "telemetry_pipeline.apps.events_cli",
    "emit": "telemetry_pipeline.apps.events_cli",
    "collector": "telemetry_pipeline.apps.events_cli",
    "dashboard": "telemetry_pipeline.apps.dashboard.cli",
    "slo": "telemetry_pipeline.apps.slos_cli",
    "dev": "telemetry_pipeline.apps.devserver",
    "env": "telemetry_pipeline.apps.devserver",
}


class _LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        for command in importlib.import_module(module).COMMANDS:
            if command.name == cmd_name:
                return command
        raise RuntimeError(f"{module} does not define the command {cmd_name!r}")

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a warehouse that cannot be reached is one line and exit 1, not a traceback."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # psycopg is imported only if the command used it (emit never does).
            psycopg = sys.modules.get("psycopg")
            if psycopg is not None and isinstance(exc, psycopg.OperationalError) and _is_connect_error(exc):
                from telemetry_pipeline.core.warehouse.unreachable import message

                raise click.ClickException(message(exc)) from None
            raise


def _is_connect_error(exc: BaseException) -> bool:
    """A failure to open a connection (not a query that failed on an open one)."""
    return getattr(exc, "sqlstate", None) is None or str(getattr(exc, "sqlstate", "")).startswith("08")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
def cli(verbose: bool) -> None:
    """CI/CD telemetry -> KPIs, SLOs and alerts (Dagster + PostgreSQL).

    The warehouse is TELEMETRY_DATABASE_URL when set, else an embedded PostgreSQL in the
    project's .data/ folder, started on first use.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(standalone_mode=True))


if __name__ == "__main__":
    main()
