"""The tree part of checking a log against a checkpoint (:class:`CheckpointTree`), on entries
made up in memory: the root at the checkpoint's size, entries missing at the end, entries
beyond it, and the empty log."""

from __future__ import annotations

import hashlib
from uuid import UUID

import pytest

from capledger.application.tlog.check import CheckpointTree
from capledger.application.tlog.checkpoint import Checkpoint
from capledger.application.tlog.entry import EntryError, LogEntry
from capledger.application.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash

ORIGIN = "ledger.example.vn/capledger"


def entry(index: int) -> LogEntry:
    digest = hashlib.sha256(str(index).encode()).hexdigest()
    return LogEntry(10 + 3 * index, UUID(int=index % 5 + 1), index // 5 + 1, digest)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH, written out recursively as the RFC states it."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def checkpoint_of(size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, mth([leaf_hash(entry(i).encode()) for i in range(size)]))


def fed(tree: CheckpointTree, count: int) -> list[str]:
    return [problem for i in range(count) if (problem := tree.add(entry(i))) is not None]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 64])
def test_the_same_entries_in_order_match_the_checkpoint_and_later_ones_are_beyond(
    size: int,
) -> None:
    tree = CheckpointTree(checkpoint_of(size))

    assert fed(tree, size + 4) == []
    assert tree.end() is None and tree.beyond == 4


def test_another_root_at_the_checkpoints_size_is_found_there() -> None:
    tree = CheckpointTree(checkpoint_of(8))
    for i in (0, 1, 3, 2, 4, 5, 6):  # two entries swapped
        assert tree.add(entry(i)) is None

    assert tree.add(entry(7)) == (
        "the first 8 entries are not the checkpoint's: their tree has another root"
    )


def test_entries_missing_at_the_end_are_counted() -> None:
    tree = CheckpointTree(checkpoint_of(9))
    fed(tree, 7)

    assert tree.end() == "2 of the checkpoint's 9 entries are missing at the end"


def test_an_empty_log_matches_only_the_empty_trees_checkpoint() -> None:
    assert CheckpointTree(Checkpoint(ORIGIN, 0, EMPTY_ROOT)).end() is None
    other = CheckpointTree(Checkpoint(ORIGIN, 0, b"\x01" * 32)).end()
    assert other == "the first 0 entries are not the checkpoint's: their tree has another root"


def test_without_a_checkpoint_nothing_is_compared_and_nothing_is_beyond() -> None:
    tree = CheckpointTree(None)

    assert fed(tree, 5) == [] and tree.end() is None and tree.beyond == 0
    assert tree.size == 5


def test_an_event_that_cannot_be_an_entry_is_an_entry_error() -> None:
    with pytest.raises(EntryError):
        CheckpointTree(None).add(LogEntry(-1, UUID(int=1), 1, "0" * 64))
