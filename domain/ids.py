"""Deterministic aggregate ids: a plan or project code (an API key id) always maps to the same
stream."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

#: Fixed namespace of capledger ids (never change it: every stored stream id depends on it).
NAMESPACE = UUID("6c1f4f0e-3a0b-5d2e-9a57-0c6a1e2b7d41")


# Commands map the same few codes to ids over and over: remembered, as uuid5 hashes each time.
@lru_cache(maxsize=65_536)
def plan_id(code: str) -> UUID:
    return uuid5(NAMESPACE, f"plan:{code}")


@lru_cache(maxsize=65_536)
def project_id(code: str) -> UUID:
    return uuid5(NAMESPACE, f"project:{code}")


@lru_cache(maxsize=4_096)
def api_key_id(key_id: str) -> UUID:
    return uuid5(NAMESPACE, f"api-key:{key_id}")
