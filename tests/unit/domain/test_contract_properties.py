"""Property: advances, payments and their reversals on a contract keep the advance rules.

Whatever the order and amounts: the advance outstanding lies between zero and what was
advanced, advances stay within the cap, work paid stays within the contract value, and after
every accepted advance or payment the advance is fully recovered once work paid reaches the
full-recovery threshold. A refused command changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from capledger.domain import RuleBook
from capledger.domain.errors import (
    AdvanceCapExceeded,
    AdvanceNotFullyRecovered,
    AdvanceOverRecovered,
    EntryNotReversible,
    InvalidAmount,
    OverDisbursement,
)

from ..builders import CENTRAL, allocate, annual_plan, pay, pay_advance, project, state_of

pytestmark = pytest.mark.unit

VALUE = 1_000_000  # contract value; cap 300,000, full recovery once 800,000 is paid
EXPECTED_REFUSALS = (
    AdvanceCapExceeded,
    AdvanceNotFullyRecovered,
    AdvanceOverRecovered,
    EntryNotReversible,
    InvalidAmount,
    OverDisbursement,
)


@dataclass(frozen=True)
class Step:
    kind: str  # advance | payment | reversal
    amount: int
    recovered: int


steps = st.builds(
    Step,
    kind=st.sampled_from(["advance", "payment", "payment", "reversal"]),
    amount=st.integers(0, 400_000),
    recovered=st.one_of(st.just(0), st.integers(0, 150_000)),
)


@settings(max_examples=200, deadline=None)
@given(history=st.lists(steps, max_size=30))
def test_advances_and_payments_keep_the_advance_rules(history: list[Step], rules: RuleBook) -> None:
    plan = annual_plan(envelopes={CENTRAL: 10 * VALUE})
    target = project("P-C", total_investment=10 * VALUE)
    allocate(plan, target, 5 * VALUE, rules)
    target.sign_contract(
        contract_no="HĐ", contractor="Nhà thầu", value=VALUE, effective_on=date(2025, 1, 3)
    )
    advance_rule = rules.advance_rule(date(2025, 6, 1))

    for step in history:
        before = state_of(target)
        try:
            if step.kind == "advance":
                pay_advance(target, "HĐ", step.amount, rules)
            elif step.kind == "payment":
                pay(target, step.amount, rules, contract_no="HĐ", advance_recovered=step.recovered)
            else:
                versions = sorted(target.entries) or [1]
                target.reverse_entry(
                    entry_version=versions[step.amount % len(versions)],
                    reason="nhập sai",
                    effective_on=date(2025, 7, 1),
                )
        except EXPECTED_REFUSALS as refusal:
            event(f"{step.kind} refused: {type(refusal).__name__}")
            assert state_of(target) == before
            continue
        event(f"{step.kind} accepted")

        contract = target.contract("HĐ")
        assert 0 <= contract.advance_outstanding <= contract.advanced
        assert contract.advanced <= advance_rule.cap(VALUE)
        assert 0 <= contract.completed_paid <= VALUE
        if step.kind != "reversal" and contract.completed_paid >= (
            advance_rule.full_recovery_threshold(VALUE)
        ):
            assert contract.advance_outstanding == 0
        # Cash out = work paid + advance not yet recovered through it.
        disbursed = target.line(plan.code, CENTRAL).disbursed
        assert disbursed == contract.completed_paid + contract.advance_outstanding
