"""An API key's administration as an aggregate: issued with a role and a scope that fits it,
rescoped while active, revoked once."""

from __future__ import annotations

import pytest

from capledger.domain import ApiKey, api_key_id
from capledger.domain.errors import ApiKeyRevoked, InvalidValue

pytestmark = pytest.mark.unit


def officer_key() -> ApiKey:
    return ApiKey.issue(key_id="0a1b2c3d", name="lan", role="finance_officer", provinces=["HP"])


def test_a_key_is_issued_under_its_id_with_its_scope_sorted() -> None:
    key = ApiKey.issue(
        key_id="0a1b2c3d", name="lan", role="finance_officer", investors=["B", "A", "A"]
    )
    assert key.id == api_key_id("0a1b2c3d")
    assert (key.investors, key.provinces, key.revoked) == (["A", "B"], [], False)
    (issued,) = key.collect_events()
    assert isinstance(issued, ApiKey.Issued)
    assert not hasattr(issued, "token")


@pytest.mark.parametrize(
    ("role", "provinces"),
    [("finance_officer", []), ("inspector", ["HP"]), ("administrator", ["HP"]), ("clerk", [])],
)
def test_a_scope_must_fit_the_role(role: str, provinces: list[str]) -> None:
    with pytest.raises(InvalidValue):
        ApiKey.issue(key_id="0a1b2c3d", name="lan", role=role, provinces=provinces)


def test_a_scope_changes_while_the_key_is_active() -> None:
    key = officer_key()
    key.change_scope(investors=[], provinces=["HP", "HN"])
    assert key.provinces == ["HN", "HP"]
    with pytest.raises(InvalidValue, match="already"):
        key.change_scope(investors=[], provinces=["HN", "HP"])
    with pytest.raises(InvalidValue, match="at least one"):
        key.change_scope(investors=[], provinces=[])


def test_a_revoked_key_stays_revoked() -> None:
    key = officer_key()
    key.revoke()
    assert key.revoked
    with pytest.raises(ApiKeyRevoked):
        key.revoke()
    with pytest.raises(ApiKeyRevoked):
        key.change_scope(investors=["A"], provinces=[])
    names = [type(event).__name__ for event in key.collect_events()]
    assert names == ["Issued", "Revoked"]
