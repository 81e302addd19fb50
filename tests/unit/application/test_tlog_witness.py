"""A witness cosigns (C2SP tlog-cosignature v1) each checkpoint that extends the last it
cosigned, and refuses a fork, a rewrite, a shrunk log and a checkpoint the log did not sign."""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping

import pytest

from capledger.application.tlog.checkpoint import Checkpoint, open_checkpoint
from capledger.application.tlog.merkle import (
    Frontier,
    NodeId,
    consistency_proof,
    leaf_hash,
    root,
)
from capledger.application.tlog.note import (
    COSIGNATURE_V1,
    NoteSigner,
    NoteVerifier,
    cosignature_time,
    cosigned_message,
    key_id,
    open_note,
)
from capledger.application.tlog.witness import Witness, WitnessRefusal

pytestmark = pytest.mark.unit

ORIGIN = "ledger.example.vn/capledger"
NOW = 1_796_000_000


class Tree:
    def __init__(self, entries: list[bytes]) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        frontier = Frontier()
        for entry in entries:
            self.nodes.update(frontier.append(leaf_hash(entry)))

    def subtree_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self.nodes[node] for node in ids}


LOG_KEY = NoteSigner.generate(ORIGIN)
ENTRIES = [f"entry {n}".encode() for n in range(40)]
TREE = Tree(ENTRIES)


def signed(size: int, tree: Tree = TREE, key: NoteSigner = LOG_KEY) -> str:
    return Checkpoint(ORIGIN, size, root(tree, size)).sign(key)


def witness_at(size: int | None) -> Witness:
    key = NoteSigner.generate("inspector.example.vn/w1", COSIGNATURE_V1)
    last = None if size is None else Checkpoint(ORIGIN, size, root(TREE, size))
    return Witness(key, LOG_KEY.verifier, last)


def test_a_cosignature_signs_its_header_time_and_the_checkpoint_under_a_type_4_key() -> None:
    witness = NoteSigner.generate("inspector.example.vn/w1", COSIGNATURE_V1)
    note = signed(7)
    text = note[: note.index("\n\n") + 1]

    cosigned = note + witness.signature_line(text, NOW)

    verifier = NoteVerifier.from_verifier_key(witness.verifier.verifier_key())
    opened = open_note(cosigned, [LOG_KEY.verifier, verifier])
    assert [s.name for s in opened.signatures] == [ORIGIN, "inspector.example.vn/w1"]
    assert cosignature_time(opened.signatures[1]) == NOW
    assert base64.b64decode(witness.verifier.verifier_key().split("+", 2)[2])[0] == COSIGNATURE_V1
    raw_public = base64.b64decode(witness.verifier.verifier_key().split("+", 2)[2])[1:]
    assert witness.verifier.key_id == key_id(witness.name, raw_public, COSIGNATURE_V1)
    assert witness.verifier.key_id != key_id(witness.name, raw_public)
    signature = base64.b64decode(opened.signatures[1].base64)[4:]
    assert len(signature) == 8 + 64
    witness.verifier.public_key.verify(signature[8:], cosigned_message(text, NOW))


def test_a_witness_cosigns_a_log_that_only_grows() -> None:
    witness = witness_at(None)
    last = 0
    for size in (5, 9, 9, 20, 40):
        line = witness.cosign(signed(size), consistency_proof(TREE, last, size), NOW + size)
        opened = open_checkpoint(signed(size) + line, LOG_KEY.verifier, [witness.key.verifier])
        assert opened.size == size
        last = size
    assert witness.last == Checkpoint(ORIGIN, 40, root(TREE, 40))


def test_a_witness_refuses_a_fork_a_rewrite_a_shrunk_log_or_an_unsigned_checkpoint() -> None:
    forked = Tree([*ENTRIES[:19], b"forged", *ENTRIES[20:]])
    rewritten = Tree([b"rewritten", *ENTRIES[1:]])
    witness = witness_at(20)
    before = witness.last

    attempts = {
        "fork: same size, another root": (signed(20, forked), []),
        "rewrite: a longer tree whose first 20 entries changed": (
            signed(30, rewritten),
            consistency_proof(rewritten, 20, 30),
        ),
        "shrunk": (signed(12), []),
        "signed by another key": (signed(30, key=NoteSigner.generate(ORIGIN)), []),
        "a valid proof for another size": (signed(30), consistency_proof(TREE, 19, 30)),
    }
    for what, (note, proof) in attempts.items():
        with pytest.raises(WitnessRefusal):
            witness.cosign(note, proof, NOW)
        assert witness.last == before, what
    witness.cosign(signed(30), consistency_proof(TREE, 20, 30), NOW)
    assert witness.last is not None and witness.last.size == 30


def test_a_witness_needs_a_cosignature_key() -> None:
    with pytest.raises(ValueError, match="cosignature"):
        Witness(NoteSigner.generate("w.example/1"), LOG_KEY.verifier)
