"""The rules audit replays every stream through the domain's own commands: a history recorded by
the ledger passes; an event forged and sealed with the published algorithm passes the hash chain
but not the audit, which names it."""

from __future__ import annotations

from datetime import date

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
    forge_last_event,
    record_year,
    register_project,
)

from capledger.application.commands import Lapse
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
