"""Rules that change with the law, held as data with an effective period.

An event is judged by the rules in force on its *effective date*, so a payment made in 2024
is checked against the law of 2024 even when it is recorded later. The rule values come from
data (a JSON document loaded by the composition root); nothing here hard-codes the law.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from .errors import InvalidValue, NoRuleInForce


@dataclass(frozen=True)
class EffectivePeriod:
    """From ``start`` (inclusive) to ``end`` (exclusive); ``end=None`` means still in force."""

    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class DisbursementDeadlineRule:
    """An annual plan's capital may be disbursed until (month, day) of the following year."""

    period: EffectivePeriod
    month: int
    day: int
    reference: str

    def deadline(self, fiscal_year: int) -> date:
        return date(fiscal_year + 1, self.month, self.day)


@dataclass(frozen=True)
class ExtensionLimitRule:
    """An extension may run to (month, day) of the year after the plan year at the latest."""

    period: EffectivePeriod
    month: int
    day: int
    reference: str

    def latest(self, fiscal_year: int) -> date:
        return date(fiscal_year + 1, self.month, self.day)


@dataclass(frozen=True)
class AutoExtensionRule:
    """Capital added after (month, day) of the plan year is extended automatically."""

    period: EffectivePeriod
    added_after_month: int
    added_after_day: int
    reference: str

    def applies_to(self, fiscal_year: int, allocated_on: date) -> bool:
        return allocated_on > date(fiscal_year, self.added_after_month, self.added_after_day)


@dataclass(frozen=True)
class AdvanceRule:
    """Advance cap and the point at which an advance must be fully recovered, in basis points
    of the contract value (10,000 bp = 100%), so that no float ever touches money."""

    period: EffectivePeriod
    cap_bp: int
    full_recovery_bp: int
    reference: str

    def cap(self, contract_value: int) -> int:
        return contract_value * self.cap_bp // 10_000

    def full_recovery_threshold(self, contract_value: int) -> int:
        # Round up: recovery is due once payments reach the threshold, never before it.
        return -(-contract_value * self.full_recovery_bp // 10_000)


R = TypeVar("R")

Rule = DisbursementDeadlineRule | ExtensionLimitRule | AutoExtensionRule | AdvanceRule


@dataclass(frozen=True)
class RuleBook:
    """All rules with their effective periods; ``in_force`` picks the one for a date."""

    rules: tuple[Rule, ...]

    def deadline_rule(self, on: date) -> DisbursementDeadlineRule:
        return self._in_force(DisbursementDeadlineRule, on)

    def extension_rule(self, on: date) -> ExtensionLimitRule:
        return self._in_force(ExtensionLimitRule, on)

    def advance_rule(self, on: date) -> AdvanceRule:
        return self._in_force(AdvanceRule, on)

    def auto_extension_rule(self, on: date) -> AutoExtensionRule | None:
        try:
            return self._in_force(AutoExtensionRule, on)
        except NoRuleInForce:
            return None

    def _in_force(self, kind: type[R], on: date) -> R:
        for rule in self.rules:
            if isinstance(rule, kind) and rule.period.covers(on):
                return rule
        raise NoRuleInForce(f"no {kind.__name__} is in force on {on.isoformat()}")

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> RuleBook:
        return cls(tuple(_rule_from_record(record) for record in records))


def _rule_from_record(record: Mapping[str, Any]) -> Rule:
    try:
        period = EffectivePeriod(
            start=date.fromisoformat(record["effective_from"]),
            end=date.fromisoformat(record["effective_to"]) if record.get("effective_to") else None,
        )
        kind = record["rule"]
        reference = str(record.get("reference", ""))
        if kind == "disbursement_deadline":
            return DisbursementDeadlineRule(period, record["month"], record["day"], reference)
        if kind == "extension_limit":
            return ExtensionLimitRule(period, record["month"], record["day"], reference)
        if kind == "auto_extension":
            return AutoExtensionRule(
                period, record["added_after_month"], record["added_after_day"], reference
            )
        if kind == "advance":
            return AdvanceRule(period, record["cap_bp"], record["full_recovery_bp"], reference)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidValue(f"malformed rule record {dict(record)!r}: {error}") from error
    raise InvalidValue(f"unknown rule kind {kind!r}")
