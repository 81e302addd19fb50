"""The ledger's commands run through their real handlers on the in-memory store.

``Ledger(rules=...)`` with no persistence settings records in eventsourcing's in-memory (POPO)
store: every command goes the one way ``Ledger.execute`` runs them (handler by type, receipt,
fingerprint, one save), so what is tested here is what the API, the CLI and the demo run.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from datetime import date
from typing import get_type_hints

import pytest
from builders import (
    BILLION,
    PROJECT,
    command_id,
    funded_project,
    pay,
    position,
    record_year,
)

from capledger.application import commands, handlers
from capledger.application.commands import ApprovePlan, Command, PayCompletedWork
from capledger.application.errors import IdempotencyConflict, InvalidCommand
from capledger.application.handlers import HANDLERS
from capledger.application.ledger import Ledger
from capledger.application.receipts import (
    VERB_NAMES,
    CommandReceipt,
    fingerprint,
    fingerprinted,
    receipt_id,
)
from capledger.bootstrap import load_rules
from capledger.domain.errors import DomainError

pytestmark = pytest.mark.unit

COMMAND_TYPES = {
    each
    for _name, each in inspect.getmembers(commands, inspect.isclass)
    if issubclass(each, Command) and each not in (Command, commands.Decided, commands.MaybeDecided)
}


@pytest.fixture
def ledger() -> Ledger:
    return Ledger(rules=load_rules())


def test_every_command_has_one_handler_that_takes_that_command() -> None:
    assert set(HANDLERS) == COMMAND_TYPES
    for kind, handler in HANDLERS.items():
        assert get_type_hints(handler, vars(handlers))["cmd"] is kind


#: Commands added after commands became types: they digest their type name.
TYPED_SINCE = {commands.IssueApiKey, commands.ChangeApiKeyScope, commands.RevokeApiKey}


def test_every_command_recorded_before_commands_were_types_keeps_its_verb_name() -> None:
    assert set(VERB_NAMES) == {kind.__name__ for kind in COMMAND_TYPES - TYPED_SINCE}
    assert VERB_NAMES["ExtendDisbursementPeriod"] == "extend"


def test_a_year_of_every_command_records_a_receipt_named_by_each_command_type(
    ledger: Ledger,
) -> None:
    ids: list[str] = []

    def named(prefix: str) -> str:
        ids.append(command_id(prefix))
        return ids[-1]

    record_year(ledger, named)

    recorded = {ledger.repository.get(receipt_id(each)).command for each in ids}
    assert recorded == {kind.__name__ for kind in COMMAND_TYPES}
    assert ledger.project(PROJECT).status == "settled"


def test_a_refused_command_records_nothing_and_changes_nothing(ledger: Ledger) -> None:
    funded_project(ledger, amount=10 * BILLION)
    before = position(ledger)

    with pytest.raises(DomainError):
        pay(ledger, amount=10 * BILLION + 1)

    assert position(ledger) == before
    assert ledger.project(PROJECT).disbursed == 0
    pay(ledger, amount=10 * BILLION)
    assert ledger.project(PROJECT).disbursed == 10 * BILLION


def test_repeating_a_command_returns_its_first_outcome_and_records_nothing(
    ledger: Ledger,
) -> None:
    funded_project(ledger, amount=10 * BILLION)
    first = pay(ledger, amount=BILLION, cid="pay-1")
    after_first = position(ledger)

    again = pay(ledger, amount=BILLION, cid="pay-1")
    with pytest.raises(IdempotencyConflict, match="PayCompletedWork"):
        pay(ledger, amount=2 * BILLION, cid="pay-1")

    # The in-memory store cannot say where a recorded receipt sits in the log (no position).
    assert replace(again, position=first.position) == replace(first, replayed=True)
    assert first.command == "PayCompletedWork"
    assert position(ledger) == after_first


def test_a_value_that_is_not_a_command_of_the_ledger_is_refused(ledger: Ledger) -> None:
    @dataclass(frozen=True)
    class Unknown(Command):
        pass

    with pytest.raises(InvalidCommand, match="Unknown"):
        ledger.execute(Unknown(), command_id="x")
    assert position(ledger) == 0


PAYMENT = PayCompletedWork(
    project_code="DA-001",
    plan_code="HN-KHV-2025",
    source="central_budget",
    amount=10 * BILLION,
    treasury_ref="KBNN-TT-0001",
    effective_on=date(2025, 6, 1),
)
PLAN = ApprovePlan(
    code="HN-KHV-2025",
    title="Kế hoạch",
    kind="annual",
    authority="provincial_council",
    jurisdiction="HN",
    start_year=2025,
    end_year=2025,
    envelopes={"central_budget": 1000, "local_budget": 500},
    decision_no="99/NQ-HĐND",
    decision_date=date(2024, 12, 10),
    decision_issuer="HĐND Hà Nội",
    effective_on=date(2025, 1, 1),
)


@pytest.mark.parametrize(
    ("command", "recorded"),
    [
        # Digests receipts recorded by the Ledger verbs carry for these very commands.
        (PAYMENT, "30162eadf70b000b90fef13b4b65c003b1e4c8ccc7fd897dba8d5fdd62573b72"),
        (PLAN, "abf99136dd6139defb6735cfa9dc5ffadd8fae6b157b0316e02c940c7829dd63"),
    ],
    ids=["PayCompletedWork", "ApprovePlan"],
)
def test_a_command_fingerprints_as_its_verb_did(command: Command, recorded: str) -> None:
    assert fingerprint(*fingerprinted(command)) == recorded


def test_a_receipt_recorded_under_the_verb_name_replays_its_command(ledger: Ledger) -> None:
    funded_project(ledger, amount=10 * BILLION)
    cid = command_id()
    digest = fingerprint(*fingerprinted(replace(PAYMENT, amount=BILLION)))
    receipt = CommandReceipt(
        command_id=cid,
        command="pay_completed_work",
        fingerprint=digest,
        streams={f"project:{PROJECT}": 4},
        principal="system",
    )
    ledger.save(receipt)

    again = ledger.execute(replace(PAYMENT, amount=BILLION), command_id=cid)

    assert again.replayed
    assert again.streams == {f"project:{PROJECT}": 4}
    assert ledger.project(PROJECT).disbursed == 0


def test_a_reversal_sent_before_corrections_took_a_decision_keeps_its_fingerprint() -> None:
    """The decision fields came later: unset, they are not digested, so a reversal recorded
    before them and sent again with its id is recognised as the same command."""
    reversal = commands.ReverseEntry(
        project_code=PROJECT, entry_version=7, reason="nhập sai", effective_on=date(2025, 8, 5)
    )
    decided = replace(
        reversal, decision_no="9/QĐ", decision_date=date(2025, 8, 5), decision_issuer="UBND"
    )

    assert fingerprinted(reversal) == (
        "reverse_entry",
        {"project_code": PROJECT, "entry_version": 7, "reason": "nhập sai",
         "effective_on": date(2025, 8, 5)},
    )  # fmt: skip
    assert fingerprinted(decided)[1]["decision_no"] == "9/QĐ"
