"""The read side folds only verified events: a store edited behind the ledger's back (on SQLite
and, with ``CAPLEDGER_TEST_POSTGRES=1``, PostgreSQL, through the storage adapter's SQL) stops
the embedded runner at the edited event, which the read model records; a rebuild of the
restored store clears it."""

from __future__ import annotations

import pytest
from builders import BILLION, approve_annual_plan, funded_project, pay

from capledger.application.chain import GENESIS, unseal
from capledger.application.ledger import Ledger
from capledger.domain.ids import project_id
from capledger.projections import EmbeddedRunner, ReadModelStore, rebuild
from capledger.projections.verification import UnverifiedEvent

from ..conftest import RawRow, RawStore

pytestmark = pytest.mark.integration

PAID = 7 * BILLION


@pytest.fixture
def paid(ledger: Ledger) -> Ledger:
    """A project with two payments (the first of them is edited by the tests)."""
    approve_annual_plan(ledger)
    funded_project(ledger, code="DA-001", amount=100 * BILLION)
    pay(ledger, project_code="DA-001", amount=PAID)
    pay(ledger, project_code="DA-001", amount=PAID + 1)
    return ledger


def first_payment(raw_store: RawStore) -> RawRow:
    return next(
        row
        for row in raw_store.rows()
        if row.originator_id == project_id("DA-001") and row.topic.endswith("CompletedWorkPaid")
    )


def edit_amount(raw_store: RawStore, row: RawRow, amount: int) -> None:
    """Change the amount in the stored state's bytes, as someone with the database could."""
    old = f'"amount":{PAID},'.encode()
    assert row.state.count(old) == 1
    edited = row.state.replace(old, f'"amount":{amount},'.encode())
    raw_store.update_state(row.originator_id, row.originator_version, edited)


def test_an_amount_edited_in_the_store_stops_the_runner_at_that_event(
    paid: Ledger, read_model: ReadModelStore, raw_store: RawStore
) -> None:
    row = first_payment(raw_store)
    edit_amount(raw_store, row, 1_000_000 * BILLION)
    runner = EmbeddedRunner(read_model, paid.recorder, batch_size=1)

    with pytest.raises(UnverifiedEvent) as caught:
        runner.catch_up()

    breach = caught.value.breach
    assert (breach.stream, breach.version, breach.position) == (
        str(row.originator_id), row.originator_version, row.position,
    )  # fmt: skip
    assert breach.subject == "project:DA-001"
    assert breach.reason == "content does not match its hash"
    assert breach.expected == unseal(row.state).hash != breach.found
    assert read_model.position() == row.position - 1  # nothing of the event's batch folded
    assert read_model.breach() == breach
    assert "the ledger fails verification" in str(caught.value)


def test_a_runner_folds_nothing_more_once_it_met_a_breach(
    paid: Ledger, read_model: ReadModelStore, raw_store: RawStore
) -> None:
    row = first_payment(raw_store)
    edit_amount(raw_store, row, PAID + 5)
    runner = EmbeddedRunner(read_model, paid.recorder)
    with pytest.raises(UnverifiedEvent):
        runner.step()

    raw_store.update_state(row.originator_id, row.originator_version, row.state)  # restored
    with pytest.raises(UnverifiedEvent):  # even with the store restored: until a rebuild
        runner.step()
    assert read_model.position() == 0


def test_a_deleted_event_breaks_the_link_of_the_next_one(
    paid: Ledger, read_model: ReadModelStore, raw_store: RawStore
) -> None:
    row = first_payment(raw_store)
    raw_store.recorder.delete_stored_event(row.originator_id, row.originator_version)

    with pytest.raises(UnverifiedEvent) as caught:
        EmbeddedRunner(read_model, paid.recorder).catch_up()

    breach = caught.value.breach
    assert breach.version == row.originator_version + 1
    assert breach.reason == "the stream's versions do not follow"
    assert (breach.expected, breach.found) == (
        str(row.originator_version), str(row.originator_version + 1),
    )  # fmt: skip


def test_the_stream_heads_survive_a_restart_and_link_the_next_batches(
    paid: Ledger, read_model: ReadModelStore
) -> None:
    EmbeddedRunner(read_model, paid.recorder).catch_up()
    pay(paid, project_code="DA-001", amount=3 * BILLION)

    EmbeddedRunner(read_model, paid.recorder).catch_up()  # a new runner: heads from the store

    assert read_model.position() == paid.recorder.max_notification_id()
    assert read_model.breach() is None


def test_a_rebuild_of_the_restored_store_clears_the_breach(
    paid: Ledger, read_model: ReadModelStore, raw_store: RawStore
) -> None:
    row = first_payment(raw_store)
    edit_amount(raw_store, row, PAID + 5)
    with pytest.raises(UnverifiedEvent):
        EmbeddedRunner(read_model, paid.recorder).catch_up()
    with pytest.raises(UnverifiedEvent):
        rebuild(read_model, paid.recorder, parallel=False)  # still forged: still refused
    assert read_model.breach() is not None

    raw_store.update_state(row.originator_id, row.originator_version, row.state)  # restored
    report = rebuild(read_model, paid.recorder, parallel=False)

    assert read_model.breach() is None
    assert report.position == paid.recorder.max_notification_id()
    assert unseal(row.state).prev != GENESIS
