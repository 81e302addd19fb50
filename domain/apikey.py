"""API keys on the audit trail: who issued, revoked or rescoped which key, and when.

The keys themselves (their hashed tokens, what authenticates a request) live in the API's own
store; the ledger records their administration, so that an inspector reads it beside every
other decision and a reader of the published log receives it like any other event. An event
names a key by its id, never by its token: the token is seen once, by whoever asked for it.
Who acted and when are the event's metadata (``principal``) and timestamp, as for every
command.

A key is issued with a role and, for a finance officer, a scope (investors and provinces);
its scope may change while it is active; once revoked it stays revoked.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .errors import ApiKeyRevoked, InvalidValue
from .ids import api_key_id
from .values import check_code

#: The roles a key may hold (as the API names them).
ROLES = ("inspector", "finance_officer", "administrator")
SCOPED_ROLE = "finance_officer"


class ApiKey(Aggregate):
    class Issued(Aggregate.Created):
        class_version = 1
        key_id: str
        name: str
        role: str
        investors: list[str]
        provinces: list[str]

    class ScopeChanged(Aggregate.Event):
        class_version = 1
        investors: list[str]
        provinces: list[str]

    class Revoked(Aggregate.Event):
        class_version = 1

    @staticmethod
    def create_id(key_id: str) -> UUID:
        return api_key_id(key_id)

    @classmethod
    def issue(
        cls,
        *,
        key_id: str,
        name: str,
        role: str,
        investors: Iterable[str] = (),
        provinces: Iterable[str] = (),
    ) -> ApiKey:
        check_code(key_id, "key id")
        check_code(name, "key name")
        if role not in ROLES:
            raise InvalidValue(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        scope = _sorted(investors), _sorted(provinces)
        cls.check_scope_fits_role(role, *scope)
        return cls(key_id=key_id, name=name, role=role, investors=scope[0], provinces=scope[1])

    @event(Issued)
    def __init__(
        self, *, key_id: str, name: str, role: str, investors: list[str], provinces: list[str]
    ) -> None:
        self.key_id = key_id
        self.name = name
        self.role = role
        self.investors = list(investors)
        self.provinces = list(provinces)
        self.revoked = False

    # -- invariants ----------------------------------------------------------------------

    @staticmethod
    def check_scope_fits_role(role: str, investors: list[str], provinces: list[str]) -> None:
        """A finance officer's key is scoped to at least one investor or province; the other
        roles' keys are not scoped."""
        if role == SCOPED_ROLE and not investors and not provinces:
            raise InvalidValue("a finance officer's key needs at least one investor or province")
        if role != SCOPED_ROLE and (investors or provinces):
            raise InvalidValue(f"only finance officers' keys are scoped, not {role}'s")

    def check_active(self) -> None:
        if self.revoked:
            raise ApiKeyRevoked(f"API key {self.key_id} is revoked")

    # -- commands ------------------------------------------------------------------------

    def change_scope(self, *, investors: Iterable[str], provinces: Iterable[str]) -> None:
        self.check_active()
        scope = _sorted(investors), _sorted(provinces)
        self.check_scope_fits_role(self.role, *scope)
        if scope == (self.investors, self.provinces):
            raise InvalidValue("the new scope is the key's scope already")
        self._scope_changed(investors=scope[0], provinces=scope[1])

    def revoke(self) -> None:
        self.check_active()
        self._revoked()

    @event(ScopeChanged)
    def _scope_changed(self, *, investors: list[str], provinces: list[str]) -> None:
        self.investors = list(investors)
        self.provinces = list(provinces)

    @event(Revoked)
    def _revoked(self) -> None:
        self.revoked = True


def _sorted(codes: Iterable[str]) -> list[str]:
    found = sorted({code.strip() for code in codes if code.strip()})
    for code in found:
        check_code(code, "scope code")
    return found
