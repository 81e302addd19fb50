"""Key administration on the audit trail: every issue, scope change and revocation of an API key
is done in the key store and recorded in the ledger as a command of its own.

The API's admin routes and the ``capledger api-key`` commands both come here, so there is one
path. The key store (:mod:`capledger.api.store`) decides whether a request authenticates; the
ledger keeps the account of who changed which key and when (the ``ApiKey`` aggregate,
``ApiKey.Issued``/``ScopeChanged``/``Revoked``), published and verifiable like every other
event. Events name a key by its id, never by its token.

The two stores are separate, so the order is chosen for safety:

- **issue**: the key is created, then recorded; if the record fails the key is revoked at
  once (no usable key without its trace) and the error raised;
- **revoke**: the key is revoked first (it stops working whatever happens next), then
  recorded; a revocation recorded already is not recorded twice (a fixed command id);
- **scope change**: recorded first (the aggregate checks it), then applied to the store.

A key issued before its administration was recorded gets its ``Issued`` event (from the store's
record of it) when it is first revoked or rescoped.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import uuid4

from capledger.application.commands import ChangeApiKeyScope, IssueApiKey, RevokeApiKey
from capledger.application.errors import UnknownApiKey
from capledger.application.ledger import CommandOutcome, Ledger

from .roles import Role
from .store import ApiKey, ApiStore, IssuedKey, UnknownKey


def issue_key(
    store: ApiStore,
    ledger: Ledger,
    principal: str,
    name: str,
    role: Role,
    *,
    investors: Sequence[str] = (),
    provinces: Sequence[str] = (),
) -> IssuedKey:
    issued = store.create_key(name, role, investors=investors, provinces=provinces)
    try:
        _record_issue(ledger, principal, issued.key)
    except BaseException:
        store.revoke(issued.key.key_id)
        raise
    return issued


def revoke_key(
    store: ApiStore, ledger: Ledger, principal: str, key_id: str, *, force: bool = False
) -> ApiKey:
    """Revoke in the key store (the last active administrator key only with ``force``: the
    operator's way out, never the API's), then record the revocation."""
    key = store.revoke(key_id, force=force)
    _on_record(ledger, principal, key, RevokeApiKey(key_id=key_id), f"api-key:{key_id}:revoked")
    return key


def change_key_scope(
    store: ApiStore,
    ledger: Ledger,
    principal: str,
    key_id: str,
    *,
    investors: Sequence[str] = (),
    provinces: Sequence[str] = (),
) -> ApiKey:
    key = _key(store, key_id)
    command = ChangeApiKeyScope(
        key_id=key_id, investors=tuple(sorted(investors)), provinces=tuple(sorted(provinces))
    )
    _on_record(ledger, principal, key, command, f"api-key:{key_id}:scope:{uuid4().hex}")
    return store.change_scope(key_id, investors=investors, provinces=provinces)


def _record_issue(ledger: Ledger, principal: str, key: ApiKey) -> CommandOutcome:
    command = IssueApiKey(
        key_id=key.key_id,
        name=key.name,
        role=key.role.value,
        investors=tuple(sorted(key.scope.investors)),
        provinces=tuple(sorted(key.scope.provinces)),
    )
    return ledger.execute(command, command_id=f"api-key:{key.key_id}:issued", principal=principal)


def _on_record(
    ledger: Ledger,
    principal: str,
    key: ApiKey,
    command: RevokeApiKey | ChangeApiKeyScope,
    command_id: str,
) -> CommandOutcome:
    """Record a change of a key, its issue first if the ledger has none (an older key)."""
    try:
        return ledger.execute(command, command_id=command_id, principal=principal)
    except UnknownApiKey:
        _record_issue(ledger, principal, key)
        return ledger.execute(command, command_id=command_id, principal=principal)


def _key(store: ApiStore, key_id: str) -> ApiKey:
    for key in store.all_keys():
        if key.key_id == key_id:
            return key
    raise UnknownKey(f"no API key {key_id}")
