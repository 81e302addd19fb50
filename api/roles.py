"""Roles and scopes: who may read what and write where.

- **inspector**: reads everything, writes nothing;
- **finance officer**: writes, and reads, only within its scope: projects whose investor (the
  one accountable now) or province is one of its own, and plans whose jurisdiction is one of
  its provinces. Aggregates over a jurisdiction (rates, series, watch lists, plans) need that
  jurisdiction among its provinces;
- **administrator**: reads and writes everything, manages keys, publishes digests.

Every operation of the API needs one :class:`Access`; :data:`ROLES` says which roles have it.
The dependencies of :mod:`capledger.api.deps` check it, and ``/openapi.json`` states it per
operation (``x-roles``, ``security``), both from this one table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    INSPECTOR = "inspector"
    FINANCE_OFFICER = "finance_officer"
    ADMINISTRATOR = "administrator"


class Access(StrEnum):
    """What an operation needs of its caller."""

    #: No key: liveness, readiness, metrics and the verifiable log's public surfaces.
    PUBLIC = "public"
    #: Any key; a finance officer's answers are limited to its scope.
    READ = "read"
    #: Recording commands (a finance officer within its scope).
    WRITE = "write"
    #: Checks over the whole ledger, not split by scope (verification, digests, key history).
    LEDGER_WIDE = "ledger-wide"
    #: Managing API keys and publishing digests.
    ADMINISTER = "administer"


#: Who may call an operation of each access (no role is asked for a public one).
ROLES: Mapping[Access, tuple[Role, ...]] = {
    Access.PUBLIC: (),
    Access.READ: (Role.INSPECTOR, Role.FINANCE_OFFICER, Role.ADMINISTRATOR),
    Access.WRITE: (Role.FINANCE_OFFICER, Role.ADMINISTRATOR),
    Access.LEDGER_WIDE: (Role.INSPECTOR, Role.ADMINISTRATOR),
    Access.ADMINISTER: (Role.ADMINISTRATOR,),
}


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

    def may(self, access: Access) -> bool:
        """Whether this caller's role has ``access`` (its scope is checked apart)."""
        return access is Access.PUBLIC or self.role in ROLES[access]

    @property
    def can_write(self) -> bool:
        return self.may(Access.WRITE)

    def covers_project(self, investor_code: str, province: str) -> bool:
        return not self.scoped or self.scope.covers_project(investor_code, province)

    def covers_jurisdiction(self, jurisdiction: str) -> bool:
        return not self.scoped or self.scope.covers_jurisdiction(jurisdiction)


ACCESS_MEANINGS: Mapping[Access, str] = {
    Access.PUBLIC: "`/healthz`, `/readyz`, `/metrics`, the verifiable log (`/log/…`)",
    Access.READ: "queries, audit reads of one project, exports",
    Access.WRITE: "commands",
    Access.LEDGER_WIDE: "`/verify`, digests (reading), key histories",
    Access.ADMINISTER: "API keys, publishing a digest",
}


def access_table() -> str:
    """:data:`ROLES` as the Markdown table docs/api.md carries (a test keeps them equal)."""
    lines = ["| access | roles | operations |", "|---|---|---|"]
    for access, roles in ROLES.items():
        named = ", ".join(f"`{role.value}`" for role in roles) or "none (no key)"
        lines.append(f"| `{access.value}` | {named} | {ACCESS_MEANINGS[access]} |")
    return "\n".join(lines)
