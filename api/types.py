"""Types at the edge: amounts clients cannot silently round, codes, texts and bounded dates.

Requests carry amounts as JSON integers or decimal strings of whole VND ("4600000000000");
floats are refused (``1e12`` or ``12.0`` could already have lost digits in the client). Responses
carry every amount as a string: sums exceed 2^53, beyond which JavaScript numbers round.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from ..domain.errors import InvalidValue
from ..domain.values import MAX_VND, parse_calendar_date

#: The largest single amount accepted: the domain's one limit.
MAX_AMOUNT = MAX_VND
#: Digit strings of whole VND up to the limit: no sign, spaces or leading zeros.
_UP_TO_LIMIT = f"[1-9][0-9]{{0,{len(str(MAX_AMOUNT)) - 2}}}|{MAX_AMOUNT}"
#: Dates the ledger accepts: the law's calendar arithmetic stays within these years.
MIN_DATE = date(1990, 1, 1)
MAX_DATE = date(2100, 12, 31)
MIN_YEAR, MAX_YEAR = MIN_DATE.year, MAX_DATE.year

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"


_AMOUNT_TEXT = re.compile(f"0|{_UP_TO_LIMIT}")


def _amount(value: Any, *, minimum: int) -> int:
    if isinstance(value, (bool, float)):
        raise ValueError(
            "amounts are whole VND as a JSON integer or a string of digits, never a float"
        )
    if isinstance(value, str):
        # Exactly the published pattern: digits only, no sign, spaces or leading zeros.
        if not _AMOUNT_TEXT.fullmatch(value):
            raise ValueError(
                "an amount string holds the digits of a whole number of VND, without leading"
                f" zeros, spaces or sign, at most {MAX_AMOUNT}"
            )
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("amounts are whole VND as a JSON integer or a string of digits")
    if value < minimum:
        raise ValueError(f"the amount must be at least {minimum}")
    if value > MAX_AMOUNT:
        raise ValueError(f"the amount must be at most {MAX_AMOUNT} VND")
    return value


def _positive(value: Any) -> int:
    return _amount(value, minimum=1)


def _non_negative(value: Any) -> int:
    return _amount(value, minimum=0)


def _amount_schema(minimum: int) -> dict[str, Any]:
    pattern = f"^({_UP_TO_LIMIT})$" if minimum > 0 else f"^(0|{_UP_TO_LIMIT})$"
    return {
        "oneOf": [
            {"type": "integer", "minimum": minimum, "maximum": MAX_AMOUNT},
            {"type": "string", "pattern": pattern},
        ],
        "description": "Whole VND: a JSON integer or a string of digits (never a float).",
        "examples": ["4600000000000", 250000000],
    }


#: A positive amount of whole VND in a request.
Amount = Annotated[
    int, BeforeValidator(_positive), WithJsonSchema(_amount_schema(1), mode="validation")
]
#: A non-negative amount (plan envelopes may be zero for a source).
Envelope = Annotated[
    int, BeforeValidator(_non_negative), WithJsonSchema(_amount_schema(0), mode="validation")
]


def money(value: int) -> str:
    return str(value)


#: An amount of VND in a response: always a string of an integer (maybe negative).
Money = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+$",
        description="Whole VND as a string (sums exceed 2^53).",
        examples=["4603180000000"],
    ),
]


def _clean_text(value: str) -> str:
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn") and char not in "\t":
            raise ValueError("text must not hold control, surrogate or unassigned characters")
    return value


def _trimmed(value: str) -> str:
    if value != value.strip() or not value:
        raise ValueError("must be non-empty, without leading or trailing spaces")
    return value


#: Project and plan codes: they appear in URLs.
Code = Annotated[str, Field(pattern=CODE_PATTERN, examples=["HP-KHV-2021-HDND"])]
#: A short identifier such as an investor code, province, sector or contract number.
Label = Annotated[
    str,
    Field(min_length=1, max_length=120),
    AfterValidator(_clean_text),
    AfterValidator(_trimmed),
]
#: Free text (names, reasons, decision issuers); may be empty only where said.
Text = Annotated[
    str,
    Field(min_length=1, max_length=1_000),
    AfterValidator(_clean_text),
    AfterValidator(_trimmed),
]
OptionalText = Annotated[str, Field(max_length=1_000), AfterValidator(_clean_text)]


def _calendar_date(value: Any) -> date:
    """``YYYY-MM-DD`` only: not a Unix time (``1699228800``), nor a date-time at midnight."""
    if type(value) is date:  # a datetime is a date too, and is refused
        return value
    try:
        return parse_calendar_date(value)
    except InvalidValue as error:
        raise ValueError(str(error)) from None


def _bounded_date(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"dates must lie between {MIN_DATE} and {MAX_DATE}")
    return value


#: A calendar date the ledger can reason about (the law's deadlines stay in range).
Day = Annotated[date, BeforeValidator(_calendar_date), AfterValidator(_bounded_date)]
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]
