"""The SLO catalog: slos.yaml -> frozen, validated pydantic dataclasses.

SLOs are data (SPEC section 6), so a team adds or tunes one by editing a YAML file, never code.
Because everything downstream (slo_status rows, asset checks, alerts) trusts this catalog, the
loader is strict: the file is a versioned schema (`version: 1`, the default), validated by
pydantic with unknown keys refused, and any problem raises SloConfigError naming the file, the
SLO and the field, so the code location refuses to load rather than evaluating half a catalog.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.kpis.catalog import METRICS_BY_NAME
from telemetry_pipeline.core.scopes.teams import DIMENSIONS, UNOWNED, TeamCatalog, load_teams

DEFAULT_SLOS_FILE = Path(__file__).with_name("slos.yaml")
#: Versions of the file format this code reads.
SUPPORTED_VERSIONS = (1,)

COMPARATORS = (">=", "<")
#: SLI kinds. Ratio SLIs measure a share of good (availability) or bad (error_rate) rows in
#: percent and get error budgets and burn rates; their comparator is fixed by that direction.
SLI_KINDS: dict[str, str | None] = {"availability": ">=", "latency_p95": None, "error_rate": "<"}
RATIO_SLIS = frozenset({"availability", "error_rate"})
DEFAULT_MIN_SAMPLE_SIZE = 10
DEFAULT_NO_DATA_AFTER = "2h"
_SPAN = re.compile(r"^([1-9][0-9]{0,3})([mhd])$")
_SPAN_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TEAM = re.compile(r"^[a-z0-9_-]+$")
_URL = re.compile(r"^https?://\S+$")
_STRICT = ConfigDict(extra="forbid")


class SloConfigError(ValueError):
    """slos.yaml is malformed; the message names the file, the SLO and the field."""


class FieldProblem(ValueError):
    """A rule spanning fields failed; `field` (and `slo`, at catalog level) say where."""

    def __init__(self, field: str, problem: str, slo: str | None = None) -> None:
        super().__init__(problem)
        self.field, self.problem, self.slo = field, problem, slo


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, config=_STRICT)
class Sli:
    """One indicator of an SLO: `metric` (a KPI) compared with `target` by `comparator`."""

    name: str  # availability | latency_p95 | error_rate
    metric: str
    comparator: str  # '>=' or '<'
    target: float

    @property
    def is_ratio(self) -> bool:
        """Availability and error rate have an error budget; latency does not."""
        return self.name in RATIO_SLIS

    @field_validator("name", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> str:
        if value not in SLI_KINDS:
            raise ValueError(f"unknown SLI {value!r}; expected one of {', '.join(SLI_KINDS)}")
        return str(value)

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, value: Any) -> str:
        if not isinstance(value, str) or value not in METRICS_BY_NAME:
            raise ValueError(f"unknown metric {value!r}; see telemetry_pipeline/core/kpis/catalog.py")
        return value

    @field_validator("comparator", mode="before")
    @classmethod
    def _comparator(cls, value: Any) -> str:
        if value not in COMPARATORS:
            raise ValueError(f"must be '>=' or '<', got {value!r}")
        return str(value)

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> float:
        return _number(value)

    @model_validator(mode="after")
    def _consistent(self) -> Sli:
        required = SLI_KINDS[self.name]
        if required is not None and self.comparator != required:
            raise FieldProblem("comparator", f"an {self.name} SLI must use {required!r}")
        if self.name in RATIO_SLIS:
            if METRICS_BY_NAME[self.metric].unit != "percent":
                raise FieldProblem("metric", f"an {self.name} SLI needs a percentage metric")
            if not 0 < self.target < 100:
                raise FieldProblem("target", f"an {self.name} target is a percentage in (0, 100)")
        elif self.target < 0:
            raise FieldProblem("target", "must be >= 0")
        return self


@dataclass(frozen=True, config=_STRICT)
class Slo:
    name: str
    description: str
    slis: tuple[Sli, ...]
    min_sample_size: int = DEFAULT_MIN_SAMPLE_SIZE
    runbook_url: str | None = None
    #: SPEC section 11: a source silent this long (after rows in the last 7 days) raises NO DATA.
    no_data_after: str = DEFAULT_NO_DATA_AFTER
    #: repository | workflow | team: evaluated per value of that dimension (SPEC section 10), no
    #: global rows; None: global.
    scope: str | None = None
    #: The team accountable for the SLO (a team of TELEMETRY_TEAMS_FILE; check_owners): exported
    #: as the OpenSLO `owner` label. None: nobody named.
    owner: str | None = None

    @field_validator("owner", mode="before")
    @classmethod
    def _owner(cls, value: Any) -> str | None:
        if value is not None and (not isinstance(value, str) or not _TEAM.match(value) or value == UNOWNED):
            raise ValueError(f"must be the name of a team of the teams file ([a-z0-9_-]+), got {value!r}")
        return value

    @field_validator("scope", mode="before")
    @classmethod
    def _scope(cls, value: Any) -> str | None:
        if value is not None and value not in DIMENSIONS:
            raise ValueError(f"unknown scope {value!r}; expected one of {', '.join(DIMENSIONS)}")
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError("must be a lowercase identifier (a-z, 0-9, _; starts with a letter)")
        return value

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a non-empty string")
        return value.strip()

    @field_validator("slis", mode="before")
    @classmethod
    def _slis(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("expected a non-empty list of SLIs")
        return value

    @field_validator("min_sample_size", mode="before")
    @classmethod
    def _min_sample(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"must be an integer >= 1, got {value!r}")
        return value

    @field_validator("runbook_url", mode="before")
    @classmethod
    def _runbook(cls, value: Any) -> str | None:
        if value is not None and (not isinstance(value, str) or not _URL.match(value)):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("no_data_after", mode="before")
    @classmethod
    def _no_data_after(cls, value: Any) -> str:
        if not isinstance(value, str) or not _SPAN.match(value):
            raise ValueError(f"must be a duration like 30m, 2h or 1d, got {value!r}")
        return value

    @property
    def no_data_span(self) -> timedelta:
        """no_data_after as a timedelta."""
        match = _SPAN.match(self.no_data_after)
        assert match is not None  # validated
        return int(match.group(1)) * _SPAN_UNITS[match.group(2)]

    @model_validator(mode="after")
    def _unique_slis(self) -> Slo:
        seen: set[str] = set()
        for i, sli in enumerate(self.slis):
            if sli.name in seen:
                raise FieldProblem(f"slis[{i}].name", f"duplicate SLI {sli.name!r}")
            seen.add(sli.name)
        return self

    def sli(self, name: str) -> Sli:
        for sli in self.slis:
            if sli.name == name:
                return sli
        raise KeyError(f"SLO {self.name!r} has no SLI {name!r}; it has {[s.name for s in self.slis]}")


@dataclass(frozen=True, config=_STRICT)
class SloCatalog:
    """The whole file: its format `version` and the SLOs, names unique."""

    slos: tuple[Slo, ...]
    version: int = 1

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> int:
        if value not in SUPPORTED_VERSIONS or isinstance(value, bool):
            raise ValueError(f"unsupported version {value!r}; this release reads {SUPPORTED_VERSIONS}")
        return int(value)

    @field_validator("slos", mode="before")
    @classmethod
    def _slos(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("expected a non-empty list of SLOs")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> SloCatalog:
        seen: set[str] = set()
        for slo in self.slos:
            if slo.name in seen:
                raise FieldProblem("name", "duplicate SLO name", slo=slo.name)
            seen.add(slo.name)
        return self

    def get(self, name: str) -> Slo:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(f"unknown SLO {name!r}; known: {', '.join(s.name for s in self.slos)}")

    def __iter__(self) -> Iterator[Slo]:
        return iter(self.slos)

    def __len__(self) -> int:
        return len(self.slos)


def slos_file() -> Path:
    """The catalog in use: TELEMETRY_SLOS_FILE when set, else the packaged slos.yaml."""
    return settings.current().slos_file or DEFAULT_SLOS_FILE


def load_slos(path: Path | None = None) -> SloCatalog:
    """Read and validate the SLO catalog (cached per file and its modification time)."""
    path = Path(path) if path is not None else slos_file()
    try:
        stat = path.stat()
    except OSError as exc:
        raise SloConfigError(f"{path}: cannot read the SLO catalog ({exc.strerror})") from None
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@cache
def _load(path: str, _mtime_ns: int, _size: int) -> SloCatalog:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SloConfigError(f"{path}: cannot read the SLO catalog ({exc})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SloConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_catalog(document, path)


def check_owners(catalog: SloCatalog, teams: TeamCatalog, source: str, teams_source: str) -> None:
    """Every `owner` names a team of the teams file; else SloConfigError naming file, SLO and field.

    Separate from the loader because the two files are configured apart: the code location
    checks them together when it loads (defs/slos/assets.py), `slo import` when it writes.
    """
    known = [t.name for t in teams]
    for slo in catalog:
        if slo.owner is not None and slo.owner not in known:
            listed = ", ".join(known) if known else "none: TELEMETRY_TEAMS_FILE is not set"
            raise SloConfigError(f"{source}: SLO {slo.name!r}, field owner: unknown team {slo.owner!r} "
                                 f"(teams of {teams_source}: {listed})")


def check_configured_owners(catalog: SloCatalog, source: str | None = None) -> None:
    """check_owners against the teams file in use (TELEMETRY_TEAMS_FILE)."""
    teams_file = settings.current().teams_file
    check_owners(catalog, load_teams(), source or str(slos_file()),
                 str(teams_file) if teams_file else f"{settings.TEAMS_FILE_ENV} (unset)")


def parse_catalog(document: Any, source: str) -> SloCatalog:
    """Validate a parsed YAML document; `source` names the file in errors."""
    if not isinstance(document, dict) or set(document) - {"version"} != {"slos"}:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise SloConfigError(
            f"{source}: expected a mapping with the single key 'slos' (and optionally 'version'), got {found}"
        )
    try:
        return SloCatalog(**document)
    except ValidationError as exc:
        raise SloConfigError(_describe(exc, document, source)) from None


#: Which problem to report first when several are found (as a reader fixes them).
_PRIORITY = {"unexpected_keyword_argument": 0, "missing": 1, "missing_keyword_argument": 1}
_FIELDS = {Sli: ("comparator", "metric", "name", "target"),
           Slo: ("description", "min_sample_size", "name", "no_data_after", "owner", "runbook_url", "scope",
                 "slis")}


def _describe(exc: ValidationError, document: dict[str, Any], source: str) -> str:
    """The first problem of a validation error, as '<file>: SLO <name>, field <path>: <problem>'."""
    error = sorted(exc.errors(), key=lambda e: _PRIORITY.get(e["type"], 2))[0]
    loc = list(error["loc"])
    problem = error["ctx"].get("error") if error["type"] == "value_error" else None
    if loc[:1] != ["slos"] or len(loc) < 2:
        if isinstance(problem, FieldProblem) and problem.slo:
            return f"{source}: SLO {problem.slo!r}, field {problem.field}: {problem.problem}"
        field = ".".join(map(str, loc)) or "slos"
        return f"{source}: field {field}: {problem or error['msg']}"
    index, rest = loc[1], loc[2:]
    entries = document.get("slos") or []
    entry = entries[index] if isinstance(index, int) and index < len(entries) else None
    slo = entry["name"] if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] \
        else f"slos[{index}]"
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest).lstrip(".")
    if isinstance(problem, FieldProblem):
        path = f"{path}.{problem.field}" if path else problem.field
        text = problem.problem
    elif problem is not None:
        text = str(problem)
    elif error["type"] in ("missing", "missing_keyword_argument"):
        text = "missing"
    elif error["type"] == "unexpected_keyword_argument":
        model = Sli if "slis" in rest else Slo
        text = f"unknown key; allowed: {', '.join(_FIELDS[model])}"
    elif error["type"] in ("dataclass_type", "dataclass_args_type", "model_type", "dict_type"):
        text = f"expected a mapping, got {type(error['input']).__name__}"
    else:
        text = error["msg"]
    return f"{source}: SLO {slo!r}, field {path or f'slos[{index}]'}: {text}"
