"""The API's pure edges: amounts, texts and dates; token buckets; scopes; error statuses."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from capledger.api.problems import ApiProblem, status_of, title_of
from capledger.api.ratelimit import Policies, Policy, RateLimits
from capledger.api.roles import Caller, Role, Scope
from capledger.api.scope import pinned_filter
from capledger.api.types import MAX_AMOUNT, Amount, Day, Envelope, Label, Money
from capledger.application.errors import (
    ConcurrencyConflict,
    DuplicatePlan,
    IdempotencyConflict,
    UnknownProject,
)
from capledger.domain.errors import OverDisbursement
from capledger.projections.dialects import SqliteDialect
from capledger.projections.queries import QueryError

pytestmark = pytest.mark.unit


class Body(BaseModel):
    amount: Amount
    envelope: Envelope = 0
    label: Label = "x"
    day: Day = date(2025, 1, 1)


class Out(BaseModel):
    value: Money


@pytest.mark.parametrize(
    ("given", "expected"),
    [(1, 1), ("1", 1), ("9007199254740993", 9_007_199_254_740_993), (MAX_AMOUNT, MAX_AMOUNT)],
)
def test_amounts_are_integers_or_digit_strings(given: Any, expected: int) -> None:
    assert Body(amount=given).amount == expected


@pytest.mark.parametrize(
    "given", [1.0, 0.5, "1.0", "1e3", "-1", 0, "0", True, None, "", " ", "١٢", MAX_AMOUNT + 1, [1]]
)
def test_floats_and_anything_else_are_refused(given: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        Body(amount=given)
    assert raised.value.errors()[0]["loc"] == ("amount",)


def test_envelopes_may_be_zero() -> None:
    assert Body(amount=1, envelope="0").envelope == 0


@pytest.mark.parametrize("given", ["", " padded", "tab\x00", "bell\x07", "\ud800", "x" * 121])
def test_labels_refuse_what_stores_cannot_keep(given: str) -> None:
    with pytest.raises(ValidationError):
        Body(amount=1, label=given)


def test_dates_stay_where_the_laws_arithmetic_works() -> None:
    with pytest.raises(ValidationError):
        Body(amount=1, day=date(9999, 12, 31))
    with pytest.raises(ValidationError):
        Body(amount=1, day=date(1, 1, 1))


def test_money_out_is_a_string_of_an_integer() -> None:
    assert Out(value="-12").value == "-12"
    with pytest.raises(ValidationError):
        Out(value="1.5")


def shared_limits(tmp_path: Path, now: list[float], *, lease: int = 1) -> RateLimits:
    policy = Policy("writes", 2.0, 3)
    policies = Policies(writes=policy, reads=policy, failed_authentications=policy)
    dialect = SqliteDialect(tmp_path / "api.sqlite3", prefix="")
    return RateLimits(dialect, policies, lease=lease, clock=lambda: now[0]).initialise()


def test_a_bucket_lets_a_burst_through_then_asks_to_wait(tmp_path: Path) -> None:
    now = [100.0]
    limits = shared_limits(tmp_path, now)
    policy = limits.policies.writes
    taken = [limits.take("k", policy) for _ in range(4)]
    assert [d.allowed for d in taken] == [True, True, True, False]
    assert [d.remaining for d in taken] == [2, 1, 0, 0]
    assert taken[3].retry_after_s == 1
    assert taken[3].headers == {
        "RateLimit-Policy": '"writes";q=3;w=2',
        "RateLimit": '"writes";r=0;t=2',
        "Retry-After": "1",
    }
    assert limits.take("other", policy).allowed
    now[0] += 0.5
    assert limits.take("k", policy).allowed
    assert not limits.take("k", policy).allowed


def test_two_processes_share_a_bucket_and_leases_never_exceed_it(tmp_path: Path) -> None:
    now = [100.0]
    one, two = shared_limits(tmp_path, now, lease=2), shared_limits(tmp_path, now, lease=2)
    policy = one.policies.writes
    answers = [limits.take("k", policy).allowed for limits in (one, two, one, two, one, two)]
    # The first process leases 2 tokens, the second the third one: 3, the burst, in all.
    assert answers.count(True) == 3
    assert one.check("k", policy) is not None  # refused locally, without the store


def test_bucket_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        Policy("writes", 0, 1)


def officer(investors: tuple[str, ...] = (), provinces: tuple[str, ...] = ()) -> Caller:
    return Caller("k", "lan", Role.FINANCE_OFFICER, Scope.of(investors, provinces))


def test_unscoped_callers_keep_their_filters() -> None:
    inspector = Caller("k", "an", Role.INSPECTOR, Scope())
    assert pinned_filter(inspector, investor_code=None, province=None) == (
        None,
        None,
    )


def test_an_officer_of_one_investor_is_pinned_to_it() -> None:
    found = pinned_filter(officer(("A",)), investor_code=None, province=None)
    assert found == ("A", None)


def test_an_officer_of_one_province_is_pinned_to_it() -> None:
    found = pinned_filter(officer((), ("HN",)), investor_code=None, province=None)
    assert found == (None, "HN")


def test_a_filter_outside_the_scope_is_refused() -> None:
    with pytest.raises(ApiProblem) as raised:
        pinned_filter(officer(("A",)), investor_code="B", province=None)
    assert raised.value.code == "out-of-scope"


def test_several_scopes_must_be_chosen_from() -> None:
    with pytest.raises(ApiProblem) as raised:
        pinned_filter(officer(("A", "B")), investor_code=None, province=None)
    assert raised.value.code == "scope-filter-required"
    assert "investor_code=A" in raised.value.detail
    assert pinned_filter(officer(("A", "B")), investor_code="B", province=None) == ("B", None)


@pytest.mark.parametrize(
    ("error", "status", "retry"),
    [
        (UnknownProject("x"), 404, None),
        (QueryError("x"), 404, None),
        (DuplicatePlan("x"), 409, None),
        (ConcurrencyConflict("x"), 409, "1"),
        (IdempotencyConflict("x"), 422, None),
        (OverDisbursement("x"), 422, None),
    ],
)
def test_errors_map_to_statuses(error: Exception, status: int, retry: str | None) -> None:
    found, headers = status_of(error)
    assert found == status
    assert headers.get("Retry-After") == retry


def test_titles_come_from_codes() -> None:
    assert title_of("over-disbursement") == "Over disbursement"
