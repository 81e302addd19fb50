"""Administration: API keys (created, listed, revoked by administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from .. import keyevents
from ..deps import Admin, Ctx
from ..problems import ApiProblem, problem_responses
from ..roles import Role
from ..routing import ThreadedRoute
from ..store import ApiKey, DuplicateKeyName, LastAdministrator, UnknownKey
from ..types import Label

router = APIRouter(prefix="/admin", tags=["administration"], route_class=ThreadedRoute)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Label = Field(description="Unique; the principal recorded is `<role>:<name>`.")
    role: Role
    investors: list[Label] = Field(default_factory=list, max_length=500)
    provinces: list[Label] = Field(default_factory=list, max_length=100)


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: Role
    principal: str
    investors: list[str]
    provinces: list[str]
    created_at: datetime
    revoked_at: datetime | None


class IssuedKeyOut(KeyOut):
    token: str = Field(description="The API key itself: shown once, stored only hashed.")


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        key_id=key.key_id,
        name=key.name,
        role=key.role,
        principal=key.principal,
        investors=sorted(key.scope.investors),
        provinces=sorted(key.scope.provinces),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.post(
    "/keys",
    operation_id="create_api_key",
    summary="Create an API key",
    status_code=201,
    response_model=IssuedKeyOut,
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 429),
)
def create_key(body: NewKey, caller: Admin, ctx: Ctx) -> IssuedKeyOut:
    try:
        issued = keyevents.issue_key(
            ctx.store, ctx.ledger, caller.principal, body.name, body.role,
            investors=body.investors, provinces=body.provinces,
        )  # fmt: skip
    except DuplicateKeyName as error:
        raise ApiProblem(409, "duplicate-key-name", str(error)) from None
    except ValueError as error:
        raise ApiProblem(422, "invalid-key", str(error)) from None
    return IssuedKeyOut(**key_out(issued.key).model_dump(), token=issued.token)


@router.get(
    "/keys",
    operation_id="api_keys",
    summary="API keys (never their tokens)",
    response_model=list[KeyOut],
    responses=problem_responses(401, 403, 429),
)
def list_keys(caller: Admin, ctx: Ctx) -> list[KeyOut]:
    return [key_out(key) for key in ctx.store.all_keys()]


@router.delete(
    "/keys/{key_id}",
    operation_id="revoke_api_key",
    summary="Revoke an API key",
    description="The last active administrator key is not revoked: 409 `last-administrator` "
    "(create another administrator key first). A revocation holds at once in every server "
    "process on the store.",
    response_model=KeyOut,
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def revoke_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{8}$")], caller: Admin, ctx: Ctx
) -> KeyOut:
    try:
        key = keyevents.revoke_key(ctx.store, ctx.ledger, caller.principal, key_id)
    except UnknownKey as error:
        raise ApiProblem(404, "not-found", str(error)) from None
    except LastAdministrator as error:
        raise ApiProblem(409, error.code, str(error)) from None
    return key_out(key)


class NewScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    investors: list[Label] = Field(default_factory=list, max_length=500)
    provinces: list[Label] = Field(default_factory=list, max_length=100)


@router.put(
    "/keys/{key_id}/scope",
    operation_id="change_api_key_scope",
    summary="Change a finance officer's key's scope (recorded on the audit trail)",
    response_model=KeyOut,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 429),
)
def change_key_scope(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{8}$")], body: NewScope, caller: Admin, ctx: Ctx
) -> KeyOut:
    try:
        key = keyevents.change_key_scope(
            ctx.store, ctx.ledger, caller.principal, key_id,
            investors=body.investors, provinces=body.provinces,
        )  # fmt: skip
    except UnknownKey as error:
        raise ApiProblem(404, "not-found", str(error)) from None
    return key_out(key)
