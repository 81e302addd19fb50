"""The rules audit replays every stream through the domain's own commands: a history recorded by
the ledger passes; an event forged and sealed with the published algorithm passes the hash chain
but not the audit, which names it."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from builders import (
    BILLION,
    CENTRAL,
    OTHER_PROJECT,
    PLAN,
    PROJECT,
    YEAR,
    allocate,
    approve_annual_plan,
    cut,
    decision,
    forge_last_event,
    record_corrections,
    record_year,
    register_project,
    transfer,
)

from capledger.application.commands import (
    AdjustTotalInvestment,
    ChangeInvestor,
    ChangeStatus,
    Command,
    ExtendDisbursementPeriod,
    Lapse,
    ReverseEntry,
)
from capledger.application.ledger import Ledger
from capledger.application.rules_audit import RulesAuditReport, audit_rules
from capledger.application.storage import event_log
from capledger.application.verify import notification_pages, verify_store
from capledger.domain.ids import project_id

pytestmark = pytest.mark.integration


def audit(ledger: Ledger) -> RulesAuditReport:
    return audit_rules(notification_pages(ledger.recorder), ledger.mapper, ledger.rules)


def test_a_year_recorded_through_the_ledger_obeys_every_rule(ledger: Ledger) -> None:
    record_year(ledger)
    topics = [n.topic for page in notification_pages(ledger.recorder) for n in page]

    report = audit(ledger)

    assert report.ok, report.breach
    assert report.events == len(topics)
    judged = ("capledger.domain.project:", "capledger.domain.plan:")
    assert report.judged == sum(topic.startswith(judged) for topic in topics)
    assert any(topic.startswith("capledger.domain.apikey:") for topic in topics)  # read only


def test_a_forged_cut_sealed_anew_passes_the_chain_and_fails_the_rules(ledger: Ledger) -> None:
    record_year(ledger)  # DA-002: 100 billion allocated, 40 transferred out, 20 cut (its last)
    stream = project_id(OTHER_PROJECT)
    position, version = forge_last_event(ledger.recorder, stream, amount=90 * BILLION)

    assert verify_store(ledger.recorder).ok
    report = audit(ledger)

    assert report.breach is not None
    assert (report.breach.position, report.breach.version) == (position, version)
    assert report.breach.event == "Project.AllocationCut"
    assert report.breach.code == "undisbursed-exceeded"


def test_an_event_the_rules_would_have_written_otherwise_is_named(ledger: Ledger) -> None:
    """What the command computes itself (here the amount that lapses) must match the record."""
    approve_annual_plan(ledger)
    register_project(ledger)
    allocate(ledger, amount=100 * BILLION)
    ledger.execute(
        Lapse(project_code=PROJECT, plan_code=PLAN, source=CENTRAL, as_of=date(YEAR + 1, 2, 1)),
        command_id="lapse",
    )
    forge_last_event(ledger.recorder, project_id(PROJECT), amount=60 * BILLION)

    report = audit(ledger)

    assert report.breach is not None
    assert (report.breach.event, report.breach.code) == ("Project.CapitalLapsed", "event-differs")
    assert f"amount: recorded {60 * BILLION}, by the rules {100 * BILLION}" in report.breach.reason


def test_an_event_of_a_topic_the_ledger_does_not_know_is_named(ledger: Ledger) -> None:
    record_year(ledger)
    stream = project_id(OTHER_PROJECT)
    last = ledger.recorder.select_events(stream, desc=True, limit=1)[0]
    event_log(ledger.recorder).overwrite_stored_event(
        stream, last.originator_version, topic="capledger.domain.project:Project.MoneyPrinted"
    )

    report = audit(ledger)

    assert report.breach is not None
    assert (report.breach.code, report.breach.version) == ("unknown-topic", last.originator_version)


def record_corrections_of_every_kind(ledger: Ledger) -> None:
    """On a year (with DA-002's cut corrected): two more projects whose every kind of movement
    is recorded and then corrected."""
    record_year(ledger)
    record_corrections(ledger)
    first, second = "DA-101", "DA-102"
    for code in (first, second):
        register_project(ledger, code=code)
        allocate(ledger, project_code=code, amount=100 * BILLION)

    def run(command: Command) -> int:
        outcome = ledger.execute(command, command_id=f"{type(command).__name__}-{uuid4()}")
        return outcome.streams[f"project:{first}"]

    def corrected(version: int, on: date, *, decided: bool = True, code: str = first) -> None:
        taken = decision("901/QĐ-UBND", on) if decided else {}
        ledger.execute(
            ReverseEntry(project_code=code, entry_version=version, reason="ghi sai",
                         effective_on=on, **taken),
            command_id=f"correct-{code}-{version}",
        )  # fmt: skip

    moved = transfer(ledger, from_project=first, to_project=second, amount=20 * BILLION)
    corrected(moved.streams[f"project:{second}"], date(YEAR, 7, 5), code=second)
    more = allocate(ledger, project_code=first, amount=30 * BILLION, on=date(YEAR, 7, 10))
    corrected(more.streams[f"project:{first}"], date(YEAR, 7, 12))
    wrong_cut = cut(ledger, project_code=second, amount=10 * BILLION, on=date(YEAR, 7, 20))
    corrected(wrong_cut.streams[f"project:{second}"], date(YEAR, 7, 25), code=second)
    on = date(YEAR, 8, 1)
    total = run(AdjustTotalInvestment(project_code=first, total_investment=1_500 * BILLION,
                                      effective_on=on, **decision("7/QĐ", on)))  # fmt: skip
    corrected(total, date(YEAR, 8, 2))
    investor = run(ChangeInvestor(
        project_code=first, investor_code="BQLDA-X", investor_name="Ban X", reason="nhầm",
        effective_on=on,
    ))  # fmt: skip
    corrected(investor, date(YEAR, 8, 3), decided=False)
    status = run(ChangeStatus(project_code=first, status="slow", reason="chậm", effective_on=on))
    corrected(status, date(YEAR, 8, 4), decided=False)
    extended = run(ExtendDisbursementPeriod(
        project_code=first, plan_code=PLAN, source=CENTRAL, amount=40 * BILLION,
        until=date(YEAR + 1, 6, 30), effective_on=date(YEAR, 12, 20),
        **decision("15/QĐ-TTg", date(YEAR, 12, 20)),
    ))  # fmt: skip
    corrected(extended, date(YEAR, 12, 22))
    lapsed = run(Lapse(project_code=first, plan_code=PLAN, source=CENTRAL,
                       as_of=date(YEAR + 1, 2, 1)))  # fmt: skip
    corrected(lapsed, date(YEAR + 1, 2, 10))


def test_a_history_with_a_correction_of_every_kind_obeys_every_rule(ledger: Ledger) -> None:
    record_corrections_of_every_kind(ledger)
    corrections = [
        n for page in notification_pages(ledger.recorder) for n in page
        if n.topic.endswith("Project.EntryCorrected")
    ]  # fmt: skip

    report = audit(ledger)

    assert report.ok, report.breach
    assert len(corrections) == 10  # DA-002's cut; DA-101/DA-102: transfer (2), and 7 more


def test_a_forged_correction_fails_the_rules(ledger: Ledger) -> None:
    record_corrections_of_every_kind(ledger)  # DA-101's last: its lapse corrected
    position, version = forge_last_event(
        ledger.recorder, project_id("DA-101"), amount=500 * BILLION
    )

    report = audit(ledger)

    assert report.breach is not None
    assert (report.breach.position, report.breach.version) == (position, version)
    assert report.breach.event == "Project.EntryCorrected"
    assert report.breach.code == "event-differs"
