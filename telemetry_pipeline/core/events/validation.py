"""The one validator of the event wire format (SPEC section 3), shared by ingest, collector and emit.

An event either comes out of here as a normalised `Event` (UTC timestamp, compact metadata JSON
that PostgreSQL will accept) or raises `InvalidEvent` whose `reason` is a short stable code plus
a detail, e.g. "missing_field: event_type" or "bad_timestamp: no UTC offset". The codes are what
the quarantine table groups by and what the ingest summary counts, so they never change meaning:

  bad_encoding   the line is not UTF-8
  bad_json       not JSON (also NaN/Infinity literals, which JSON does not have)
  not_object     JSON, but not an object
  missing_field  a required key is absent or null (event_type, event_timestamp, metadata,
                 metadata.status)
  bad_event_type not a non-empty string of at most 200 characters
  bad_timestamp  not an ISO 8601 string, no UTC offset, or out of range
  bad_run_id     not an integer (JSON integer, integral number or digit string) in bigint range
                 (-9223372036854775808 .. 9223372036854775807)
  bad_tag        not a string
  bad_metadata   not an object, status not success/failure/error/cancelled, duration_ms or
                 artifact_size_bytes not a number >= 0 (JSON number or numeric string) that the
                 KPIs can read (at most 1e300 and 64 characters written out, as sql/0001's
                 telemetry_try_float8), or a number anywhere in metadata that PostgreSQL's
                 numeric (hence jsonb) cannot hold
  bad_event_id   not a non-empty string of at most 200 characters
  bad_text       text PostgreSQL cannot store: a NUL character or a lone UTF-16 surrogate

The hot path is orjson (about ten times faster than the standard library here, which is what lets
`ingest` keep up with COPY). orjson rounds what a double cannot hold (integers beyond 64 bits, long
mantissas, exponents beyond double range), so a document with a run of 16 digits or a 3-digit
exponent anywhere (a C-speed scan of the text) takes the exact path instead: the standard library
with every number beyond 18 digits or with a fraction/exponent read as a `Decimal`, never as a
Python int (whose construction is quadratic) nor a float. Every check on a number then looks at
its exponent and digit count first, so it costs time linear in the text, whatever the exponent
(`1e300000` is rejected in microseconds, not seconds).
Keys not in the wire format are ignored, so producers can add fields without breaking.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson

#: `cancelled` (SPEC section 3) is stored and counted in event_count, and in no other KPI sample.
STATUSES = ("success", "failure", "error", "cancelled")
_STATUS_SET = frozenset(STATUSES)
MAX_EVENT_TYPE_CHARS = 200
MAX_EVENT_ID_CHARS = 200
#: Metadata fields the KPIs read as numbers; each, if present, must be a number >= 0.
NUMERIC_METADATA_FIELDS = ("duration_ms", "artifact_size_bytes")
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
#: Numeric text as sql/0001's telemetry_try_float8 reads it, so a string the validator accepts is
#: a string the KPIs count (and one they would skip is refused here, with a reason).
_NUMERIC_TEXT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?\s*\Z")
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]{1,19}\s*\Z")
#: What orjson may round: a run of 16 digits (beyond a double's exact digits) or a 3-digit exponent.
_NEEDS_EXACT = re.compile(rb"[0-9]{16}|[eE][+-]?[0-9]{3}")
#: PostgreSQL numeric (and jsonb numbers): < 10^131072, at most 16383 digits after the point.
PG_NUMERIC_MAX_ADJUSTED = 131071
PG_NUMERIC_MAX_SCALE = 16383
#: sql/0001 telemetry_try_float8 reads at most 64 characters and at most 1e300.
_KPI_NUMBER_MAX_CHARS = 64
_KPI_NUMBER_MAX = Decimal("1e300")
_EXACT_INT_DIGITS = 18  # shorter digit strings become Python ints (cheap), longer ones Decimals
_DETAIL_CHARS = 80


class InvalidEvent(ValueError):
    """An event that breaks a rule; `reason` is "code: detail" and goes to the quarantine table."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


class Event(NamedTuple):
    """A valid event, normalised for storage (a NamedTuple: 6x cheaper to build than a frozen
    dataclass, which matters at a million lines)."""

    event_type: str
    event_timestamp: datetime  # timezone-aware, UTC
    run_id: int | None
    tag: str | None
    metadata_json: bytes  # compact JSON object, accepted by PostgreSQL's jsonb
    event_id: str | None


def parse_event(raw: bytes, *, default_timestamp: datetime | None = None) -> Event:
    """Validate one event given as JSON text (an NDJSON line, a request body)."""
    return validate_event(decode_json(raw), default_timestamp=default_timestamp)


def decode_json(raw: bytes) -> Any:
    """JSON text -> Python value, or InvalidEvent(bad_encoding / bad_json).

    Numbers come back exact: ints and floats from orjson where it cannot have rounded, else
    Decimals (or `HugeNumber` for an exponent beyond what even Decimal takes), which
    `validate_event` range-checks by exponent before any conversion.
    """
    if not _NEEDS_EXACT.search(raw):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            run_id = value.get("run_id") if type(value) is dict else None
            if type(run_id) is not float or abs(run_id) < 2.0**53:
                return value
            # an integral-looking float beyond 2^53 may have been rounded: read the text exactly
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("bad_encoding", f"not valid UTF-8 at byte {exc.start}") from None
    try:
        # Exact numbers: orjson refuses numbers beyond double range, which JSON allows.
        return json.loads(text, parse_float=_exact_number, parse_int=_exact_int, parse_constant=_no_constants)
    except RecursionError:
        raise InvalidEvent("bad_json", "nested too deeply") from None
    except ValueError as exc:
        raise InvalidEvent("bad_json", _clip(str(exc))) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class HugeNumber:
    """A JSON number whose exponent is beyond even Decimal's (18 digits); always out of range.

    Not a str subclass: orjson would serialise one as a string."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _exact_number(text: str) -> Decimal | HugeNumber:
    try:
        return Decimal(text)
    except InvalidOperation:  # the exponent has more than 18 digits
        return HugeNumber(text)


def _exact_int(text: str) -> int | Decimal:
    # int("9" * 10_000) is quadratic (and refused beyond 4300 digits); Decimal is linear and exact
    return int(text) if len(text) <= _EXACT_INT_DIGITS else Decimal(text)


def validate_event(obj: Any, *, default_timestamp: datetime | None = None) -> Event:
    """Check a decoded event against SPEC section 3 and normalise it.

    `default_timestamp` is used when event_timestamp is absent (collector and emit default to
    now); without it (ingest) the timestamp is required.
    """
    if type(obj) is not dict:
        raise InvalidEvent("not_object", f"expected a JSON object, got {_json_type(obj)}")
    get = obj.get

    event_type = get("event_type")
    if event_type is None:
        raise InvalidEvent("missing_field", "event_type")
    if type(event_type) is not str or not event_type or len(event_type) > MAX_EVENT_TYPE_CHARS:
        raise InvalidEvent(
            "bad_event_type", f"must be a non-empty string of at most {MAX_EVENT_TYPE_CHARS} characters"
        )
    _check_text("event_type", event_type)

    raw_ts = get("event_timestamp")
    if raw_ts is None:
        if default_timestamp is None:
            raise InvalidEvent("missing_field", "event_timestamp")
        timestamp = default_timestamp.astimezone(UTC)
    else:
        timestamp = parse_timestamp(raw_ts)

    run_id = get("run_id")
    if run_id is not None:
        run_id = _integer(run_id)

    tag = get("tag")
    if tag is not None:
        if type(tag) is not str:
            raise InvalidEvent("bad_tag", f"must be a string, got {_json_type(tag)}")
        _check_text("tag", tag)

    metadata = get("metadata")
    if metadata is None:
        raise InvalidEvent("missing_field", "metadata")
    if type(metadata) is not dict:
        raise InvalidEvent("bad_metadata", f"must be an object, got {_json_type(metadata)}")
    status = metadata.get("status")
    if status is None:
        raise InvalidEvent("missing_field", "metadata.status")
    if type(status) is not str or status not in _STATUS_SET:
        raise InvalidEvent("bad_metadata", f"status must be one of {', '.join(STATUSES)}")
    for field in NUMERIC_METADATA_FIELDS:
        value = metadata.get(field)
        if value is not None:
            _check_kpi_number(field, value)

    event_id = get("event_id")
    if event_id is not None:
        if type(event_id) is not str or not event_id or len(event_id) > MAX_EVENT_ID_CHARS:
            raise InvalidEvent(
                "bad_event_id", f"must be a non-empty string of at most {MAX_EVENT_ID_CHARS} characters"
            )
        _check_text("event_id", event_id)

    return Event(event_type, timestamp, run_id, tag, _metadata_json(metadata), event_id)


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 with a UTC offset or Z -> aware UTC datetime; a naive timestamp is refused."""
    if type(value) is not str:
        raise InvalidEvent("bad_timestamp", f"must be an ISO 8601 string, got {_json_type(value)}")
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:  # RFC 3339 allows a lower-case "z"; Python's parser does not
            parsed = datetime.fromisoformat(value[:-1] + "Z") if value.endswith("z") else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise InvalidEvent("bad_timestamp", f"not ISO 8601: {_clip(repr(value))}") from None
    if parsed.tzinfo is None:
        raise InvalidEvent("bad_timestamp", "no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidEvent("bad_timestamp", "out of range") from None


def _integer(value: Any) -> int:
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float:  # 42.0 is an integer (as in JSON Schema); orjson floats are finite
        if value != int(value):
            raise InvalidEvent("bad_run_id", "must be an integer")
        number = int(value)
    elif kind is Decimal:
        number = _decimal_integer(value)
    elif kind is HugeNumber:
        raise InvalidEvent("bad_run_id", "out of the 64-bit integer range")
    elif kind is str and len(value) <= _KPI_NUMBER_MAX_CHARS and _INTEGER_TEXT.match(value):
        number = int(value)
    else:
        raise InvalidEvent("bad_run_id", f"must be an integer, got {_json_type(value)}")
    if not _BIGINT_MIN <= number <= _BIGINT_MAX:
        raise InvalidEvent("bad_run_id", "out of the 64-bit integer range")
    return number


def _decimal_integer(value: Decimal) -> int:
    """An integral Decimal in bigint range -> int, judged by its exponent before converting."""
    if not value.is_finite():
        raise InvalidEvent("bad_run_id", "must be an integer")
    if value.is_zero():
        return 0
    if value.adjusted() > 18:  # 10^19 > bigint max: int() of 1e300000 would take seconds
        raise InvalidEvent("bad_run_id", "out of the 64-bit integer range")
    if value.adjusted() < 0 or value != value.to_integral_value():
        raise InvalidEvent("bad_run_id", "must be an integer")
    return int(value)


def _check_kpi_number(field: str, value: Any) -> None:
    """duration_ms / artifact_size_bytes: a number >= 0 that telemetry_try_float8 reads back.

    What the SQL would turn into NULL (more than 64 characters as PostgreSQL writes it, beyond
    1e300) is refused here, so an accepted event is an event the KPIs count.
    """
    kind = type(value)
    if kind is int or kind is float:  # orjson floats are always finite; bool is not int here
        if value < 0:
            raise InvalidEvent("bad_metadata", f"{field} must be a number >= 0")
        if value < 1e40 and (kind is int or value == 0 or value >= 1e-40):
            return
        number = Decimal(value) if kind is int else Decimal(repr(value))
    elif kind is Decimal:
        number = value
    elif kind is str and len(value) <= _KPI_NUMBER_MAX_CHARS and _NUMERIC_TEXT.match(value):
        # (length first: the pattern backtracks quadratically over a long run of digits)
        number = Decimal(value.strip())
    else:
        raise InvalidEvent("bad_metadata", f"{field} must be a number >= 0")
    if number < 0:
        raise InvalidEvent("bad_metadata", f"{field} must be a number >= 0")
    if kind is not str and (number > _KPI_NUMBER_MAX or _pg_text_length(number) > _KPI_NUMBER_MAX_CHARS):
        raise InvalidEvent(
            "bad_metadata",
            f"{field} is out of the KPIs' range (at most 1e300 and {_KPI_NUMBER_MAX_CHARS} digits written out)",
        )
    if kind is str and number > _KPI_NUMBER_MAX:
        raise InvalidEvent("bad_metadata", f"{field} is out of the KPIs' range (at most 1e300)")


def _pg_text_length(number: Decimal) -> int:
    """Characters of PostgreSQL's numeric text (no exponent: integer digits, point, scale digits),
    from the exponent alone (callers bound the exponent first, so this stays cheap)."""
    if not number.is_finite() or not _pg_numeric_ok(number):
        return _KPI_NUMBER_MAX_CHARS + 1
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int):  # 'n'/'N'/'F' mark NaN and infinity, refused above already
        return _KPI_NUMBER_MAX_CHARS + 1
    scale = max(0, -exponent)
    integer_digits = max(1, number.adjusted() + 1) if not number.is_zero() else 1
    return (number < 0) + integer_digits + (scale + 1 if scale else 0)


def _pg_numeric_ok(number: Decimal) -> bool:
    """Whether PostgreSQL's numeric stores this value (its range and display-scale limits)."""
    exponent = number.as_tuple().exponent
    if type(exponent) is not int or -exponent > PG_NUMERIC_MAX_SCALE:
        return False
    if number.is_zero():  # PostgreSQL takes zeros up to huge exponents; we keep to the range
        return exponent <= PG_NUMERIC_MAX_ADJUSTED
    return number.adjusted() <= PG_NUMERIC_MAX_ADJUSTED


def _check_text(field: str, value: str) -> None:
    """PostgreSQL text holds neither NUL nor lone surrogates (the latter only reach us via json)."""
    if "\x00" in value:
        raise InvalidEvent("bad_text", f"{field} contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEvent("bad_text", f"{field} is not valid Unicode (lone surrogate)") from None


def _metadata_json(metadata: dict) -> bytes:
    try:
        out = orjson.dumps(metadata)
    except (orjson.JSONEncodeError, TypeError):
        _check_numbers(metadata)  # only the exact path yields Decimals (or HugeNumbers)
        out = _dumps_exact(metadata)  # Decimals from the exact path, nesting beyond orjson's limit
    if b"\\u0000" in out and _contains_nul(metadata):
        raise InvalidEvent("bad_text", "metadata contains a NUL character (\\u0000), which jsonb cannot store")
    return out


def _check_numbers(value: Any, path: str = "metadata") -> None:
    """Every number PostgreSQL's jsonb (numeric) cannot hold is refused before COPY, with where.

    Otherwise one such value fails the whole COPY: a 500 at the collector, and a row-by-row
    replay of the chunk at ingest.
    """
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend((f"{where}.{key}", v) for key, v in item.items())
        elif kind is list:
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
        elif kind is HugeNumber or (kind is Decimal and not _pg_numeric_ok(item)):
            raise InvalidEvent(
                "bad_metadata",
                f"{_clip(where)} is out of PostgreSQL's numeric range (below 1e131072, "
                f"at most {PG_NUMERIC_MAX_SCALE} digits after the point)",
            )


def _dumps_exact(value: Any) -> bytes:
    try:
        return _encode(value).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent("bad_text", "metadata is not valid Unicode (lone surrogate)") from None
    except RecursionError:
        raise InvalidEvent("bad_metadata", "nested too deeply") from None


def _encode(value: Any) -> str:
    """Compact JSON that writes Decimals digit for digit (json.dumps cannot)."""
    if type(value) is dict:
        return "{" + ",".join(f"{_encode(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if type(value) is list:
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if type(value) is Decimal:
        if not value.is_finite():
            raise InvalidEvent("bad_metadata", "numbers must be finite")
        return str(value)
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _contains_nul(value: Any) -> bool:
    if type(value) is str:
        return "\x00" in value
    if type(value) is dict:
        return any("\x00" in k or _contains_nul(v) for k, v in value.items())
    if type(value) is list:
        return any(_contains_nul(v) for v in value)
    return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if type(value) in (int, float, Decimal, HugeNumber):
        return "a number"
    if type(value) is str:
        return "a string"
    if type(value) is list:
        return "an array"
    return "an object" if type(value) is dict else type(value).__name__


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"
