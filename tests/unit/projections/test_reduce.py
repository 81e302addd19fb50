"""What ``reduce`` folds, ignores and refuses."""

from __future__ import annotations

import pytest

from capledger.projections import MemoryReadModel, ProjectionError, UnknownEvent, reduce
from capledger.projections.rows import MovementRow, ProjectRow

from .published import Log

pytestmark = pytest.mark.unit


def test_command_receipts_are_bookkeeping_and_fold_to_nothing() -> None:
    receipt = Log().event("command:c-1", "CommandReceipt.Accepted", {"command": "allocate"})

    assert reduce(receipt, MemoryReadModel()) == []


def test_an_event_of_a_folded_aggregate_without_a_reducer_stops_the_fold() -> None:
    unknown = Log().project("P-1", "Teleported", effective_on="2021-01-01")

    with pytest.raises(UnknownEvent, match=r"no reducer for Project\.Teleported"):
        reduce(unknown, MemoryReadModel())


def test_a_class_version_newer_than_the_reducers_know_stops_the_fold() -> None:
    newer = Log().event("project:P-1", "Project.CapitalLapsed", {}, class_version=2)

    with pytest.raises(UnknownEvent, match="version 2 is newer"):
        reduce(newer, MemoryReadModel())


def test_movements_keep_the_investor_of_their_time_and_the_project_the_current_one() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [
            log.registered("P-1", investor="SYT"),
            log.allocated("P-1", 100),
            log.project(
                "P-1",
                "InvestorChanged",
                investor_code="BQL-YT",
                investor_name="Ban QLDA y tế",
                reason="hợp nhất",
                effective_on="2021-08-01",
            ),
            log.paid("P-1", 10, effective_on="2021-09-01"),
        ]
    )

    project = model.get(ProjectRow, ("P-1",))
    assert project is not None and project.investor_code == "BQL-YT"
    assert [row.investor_code for row in model.rows(MovementRow)] == ["SYT", "BQL-YT"]


def test_status_and_settlement_update_the_project_record() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [
            log.registered("P-1"),
            log.project(
                "P-1",
                "StatusChanged",
                status="slow",
                review_class="allow-completion",
                reason="chậm",
                decision=None,
                effective_on="2021-05-01",
            ),
            log.project(
                "P-1",
                "StatusChanged",
                status="completed",
                review_class=None,
                reason="xong",
                decision=None,
                effective_on="2021-11-01",
            ),
            log.project(
                "P-1",
                "Settled",
                settled_value=900,
                decision={"number": "9", "issued_on": "2022-01-01", "issuer": "STC"},
                effective_on="2022-01-01",
            ),
        ]
    )

    project = model.get(ProjectRow, ("P-1",))
    assert project is not None
    assert (project.status, project.review_class, project.settled_value) == ("settled", None, 900)


def test_an_event_without_its_streams_subject_is_refused() -> None:
    log = Log()
    event = log.event("command:x", "Project.Registered", {})

    with pytest.raises(ProjectionError, match="expected project:<code>"):
        reduce(event, MemoryReadModel())
