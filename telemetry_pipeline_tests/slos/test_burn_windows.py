"""burn_windows.yaml: the burn windows and alert rules are validated data, one spelling each."""

from __future__ import annotations

from datetime import timedelta

import pytest

from telemetry_pipeline.core.slos import budgets

GOOD = """\
version: 1
budget_window: 30d
windows: [1h, 6h, 3d]
rules:
  - {alert: page, windows: [1h], threshold: 14.4, description: fast}
fast_burn:
  windows: [5m, 30m, 1h, 6h]
  pairs:
    - {long: 1h, short: 5m, threshold: 14.4}
  resolve_after: 10m
"""


def test_the_shipped_policy_is_the_workbook_windows():
    assert [(w.label, w.span) for w in budgets.BURN_WINDOWS] == [
        ("1h", timedelta(hours=1)), ("6h", timedelta(hours=6)), ("3d", timedelta(days=3)),
    ]
    assert [(r.alert, r.label) for r in budgets.BURN_RULES] == [
        ("page", "1h>=14.4"), ("page", "6h&1h>=6"), ("ticket", "3d&6h>=1"),
    ]
    assert budgets.BUDGET_WINDOW == timedelta(days=30)
    # SPEC section 11: the SRE Workbook pairs over rolling windows of the raw rows
    fast = budgets.FAST_BURN
    assert fast.spans == {"5m": timedelta(minutes=5), "30m": timedelta(minutes=30),
                          "1h": timedelta(hours=1), "6h": timedelta(hours=6)}
    assert [p.label for p in fast.pairs] == ["1h&5m>=14.4", "6h&30m>=6"]
    assert (fast.longest, budgets.parse_span(fast.resolve_after)) == (timedelta(hours=6), timedelta(minutes=10))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("windows: [1h, 6h, 3d]", "windows: [1h, 2h]"), "have no slo_status columns"),
        (("windows: [1h]", "windows: [12h]"), "rule 12h>=14.4: unknown windows"),
        (("version: 1", "version: 2"), "field version"),
        (("budget_window: 30d", "budget_window: a month"), "is not a span"),
        (("alert: page", "alert: pager"), "field rules.0.alert"),
        (("short: 5m", "short: 2m"), r"pair 1h&2m>=14.4: unknown windows \['2m'\]"),
        (("short: 5m", "short: 6h"), "the short window must be shorter than the long one"),
        (("threshold: 14.4}\n  resolve", "threshold: 0}\n  resolve"), "threshold must be > 0"),
        (("resolve_after: 10m", "resolve_after: soon"), "field fast_burn.resolve_after"),
        (("  resolve_after: 10m\n", ""), "field fast_burn.resolve_after: Field required"),
    ],
)
def test_a_bad_policy_names_the_file_and_field(tmp_path, edit, message):
    path = tmp_path / "burn_windows.yaml"
    path.write_text(GOOD.replace(*edit))
    with pytest.raises(ValueError, match=message) as raised:
        budgets.load_policy(path)
    assert str(path) in str(raised.value)


def test_a_good_policy_loads(tmp_path):
    path = tmp_path / "burn_windows.yaml"
    path.write_text(GOOD)
    assert budgets.load_policy(path).rules[0].label == "1h>=14.4"
