"""The stored fast-burn evaluation: replaced per tick, newest wins, keys the catalog lost removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from telemetry_pipeline.core.slos import fast_burn_latest
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.fast_burn import SliBurn, WindowBurn

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _burn(slo: str, sli: str, counts: dict[str, tuple[int, int]]) -> SliBurn:
    found = load_slos().get(slo)
    allowed = Fraction(1, 1000) if sli == "availability" else Fraction(1, 200)
    return SliBurn(found, found.sli(sli), {w: WindowBurn(w, n, bad, allowed) for w, (n, bad) in counts.items()})


def _stored(db) -> dict[tuple, tuple]:
    return {(w.slo, w.sli, w.window): (w.evaluated_at, w.rows, w.bad, w.burn_rate)
            for w in fast_burn_latest.read(db, T0 + timedelta(days=1))}


def test_a_tick_replaces_the_previous_evaluation_and_drops_lost_keys(db):
    first = [_burn("validation", "availability", {"5m": (30, 3), "1h": (0, 0)}),
             _burn("validation", "error_rate", {"5m": (30, 3)})]
    assert fast_burn_latest.store(db, first, T0) == 3
    assert _stored(db) == {
        ("validation", "availability", "5m"): (T0, 30, 3, 100.0),  # 3/30 bad / (1/1000)
        ("validation", "availability", "1h"): (T0, 0, 0, None),    # no rows: no rate
        ("validation", "error_rate", "5m"): (T0, 30, 3, 20.0),     # 3/30 / (1/200)
    }
    # the next tick no longer has error_rate (say the SLI left the catalog): its row goes
    later = T0 + timedelta(seconds=30)
    fast_burn_latest.store(db, [_burn("validation", "availability", {"5m": (30, 0), "1h": (360, 3)})], later)
    assert _stored(db) == {("validation", "availability", "5m"): (later, 30, 0, 0.0),
                           ("validation", "availability", "1h"): (later, 360, 3, 25 / 3)}


def test_an_older_evaluation_never_overwrites_a_newer_one(db):
    later = T0 + timedelta(seconds=30)
    fast_burn_latest.store(db, [_burn("validation", "availability", {"5m": (30, 1)})], later)
    # a slower evaluator finishing after it, with an older evaluation: changes and deletes nothing
    fast_burn_latest.store(db, [_burn("validation", "error_rate", {"5m": (30, 30)}),
                                _burn("validation", "availability", {"5m": (30, 30)})], T0)
    assert _stored(db) == {("validation", "availability", "5m"): (later, 30, 1, 100 / 3),
                           ("validation", "error_rate", "5m"): (T0, 30, 30, 200.0)}
    assert fast_burn_latest.read(db, T0 + timedelta(seconds=10)) == [
        fast_burn_latest.StoredWindow("validation", "error_rate", "5m", T0, 30, 30, 200.0)]
