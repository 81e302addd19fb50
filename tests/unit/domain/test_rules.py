"""Law rules as data: each has an effective period, and a date picks the rule in force."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from capledger.domain import RuleBook
from capledger.domain.errors import InvalidValue, NoRuleInForce
from capledger.domain.rules import AdvanceRule, EffectivePeriod

pytestmark = pytest.mark.unit


def test_the_default_deadline_is_31_january_of_the_following_year(rules: RuleBook) -> None:
    assert rules.deadline_rule(date(2025, 6, 1)).deadline(2025) == date(2026, 1, 31)
    assert rules.deadline_rule(date(2020, 6, 1)).deadline(2019) == date(2020, 1, 31)


def test_the_default_extension_runs_to_31_december_of_the_following_year(
    rules: RuleBook,
) -> None:
    assert rules.extension_rule(date(2025, 6, 1)).latest(2025) == date(2026, 12, 31)


def test_the_default_automatic_extension_is_in_force_from_2025_only(rules: RuleBook) -> None:
    assert rules.auto_extension_rule(date(2024, 12, 31)) is None
    auto = rules.auto_extension_rule(date(2025, 1, 1))
    assert auto is not None
    assert auto.applies_to(2025, date(2025, 10, 1))
    assert not auto.applies_to(2025, date(2025, 9, 30))


def test_the_default_advance_rule_caps_at_30_and_recovers_at_80_percent(rules: RuleBook) -> None:
    advance = rules.advance_rule(date(2025, 6, 1))
    assert advance.cap(1_000_000) == 300_000
    assert advance.full_recovery_threshold(1_000_000) == 800_000


def test_the_advance_cap_rounds_down_and_the_recovery_threshold_rounds_up() -> None:
    advance = AdvanceRule(EffectivePeriod(date(2020, 1, 1)), 3000, 8000, "")
    assert advance.cap(1_001) == 300  # 300.3
    assert advance.full_recovery_threshold(1_001) == 801  # 800.8


def test_an_effective_period_includes_its_start_and_excludes_its_end() -> None:
    period = EffectivePeriod(date(2021, 1, 1), date(2026, 1, 1))
    assert period.covers(date(2021, 1, 1))
    assert period.covers(date(2025, 12, 31))
    assert not period.covers(date(2020, 12, 31))
    assert not period.covers(date(2026, 1, 1))
    assert EffectivePeriod(date(2021, 1, 1)).covers(date(2999, 1, 1))


def _two_advance_rules() -> RuleBook:
    return RuleBook.from_records(
        [
            {"rule": "advance", "effective_from": "2021-01-01", "effective_to": "2026-01-01",
             "cap_bp": 3000, "full_recovery_bp": 8000, "reference": "Decree 99/2021/ND-CP"},
            {"rule": "advance", "effective_from": "2026-01-01", "effective_to": None,
             "cap_bp": 5000, "full_recovery_bp": 9000, "reference": "a later decree"},
        ]
    )  # fmt: skip


def test_the_rule_in_force_on_a_date_is_the_one_whose_period_covers_it() -> None:
    book = _two_advance_rules()
    assert book.advance_rule(date(2025, 12, 31)).cap_bp == 3000
    assert book.advance_rule(date(2026, 1, 1)).cap_bp == 5000
    assert book.advance_rule(date(2026, 1, 1)).reference == "a later decree"


def test_a_date_before_every_rule_has_no_rule_in_force() -> None:
    book = _two_advance_rules()
    with pytest.raises(NoRuleInForce):
        book.advance_rule(date(2020, 12, 31))
    with pytest.raises(NoRuleInForce):
        book.deadline_rule(date(2025, 1, 1))
    assert book.auto_extension_rule(date(2025, 1, 1)) is None


@pytest.mark.parametrize(
    "record",
    [
        {"rule": "advance", "effective_from": "2021-01-01", "cap_bp": 3000},
        {"rule": "advance", "effective_from": "01/01/2021", "cap_bp": 1, "full_recovery_bp": 1},
        {"effective_from": "2021-01-01", "month": 1, "day": 31},
        {"rule": "disbursement_deadline", "month": 1, "day": 31},
        {"rule": "interest_rate", "effective_from": "2021-01-01"},
    ],
)
def test_a_malformed_or_unknown_rule_record_is_refused(record: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue):
        RuleBook.from_records([record])
