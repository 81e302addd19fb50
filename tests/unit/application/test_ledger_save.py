"""How a command is recorded: the events of the aggregates it changed, through the event store.

A command hands its events and its receipt to the event store's ``put``. ``Application.save``
would do nothing more with the aggregates than take their pending events, as long as the
repository fast-forwards its cache (it then puts no saved aggregate in it) and the application
takes no snapshots: the ledger is held to both here.
"""

from __future__ import annotations

import pytest
from builders import BILLION, PLAN, PROJECT, funded_project

from capledger.application.ledger import Ledger
from capledger.bootstrap import load_rules
from capledger.domain.ids import plan_id, project_id

pytestmark = pytest.mark.unit


@pytest.fixture
def ledger() -> Ledger:
    return Ledger(rules=load_rules())


def test_the_ledger_keeps_no_saved_aggregate_in_its_cache_and_takes_no_snapshots(
    ledger: Ledger,
) -> None:
    # Were either to change, commands would have to be recorded by ``save``.
    assert ledger.repository.fastforward
    assert ledger.snapshots is None
    assert not ledger.snapshotting_intervals


def test_a_command_records_every_event_of_each_aggregate_it_changed_and_leaves_none_pending(
    ledger: Ledger,
) -> None:
    # The allocation changes two aggregates: the project and the plan.
    outcome = funded_project(ledger, amount=10 * BILLION)

    project, plan = ledger.project(PROJECT), ledger.plan(PLAN)
    assert outcome.streams == {f"project:{PROJECT}": project.version, f"plan:{PLAN}": plan.version}
    for aggregate_id, version in ((project_id(PROJECT), project.version),
                                  (plan_id(PLAN), plan.version)):  # fmt: skip
        stored = ledger.stored_stream(aggregate_id)
        assert [each.originator_version for each in stored] == list(range(1, version + 1))
        cached = ledger.cached(aggregate_id)
        assert cached is not None and cached.pending_events == []
