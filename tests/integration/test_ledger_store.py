"""The ledger on a real store: every movement recorded, then read back by a new ledger.

A ledger opened afresh on the same store has an empty cache, so what it reports was rebuilt
from the stored events alone. Refused commands are checked through the ledger too: each error
family has a representative case, and a refused command leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from uuid import uuid4

import pytest
from builders import (
    BILLION,
    CENTRAL,
    CONTRACT,
    LOCAL,
    MEDIUM_TERM_PLAN,
    OTHER_PROJECT,
    PLAN,
    PROJECT,
    Year,
    allocate,
    approve_annual_plan,
    approve_medium_term_plan,
    command_id,
    cut,
    decision,
    funded_project,
    pay,
    pay_advance,
    position,
    record_year,
    register_project,
    sign_contract,
    transfer,
)

from capledger.application import errors as app_errors
from capledger.application.chain import unseal
from capledger.application.commands import (
    AdjustPlan,
    AdjustTotalInvestment,
    ChangeStatus,
    ExtendDisbursementPeriod,
    IssueApiKey,
    Lapse,
    ReverseEntry,
    RevokeApiKey,
)
from capledger.application.ledger import Ledger
from capledger.application.positions import position_of
from capledger.application.receipts import receipt_id
from capledger.bootstrap import build_ledger
from capledger.domain import AllocationLine, Contract, DomainError, PaymentEntry
from capledger.domain import errors as domain_errors
from capledger.domain.ids import api_key_id, plan_id, project_id
from capledger.domain.values import Decision
from capledger.settings import Persistence, Settings

pytestmark = pytest.mark.integration

LINE = f"{PLAN}|{CENTRAL}"


@pytest.fixture
def year(ledger: Ledger) -> Year:
    return record_year(ledger)


def test_a_new_ledger_rebuilds_exactly_the_state_the_recording_ledger_holds(
    year: Year, open_ledger: Callable[[], Ledger]
) -> None:
    fresh = open_ledger()

    for code in (PROJECT, OTHER_PROJECT):
        assert vars(fresh.project(code)) == vars(year.ledger.project(code))
    for code in (PLAN, MEDIUM_TERM_PLAN):
        assert vars(fresh.plan(code)) == vars(year.ledger.plan(code))


def test_plan_keeps_allocated_plus_unallocated_equal_to_the_adjusted_envelope_after_reload(
    year: Year, open_ledger: Callable[[], Ledger]
) -> None:
    plan = open_ledger().plan(PLAN)

    assert plan.envelopes == {CENTRAL: 1_200 * BILLION, LOCAL: 500 * BILLION}
    # 300 + 100 allocated, 20 cut back from DA-002; the transfer stays inside the plan.
    assert plan.allocated == {CENTRAL: 380 * BILLION, LOCAL: 0}
    assert plan.unallocated(CENTRAL) == 820 * BILLION
    assert plan.unallocated(LOCAL) == 500 * BILLION
    assert plan.plan_version == 2
    assert plan.implements == MEDIUM_TERM_PLAN
    assert [d.number for d in plan.decisions] == ["99/NQ-HĐND", "45/NQ-HĐND"]


def test_project_allocation_line_after_reload_accounts_for_every_movement(
    year: Year, open_ledger: Callable[[], Ledger]
) -> None:
    fresh = open_ledger()
    project, other = fresh.project(PROJECT), fresh.project(OTHER_PROJECT)

    assert project.lines[LINE] == AllocationLine(
        plan_code=PLAN,
        plan_kind="annual",
        fiscal_year=2025,
        source=CENTRAL,
        allocated=300 * BILLION,
        transferred_in=40 * BILLION,
        # advance 60 + work 100 less 30 recovered + 20 paid from the extension; 7 reversed
        disbursed=150 * BILLION,
        # 160 (340 - 130 paid - 50 extended) lapsed on 1 Feb 2026; 30 unpaid of the extension
        # lapsed in 2027
        lapsed=190 * BILLION,
        extended=50 * BILLION,
        extended_until=date(2026, 6, 30),
        disbursed_after_deadline=20 * BILLION,
    )
    assert project.lines[LINE].undisbursed == 0
    assert other.lines[LINE].transferred_out == 40 * BILLION
    assert other.lines[LINE].cut == 20 * BILLION
    assert other.lines[LINE].undisbursed == 40 * BILLION


def test_contract_and_payment_entries_after_reload_keep_advance_recovery_and_reversal(
    year: Year, open_ledger: Callable[[], Ledger]
) -> None:
    project = open_ledger().project(PROJECT)

    assert project.contracts == {
        CONTRACT: Contract(
            contract_no=CONTRACT,
            contractor="Tổng công ty Xây dựng Thăng Long",
            value=200 * BILLION,
            advanced=60 * BILLION,
            advance_outstanding=30 * BILLION,
            completed_paid=100 * BILLION,
        )
    }
    assert project.entries == {
        year.advance_version: PaymentEntry(
            "advance",
            LINE,
            CONTRACT,
            60 * BILLION,
            0,
            after_deadline=False,
            effective_on=date(2025, 3, 1),
        ),
        year.payment_version: PaymentEntry(
            "completed_work",
            LINE,
            CONTRACT,
            100 * BILLION,
            30 * BILLION,
            after_deadline=False,
            effective_on=date(2025, 6, 1),
        ),
        year.wrong_payment_version: PaymentEntry(
            "completed_work",
            LINE,
            None,
            7 * BILLION,
            0,
            after_deadline=False,
            reversed=True,
            effective_on=date(2025, 8, 1),
        ),
        year.extended_payment_version: PaymentEntry(
            "completed_work",
            LINE,
            None,
            20 * BILLION,
            0,
            after_deadline=True,
            effective_on=date(2026, 3, 1),
        ),
    }


def test_project_record_after_reload_has_status_settlement_investor_and_total(
    year: Year, open_ledger: Callable[[], Ledger]
) -> None:
    project = open_ledger().project(PROJECT)

    assert project.status == "settled"
    assert project.settled_value == 150 * BILLION
    assert project.total_investment == 1_800 * BILLION
    assert (project.investor_code, project.investor_name) == (
        "BQLDA-HN",
        "Ban QLDA các công trình giao thông Hà Nội",
    )
    assert project.disbursed == 150 * BILLION
    assert project.is_closed


def test_every_command_of_the_year_left_one_receipt_naming_the_events_it_recorded(
    year: Year, open_ledger: Callable[[], Ledger]
) -> None:
    fresh = open_ledger()
    notifications = fresh.recorder.select_notifications(start=1, limit=1_000)
    receipts = [
        vars(fresh.mapper.to_domain_event(n))
        for n in notifications
        if n.topic.endswith(":CommandReceipt.Accepted")
    ]
    ids = {"project": project_id, "plan": plan_id, "api-key": api_key_id}

    assert len(receipts) == 25
    for receipt in receipts:
        assert receipt["streams"], receipt["command"]
        for label, version in receipt["streams"].items():
            kind, _, code = label.partition(":")
            (stored,) = fresh.stored_stream(ids[kind](code))[version - 1 : version]
            assert unseal(stored.state).meta["command_id"] == receipt["command_id"]
    assert fresh.project(PROJECT).version == 16


# -- refused commands ----------------------------------------------------------------------


Act = Callable[[Ledger, str], object]


@dataclass(frozen=True)
class Refusal:
    error: type[Exception]
    act: Act
    arrange: Callable[[Ledger], object] | None = None


def _extend(until: date, on: date) -> Act:
    def act(ledger: Ledger, cid: str) -> object:
        return ledger.execute(ExtendDisbursementPeriod(
            project_code=PROJECT, plan_code=PLAN, source=CENTRAL, amount=10 * BILLION, until=until,
            effective_on=on, **decision(issued_on=on),
        ), command_id=cid)  # fmt: skip

    return act


def _status(status: str) -> Act:
    def act(ledger: Ledger, cid: str) -> object:
        return ledger.execute(ChangeStatus(
            project_code=PROJECT, status=status, reason="kiểm tra", effective_on=date(2025, 9, 1),
        ), command_id=cid)  # fmt: skip

    return act


def _adjust_plan(envelopes: dict[str, int]) -> Act:
    def act(ledger: Ledger, cid: str) -> object:
        return ledger.execute(AdjustPlan(
            code=PLAN, envelopes=envelopes, reason="điều chỉnh", effective_on=date(2025, 5, 1),
            **decision(),
        ), command_id=cid)  # fmt: skip

    return act


#: One representative refused command per error family, on project DA-001 funded with 100
#: billion VND of the 2025 plan's central budget and holding contract HD-01 of 50 billion.
KEY = "0a1b2c3d"
ISSUE_KEY = IssueApiKey(key_id=KEY, name="lan", role="inspector")


def _revoked_key(ledger: Ledger) -> None:
    ledger.execute(ISSUE_KEY, command_id=command_id("issue-key"))
    ledger.execute(RevokeApiKey(key_id=KEY), command_id=command_id("revoke-key"))


REFUSALS: dict[str, Refusal] = {
    "InvalidAmount": Refusal(domain_errors.InvalidAmount, lambda lg, c: pay(lg, amount=0, cid=c)),
    "InvalidValue": Refusal(domain_errors.InvalidValue, _adjust_plan({CENTRAL: 1_000 * BILLION})),
    "SourceNotInPlan": Refusal(
        domain_errors.SourceNotInPlan,
        lambda lg, c: allocate(lg, amount=BILLION, source="oda", cid=c),
    ),
    "EnvelopeBelowAllocated": Refusal(
        domain_errors.EnvelopeBelowAllocated, _adjust_plan({CENTRAL: 50 * BILLION})
    ),
    "InsufficientUnallocatedCapital": Refusal(
        domain_errors.InsufficientUnallocatedCapital,
        lambda lg, c: allocate(lg, amount=901 * BILLION, cid=c),
    ),
    "NoAllocation": Refusal(
        domain_errors.NoAllocation, lambda lg, c: pay(lg, amount=BILLION, source=LOCAL, cid=c)
    ),
    "NotAnAnnualPlan": Refusal(
        domain_errors.NotAnAnnualPlan,
        lambda lg, c: pay(lg, amount=BILLION, plan_code=MEDIUM_TERM_PLAN, cid=c),
        arrange=lambda lg: allocate(lg, amount=10 * BILLION, plan_code=MEDIUM_TERM_PLAN),
    ),
    "UndisbursedExceeded": Refusal(
        domain_errors.UndisbursedExceeded, lambda lg, c: cut(lg, amount=101 * BILLION, cid=c)
    ),
    "OverDisbursement": Refusal(
        domain_errors.OverDisbursement, lambda lg, c: pay(lg, amount=101 * BILLION, cid=c)
    ),
    "TotalInvestmentExceeded": Refusal(
        domain_errors.TotalInvestmentExceeded,
        lambda lg, c: lg.execute(
            AdjustTotalInvestment(
                project_code=PROJECT,
                total_investment=20 * BILLION,
                effective_on=date(2025, 7, 1),
                **decision(),
            ),
            command_id=c,
        ),
        arrange=lambda lg: pay(lg, amount=30 * BILLION),
    ),
    "DeadlinePassed": Refusal(
        domain_errors.DeadlinePassed,
        lambda lg, c: pay(lg, amount=BILLION, on=date(2026, 2, 1), cid=c),
    ),
    "ExtensionNotAllowed": Refusal(
        domain_errors.ExtensionNotAllowed, _extend(until=date(2027, 1, 31), on=date(2026, 1, 5))
    ),
    "LapseNotDue": Refusal(
        domain_errors.LapseNotDue,
        lambda lg, c: lg.execute(
            Lapse(project_code=PROJECT, plan_code=PLAN, source=CENTRAL, as_of=date(2026, 1, 31)),
            command_id=c,
        ),
    ),
    "AdvanceCapExceeded": Refusal(
        domain_errors.AdvanceCapExceeded,
        lambda lg, c: pay_advance(lg, amount=15 * BILLION + 1, cid=c),
    ),
    "AdvanceOverRecovered": Refusal(
        domain_errors.AdvanceOverRecovered,
        lambda lg, c: pay(
            lg, amount=5 * BILLION, contract_no=CONTRACT, advance_recovered=6 * BILLION, cid=c
        ),
        arrange=lambda lg: pay_advance(lg, amount=10 * BILLION),
    ),
    "AdvanceNotFullyRecovered": Refusal(
        domain_errors.AdvanceNotFullyRecovered,
        # 40 billion reaches 80% of the contract: the whole 10 billion advance is due.
        lambda lg, c: pay(
            lg, amount=40 * BILLION, contract_no=CONTRACT, advance_recovered=5 * BILLION, cid=c
        ),
        arrange=lambda lg: pay_advance(lg, amount=10 * BILLION),
    ),
    "UnknownContract": Refusal(
        domain_errors.UnknownContract,
        lambda lg, c: pay_advance(lg, amount=BILLION, contract_no="HD-404", cid=c),
    ),
    "DuplicateContract": Refusal(
        domain_errors.DuplicateContract, lambda lg, c: sign_contract(lg, cid=c)
    ),
    "EntryNotReversible": Refusal(
        domain_errors.EntryNotReversible,
        lambda lg, c: lg.execute(
            ReverseEntry(
                project_code=PROJECT,
                entry_version=1,
                reason="không phải khoản chi",
                effective_on=date(2025, 7, 1),
            ),
            command_id=c,
        ),
    ),
    "DecisionRequired": Refusal(
        domain_errors.DecisionRequired,
        # The allocation (version 2) is corrected by a decision; none is given.
        lambda lg, c: lg.execute(
            ReverseEntry(
                project_code=PROJECT,
                entry_version=2,
                reason="phân bổ nhầm",
                effective_on=date(2025, 7, 1),
            ),
            command_id=c,
        ),
    ),
    "ProjectClosed": Refusal(
        domain_errors.ProjectClosed,
        lambda lg, c: pay(lg, amount=BILLION, cid=c),
        arrange=lambda lg: _status("terminated")(lg, command_id()),
    ),
    "InvalidTransfer": Refusal(
        domain_errors.InvalidTransfer,
        lambda lg, c: transfer(lg, from_project=PROJECT, to_project=PROJECT, amount=BILLION, cid=c),
    ),
    "InvalidStatusChange": Refusal(domain_errors.InvalidStatusChange, _status("on_track")),
    "NoRuleInForce": Refusal(
        domain_errors.NoRuleInForce,
        # The rule book starts in 2015: capital of 2014 has no deadline the ledger knows.
        lambda lg, c: allocate(
            lg,
            amount=BILLION,
            project_code="DA-2014",
            plan_code="KH-2014",
            on=date(2014, 12, 31),
            cid=c,
        ),
        arrange=lambda lg: (
            approve_annual_plan(lg, code="KH-2014", year=2014),
            register_project(lg, code="DA-2014", on=date(2014, 1, 1)),
        ),
    ),
    "DatedOutOfRange": Refusal(
        domain_errors.DatedOutOfRange,
        lambda lg, c: pay(lg, amount=BILLION, on=date(2024, 5, 31), cid=c),
    ),
    "UnknownProject": Refusal(
        app_errors.UnknownProject,
        lambda lg, c: pay(lg, amount=BILLION, project_code="DA-404", cid=c),
    ),
    "UnknownPlan": Refusal(
        app_errors.UnknownPlan,
        lambda lg, c: allocate(lg, amount=BILLION, plan_code="KH-404", cid=c),
    ),
    "DuplicateProject": Refusal(
        app_errors.DuplicateProject, lambda lg, c: register_project(lg, cid=c)
    ),
    "DuplicatePlan": Refusal(
        app_errors.DuplicatePlan, lambda lg, c: approve_annual_plan(lg, cid=c)
    ),
    "ApiKeyRevoked": Refusal(
        domain_errors.ApiKeyRevoked,
        lambda lg, c: lg.execute(RevokeApiKey(key_id=KEY), command_id=c),
        arrange=lambda lg: _revoked_key(lg),
    ),
    "UnknownApiKey": Refusal(
        app_errors.UnknownApiKey, lambda lg, c: lg.execute(RevokeApiKey(key_id=KEY), command_id=c)
    ),
    "DuplicateApiKey": Refusal(
        app_errors.DuplicateApiKey,
        lambda lg, c: lg.execute(ISSUE_KEY, command_id=c),
        arrange=lambda lg: _revoked_key(lg),
    ),
}


@pytest.fixture
def funded(ledger: Ledger) -> Ledger:
    approve_medium_term_plan(ledger)
    funded_project(ledger, amount=100 * BILLION)
    sign_contract(ledger, value=50 * BILLION)
    return ledger


def test_every_domain_error_has_a_refused_case_through_the_ledger() -> None:
    families = {
        error.__name__
        for error in vars(domain_errors).values()
        if isinstance(error, type) and issubclass(error, DomainError) and error is not DomainError
    }

    assert families <= REFUSALS.keys()


@pytest.mark.parametrize("family", sorted(REFUSALS))
def test_a_refused_command_raises_its_error_and_records_nothing(
    family: str, funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    refusal = REFUSALS[family]
    if refusal.arrange is not None:
        refusal.arrange(funded)
    before = position(funded)
    cid = command_id(family)

    with pytest.raises(refusal.error):
        refusal.act(funded, cid)

    assert position(funded) == before
    assert position_of(funded.recorder, receipt_id(cid), 1) is None
    # Nothing the refused command touched stays changed in the ledger's cache either.
    fresh = open_ledger()
    assert vars(funded.project(PROJECT)) == vars(fresh.project(PROJECT))
    assert vars(funded.plan(PLAN)) == vars(fresh.plan(PLAN))


def test_a_refused_command_id_stays_free_for_the_corrected_command(funded: Ledger) -> None:
    cid = command_id("pay")
    with pytest.raises(domain_errors.OverDisbursement):
        pay(funded, amount=101 * BILLION, cid=cid)

    outcome = pay(funded, amount=100 * BILLION, cid=cid)

    assert not outcome.replayed
    assert funded.project(PROJECT).lines[LINE].undisbursed == 0


def test_an_allocation_refused_by_the_plan_leaves_the_project_unchanged_in_the_same_ledger(
    funded: Ledger,
) -> None:
    # The project accepts the allocation before the plan refuses it: its cached copy must not
    # keep the unsaved event.
    with pytest.raises(domain_errors.InsufficientUnallocatedCapital):
        allocate(funded, amount=901 * BILLION)

    allocate(funded, amount=900 * BILLION)

    project = funded.project(PROJECT)
    assert project.lines[LINE].allocated == 1_000 * BILLION
    assert funded.plan(PLAN).unallocated(CENTRAL) == 0


def test_the_decision_behind_a_movement_round_trips_through_the_store(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    plan = open_ledger().plan(PLAN)

    assert plan.decisions == [Decision("99/NQ-HĐND", date(2024, 12, 10), "HĐND Hà Nội")]


# -- configuration -------------------------------------------------------------------------


def test_explicit_settings_win_over_capledger_variables_left_in_the_environment(
    store: Settings, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    # eventsourcing reads CAPLEDGER_<KEY> before <KEY>: a stray variable must not redirect
    # the ledger away from the store its settings name.
    if store.store.persistence is Persistence.POSTGRES:
        monkeypatch.setenv("CAPLEDGER_POSTGRES_SCHEMA", f"elsewhere_{uuid4().hex[:8]}")
    else:
        monkeypatch.setenv(
            "CAPLEDGER_SQLITE_DBNAME", str(store.store.data_dir / "elsewhere.sqlite3")
        )
    redirected = build_ledger(store)
    try:
        approve_annual_plan(redirected)
    finally:
        redirected.close()
    monkeypatch.undo()

    assert open_ledger().plan(PLAN).code == PLAN
