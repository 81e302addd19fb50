"""The API's pure edges: amounts, texts and dates; token buckets; scopes; error statuses."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from capledger.api.problems import ApiProblem, status_of, title_of
from capledger.api.ratelimit import TokenBuckets
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


def test_a_bucket_lets_a_burst_through_then_asks_to_wait() -> None:
    now = [100.0]
    buckets = TokenBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("k") == 1
    assert buckets.take("other") == 0
    now[0] += 0.5
    assert buckets.take("k") == 0
    assert buckets.take("k") == 1


def test_bucket_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBuckets(rate=0, burst=1)


def officer(investors: tuple[str, ...] = (), provinces: tuple[str, ...] = ()) -> Caller:
    return Caller("k", "lan", Role.FINANCE_OFFICER, Scope.of(investors, provinces))


def test_unscoped_callers_keep_their_filters() -> None:
    inspector = Caller("k", "an", Role.INSPECTOR, Scope())
    assert pinned_filter(inspector, investor_code=None, province=None, jurisdiction=None) == (
        None,
        None,
    )


def test_an_officer_of_one_investor_is_pinned_to_it() -> None:
    found = pinned_filter(officer(("A",)), investor_code=None, province=None, jurisdiction=None)
    assert found == ("A", None)


def test_an_officer_of_one_province_is_pinned_to_it() -> None:
    found = pinned_filter(
        officer((), ("HN",)), investor_code=None, province=None, jurisdiction=None
    )
    assert found == (None, "HN")


def test_a_filter_outside_the_scope_is_refused() -> None:
    with pytest.raises(ApiProblem) as raised:
        pinned_filter(officer(("A",)), investor_code="B", province=None, jurisdiction=None)
    assert raised.value.code == "out-of-scope"


def test_several_scopes_must_be_chosen_from() -> None:
    with pytest.raises(ApiProblem) as raised:
        pinned_filter(officer(("A", "B")), investor_code=None, province=None, jurisdiction=None)
    assert raised.value.code == "scope-filter-required"
    assert "investor_code=A" in raised.value.detail
    assert pinned_filter(officer(("A", "B")), investor_code="B", province=None,
                         jurisdiction=None) == ("B", None)  # fmt: skip


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
