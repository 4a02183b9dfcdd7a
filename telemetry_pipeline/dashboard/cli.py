"""Commands of this domain (assembled by telemetry_pipeline/cli.py through COMMANDS)."""

COMMANDS: list = []
