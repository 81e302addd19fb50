"""Where a command's receipt is kept: the id's shared slot, the one every receipt recorded
before ids were scoped per principal is in, or a principal's own slot for that id."""

from __future__ import annotations

from uuid import uuid5

import pytest

from capledger.application.receipts import own_receipt_id, receipt_id
from capledger.domain.ids import NAMESPACE

pytestmark = pytest.mark.unit


def test_the_shared_slot_is_where_receipts_were_always_kept() -> None:
    assert receipt_id("pay-1") == uuid5(NAMESPACE, "command:pay-1")


def test_a_principals_own_slot_is_neither_the_shared_one_nor_another_principals() -> None:
    slots = {
        receipt_id("pay-1"),
        own_receipt_id("finance_officer:lan", "pay-1"),
        own_receipt_id("finance_officer:minh", "pay-1"),
    }
    assert len(slots) == 3


def test_no_principal_and_id_spell_another_pairs_slot() -> None:
    # Both principals and ids may hold the colon that would join them.
    assert own_receipt_id("operator:an", "b") != own_receipt_id("operator", "an:b")
    assert own_receipt_id("a", "") != own_receipt_id("", "a")
