"""Response models shared by the routers, and their conversions from query results.

Every amount is a string of whole VND; rates are decimal strings (28 significant digits) with
a rounded percentage beside them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel, Field

from capledger.domain import Balance
from capledger.projections.queries import AsOf, Ratio

from .types import Money, money


class RateOut(BaseModel):
    numerator: Money
    denominator: Money
    rate: str | None = Field(
        description="numerator ÷ denominator as a decimal string; null when nothing is due."
    )
    percent: str | None = Field(description="The rate in percent, rounded half up.")


def json_response(content: Any) -> Response:
    """``content`` (plain values, dates and strings of VND) written out as JSON as it is: for a
    hot route whose body is built from trusted values in the shape of its declared model, where
    FastAPI would validate every field again (the fuzz test still checks it against the
    schema)."""
    return Response(orjson.dumps(content), media_type="application/json")


def rate_out(ratio: Ratio, places: int = 1) -> RateOut:
    return RateOut.model_validate(rate_fields(ratio, places))


def rate_fields(ratio: Ratio, places: int = 1) -> dict[str, str | None]:
    """A :class:`RateOut`'s fields, for a larger response validated (or written) in one go."""
    rate = ratio.rate
    if rate is None:
        return {
            "numerator": str(ratio.numerator),
            "denominator": str(ratio.denominator),
            "rate": None,
            "percent": None,
        }
    percent = ratio.percent(places)
    return {
        "numerator": str(ratio.numerator),
        "denominator": str(ratio.denominator),
        "rate": _plain(rate),
        "percent": None if percent is None else _plain(percent),
    }


def _plain(value: Decimal) -> str:
    """``format(value, "f")``: a decimal in positional notation. ``str`` writes the same
    digits, faster, unless it chooses an exponent (very small or large numbers)."""
    text = str(value)
    return format(value, "f") if "E" in text else text


class AsOfOut(BaseModel):
    effective: date = Field(description="Movements effective on or before this date…")
    known: date = Field(description="…and recorded by the end of this day (Vietnam time).")


def as_of_out(point: AsOf | None) -> AsOfOut | None:
    return None if point is None else AsOfOut(effective=point.effective, known=point.known)


class BalancesOut(BaseModel):
    """A :class:`~capledger.domain.capital.Balance` at the edge: its figures as strings."""

    allocated: Money
    transferred_in: Money
    transferred_out: Money
    cut: Money
    capital: Money = Field(description="allocated + transferred in − transferred out − cut")
    disbursed: Money = Field(description="Net cash paid (advances + work − advance recovered).")
    advances_outstanding: Money
    lapsed: Money
    extended: Money
    undisbursed: Money = Field(description="capital − disbursed − lapsed")


def balances_out(balance: Balance) -> BalancesOut:
    return BalancesOut(**{name: money(amount) for name, amount in balance.figures().items()})


#: Fields of event data that are amounts of VND (rendered as strings).
MONEY_KEYS = frozenset(
    {"amount", "value", "total_investment", "settled_value", "advance_recovered"}
)


def money_fields(data: Any, key: str | None = None) -> Any:
    """Event data with its amounts as strings (envelopes included)."""
    if isinstance(data, dict):
        if key == "envelopes":
            return {
                name: str(value)
                if isinstance(value, int) and not isinstance(value, bool)
                else value
                for name, value in data.items()
            }
        return {name: money_fields(value, name) for name, value in data.items()}
    if isinstance(data, list):
        return [money_fields(item) for item in data]
    if key in MONEY_KEYS and isinstance(data, int) and not isinstance(data, bool):
        return str(data)
    return data


class PageInfo(BaseModel):
    total: int
    limit: int | None
    offset: int
    next_offset: int | None


def page_info(total: int, limit: int | None, offset: int, returned: int) -> PageInfo:
    following = offset + returned
    return PageInfo(
        total=total,
        limit=limit,
        offset=offset,
        next_offset=following if limit is not None and following < total else None,
    )


def page_fields(total: int, limit: int | None, offset: int, returned: int) -> dict[str, Any]:
    """A :class:`PageInfo`'s fields as plain values (for a body written out directly)."""
    following = offset + returned
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if limit is not None and following < total else None,
    }
