"""The teams file (TELEMETRY_TEAMS_FILE) -> a frozen, validated catalog of teams.

A team owns repositories by fnmatch globs; the first team whose glob matches a repository owns
it, a repository matching none is `unowned`. The file is validated like slos.yaml (pydantic,
unknown keys refused) and every problem names the file, the team and the field, so a typo stops
the code location at start-up instead of silently moving a team's rows to `unowned`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from telemetry_pipeline.core import settings

#: The team of a repository no glob matches.
UNOWNED = "unowned"
DIMENSIONS = ("repository", "workflow", "team")

_NAME = re.compile(r"^[a-z0-9_-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_STRICT = ConfigDict(extra="forbid")
_FIELDS = ("name", "repositories", "slack_channel", "email")


class TeamsConfigError(ValueError):
    """The teams file is malformed; the message names the file, the team and the field."""


def glob_to_regex(pattern: str) -> str:
    """An fnmatch glob as an anchored PostgreSQL regular expression with the same matches.

    fnmatch (case-sensitive) semantics: `*` any run, `?` one character, `[seq]` / `[!seq]` a set,
    an unclosed `[` a literal. Everything else is escaped, so a glob can never inject regex syntax.
    The KPI SQL maps repositories to teams with it in the same statement that aggregates them.
    """
    out, i, n = ["^"], 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(r"\[")
                continue
            body = pattern[i:j]
            i = j + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            members = "".join("\\" + ch if ch in "\\^[]" else ch for ch in body)
            out.append(f"[{'^' if negate else ''}{members}]")
        else:
            out.append(c if c.isalnum() or c == "_" else "\\" + c)
    out.append("$")
    return "".join(out)


@dataclass(frozen=True, config=_STRICT)
class Team:
    """One team: its name, the repository globs it owns, and where its alerts go."""

    name: str
    repositories: tuple[str, ...]
    slack_channel: str | None = None
    email: tuple[str, ...] = ()

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError("must match [a-z0-9_-]+")
        if value == UNOWNED:
            raise ValueError(f"{UNOWNED!r} is the team of repositories no team owns")
        return value

    @field_validator("repositories", mode="before")
    @classmethod
    def _globs(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("expected a non-empty list of repository globs")
        for glob in value:
            if not isinstance(glob, str) or not glob.strip():
                raise ValueError(f"every glob must be a non-empty string, got {glob!r}")
        return tuple(value)

    @field_validator("slack_channel", mode="before")
    @classmethod
    def _channel(cls, value: Any) -> str | None:
        if value is not None and (not isinstance(value, str) or not value.strip() or " " in value.strip()):
            raise ValueError(f"must be a Slack channel name or id, got {value!r}")
        return value.strip() if isinstance(value, str) else None

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> Any:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list | tuple):
            raise ValueError("expected a list of e-mail addresses")
        for address in value:
            if not isinstance(address, str) or not _EMAIL.match(address):
                raise ValueError(f"not an e-mail address: {address!r}")
        return tuple(value)

    def owns(self, repository: str) -> bool:
        return any(fnmatchcase(repository, glob) for glob in self.repositories)


@dataclass(frozen=True, config=_STRICT)
class TeamCatalog:
    """The teams in file order (the order decides which team owns a repository two globs match)."""

    teams: tuple[Team, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> TeamCatalog:
        seen: set[str] = set()
        for team in self.teams:
            if team.name in seen:
                raise ValueError(f"duplicate team name {team.name!r}")
            seen.add(team.name)
        return self

    def team_of(self, repository: str | None) -> str | None:
        """The owning team (first match), `unowned`, or None for a row without a repository."""
        if repository is None:
            return None
        return next((t.name for t in self.teams if t.owns(repository)), UNOWNED)

    def get(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def sql_params(self) -> dict[str, list]:
        """The globs as parallel arrays (team, regex) in precedence order, for the KPI SQL."""
        names, regexes = [], []
        for team in self.teams:
            for glob in team.repositories:
                names.append(team.name)
                regexes.append(glob_to_regex(glob))
        return {"team_names": names, "team_regexes": regexes}

    def __iter__(self) -> Iterator[Team]:
        return iter(self.teams)

    def __len__(self) -> int:
        return len(self.teams)


EMPTY = TeamCatalog()


def load_teams(path: Path | None = None) -> TeamCatalog:
    """The teams in use: `path`, else TELEMETRY_TEAMS_FILE, else none (everyone is `unowned`).

    Cached per file and modification time, so an edited file applies on the next computation.
    """
    path = path if path is not None else settings.current().teams_file
    if path is None:
        return EMPTY
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise TeamsConfigError(f"{path}: cannot read the teams file ({exc.strerror})") from None
    return _load(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@cache
def _load(path: str, _mtime_ns: int, _size: int) -> TeamCatalog:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TeamsConfigError(f"{path}: cannot read the teams file ({exc})") from None
    except yaml.YAMLError as exc:
        raise TeamsConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_teams(document, path)


def parse_teams(document: Any, source: str) -> TeamCatalog:
    """Validate a parsed YAML document; `source` names the file in errors."""
    if document is None:
        return EMPTY
    if not isinstance(document, dict) or set(document) != {"teams"}:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise TeamsConfigError(f"{source}: expected a mapping with the single key 'teams', got {found}")
    entries = document["teams"] or []
    if not isinstance(entries, list):
        raise TeamsConfigError(f"{source}: field teams: expected a list of teams")
    teams = []
    for index, entry in enumerate(entries):
        label = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) \
            else f"teams[{index}]"
        if not isinstance(entry, dict):
            raise TeamsConfigError(f"{source}: team {label!r}: expected a mapping, got {type(entry).__name__}")
        try:
            teams.append(Team(**entry))
        except ValidationError as exc:
            raise TeamsConfigError(f"{source}: team {label!r}, {_field_problem(exc)}") from None
        except TypeError as exc:  # pydantic dataclasses raise it for a missing required argument
            raise TeamsConfigError(f"{source}: team {label!r}: {exc}") from None
    try:
        return TeamCatalog(teams=tuple(teams))
    except ValidationError as exc:
        raise TeamsConfigError(f"{source}: field teams: {exc.errors()[0]['ctx']['error']}") from None


def _field_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "teams"
    if error["type"] == "unexpected_keyword_argument":
        return f"field {field}: unknown key; allowed: {', '.join(_FIELDS)}"
    if error["type"] in ("missing", "missing_keyword_argument"):
        return f"field {field}: missing"
    problem = error.get("ctx", {}).get("error")
    return f"field {field}: {problem or error['msg']}"
