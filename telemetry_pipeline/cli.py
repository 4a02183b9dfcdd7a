"""`telemetry-pipeline`: the project's command line.

Each domain keeps its commands beside its code (warehouse/cli.py, demo/cli.py, events/cli.py,
dashboard/cli.py, devserver.py) and lists them in a module-level COMMANDS; this file only
assembles them, importing each domain when the CLI starts, not when the package is imported.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

_COMMAND_MODULES = (
    "telemetry_pipeline.warehouse.cli",
    "telemetry_pipeline.demo.cli",
    "telemetry_pipeline.events.cli",
    "telemetry_pipeline.dashboard.cli",
    "telemetry_pipeline.devserver",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
def cli(verbose: bool) -> None:
    """CI/CD telemetry -> KPIs, SLOs and alerts (Dagster + PostgreSQL).

    The warehouse is TELEMETRY_DATABASE_URL when set, else an embedded PostgreSQL in the
    project's .data/ folder, started on first use.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")


for _module in _COMMAND_MODULES:
    for _command in getattr(importlib.import_module(_module), "COMMANDS", ()):
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(standalone_mode=True))


if __name__ == "__main__":
    main()
