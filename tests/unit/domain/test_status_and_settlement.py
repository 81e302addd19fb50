"""Project status, settlement, closed projects, investor changes and the Registered upcaster."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic

from capledger.application.eventstore import DateAsISO, DecisionAsDict
from capledger.domain import CapitalPlan, Project, RuleBook
from capledger.domain.errors import (
    InvalidAmount,
    InvalidStatusChange,
    InvalidValue,
    ProjectClosed,
    TotalInvestmentExceeded,
)

from ..builders import (
    BILLION,
    CENTRAL,
    PLAN,
    allocate,
    cut,
    decision,
    pay,
    pay_advance,
    project,
    refused,
    replay,
    transfer,
)

pytestmark = pytest.mark.unit

ON = date(2025, 9, 1)


def change(target: Project, status: str, review_class: str | None = None) -> None:
    target.change_status(
        status=status, reason="rà soát dự án chậm", effective_on=ON, review_class=review_class
    )


def settle(target: Project, value: int = 90 * BILLION) -> None:
    target.settle(
        settled_value=value,
        decision=decision("77/QĐ-STC", date(2026, 5, 1), "Sở Tài chính"),
        effective_on=date(2026, 5, 1),
    )


# -- status --------------------------------------------------------------------------------


def test_a_status_change_records_the_new_status_and_review_class(funded: Project) -> None:
    change(funded, "slow", review_class="allow-completion-of-procedures")

    assert funded.status == "slow"
    assert funded.review_class == "allow-completion-of-procedures"
    [changed] = funded.collect_events()
    assert isinstance(changed, Project.StatusChanged)
    assert (changed.status, changed.reason) == ("slow", "rà soát dự án chậm")


def test_a_change_to_the_same_status_is_refused(funded: Project) -> None:
    change(funded, "slow")
    refused(InvalidStatusChange, lambda: change(funded, "slow"), funded)


def test_an_unknown_status_is_refused(funded: Project) -> None:
    refused(InvalidValue, lambda: change(funded, "abandoned"), funded)


@pytest.mark.parametrize("status", ["on_track", "slow", "completed", "suspended"])
def test_a_terminated_project_cannot_be_reopened(funded: Project, status: str) -> None:
    change(funded, "terminated")
    refused(InvalidStatusChange, lambda: change(funded, status), funded)


def test_settled_is_not_reached_by_a_status_change(funded: Project) -> None:
    change(funded, "completed")
    refused(InvalidStatusChange, lambda: change(funded, "settled"), funded)


# -- settlement ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["completed", "suspended", "terminated"])
def test_a_completed_suspended_or_terminated_project_may_be_settled(
    funded: Project, status: str
) -> None:
    change(funded, status)
    settle(funded)

    assert funded.status == "settled"
    assert funded.settled_value == 90 * BILLION
    assert isinstance(funded.collect_events()[-1], Project.Settled)


@pytest.mark.parametrize("status", ["on_track", "slow", "under_violation_handling"])
def test_a_project_still_running_cannot_be_settled(funded: Project, status: str) -> None:
    if status != funded.status:
        change(funded, status)
    refused(InvalidStatusChange, lambda: settle(funded), funded)


def test_a_settled_project_cannot_be_settled_again_nor_change_status(funded: Project) -> None:
    change(funded, "completed")
    settle(funded)
    refused(InvalidStatusChange, lambda: settle(funded), funded)
    refused(InvalidStatusChange, lambda: change(funded, "on_track"), funded)


def test_a_settled_value_above_the_total_investment_is_refused(funded: Project) -> None:
    change(funded, "completed")
    refused(TotalInvestmentExceeded, lambda: settle(funded, 2_000 * BILLION + 1), funded)
    settle(funded, 2_000 * BILLION)


def test_a_negative_settled_value_is_refused(funded: Project) -> None:
    change(funded, "completed")
    refused(InvalidAmount, lambda: settle(funded, -1), funded)
    settle(funded, 0)


# -- closed projects -----------------------------------------------------------------------


def _close(target: Project, how: str) -> None:
    if how == "terminated":
        change(target, "terminated")
    else:
        change(target, "completed")
        settle(target)


def _sign(target: Project) -> None:
    target.sign_contract(contract_no="HĐ-1", contractor="X", value=50 * BILLION, effective_on=ON)


# Each takes the project under test, a donor project with capital of the plan, and the rules.
PAYOUTS: dict[str, Callable[[Project, Project, RuleBook], Any]] = {
    "payment": lambda prj, donor, rules: pay(prj, BILLION, rules),
    "advance": lambda prj, donor, rules: pay_advance(prj, "HĐ-1", BILLION, rules),
    "allocation": lambda prj, donor, rules: prj.receive_allocation(
        plan_code=PLAN,
        plan_kind="annual",
        fiscal_year=2025,
        source=CENTRAL,
        amount=BILLION,
        decision=decision(),
        effective_on=ON,
        rules=rules,
    ),
    "transfer in": lambda prj, donor, rules: transfer(donor, prj, BILLION, rules),
}


@pytest.mark.parametrize("how", ["terminated", "settled"])
@pytest.mark.parametrize("payout", sorted(PAYOUTS))
def test_a_closed_project_refuses_payments_and_new_capital(
    plan: CapitalPlan, funded: Project, rules: RuleBook, how: str, payout: str
) -> None:
    _sign(funded)
    donor = project("P-099")
    allocate(plan, donor, 10 * BILLION, rules)
    PAYOUTS[payout](funded, donor, rules)  # accepted while the project is open
    _close(funded, how)
    refused(ProjectClosed, lambda: PAYOUTS[payout](funded, donor, rules), funded, donor)


@pytest.mark.parametrize("how", ["terminated", "settled"])
def test_a_closed_project_may_still_have_its_capital_cut(
    plan: CapitalPlan, funded: Project, rules: RuleBook, how: str
) -> None:
    pay(funded, 30 * BILLION, rules)
    _close(funded, how)

    assert cut(plan, funded, None) == 70 * BILLION
    assert plan.unallocated(CENTRAL) == 970 * BILLION


@pytest.mark.parametrize("how", ["terminated", "settled"])
def test_a_closed_project_may_still_transfer_its_capital_away(
    funded: Project, other: Project, rules: RuleBook, how: str
) -> None:
    _close(funded, how)
    transfer(funded, other, 100 * BILLION, rules)
    assert other.line(PLAN, CENTRAL).undisbursed == 150 * BILLION


def test_a_suspended_project_is_not_closed(funded: Project, rules: RuleBook) -> None:
    change(funded, "suspended")
    assert not funded.is_closed
    pay(funded, BILLION, rules)


# -- investor ------------------------------------------------------------------------------


def test_an_investor_change_keeps_the_recorded_investor_on_earlier_events() -> None:
    target = project("P-070", investor_code="SO-KHDT-HN", investor_name="Sở KH&ĐT Hà Nội")
    target.change_investor(
        investor_code="SO-TC-HN",
        investor_name="Sở Tài chính Hà Nội",
        reason="hợp nhất Sở KH&ĐT vào Sở Tài chính",
        effective_on=date(2025, 3, 1),
    )

    assert (target.investor_code, target.investor_name) == ("SO-TC-HN", "Sở Tài chính Hà Nội")
    registered, changed = target.collect_events()
    assert isinstance(registered, Project.Registered)
    assert (registered.investor_code, registered.investor_name) == (
        "SO-KHDT-HN",
        "Sở KH&ĐT Hà Nội",
    )
    assert isinstance(changed, Project.InvestorChanged)
    assert changed.reason == "hợp nhất Sở KH&ĐT vào Sở Tài chính"
    assert replay([registered], Project).investor_code == "SO-KHDT-HN"
    assert replay([registered, changed], Project).investor_code == "SO-TC-HN"
    assert registered.investor_code == "SO-KHDT-HN"


def test_a_change_to_the_same_investor_is_refused(funded: Project) -> None:
    refused(
        InvalidValue,
        lambda: funded.change_investor(
            investor_code=funded.investor_code,
            investor_name=funded.investor_name,
            reason="x",
            effective_on=ON,
        ),
        funded,
    )


def test_a_renamed_investor_keeps_its_code(funded: Project) -> None:
    funded.change_investor(
        investor_code=funded.investor_code,
        investor_name="Ban QLDA giao thông (tên mới)",
        reason="đổi tên",
        effective_on=ON,
    )
    assert funded.investor_code == "BQLDA-GT"
    assert funded.investor_name == "Ban QLDA giao thông (tên mới)"


# -- upcasting v1 Registered events --------------------------------------------------------


def _v1_state() -> dict[str, Any]:
    return {
        "code": "P-OLD",
        "name": "Dự án cũ",
        "investor": "Ban QLDA quận Hoàn Kiếm",
        "program": "",
        "sector": "culture",
        "province": "HN",
        "total_investment": 5 * BILLION,
        "decision": decision(),
        "effective_on": date(2019, 5, 1),
    }


def test_the_v1_to_v2_upcaster_splits_the_investor_into_code_and_name() -> None:
    state = _v1_state()
    Project.Registered.upcast_v1_v2(state)

    assert "investor" not in state
    assert state["investor_code"] == "Ban QLDA quận Hoàn Kiếm"
    assert state["investor_name"] == "Ban QLDA quận Hoàn Kiếm"
    assert state["code"] == "P-OLD"


def test_a_stored_v1_registered_event_is_read_back_as_a_v2_project() -> None:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    transcoder.register(DateAsISO())
    transcoder.register(DecisionAsDict())
    mapper: Mapper[Any] = Mapper(transcoder=transcoder)
    originator_id = uuid4()
    stored = StoredEvent(
        originator_id=originator_id,
        originator_version=1,
        topic=get_topic(Project.Registered),
        state=transcoder.encode(
            {
                **_v1_state(),
                "timestamp": Project.Registered.create_timestamp(),
                "originator_topic": get_topic(Project),
            }
        ),
    )

    registered = mapper.to_domain_event(stored)

    assert isinstance(registered, Project.Registered)
    assert (registered.investor_code, registered.investor_name) == (
        "Ban QLDA quận Hoàn Kiếm",
        "Ban QLDA quận Hoàn Kiếm",
    )
    rebuilt = replay([registered], Project)
    assert rebuilt.investor_code == "Ban QLDA quận Hoàn Kiếm"
    assert rebuilt.id == originator_id
