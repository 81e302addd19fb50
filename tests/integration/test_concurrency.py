"""Two ledgers on one store (two processes): no event is lost, overwritten or recorded twice.

Each ledger caches aggregates. A save built on a stale stream version collides in the store and
the ledger retries the command on fresh state; a refusal judged on a stale cache is judged once
more on the store's state. A command saves all its streams in one atomic ``save()``: a transfer
records both sides or none. Races are forced deterministically by letting the other ledger
record between a ledger's decision and its save.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from builders import (
    BILLION,
    CENTRAL,
    OTHER_PROJECT,
    PLAN,
    PROJECT,
    allocate,
    command_id,
    funded_project,
    pay,
    position,
    transfer,
)

from capledger.application.commands import ChangeStatus, ReverseEntry
from capledger.application.errors import ConcurrencyConflict
from capledger.application.ledger import MAX_ATTEMPTS, CommandOutcome, Ledger
from capledger.application.positions import position_of
from capledger.application.receipts import receipt_id
from capledger.application.verify import verify_store
from capledger.domain.errors import OverDisbursement, ProjectClosed
from capledger.domain.ids import project_id

pytestmark = pytest.mark.integration

LINE = f"{PLAN}|{CENTRAL}"


def topics_of(ledger: Ledger, code: str) -> list[str]:
    stream = ledger.stored_stream(project_id(code))
    return [stored.topic.rpartition(".")[2] for stored in stream]


def interfere_before_save(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], object], times: int
) -> list[object]:
    """Run ``meanwhile`` (the other process) just before each of the ledger's first ``times``
    saves (a command records through its event store's ``put``), after the ledger has checked
    its command on the state it loaded."""
    done: list[object] = []
    put = ledger.events.put

    def racing_put(*events: Any, **kwargs: Any) -> Any:
        if len(done) < times:
            done.append(meanwhile())
        return put(*events, **kwargs)

    monkeypatch.setattr(ledger.events, "put", racing_put)
    return done


@pytest.fixture
def funded(ledger: Ledger) -> Ledger:
    """DA-001 with 100 billion VND of the 2025 plan's central budget."""
    funded_project(ledger, amount=100 * BILLION)
    return ledger


def test_a_ledger_with_a_cached_project_pays_on_top_of_another_ledgers_payment(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    a, b = funded, open_ledger()
    a.project(PROJECT)  # A has P cached at version 2

    pay(b, amount=30 * BILLION)
    outcome = pay(a, amount=50 * BILLION, on=date(2025, 6, 2))

    assert outcome.streams == {f"project:{PROJECT}": 4}
    assert topics_of(a, PROJECT)[-2:] == ["CompletedWorkPaid", "CompletedWorkPaid"]
    for view in (a, b, open_ledger()):
        assert view.project(PROJECT).lines[LINE].disbursed == 80 * BILLION
    assert verify_store(a.recorder).ok


def test_a_ledger_with_a_stale_cached_project_accepts_a_payment_another_ledger_made_possible(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    a, b = funded, open_ledger()
    paid = pay(a, amount=100 * BILLION)  # A caches P with the whole allocation paid out
    b.execute(ReverseEntry(
        project_code=PROJECT, entry_version=paid.streams[f"project:{PROJECT}"], reason="chi nhầm",
        effective_on=date(2025, 6, 2),
    ), command_id=command_id())  # fmt: skip

    # Refused on A's cached state, allowed on the store's: a refusal must not be stale either.
    outcome = pay(a, amount=50 * BILLION, on=date(2025, 6, 2))

    assert outcome.streams == {f"project:{PROJECT}": 5}
    assert open_ledger().project(PROJECT).lines[LINE].disbursed == 50 * BILLION


def test_a_ledger_with_a_stale_cached_project_sees_capital_another_ledger_allocated(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    a, b = funded, open_ledger()
    pay(a, amount=100 * BILLION)
    allocate(b, amount=40 * BILLION)

    pay(a, amount=40 * BILLION)

    assert open_ledger().project(PROJECT).lines[LINE].disbursed == 140 * BILLION


def test_a_save_that_loses_the_race_is_retried_on_the_winners_state_and_loses_nothing(
    funded: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = funded, open_ledger()
    winner = interfere_before_save(a, monkeypatch, lambda: pay(b, amount=30 * BILLION), times=1)

    outcome = pay(a, amount=50 * BILLION, on=date(2025, 6, 2))

    assert isinstance(winner[0], CommandOutcome)
    assert winner[0].streams == {f"project:{PROJECT}": 3}
    assert outcome.streams == {f"project:{PROJECT}": 4}
    assert topics_of(a, PROJECT) == [
        "Registered",
        "CapitalAllocated",
        "CompletedWorkPaid",
        "CompletedWorkPaid",
    ]
    amounts = [
        vars(a.mapper.to_domain_event(stored)).get("amount")
        for stored in a.stored_stream(project_id(PROJECT))[2:]
    ]
    assert amounts == [30 * BILLION, 50 * BILLION]
    assert open_ledger().project(PROJECT).lines[LINE].disbursed == 80 * BILLION
    assert a.project(PROJECT).lines[LINE].disbursed == 80 * BILLION
    assert verify_store(a.recorder).ok


def test_a_retried_payment_is_refused_when_the_winner_used_up_the_allocation(
    funded: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = funded, open_ledger()
    interfere_before_save(a, monkeypatch, lambda: pay(b, amount=30 * BILLION), times=1)
    cid = command_id()

    # Checked on A's stale state the payment fits; on the fresh state it over-disburses.
    with pytest.raises(OverDisbursement):
        pay(a, amount=80 * BILLION, cid=cid)

    assert position_of(a.recorder, receipt_id(cid), 1) is None
    assert topics_of(a, PROJECT).count("CompletedWorkPaid") == 1
    assert open_ledger().project(PROJECT).lines[LINE].disbursed == 30 * BILLION
    assert a.project(PROJECT).lines[LINE].disbursed == 30 * BILLION


def test_a_command_that_loses_every_attempt_raises_a_conflict_and_records_nothing(
    funded: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = funded, open_ledger()
    interfere_before_save(a, monkeypatch, lambda: pay(b, amount=BILLION), times=MAX_ATTEMPTS)
    cid = command_id()

    with pytest.raises(ConcurrencyConflict):
        pay(a, amount=10 * BILLION, cid=cid)

    assert position_of(a.recorder, receipt_id(cid), 1) is None
    assert a.project(PROJECT).lines[LINE].disbursed == MAX_ATTEMPTS * BILLION
    # The client retries with the same command id once the contention is over.
    outcome = pay(a, amount=10 * BILLION, cid=cid)
    assert not outcome.replayed
    assert open_ledger().project(PROJECT).lines[LINE].disbursed == (MAX_ATTEMPTS + 10) * BILLION


# -- a transfer is atomic ------------------------------------------------------------------


@pytest.fixture
def two_projects(funded: Ledger) -> Ledger:
    """DA-001 with 100 billion VND and DA-002 with 50 billion of the 2025 plan."""
    funded_project(funded, code=OTHER_PROJECT, amount=50 * BILLION)
    return funded


def test_a_transfer_refused_by_the_recipient_records_neither_side(
    two_projects: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    ledger = two_projects
    ledger.execute(ChangeStatus(
        project_code=OTHER_PROJECT, status="terminated", reason="chấm dứt dự án",
        effective_on=date(2025, 6, 1),
    ), command_id=command_id())  # fmt: skip
    before = position(ledger)

    with pytest.raises(ProjectClosed):
        transfer(ledger, from_project=PROJECT, to_project=OTHER_PROJECT, amount=10 * BILLION)

    assert position(ledger) == before
    # The donor's side, applied before the recipient refused, is not left in the cache.
    assert ledger.project(PROJECT).lines[LINE].transferred_out == 0
    assert vars(ledger.project(PROJECT)) == vars(open_ledger().project(PROJECT))


def test_a_transfer_whose_recipient_side_conflicts_records_neither_side(
    two_projects: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_projects, open_ledger()
    a.project(PROJECT)
    a.project(OTHER_PROJECT)
    # Before every save of A, B moves the recipient on: the donor's side alone could be
    # inserted, the recipient's side cannot.
    interfere_before_save(
        a,
        monkeypatch,
        lambda: allocate(b, project_code=OTHER_PROJECT, amount=BILLION),
        times=MAX_ATTEMPTS,
    )
    donor_version = a.project(PROJECT).version

    with pytest.raises(ConcurrencyConflict):
        transfer(a, from_project=PROJECT, to_project=OTHER_PROJECT, amount=10 * BILLION)

    fresh = open_ledger()
    assert fresh.project(PROJECT).version == donor_version
    assert "CapitalTransferredOut" not in topics_of(fresh, PROJECT)
    assert "CapitalTransferredIn" not in topics_of(fresh, OTHER_PROJECT)
    assert fresh.project(OTHER_PROJECT).lines[LINE].allocated == (50 + MAX_ATTEMPTS) * BILLION
    assert verify_store(fresh.recorder).ok


def test_a_transfer_retried_after_a_conflict_records_each_side_once(
    two_projects: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_projects, open_ledger()
    a.project(OTHER_PROJECT)
    interfere_before_save(
        a, monkeypatch, lambda: allocate(b, project_code=OTHER_PROJECT, amount=BILLION), times=1
    )

    outcome = transfer(a, from_project=PROJECT, to_project=OTHER_PROJECT, amount=10 * BILLION)

    fresh = open_ledger()
    assert topics_of(fresh, PROJECT).count("CapitalTransferredOut") == 1
    assert topics_of(fresh, OTHER_PROJECT).count("CapitalTransferredIn") == 1
    assert outcome.streams == {
        f"project:{PROJECT}": fresh.project(PROJECT).version,
        f"project:{OTHER_PROJECT}": fresh.project(OTHER_PROJECT).version,
    }
    assert fresh.project(PROJECT).lines[LINE].undisbursed == 90 * BILLION
    assert fresh.project(OTHER_PROJECT).lines[LINE].undisbursed == 61 * BILLION
    assert verify_store(fresh.recorder).ok


# -- many writers at once --------------------------------------------------------------------


def test_concurrent_payments_from_four_ledgers_never_exceed_the_allocation(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    ledgers = [funded, *(open_ledger() for _ in range(3))]
    barrier = threading.Barrier(len(ledgers))

    def pay_until_refused(each: Ledger) -> int:
        """Pay 10 billion at a time; a client retries a conflict with the same command id."""
        barrier.wait(timeout=30)
        paid = 0
        for _ in range(6):
            cid = command_id()
            while True:
                try:
                    pay(each, amount=10 * BILLION, cid=cid)
                except ConcurrencyConflict:
                    continue
                except OverDisbursement:
                    return paid
                paid += 1
                break
        return paid

    with ThreadPoolExecutor(max_workers=len(ledgers)) as pool:
        paid = sum(pool.map(pay_until_refused, ledgers))

    fresh = open_ledger()
    assert paid == 10
    assert topics_of(fresh, PROJECT).count("CompletedWorkPaid") == 10
    assert fresh.project(PROJECT).lines[LINE].disbursed == 100 * BILLION
    assert verify_store(fresh.recorder).ok
