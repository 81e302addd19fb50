"""Each attack on stored history is found against a checkpoint an inspector kept, witnessed.

The ledger records a year, a sequencer puts it in the log's tree, the log signs a checkpoint
and a witness cosigns it; the inspector keeps that note. Then someone with access to the
database tampers with the store (on SQLite and PostgreSQL), and:

- ``check_log`` (every hash, entry and the root recomputed from the stored events) finds it
  against the inspector's checkpoint;
- the witness refuses to cosign any checkpoint the operator can make of the tampered log.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from builders import PROJECT, record_year

from capledger.application.chain import seal, unseal
from capledger.application.ledger import Ledger
from capledger.application.storage import event_log, log_tree
from capledger.application.tlog.check import check_log
from capledger.application.tlog.checkpoint import Checkpoint, open_checkpoint
from capledger.application.tlog.entry import LogEntry
from capledger.application.tlog.merkle import (
    Frontier,
    NodeId,
    consistency_proof,
    leaf_hash,
    verify_consistency,
)
from capledger.application.tlog.note import COSIGNATURE_V1, NoteSigner
from capledger.application.tlog.sequencer import Sequencer
from capledger.application.tlog.witness import Witness, WitnessRefusal
from capledger.domain.ids import project_id

from .conftest import RawRow, RawStore

pytestmark = pytest.mark.integration

ORIGIN = "ledger.example.vn/capledger"
NOW = 1_796_000_000


@dataclass
class Witnessed:
    ledger: Ledger
    raw: RawStore
    log_key: NoteSigner
    witness: Witness
    kept: Checkpoint  # what the inspector opened from the witnessed note and kept


@pytest.fixture
def witnessed(ledger: Ledger, raw_store: RawStore) -> Witnessed:
    record_year(ledger)
    sequencer = Sequencer(event_log(ledger.recorder), log_tree(ledger.recorder))
    sequencer.catch_up()
    log_key = NoteSigner.generate(ORIGIN)
    witness = Witness(
        NoteSigner.generate("inspector.example.vn/w1", COSIGNATURE_V1), log_key.verifier
    )
    note = Checkpoint(ORIGIN, sequencer.size, sequencer.root()).sign(log_key)
    note += witness.cosign(note, [], NOW)
    kept = open_checkpoint(note, log_key.verifier, [witness.key.verifier])
    assert check_log(event_log(ledger.recorder), kept).ok
    return Witnessed(ledger, raw_store, log_key, witness, kept)


class TreeOf:
    """The tree the operator can build of the tampered log, and its consistency proofs."""

    def __init__(self, rows: list[RawRow]) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        self.frontier = Frontier()
        for row in rows:
            entry = LogEntry.of_stored(
                row.position, row.originator_id, row.originator_version, row.state
            )
            self.nodes.update(self.frontier.append(leaf_hash(entry.encode())))

    def subtree_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self.nodes[node] for node in ids}


def operators_next_checkpoint_is_refused(w: Witnessed) -> None:
    tree = TreeOf(w.raw.rows())
    size = tree.frontier.size
    note = Checkpoint(ORIGIN, size, tree.frontier.root()).sign(w.log_key)
    proof = consistency_proof(tree, w.kept.size, size) if size >= w.kept.size else []
    with pytest.raises(WitnessRefusal):
        w.witness.cosign(note, proof, NOW + 60)


def reseal(raw: RawStore, stream: UUID, versions: list[tuple[str, dict[str, Any], dict[str, Any]]],
           first: int) -> None:  # fmt: skip
    """Write the stream's versions from ``first`` on as (topic, data, meta), sealed afresh in
    its chain: what an attacker with the chain's (public) algorithm does."""
    rows = {row.originator_version: row for row in raw.rows() if row.originator_id == stream}
    prev = unseal(rows[first - 1].state).hash if first > 1 else "0" * 64
    for version, (topic, data, meta) in enumerate(versions, start=first):
        state, prev = seal(
            stream=str(stream), version=version, topic=topic, data=data, meta=meta, prev=prev
        )
        if version in rows:
            raw.update_topic(stream, version, topic)
            raw.update_state(stream, version, state)
        else:
            with event_log(raw.recorder).bulk_import() as target:
                target.insert([(stream.hex, version, topic, state)])


def stream_events(raw: RawStore, stream: UUID) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    rows = [row for row in raw.rows() if row.originator_id == stream]
    return [(row.topic, unseal(row.state).data, unseal(row.state).meta) for row in rows]


def test_an_edited_event_is_found(witnessed: Witnessed) -> None:
    w, stream = witnessed, project_id(PROJECT)
    row = w.raw.row(stream, 3)
    w.raw.update_state(stream, 3, row.state.replace(b'"amount":', b'"amount":1'))

    found = check_log(event_log(w.ledger.recorder), w.kept)

    assert not found.ok and found.position == row.position
    assert "content does not match its hash" in (found.problem or "")


def test_a_whole_stream_rewritten_with_fresh_hashes_is_found(witnessed: Witnessed) -> None:
    w, stream = witnessed, project_id(PROJECT)
    events = stream_events(w.raw, stream)
    for _, data, _ in events:
        if "amount" in data:
            data["amount"] += 1_000_000
    reseal(w.raw, stream, events, first=1)

    found = check_log(event_log(w.ledger.recorder), w.kept)

    assert not found.ok and "another root" in (found.problem or "")
    assert found.size == w.kept.size  # every chain held: only the tree tells
    operators_next_checkpoint_is_refused(w)


def test_the_last_events_deleted_are_found(witnessed: Witnessed) -> None:
    w = witnessed
    for row in w.raw.rows()[-2:]:
        w.raw.delete(row.originator_id, row.originator_version)

    found = check_log(event_log(w.ledger.recorder), w.kept)

    assert not found.ok
    assert found.problem == f"2 of the checkpoint's {w.kept.size} entries are missing at the end"
    operators_next_checkpoint_is_refused(w)


def test_an_event_inserted_into_a_streams_history_is_found(witnessed: Witnessed) -> None:
    w, stream = witnessed, project_id(PROJECT)
    events = stream_events(w.raw, stream)
    topic, data, meta = events[2]
    forged = (topic, {**data, "amount": 5_000_000_000}, meta)
    reseal(w.raw, stream, [forged, *events[2:]], first=3)

    found = check_log(event_log(w.ledger.recorder), w.kept)

    assert not found.ok and "another root" in (found.problem or "")
    assert len(stream_events(w.raw, stream)) == len(events) + 1
    operators_next_checkpoint_is_refused(w)


def test_a_fork_two_checkpoints_of_one_size_with_different_roots_is_refused(
    witnessed: Witnessed,
) -> None:
    w, stream = witnessed, project_id(PROJECT)
    events = stream_events(w.raw, stream)
    events[-1][1]["reason"] = "forked"
    reseal(w.raw, stream, events[-1:], first=len(events))
    tree = TreeOf(w.raw.rows())
    fork = Checkpoint(ORIGIN, w.kept.size, tree.frontier.root())
    assert fork.size == w.kept.size and fork.root != w.kept.root

    with pytest.raises(WitnessRefusal, match="fork"):
        w.witness.cosign(fork.sign(w.log_key), [], NOW + 60)
    with pytest.raises(ValueError):
        verify_consistency(w.kept.size, fork.size, [], w.kept.root, fork.root)
    assert not check_log(event_log(w.ledger.recorder), w.kept).ok
