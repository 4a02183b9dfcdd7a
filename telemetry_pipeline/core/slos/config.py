"""The SLO catalog: slos.yaml -> frozen, validated dataclasses.

SLOs are data (SPEC section 6), so a team adds or tunes one by editing a YAML file, never code.
Because everything downstream (slo_status rows, asset checks, alerts) trusts this catalog, the
loader is strict: any problem raises SloConfigError naming the file, the SLO and the field, and
the code location refuses to load rather than evaluating half a catalog.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.kpis.catalog import METRICS_BY_NAME

DEFAULT_SLOS_FILE = Path(__file__).with_name("slos.yaml")

COMPARATORS = (">=", "<")
#: SLI kinds. Ratio SLIs measure a share of good (availability) or bad (error_rate) rows in
#: percent and get error budgets and burn rates; their comparator is fixed by that direction.
SLI_KINDS: dict[str, str | None] = {"availability": ">=", "latency_p95": None, "error_rate": "<"}
RATIO_SLIS = frozenset({"availability", "error_rate"})
DEFAULT_MIN_SAMPLE_SIZE = 10

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_SLO_KEYS = {"name", "description", "slis", "min_sample_size", "runbook_url"}
_SLO_REQUIRED = ("name", "description", "slis")
_SLI_KEYS = {"name", "metric", "comparator", "target"}


class SloConfigError(ValueError):
    """slos.yaml is malformed; the message names the file, the SLO and the field."""


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Slo:
    name: str
    description: str
    slis: tuple[Sli, ...]
    min_sample_size: int = DEFAULT_MIN_SAMPLE_SIZE
    runbook_url: str | None = None

    def sli(self, name: str) -> Sli:
        for sli in self.slis:
            if sli.name == name:
                return sli
        raise KeyError(f"SLO {self.name!r} has no SLI {name!r}; it has {[s.name for s in self.slis]}")


@dataclass(frozen=True)
class SloCatalog:
    slos: tuple[Slo, ...]

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


def parse_catalog(document: Any, source: str) -> SloCatalog:
    """Validate a parsed YAML document; `source` names the file in errors."""
    if not isinstance(document, dict) or set(document) != {"slos"}:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise SloConfigError(f"{source}: expected a mapping with the single key 'slos', got {found}")
    entries = document["slos"]
    if not isinstance(entries, list) or not entries:
        raise SloConfigError(f"{source}: field slos: expected a non-empty list of SLOs")
    slos: list[Slo] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        slo = _parse_slo(entry, source, index)
        if slo.name in seen:
            raise SloConfigError(f"{source}: SLO {slo.name!r}, field name: duplicate SLO name")
        seen.add(slo.name)
        slos.append(slo)
    return SloCatalog(tuple(slos))


def _fail(source: str, slo: str, field: str, problem: str) -> SloConfigError:
    return SloConfigError(f"{source}: SLO {slo!r}, field {field}: {problem}")


def _parse_slo(entry: Any, source: str, index: int) -> Slo:
    label = f"slos[{index}]"
    if not isinstance(entry, dict):
        raise _fail(source, label, label, f"expected a mapping, got {type(entry).__name__}")
    if isinstance(entry.get("name"), str) and entry["name"]:
        label = entry["name"]
    unknown = sorted(set(map(str, entry)) - _SLO_KEYS)
    if unknown:
        raise _fail(source, label, unknown[0], f"unknown key; allowed: {', '.join(sorted(_SLO_KEYS))}")
    for key in _SLO_REQUIRED:
        if entry.get(key) is None:
            raise _fail(source, label, key, "missing")
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(source, label, "name", "must be a lowercase identifier (a-z, 0-9, _; starts with a letter)")
    description = entry["description"]
    if not isinstance(description, str) or not description.strip():
        raise _fail(source, name, "description", "must be a non-empty string")
    min_sample = entry.get("min_sample_size", DEFAULT_MIN_SAMPLE_SIZE)
    if isinstance(min_sample, bool) or not isinstance(min_sample, int) or min_sample < 1:
        raise _fail(source, name, "min_sample_size", f"must be an integer >= 1, got {min_sample!r}")
    runbook = entry.get("runbook_url")
    if runbook is not None and (not isinstance(runbook, str) or not re.match(r"^https?://\S+$", runbook)):
        raise _fail(source, name, "runbook_url", f"must be an http(s) URL, got {runbook!r}")
    raw_slis = entry["slis"]
    if not isinstance(raw_slis, list) or not raw_slis:
        raise _fail(source, name, "slis", "expected a non-empty list of SLIs")
    slis: list[Sli] = []
    for i, raw in enumerate(raw_slis):
        sli = _parse_sli(raw, source, name, f"slis[{i}]")
        if any(s.name == sli.name for s in slis):
            raise _fail(source, name, f"slis[{i}].name", f"duplicate SLI {sli.name!r}")
        slis.append(sli)
    return Slo(name, description.strip(), tuple(slis), min_sample, runbook)


def _parse_sli(raw: Any, source: str, slo: str, where: str) -> Sli:
    if not isinstance(raw, dict):
        raise _fail(source, slo, where, f"expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(map(str, raw)) - _SLI_KEYS)
    if unknown:
        raise _fail(source, slo, f"{where}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(_SLI_KEYS))}")
    for key in ("name", "metric", "comparator", "target"):
        if raw.get(key) is None:
            raise _fail(source, slo, f"{where}.{key}", "missing")
    name = raw["name"]
    if name not in SLI_KINDS:
        raise _fail(source, slo, f"{where}.name", f"unknown SLI {name!r}; expected one of {', '.join(SLI_KINDS)}")
    metric = raw["metric"]
    if not isinstance(metric, str) or metric not in METRICS_BY_NAME:
        raise _fail(source, slo, f"{where}.metric",
                    f"unknown metric {metric!r}; see telemetry_pipeline/core/kpis/catalog.py")
    comparator = raw["comparator"]
    if comparator not in COMPARATORS:
        raise _fail(source, slo, f"{where}.comparator", f"must be '>=' or '<', got {comparator!r}")
    required = SLI_KINDS[name]
    if required is not None and comparator != required:
        raise _fail(source, slo, f"{where}.comparator", f"an {name} SLI must use {required!r}")
    target = raw["target"]
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
        raise _fail(source, slo, f"{where}.target", f"must be a finite number, got {target!r}")
    if name in RATIO_SLIS:
        if METRICS_BY_NAME[metric].unit != "percent":
            raise _fail(source, slo, f"{where}.metric", f"an {name} SLI needs a percentage metric")
        if not 0 < target < 100:
            raise _fail(source, slo, f"{where}.target", f"an {name} target is a percentage in (0, 100)")
    elif target < 0:
        raise _fail(source, slo, f"{where}.target", "must be >= 0")
    return Sli(name, metric, comparator, float(target))
