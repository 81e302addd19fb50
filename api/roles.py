"""Roles and scopes: who may read what and write where.

- **inspector**: reads everything, writes nothing;
- **finance officer**: writes, and reads, only within its scope: projects whose investor (the
  one accountable now) or province is one of its own, and plans whose jurisdiction is one of
  its provinces. Aggregates over a jurisdiction (rates, series, watch lists, plans) need that
  jurisdiction among its provinces;
- **administrator**: reads and writes everything, manages keys, publishes digests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    INSPECTOR = "inspector"
    FINANCE_OFFICER = "finance_officer"
    ADMINISTRATOR = "administrator"


@dataclass(frozen=True)
class Scope:
    investors: frozenset[str] = field(default_factory=frozenset)
    provinces: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, investors: Iterable[str] = (), provinces: Iterable[str] = ()) -> Scope:
        return cls(
            frozenset(code.strip() for code in investors if code.strip()),
            frozenset(code.strip() for code in provinces if code.strip()),
        )

    @property
    def is_empty(self) -> bool:
        return not self.investors and not self.provinces

    def covers_project(self, investor_code: str, province: str) -> bool:
        return investor_code in self.investors or province in self.provinces

    def covers_jurisdiction(self, jurisdiction: str) -> bool:
        return jurisdiction in self.provinces


@dataclass(frozen=True)
class Caller:
    """The authenticated client of one request."""

    key_id: str
    name: str
    role: Role
    scope: Scope

    @property
    def principal(self) -> str:
        return f"{self.role.value}:{self.name}"

    @property
    def scoped(self) -> bool:
        """Whether what this caller sees and does is limited to its scope."""
        return self.role is Role.FINANCE_OFFICER

    @property
    def can_write(self) -> bool:
        return self.role in (Role.FINANCE_OFFICER, Role.ADMINISTRATOR)

    def covers_project(self, investor_code: str, province: str) -> bool:
        return not self.scoped or self.scope.covers_project(investor_code, province)

    def covers_jurisdiction(self, jurisdiction: str) -> bool:
        return not self.scoped or self.scope.covers_jurisdiction(jurisdiction)
