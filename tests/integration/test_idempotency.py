"""Idempotent commands: a command id names one command, recorded at most once, on any store.

Repeating a command (same id, same content) returns its first outcome and records nothing;
reusing an id for other content is refused. Ids are scoped per principal: the same id from
two principals is two commands, each replayed or refused for its own principal. Two ledgers on
one store (two processes) that both issue a command id record it once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from builders import (
    BILLION,
    PROJECT,
    allocate,
    command_id,
    funded_project,
    pay,
    position,
    register_project,
)

from capledger.application import ledger as ledger_module
from capledger.application.commands import PayCompletedWork
from capledger.application.errors import IdempotencyConflict
from capledger.application.ledger import CommandOutcome, Ledger
from capledger.application.positions import position_of
from capledger.application.receipts import legacy_fingerprint, own_receipt_id, receipt_id
from capledger.domain import DomainError

pytestmark = pytest.mark.integration

PAYMENT_TOPIC = "capledger.domain.project:Project.CompletedWorkPaid"
RECEIPT_TOPIC = "capledger.application.receipts:CommandReceipt.Accepted"


def topics(ledger: Ledger) -> list[str]:
    return [n.topic for n in ledger.recorder.select_notifications(start=1, limit=10_000)]


def payments(ledger: Ledger) -> int:
    return topics(ledger).count(PAYMENT_TOPIC)


@pytest.fixture
def funded(ledger: Ledger) -> Ledger:
    """DA-001 with 100 billion VND of the 2025 plan's central budget."""
    funded_project(ledger, amount=100 * BILLION)
    return ledger


COMMANDS: dict[str, Callable[[Ledger, str], CommandOutcome]] = {
    "register_project": lambda lg, cid: register_project(lg, code="DA-777", cid=cid),
    "allocate": lambda lg, cid: allocate(lg, amount=5 * BILLION, cid=cid),
    "pay_completed_work": lambda lg, cid: pay(lg, amount=10 * BILLION, cid=cid),
}


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_repeating_a_command_returns_its_first_outcome_and_records_nothing(
    verb: str, funded: Ledger
) -> None:
    cid = command_id(verb)
    first = COMMANDS[verb](funded, cid)
    after_first = position(funded)

    again = COMMANDS[verb](funded, cid)

    assert not first.replayed
    assert again == replace(first, replayed=True)
    assert position(funded) == after_first


def test_repeating_a_command_after_a_restart_returns_its_first_outcome(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    cid = command_id()
    first = pay(funded, amount=10 * BILLION, cid=cid)
    after_first = position(funded)

    again = pay(open_ledger(), amount=10 * BILLION, cid=cid)

    assert again == replace(first, replayed=True)
    assert position(funded) == after_first
    assert payments(funded) == 1


def test_reusing_a_command_id_with_different_content_is_refused_and_records_nothing(
    funded: Ledger,
) -> None:
    cid = command_id()
    pay(funded, amount=10 * BILLION, cid=cid)
    after_first = position(funded)

    with pytest.raises(IdempotencyConflict):
        pay(funded, amount=11 * BILLION, cid=cid)
    with pytest.raises(IdempotencyConflict):
        pay(funded, amount=10 * BILLION, on=date(2025, 6, 2), cid=cid)

    assert position(funded) == after_first
    assert funded.project(PROJECT).disbursed == 10 * BILLION


def test_a_receipt_recorded_with_the_legacy_fingerprint_still_replays_and_still_guards(
    funded: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Receipts recorded before 2026-11-22 digest the command's spaced JSON.
    cid = command_id()
    with monkeypatch.context() as patch:
        patch.setattr(ledger_module, "fingerprint", legacy_fingerprint)
        first = pay(funded, amount=10 * BILLION, cid=cid)
    after_first = position(funded)

    again = pay(open_ledger(), amount=10 * BILLION, cid=cid)
    with pytest.raises(IdempotencyConflict):
        pay(open_ledger(), amount=11 * BILLION, cid=cid)

    assert again == replace(first, replayed=True)
    assert position(funded) == after_first
    assert payments(funded) == 1


def test_reusing_a_command_id_for_another_command_is_refused_and_records_nothing(
    funded: Ledger,
) -> None:
    cid = command_id()
    pay(funded, amount=10 * BILLION, cid=cid)
    after_first = position(funded)

    with pytest.raises(IdempotencyConflict, match="PayCompletedWork"):
        allocate(funded, amount=10 * BILLION, cid=cid)

    assert position(funded) == after_first
    assert funded.plan("HN-KHV-2025").allocated["central_budget"] == 100 * BILLION


def test_reusing_a_command_id_with_content_the_rules_now_refuse_is_still_a_conflict(
    funded: Ledger,
) -> None:
    cid = command_id()
    pay(funded, amount=100 * BILLION, cid=cid)

    # The payment would now over-disburse, but the id already names another payment.
    with pytest.raises(IdempotencyConflict):
        pay(funded, amount=50 * BILLION, cid=cid)


def test_repeating_a_payment_that_used_up_the_allocation_returns_its_first_outcome(
    funded: Ledger,
) -> None:
    cid = command_id()
    first = pay(funded, amount=100 * BILLION, cid=cid)
    after_first = position(funded)

    # Executed again the payment would over-disburse; repeated, it is the same payment.
    again = pay(funded, amount=100 * BILLION, cid=cid)

    assert again == replace(first, replayed=True)
    assert position(funded) == after_first
    assert funded.project(PROJECT).disbursed == 100 * BILLION


def test_repeating_a_registration_returns_its_first_outcome_not_a_duplicate_error(
    ledger: Ledger,
) -> None:
    cid = command_id()
    first = register_project(ledger, cid=cid)

    again = register_project(ledger, cid=cid)

    assert again == replace(first, replayed=True)


def test_a_blank_command_id_is_refused_and_records_nothing(funded: Ledger) -> None:
    before = position(funded)

    for blank in ("", "   "):
        with pytest.raises(IdempotencyConflict, match="non-empty command id"):
            pay(funded, amount=BILLION, cid=blank)

    assert position(funded) == before


@pytest.mark.parametrize("replayed", [False, True], ids=["recorded", "replayed"])
def test_an_outcome_position_is_the_notification_id_of_the_command_receipt(
    replayed: bool, funded: Ledger
) -> None:
    cid = command_id()
    outcome = pay(funded, amount=10 * BILLION, cid=cid)
    if replayed:
        outcome = pay(funded, amount=10 * BILLION, cid=cid)
    receipt_position = position_of(funded.recorder, receipt_id(cid), 1)

    assert outcome.replayed is replayed
    assert outcome.position == receipt_position
    # The receipt is saved last, so the position covers every event of the command.
    assert outcome.position == position(funded)
    assert topics(funded)[-2:] == [PAYMENT_TOPIC, RECEIPT_TOPIC]


def test_two_ledgers_issuing_one_command_id_one_after_the_other_record_it_once(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    other = open_ledger()
    other.project(PROJECT)  # the second process has the project cached already
    cid = command_id()

    first = pay(funded, amount=60 * BILLION, cid=cid)
    second = pay(other, amount=60 * BILLION, cid=cid)

    assert second == replace(first, replayed=True)
    assert payments(funded) == 1
    assert other.project(PROJECT).disbursed == 60 * BILLION


def test_a_ledger_whose_save_loses_the_race_for_a_command_id_returns_the_winners_outcome(
    funded: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    loser = open_ledger()
    cid = command_id()
    winner_outcomes: list[CommandOutcome] = []
    put = loser.events.put

    def put_after_the_winner(*events: Any, **kwargs: Any) -> Any:
        # The loser has checked its command; the winner records the same one meanwhile.
        if not winner_outcomes:
            winner_outcomes.append(pay(funded, amount=60 * BILLION, cid=cid))
        return put(*events, **kwargs)

    monkeypatch.setattr(loser.events, "put", put_after_the_winner)

    outcome = pay(loser, amount=60 * BILLION, cid=cid)

    assert outcome == replace(winner_outcomes[0], replayed=True)
    assert payments(funded) == 1
    assert loser.project(PROJECT).disbursed == 60 * BILLION


def test_two_ledgers_issuing_one_command_id_at_once_record_it_once(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    ledgers = [funded, open_ledger()]
    for each in ledgers:
        each.project(PROJECT)
    cid = command_id()
    barrier = threading.Barrier(len(ledgers))

    def issue(each: Ledger) -> CommandOutcome:
        barrier.wait(timeout=30)
        return pay(each, amount=60 * BILLION, cid=cid)

    with ThreadPoolExecutor(max_workers=len(ledgers)) as pool:
        outcomes = list(pool.map(issue, ledgers))

    assert sorted(outcome.replayed for outcome in outcomes) == [False, True]
    assert outcomes[0].position == outcomes[1].position
    assert outcomes[0].streams == outcomes[1].streams
    assert payments(funded) == 1
    assert open_ledger().project(PROJECT).disbursed == 60 * BILLION


# -- command ids are scoped per principal ----------------------------------------------------


def pay_as(ledger: Ledger, principal: str, cid: str, *, amount: int) -> CommandOutcome:
    """Pay for completed work on DA-001 as ``principal`` under ``cid``."""
    command = PayCompletedWork(
        project_code=PROJECT, plan_code="HN-KHV-2025", source="central_budget", amount=amount,
        treasury_ref="KBNN-TT-0001", effective_on=date(2025, 6, 1),
    )  # fmt: skip
    return ledger.execute(command, command_id=cid, principal=principal)


def test_the_same_command_id_from_two_principals_is_two_commands(funded: Ledger) -> None:
    cid = command_id("shared")

    first = pay_as(funded, "finance_officer:lan", cid, amount=10 * BILLION)
    other = pay_as(funded, "finance_officer:minh", cid, amount=20 * BILLION)

    assert not first.replayed and not other.replayed
    assert payments(funded) == 2
    assert funded.project(PROJECT).disbursed == 30 * BILLION
    # The second is in the principal's own slot, the first in the id's shared one.
    assert position_of(funded.recorder, receipt_id(cid), 1) == first.position
    own = own_receipt_id("finance_officer:minh", cid)
    assert position_of(funded.recorder, own, 1) == other.position


def test_each_principal_replays_its_own_command_and_is_refused_another(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    cid = command_id("shared")
    first = pay_as(funded, "finance_officer:lan", cid, amount=10 * BILLION)
    other = pay_as(funded, "finance_officer:minh", cid, amount=20 * BILLION)
    recorded = position(funded)
    restarted = open_ledger()

    assert pay_as(restarted, "finance_officer:lan", cid, amount=10 * BILLION) == replace(
        first, replayed=True
    )
    assert pay_as(restarted, "finance_officer:minh", cid, amount=20 * BILLION) == replace(
        other, replayed=True
    )
    for principal, amount in (("finance_officer:lan", 20), ("finance_officer:minh", 10)):
        with pytest.raises(IdempotencyConflict):
            pay_as(restarted, principal, cid, amount=amount * BILLION)
    assert position(funded) == recorded
    assert payments(funded) == 2


def test_a_command_refused_by_the_rules_under_another_principals_id_is_refused_by_the_rules(
    funded: Ledger,
) -> None:
    cid = command_id("shared")
    pay_as(funded, "finance_officer:lan", cid, amount=10 * BILLION)
    recorded = position(funded)

    # Over-disbursement, not a conflict: the id is not this principal's yet.
    with pytest.raises(DomainError) as refused:
        pay_as(funded, "finance_officer:minh", cid, amount=500 * BILLION)

    assert not isinstance(refused.value, IdempotencyConflict)
    assert position(funded) == recorded


def test_two_principals_issuing_one_command_id_at_once_record_two_commands(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    ledgers = [funded, open_ledger()]
    for each in ledgers:
        each.project(PROJECT)
    cid = command_id("shared")
    barrier = threading.Barrier(len(ledgers))

    def issue(each: Ledger, principal: str) -> CommandOutcome:
        barrier.wait(timeout=30)
        return pay_as(each, principal, cid, amount=10 * BILLION)

    with ThreadPoolExecutor(max_workers=len(ledgers)) as pool:
        outcomes = list(pool.map(issue, ledgers, ["operator:an", "operator:binh"]))

    assert [outcome.replayed for outcome in outcomes] == [False, False]
    assert payments(funded) == 2
