"""The response cache's parts: entries per read-model state, the LRU bound, the request's
directives and validators, and the scope in the key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from starlette.requests import Request

from capledger.api.cache import (
    Entry,
    ReadState,
    ResponseCache,
    _directives,
    _matches,
    caller_key,
    etag_of,
)
from capledger.api.roles import Caller, Role, Scope
from capledger.api.schemas import _plain

pytestmark = pytest.mark.unit

STATE = ReadState("rm1", (("notification_log", 0, 42),))


def request(**headers: str) -> Request:
    raw = [(name.replace("_", "-").lower().encode(), value.encode())
           for name, value in headers.items()]  # fmt: skip
    return Request({"type": "http", "method": "GET", "headers": raw})


def entry(state: ReadState = STATE, body: bytes = b"{}") -> Entry:
    return Entry(state, etag_of(state, "key"), body)


def test_an_entry_serves_only_the_state_it_was_rendered_from() -> None:
    cache = ResponseCache(4)
    cache.put("key", entry())
    assert cache.get("key", STATE) is not None
    assert cache.get("key", ("rm1", 42)) is not None  # the runner's view: namespace, position
    assert cache.get("key", ("rm1", 43)) is None  # a new position: dropped…
    assert cache.get("key", STATE) is None  # …for good
    cache.put("key", entry())
    assert cache.get("key", ("rm2", 42)) is None  # another namespace


def test_a_kafka_partition_moving_is_a_new_state() -> None:
    kafka = ReadState("rm1", (("capledger.events", 0, 10), ("capledger.events", 1, 7)))
    cache = ResponseCache(4)
    cache.put("key", entry(kafka))
    moved = ReadState("rm1", (("capledger.events", 0, 10), ("capledger.events", 1, 8)))
    assert cache.get("key", kafka) is not None
    assert cache.get("key", moved) is None


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = ResponseCache(2)
    cache.put("a", entry())
    cache.put("b", entry())
    assert cache.get("a", STATE) is not None
    cache.put("c", entry())
    assert [key for key, _ in cache.entries()] == ["a", "c"]


def test_a_size_of_0_keeps_nothing() -> None:
    cache = ResponseCache(0)
    cache.put("a", entry())
    assert not cache.enabled
    assert len(cache) == 0


def test_a_huge_body_is_not_kept() -> None:
    cache = ResponseCache(2)
    cache.put("a", entry(body=b"x" * (2 << 20)))
    assert len(cache) == 0


def test_etags_are_strong_and_differ_by_state_and_key() -> None:
    tag = etag_of(STATE, "key")
    assert tag.startswith('"') and tag.endswith('"')
    assert tag == etag_of(ReadState("rm1", (("notification_log", 0, 42),)), "key")
    assert tag != etag_of(STATE, "other")
    assert tag != etag_of(ReadState("rm2", STATE.positions), "key")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (False, False)),
        ({"cache_control": "no-cache"}, (True, False)),
        ({"cache_control": "max-age=0, No-Cache"}, (True, False)),
        ({"cache_control": "no-store"}, (True, True)),
        ({"cache_control": "max-age=0"}, (False, False)),
        ({"pragma": "no-cache"}, (True, False)),
        ({"cache_control": "max-age=10", "pragma": "no-cache"}, (False, False)),
    ],
)
def test_request_directives(headers: dict[str, str], expected: tuple[bool, bool]) -> None:
    assert _directives(request(**headers)) == expected


def test_if_none_match_forms() -> None:
    tag = '"abc"'
    assert _matches(request(if_none_match='"abc"'), tag)
    assert _matches(request(if_none_match='W/"abc"'), tag)
    assert _matches(request(if_none_match='"x", "abc"'), tag)
    assert _matches(request(if_none_match="*"), tag)
    assert not _matches(request(if_none_match='"abcd"'), tag)
    assert not _matches(request(), tag)


def test_the_key_holds_the_role_and_scope_not_the_name() -> None:
    officer = Caller("k1", "lan", Role.FINANCE_OFFICER, Scope.of(["B", "A"], ["HN"]))
    same = Caller("k2", "hoa", Role.FINANCE_OFFICER, Scope.of(["A", "B"], ["HN"]))
    other = Caller("k3", "minh", Role.FINANCE_OFFICER, Scope.of(["A"], ["HN"]))
    inspector = Caller("k4", "an", Role.INSPECTOR, Scope())
    admin = Caller("k5", "root", Role.ADMINISTRATOR, Scope())
    assert caller_key(officer) == caller_key(same)
    keys = {caller_key(officer), caller_key(other), caller_key(inspector), caller_key(admin)}
    assert len(keys) == 4


@pytest.mark.parametrize("text", ["0", "0.3380", "1E+1", "1E-9", "0E-28", "-12.5", "100.0"])
def test_rates_are_written_in_positional_notation(text: str) -> None:
    assert _plain(Decimal(text)) == format(Decimal(text), "f")
