"""The verifiable log's tree on SQLite and PostgreSQL: appended in order with dense leaf indexes,
all or nothing per batch, and resumed exactly after the sequencer's process is killed."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from builders import BILLION, funded_project, pay, record_year
from eventsourcing.persistence import IntegrityError

from capledger.application.chain import GENESIS, seal
from capledger.application.ledger import Ledger
from capledger.application.storage import ImportRow, event_log, log_tree
from capledger.application.tlog.entry import LogEntry
from capledger.application.tlog.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    tile_width,
    verify_consistency,
    verify_inclusion,
)
from capledger.application.tlog.sequencer import Sequencer
from capledger.settings import Settings

pytestmark = pytest.mark.integration

TOPIC = "capledger.domain.project:Project.Test"


def sequencer_of(ledger: Ledger, batch: int = 7) -> Sequencer:
    return Sequencer(event_log(ledger.recorder), log_tree(ledger.recorder), batch=batch)


def expected_tree(ledger: Ledger) -> tuple[list[int], bytes]:
    """The positions of every stored event and the root of their tree, computed here."""
    frontier, positions = Frontier(), []
    for row in event_log(ledger.recorder).read_rows(0, 1_000_000):
        entry = LogEntry.of_stored(row.id, row.originator_id, row.originator_version, row.state)
        frontier.append(leaf_hash(entry.encode()))
        positions.append(row.id)
    return positions, frontier.root()


def import_sealed_events(ledger: Ledger, count: int, streams: int = 9) -> None:
    """``count`` events over a few fresh streams, sealed in their chains, in one import."""
    ids = [uuid4() for _ in range(streams)]
    heads = dict.fromkeys(ids, (0, GENESIS))
    rows: list[ImportRow] = []
    for n in range(count):
        stream = ids[n % streams]
        version, prev = heads[stream]
        state, digest = seal(
            stream=str(stream), version=version + 1, topic=TOPIC, data={"n": n}, meta={}, prev=prev
        )
        rows.append((stream.hex, version + 1, TOPIC, state))
        heads[stream] = (version + 1, digest)
    with event_log(ledger.recorder).bulk_import() as target:
        target.insert(rows)


def test_the_stored_tree_is_the_tree_of_the_recorded_log_and_proves_it(ledger: Ledger) -> None:
    record_year(ledger)
    sequencer = sequencer_of(ledger)
    sequencer.catch_up()
    tree = log_tree(ledger.recorder)

    positions, digest = expected_tree(ledger)
    size = len(positions)
    assert (sequencer.size, sequencer.root()) == (size, digest)
    assert root(tree, size) == digest and tree.log_tree_head() == (size - 1, positions[-1])
    leaves = [leaf_hash(LogEntry.of_stored(*row[:3], row.state).encode()) for row in
              event_log(ledger.recorder).read_rows(0, size)]  # fmt: skip
    for index in (0, 1, size // 2, size - 1):
        assert tree.leaf_index_of(positions[index]) == index
        proof = inclusion_proof(tree, index, size)
        verify_inclusion(index, size, leaves[index], proof, digest)
    for old in (1, 5, size // 2, size - 1):
        proof = consistency_proof(tree, old, size)
        verify_consistency(old, size, proof, root(tree, old), digest)


def test_leaf_indexes_are_dense_where_positions_have_gaps(ledger: Ledger) -> None:
    funded_project(ledger, amount=100 * BILLION)
    pay(ledger, amount=BILLION)
    pay(ledger, amount=BILLION)
    rows = event_log(ledger.recorder).read_rows(0, 1_000)
    gone = next(row for row in rows if row.id == rows[-1].id - 3)
    event_log(ledger.recorder).delete_stored_event(
        UUID(gone.originator_id), gone.originator_version
    )

    sequencer = sequencer_of(ledger)
    sequencer.catch_up()

    positions, digest = expected_tree(ledger)
    tree = log_tree(ledger.recorder)
    assert gone.id not in positions and sequencer.size == len(positions) == len(rows) - 1
    assert [tree.leaf_index_of(position) for position in positions] == list(range(len(positions)))
    assert tree.leaf_index_of(gone.id) is None
    assert sequencer.root() == digest


def test_a_batch_is_stored_whole_or_not_at_all(ledger: Ledger) -> None:
    import_sealed_events(ledger, 20)
    sequencer = sequencer_of(ledger, batch=8)
    sequencer.step()
    tree = log_tree(ledger.recorder)
    head, stored = tree.log_tree_head(), tree.read_tiles([(0, 0)])

    # The next batch's head and a wider tile, with a run at a leaf already stored: the insert
    # fails at its end, after the head and the tile were written.
    with pytest.raises(IntegrityError):
        tree.append_to_log_tree(8, (9, 10), [(9, 10), (0, 1)], [(0, 0, b"x" * 32 * 10)])
    # A batch appended to a tree of a size it no longer has.
    with pytest.raises(IntegrityError):
        tree.append_to_log_tree(5, (9, 10), [], [(0, 0, b"y" * 32 * 10)])

    assert tree.log_tree_head() == head and tree.leaf_index_of(10) is None
    assert tree.read_tiles([(0, 0), (1, 0)]) == stored and tile_width(stored[0, 0]) == 8
    sequencer.catch_up()
    assert (sequencer.size, sequencer.root()) == (20, expected_tree(ledger)[1])


def test_a_second_sequencer_conflicts_and_resumes_from_the_store(
    ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    import_sealed_events(ledger, 30)
    first = sequencer_of(ledger, batch=10)
    second = sequencer_of(open_ledger(), batch=4)
    first.step()

    with pytest.raises(IntegrityError):
        second.step()  # it read an empty tree and appends to it again
    assert second.size == 10
    second.catch_up()
    first.resume()

    assert first.step() == 0
    assert (
        (first.size, first.root())
        == (second.size, second.root())
        == (
            30,
            expected_tree(ledger)[1],
        )
    )


SEQUENCE_THEN_DIE = """
import os, pickle, signal, sys
from capledger.application.storage import event_log, log_tree
from capledger.application.tlog.sequencer import Sequencer
from capledger.bootstrap import build_ledger

settings = pickle.loads(open(sys.argv[1], "rb").read())
die_after = int(sys.argv[2])
ledger = build_ledger(settings)
tree = log_tree(ledger.recorder)
append = tree.append_to_log_tree
calls = 0

def append_then_die(*batch):
    global calls
    append(*batch)
    calls += 1
    if calls == die_after:
        os.kill(os.getpid(), signal.SIGKILL)

tree.append_to_log_tree = append_then_die
Sequencer(event_log(ledger.recorder), tree, batch=int(sys.argv[3])).catch_up()
"""


def test_a_sequencer_killed_mid_way_is_resumed_exactly_by_the_next(
    ledger: Ledger, store: Settings, tmp_path: Path
) -> None:
    import_sealed_events(ledger, 300)
    settings_file = tmp_path / "settings.pickle"
    settings_file.write_bytes(pickle.dumps(store))

    killed = subprocess.run(
        [sys.executable, "-c", SEQUENCE_THEN_DIE, str(settings_file), "6", "13"],
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    tree = log_tree(ledger.recorder)
    assert tree.log_tree_head() == (6 * 13 - 1, 6 * 13)
    sequencer = sequencer_of(ledger, batch=50)
    assert sequencer.catch_up() == 300 - 6 * 13
    assert (sequencer.size, sequencer.root()) == (300, expected_tree(ledger)[1])
    assert root(tree, 300) == sequencer.root()
