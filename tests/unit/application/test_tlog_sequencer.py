"""The sequencer appends every recorded event to the log's tree, in order, and resumes from the
store after any failure.

On the in-memory store; on SQLite and PostgreSQL: tests/integration/test_tlog_store.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

import pytest
from builders import BILLION, funded_project, pay, record_year

from capledger.application.ledger import Ledger
from capledger.application.storage import LogTree, TreeLeaf, TreeTile, event_log, log_tree
from capledger.application.tlog.entry import LogEntry
from capledger.application.tlog.merkle import (
    Frontier,
    inclusion_proof,
    leaf_hash,
    root,
    verify_inclusion,
)
from capledger.application.tlog.sequencer import Sequencer
from capledger.bootstrap import load_rules

pytestmark = pytest.mark.unit


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    opened = Ledger(rules=load_rules())
    yield opened
    opened.close()


def expected_root(ledger: Ledger) -> tuple[int, bytes]:
    """The tree of every stored event, computed here from the log's rows."""
    log = event_log(ledger.recorder)
    frontier = Frontier()
    for row in log.read_rows(0, 1_000_000):
        entry = LogEntry.of_stored(row.id, row.originator_id, row.originator_version, row.state)
        frontier.append(leaf_hash(entry.encode()))
    return frontier.size, frontier.root()


def sequencer_of(ledger: Ledger, batch: int = 7) -> Sequencer:
    return Sequencer(event_log(ledger.recorder), log_tree(ledger.recorder), batch=batch)


def test_every_recorded_event_becomes_a_leaf_in_log_order(ledger: Ledger) -> None:
    record_year(ledger)
    sequencer = sequencer_of(ledger)

    appended = sequencer.catch_up()

    size, digest = expected_root(ledger)
    assert appended == sequencer.size == size > 40
    assert sequencer.root() == digest == root(log_tree(ledger.recorder), size)
    assert sequencer.step() == 0


def test_events_recorded_later_extend_the_same_tree(ledger: Ledger) -> None:
    funded_project(ledger, amount=100 * BILLION)
    sequencer = sequencer_of(ledger)
    sequencer.catch_up()
    first = sequencer.size

    pay(ledger, amount=BILLION)
    pay(ledger, amount=2 * BILLION)
    sequencer.catch_up()

    assert sequencer.size > first
    assert (sequencer.size, sequencer.root()) == expected_root(ledger)


def test_a_restarted_sequencer_resumes_the_tree_from_the_store(ledger: Ledger) -> None:
    record_year(ledger)
    first = sequencer_of(ledger, batch=5)
    first.step()
    first.step()

    again = sequencer_of(ledger, batch=11)
    assert (again.size, again.position) == (10, first.position)
    again.catch_up()

    assert (again.size, again.root()) == expected_root(ledger)


class FailingTree:
    """The store's tree, failing the n-th append before it writes anything (a crash before
    the commit)."""

    def __init__(self, tree: LogTree, fail_on: int, head_fails: int = 0) -> None:
        self.tree = tree
        self.calls = 0
        self.fail_on = fail_on
        self.head_fails = head_fails

    def create_log_tree(self) -> None:
        self.tree.create_log_tree()

    def log_tree_head(self) -> TreeLeaf | None:
        if self.calls == self.fail_on and self.head_fails:
            self.head_fails -= 1
            raise ConnectionError("the store is still away")
        return self.tree.log_tree_head()

    def append_to_log_tree(
        self, size: int, head: TreeLeaf, runs: Sequence[TreeLeaf], tiles: Sequence[TreeTile]
    ) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ConnectionError("the store went away")
        self.tree.append_to_log_tree(size, head, runs, tiles)

    def read_tiles(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return self.tree.read_tiles(ids)

    def subtree_hashes(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return self.tree.subtree_hashes(ids)

    def leaf_index_of(self, position: int) -> int | None:
        return self.tree.leaf_index_of(position)

    def leaf_positions(self, start: int, stop: int) -> list[int]:
        return self.tree.leaf_positions(start, stop)


def test_a_failed_batch_is_retried_from_the_stores_tree_not_the_lost_one(ledger: Ledger) -> None:
    record_year(ledger)
    tree = FailingTree(log_tree(ledger.recorder), fail_on=3)
    sequencer = Sequencer(event_log(ledger.recorder), tree, batch=4)

    with pytest.raises(ConnectionError):
        sequencer.catch_up()
    assert sequencer.size == 8 == log_tree(ledger.recorder).log_tree_head()[0] + 1  # type: ignore[index]
    sequencer.catch_up()

    assert (sequencer.size, sequencer.root()) == expected_root(ledger)


def test_each_event_is_proved_included_at_its_leaf(ledger: Ledger) -> None:
    record_year(ledger)
    sequencer = sequencer_of(ledger)
    sequencer.catch_up()
    tree = log_tree(ledger.recorder)

    for row in event_log(ledger.recorder).read_rows(0, 1_000):
        index = tree.leaf_index_of(row.id)
        assert index is not None
        entry = LogEntry.of_stored(row.id, row.originator_id, row.originator_version, row.state)
        proof = inclusion_proof(tree, index, sequencer.size)
        verify_inclusion(index, sequencer.size, leaf_hash(entry.encode()), proof, sequencer.root())


def test_a_sequencer_that_could_not_reread_the_store_rereads_it_before_its_next_batch(
    ledger: Ledger,
) -> None:
    record_year(ledger)
    tree = FailingTree(log_tree(ledger.recorder), fail_on=2, head_fails=1)
    sequencer = Sequencer(event_log(ledger.recorder), tree, batch=4)

    with pytest.raises(ConnectionError):
        sequencer.catch_up()
    assert sequencer.size == 8  # the lost batch's leaves are still in its frontier
    sequencer.catch_up()

    assert (sequencer.size, sequencer.root()) == expected_root(ledger)
    assert log_tree(ledger.recorder).leaf_positions(0, 1_000) == [
        row.id for row in event_log(ledger.recorder).read_rows(0, 1_000)
    ]
