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
"""


def test_the_shipped_policy_is_the_workbook_windows():
    assert [(w.label, w.span) for w in budgets.BURN_WINDOWS] == [
        ("1h", timedelta(hours=1)), ("6h", timedelta(hours=6)), ("3d", timedelta(days=3)),
    ]
    assert [(r.alert, r.label) for r in budgets.BURN_RULES] == [
        ("page", "1h>=14.4"), ("page", "6h&1h>=6"), ("ticket", "3d&6h>=1"),
    ]
    assert budgets.BUDGET_WINDOW == timedelta(days=30)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("windows: [1h, 6h, 3d]", "windows: [1h, 2h]"), "have no slo_status columns"),
        (("windows: [1h]", "windows: [12h]"), "rule 12h>=14.4: unknown windows"),
        (("version: 1", "version: 2"), "field version"),
        (("budget_window: 30d", "budget_window: a month"), "is not a span"),
        (("alert: page", "alert: pager"), "field rules.0.alert"),
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
