"""The README and docs stand on their own in a clone: no links outside it, only real CLI commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from telemetry_pipeline.cli import cli
from telemetry_pipeline.core import settings

DOCS = [settings.PROJECT_ROOT / "README.md", *sorted((settings.PROJECT_ROOT / "docs").glob("*.md"))]
CLI = Path(sys.executable).with_name("telemetry-pipeline")  # the console script of this virtualenv
_COMMAND = re.compile(r"telemetry-pipeline((?: [a-z][a-z-]*)+)")


def _commands_named(text: str) -> set[tuple[str, ...]]:
    """`telemetry-pipeline a b …` mentions as command paths: the first word always (so a command that
    does not exist is caught), then the words that name subcommands of the group before them."""
    found = set()
    for match in _COMMAND.finditer(text):
        first, *rest = match.group(1).split()
        path = [first]
        command = cli.get_command(click.Context(cli), first)
        for word in rest:
            if not isinstance(command, click.Group) or word not in command.commands:
                break
            path.append(word)
            command = command.commands[word]
        found.add(tuple(path))
    return found


def test_no_doc_points_outside_the_clone():
    offenders = [f"{p.name}:{n}" for p in DOCS for n, line in enumerate(p.read_text().splitlines(), 1)
                 if "../shared" in line or "shared/SPEC" in line]
    assert offenders == []


def test_every_relative_link_of_the_docs_resolves():
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            if not (doc.parent / target).exists():
                broken.append(f"{doc.name}: {target}")
    assert broken == []


README_COMMANDS = sorted(_commands_named((settings.PROJECT_ROOT / "README.md").read_text()))


def test_the_readme_names_the_main_commands():
    assert {("dev",), ("env",), ("db", "migrate"), ("demo", "seed"), ("emit",), ("ingest",),
            ("collector", "serve"), ("dashboard",)} <= set(README_COMMANDS)


@pytest.mark.parametrize("command", README_COMMANDS, ids=" ".join)
def test_each_readme_command_exists_as_typed(command: tuple[str, ...]):
    """`.venv/bin/telemetry-pipeline <command> --help` succeeds for every command the README names."""
    proc = subprocess.run([str(CLI), *command, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"Usage: telemetry-pipeline {' '.join(command)}" in proc.stdout
