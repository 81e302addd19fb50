"""Jurisdictions as reference data: a known list with a hierarchy and validity periods.

A plan records its jurisdiction by code (``HP``). The list says which codes exist and how they
nest: the country (``VN``) over the provinces and centrally-run cities and over the central
ministries and agencies that hold central-budget plans. A rate or balance asked for a scope at
any level counts the plans of every jurisdiction the scope holds (:meth:`Jurisdictions.members`),
so the country-wide rate sums what each province and ministry was assigned.

The administrative map changes (from 1 July 2025 the 63 provinces became 34: Hải Dương merged
into Hải Phòng). Each entry therefore has a validity period and may name the entries that
succeeded it. A successor's scope holds its predecessors, so the merged city's reports can count
the former province's plans, while a predecessor's own code keeps answering for its own plans;
recording the reorganisation is a change of data (an end date, ``succeeded_by`` links and the new
entries), not of code or of the API.

The list is a JSON document (``capledger/rules/vn_jurisdictions.json``);
:meth:`Jurisdictions.from_document` checks it: codes unique, parents and successors known, no
cycles, periods that end after they start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from .errors import DomainError, InvalidValue
from .values import check_code


class UnknownJurisdiction(DomainError):
    """A code that is not in the list of jurisdictions."""

    code = "unknown-jurisdiction"


class JurisdictionLevel(StrEnum):
    """What kind of unit a jurisdiction is (its place in the hierarchy)."""

    COUNTRY = "country"  # cả nước
    MUNICIPALITY = "municipality"  # thành phố trực thuộc trung ương
    PROVINCE = "province"  # tỉnh
    MINISTRY = "ministry"  # bộ
    MINISTERIAL_AGENCY = "ministerial_agency"  # cơ quan ngang bộ
    GOVERNMENT_AGENCY = "government_agency"  # cơ quan thuộc Chính phủ
    CENTRAL_UNIT = "central_unit"  # other central body holding a central-budget plan


#: Levels whose plans are local (địa phương); the others below the country are central.
LOCAL_LEVELS = frozenset({JurisdictionLevel.MUNICIPALITY, JurisdictionLevel.PROVINCE})


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    level: JurisdictionLevel
    name_vi: str
    name_en: str
    parent: str | None
    valid_from: date
    valid_to: date | None = None
    official_code: str | None = None
    succeeded_by: tuple[str, ...] = ()

    def valid_on(self, day: date) -> bool:
        """Whether the entry holds on ``day`` (``valid_to`` is exclusive)."""
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class Jurisdictions:
    """The list, by code, with its hierarchy and successions."""

    def __init__(self, entries: Iterable[Jurisdiction], *, version: int = 1) -> None:
        self.version = version
        self._by_code: dict[str, Jurisdiction] = {}
        for entry in entries:
            if entry.code in self._by_code:
                raise InvalidValue(f"jurisdiction {entry.code} is listed twice")
            self._by_code[entry.code] = entry
        self._children: dict[str, list[str]] = {code: [] for code in self._by_code}
        self._predecessors: dict[str, list[str]] = {code: [] for code in self._by_code}
        for entry in self._by_code.values():
            self.check_entry(entry)
            if entry.parent is not None:
                self._children[entry.parent].append(entry.code)
            for successor in entry.succeeded_by:
                self._predecessors[successor].append(entry.code)
        self.check_no_cycles()

    # -- invariants ------------------------------------------------------------------------

    def check_entry(self, entry: Jurisdiction) -> None:
        if entry.parent is not None and entry.parent not in self._by_code:
            raise InvalidValue(f"jurisdiction {entry.code}: unknown parent {entry.parent}")
        if entry.valid_to is not None and entry.valid_to <= entry.valid_from:
            raise InvalidValue(f"jurisdiction {entry.code}: valid_to is not after valid_from")
        for successor in entry.succeeded_by:
            if successor not in self._by_code:
                raise InvalidValue(f"jurisdiction {entry.code}: unknown successor {successor}")
        if entry.succeeded_by and entry.valid_to is None:
            raise InvalidValue(f"jurisdiction {entry.code}: a successor needs a valid_to")

    def check_no_cycles(self) -> None:
        """Parents and successions each form no cycle (a walk up, or forward, ends)."""
        for code in self._by_code:
            self._check_acyclic(
                code, lambda entry: () if entry.parent is None else (entry.parent,), "parents"
            )
            self._check_acyclic(code, lambda entry: entry.succeeded_by, "successions")

    def _check_acyclic(
        self, code: str, links: Callable[[Jurisdiction], Sequence[str]], what: str
    ) -> None:
        path: list[str] = []

        def visit(current: str) -> None:
            if current in path:
                raise InvalidValue(f"jurisdiction {code}: its {what} form a cycle")
            path.append(current)
            for following in links(self._by_code[current]):
                visit(following)
            path.pop()

        visit(code)

    # -- queries ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Jurisdiction]:
        return iter(self._by_code.values())

    def get(self, code: str) -> Jurisdiction:
        """The entry of ``code``; ``UnknownJurisdiction`` when the list has none."""
        found = self._by_code.get(code)
        if found is None:
            raise UnknownJurisdiction(f"jurisdiction {code!r} is not in the list of jurisdictions")
        return found

    def children(self, code: str) -> list[str]:
        """The codes directly under ``code``, in the list's order."""
        self.get(code)
        return list(self._children[code])

    def valid_on(self, day: date) -> list[Jurisdiction]:
        """The entries that hold on ``day``, in the list's order."""
        return [entry for entry in self._by_code.values() if entry.valid_on(day)]

    def members(self, code: str) -> tuple[str, ...]:
        """Every jurisdiction whose plans a scope of ``code`` counts, sorted: itself, everything
        under it at any depth, and the predecessors of each of those (a merged province's plans
        count in its successor's scope)."""
        self.get(code)
        found: set[str] = set()
        pending = [code]
        while pending:
            current = pending.pop()
            if current in found:
                continue
            found.add(current)
            pending.extend(self._children[current])
            pending.extend(self._predecessors[current])
        return tuple(sorted(found))

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Jurisdictions:
        """The list from its JSON document (``{"version": …, "jurisdictions": [...]}``)."""
        records = document.get("jurisdictions")
        if not isinstance(records, list):
            raise InvalidValue("a jurisdictions document needs a list 'jurisdictions'")
        return cls((_entry(record) for record in records), version=int(document.get("version", 1)))


def _entry(record: Mapping[str, Any]) -> Jurisdiction:
    code = str(record["code"])
    check_code(code, "jurisdiction code")
    try:
        level = JurisdictionLevel(record["level"])
    except ValueError:
        raise InvalidValue(f"jurisdiction {code}: unknown level {record['level']!r}") from None
    valid_to = record.get("valid_to")
    official = record.get("official_code")
    return Jurisdiction(
        code=code,
        level=level,
        name_vi=str(record["name_vi"]),
        name_en=str(record["name_en"]),
        parent=None if record.get("parent") is None else str(record["parent"]),
        valid_from=date.fromisoformat(record["valid_from"]),
        valid_to=None if valid_to is None else date.fromisoformat(valid_to),
        official_code=None if official is None else str(official),
        succeeded_by=tuple(str(code) for code in record.get("succeeded_by", ())),
    )
