"""Text and JSON output of the command line. Money is integer VND and never passes a float."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from capledger.domain import Decision

COLUMN_GAP = "  "


def vnd(amount: int | None) -> str:
    """Thousands separators, no decimals: VND has no subunit in use."""
    return "" if amount is None else f"{amount:,}"


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False


def render_table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns, numbers to the right; the last column is left ragged."""
    widths = [len(column.title) for column in columns]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = []
        for index, (column, cell) in enumerate(zip(columns, cells, strict=True)):
            last = index == len(columns) - 1
            if column.numeric:
                parts.append(cell.rjust(widths[index]))
            else:
                parts.append(cell if last else cell.ljust(widths[index]))
        return COLUMN_GAP.join(parts).rstrip()

    return "\n".join([line([c.title for c in columns]), *(line(row) for row in rows)])


def jsonable(value: Any) -> Any:
    """A JSON-ready copy: dates as ISO text, decisions as objects, and no float ever emitted."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decision):
        return {"number": value.number, "issued_on": value.issued_on.isoformat(),
                "issuer": value.issuer}  # fmt: skip
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    # Floats included: a stray float is shown as text rather than as an inexact JSON number.
    return str(value)


def json_line(document: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(document), ensure_ascii=False, sort_keys=False)
