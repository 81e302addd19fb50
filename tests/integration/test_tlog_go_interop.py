"""Our proofs and signed checkpoints verify with code no one here wrote.

``tests/interop/go`` holds two small Go commands, built here with the machine's Go (modules
from the Go module proxy, pinned by go.sum):

- the proof checker, over github.com/transparency-dev/merkle's RFC 6962 hasher,
  ``proof.VerifyInclusion`` and ``proof.VerifyConsistency``: it gets proofs our module made
  (valid ones, which it must accept, and tampered ones, which it must refuse) for trees of many
  sizes and for the tree a sequencer stored from recorded events;
- ``notecheck``, over golang.org/x/mod/sumdb/note (``note.Open``, ``note.Sign``,
  ``note.GenerateKey``) and github.com/transparency-dev/formats (``note.NewVerifier``, which
  reads cosignature/v1 keys too, and ``log.ParseCheckpoint``): it opens our signed and
  witness-cosigned checkpoints and makes keys and notes that ours must read;
- ``tilecheck``, over golang.org/x/mod/sumdb/tlog (the Go checksum database's tile client:
  ``TileHashReader``, ``ProveRecord``, ``CheckRecord``, ``ProveTree``, ``CheckTree``): it
  reads a log we published in the C2SP tlog-tiles layout.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pytest
from builders import record_year

from capledger.application.ledger import Ledger
from capledger.application.storage import event_log, log_tree
from capledger.application.tlog.checkpoint import Checkpoint, open_checkpoint
from capledger.application.tlog.entry import LogEntry
from capledger.application.tlog.merkle import (
    Frontier,
    NodeId,
    SubtreeReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
)
from capledger.application.tlog.note import COSIGNATURE_V1, NoteSigner, NoteVerifier, sign_note
from capledger.application.tlog.sequencer import Sequencer
from capledger.application.tlog.tiles import publish_tiles
from capledger.application.tlog.witness import Witness

from .test_tlog_store import import_sealed_events

pytestmark = pytest.mark.integration

CHECKER = Path(__file__).resolve().parents[1] / "interop" / "go"
GO = shutil.which("go") or next(
    (str(path) for path in [Path("/usr/local/go/bin/go")] if path.exists()), None
)


class Nodes:
    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        frontier = Frontier()
        for leaf in leaves:
            self.nodes.update(frontier.append(leaf))

    def subtree_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self.nodes[node] for node in ids}


#: ``make test`` sets it: there the interop checkers must run, a missing Go fails them.
GO_REQUIRED = os.environ.get("CAPLEDGER_TEST_GO") == "1"


def go_build(directory: Path, package: str) -> Path:
    if GO is None:
        reason = "Go is not installed: the interop checkers (tests/interop/go) need `go`"
        if GO_REQUIRED:
            pytest.fail(f"{reason} (CAPLEDGER_TEST_GO=1; Go 1.26+ in PATH or /usr/local/go)")
        pytest.skip(reason)
    binary = directory / (package.strip("./") or "tlogcheck")
    env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local"}
    built = subprocess.run(
        [GO, "build", "-o", str(binary), package],
        cwd=CHECKER,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return binary


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The proof checker (transparency-dev/merkle)."""
    return go_build(tmp_path_factory.mktemp("go"), ".")


@pytest.fixture(scope="module")
def tilecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tile reader (x/mod/sumdb/tlog)."""
    return go_build(tmp_path_factory.mktemp("go"), "./tilecheck")


@pytest.fixture(scope="module")
def notecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The note and checkpoint checker (x/mod/sumdb/note, transparency-dev/formats/log)."""
    return go_build(tmp_path_factory.mktemp("go"), "./notecheck")


def check(binary: Path, cases: dict[str, list[dict[str, Any]]]) -> str:
    ran = subprocess.run(
        [str(binary)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout.strip().splitlines()[-1]


def flip(digest: bytes) -> bytes:
    return bytes([digest[0] ^ 1]) + digest[1:]


def cases_of(
    tree: SubtreeReader, leaves: list[bytes], pairs: list[tuple[int, int]]
) -> dict[str, list[dict[str, Any]]]:
    """Inclusion of leaf i in size n and consistency of size i with n, for each (i, n); with a
    tampered twin of each proof that has a node to tamper with."""
    roots: dict[int, bytes] = {}

    def root_of(size: int) -> bytes:
        if size not in roots:
            roots[size] = root(tree, size)
        return roots[size]

    inclusion, consistency = [], []
    for index, size in pairs:
        proof = inclusion_proof(tree, index, size)
        case = {"index": index, "size": size, "leaf": leaves[index].hex(),
                "proof": [node.hex() for node in proof], "root": root_of(size).hex()}  # fmt: skip
        inclusion.append({**case, "valid": True})
        inclusion.append({**case, "leaf": flip(leaves[index]).hex(), "valid": False})
        if proof:
            inclusion.append({**case, "proof": [flip(proof[0]).hex(), *case["proof"][1:]],
                              "valid": False})  # fmt: skip
        old = index + 1
        proof = consistency_proof(tree, old, size)
        case = {"old_size": old, "new_size": size, "proof": [node.hex() for node in proof],
                "old_root": root_of(old).hex(), "new_root": root_of(size).hex()}  # fmt: skip
        consistency.append({**case, "valid": True})
        consistency.append({**case, "new_root": flip(root_of(size)).hex(), "valid": False})
        if proof:
            consistency.append({**case, "proof": case["proof"][:-1], "valid": False})
    return {"inclusion": inclusion, "consistency": consistency}


def test_inclusion_and_consistency_proofs_of_trees_of_many_sizes_verify_in_go(
    checker: Path,
) -> None:
    leaves = [leaf_hash(f"entry {n}".encode()) for n in range(5_000)]
    pairs = [(index, size) for size in range(1, 65) for index in range(size)]
    pairs += [
        (index, size)
        for size in (127, 128, 129, 255, 256, 257, 1000, 1023, 1024, 1025, 4095, 4999, 5000)
        for index in (0, 1, size // 3, size // 2, size - 2, size - 1)
        if index >= 0
    ]
    cases = cases_of(Nodes(leaves), leaves, pairs)
    total = len(cases["inclusion"]) + len(cases["consistency"])

    assert check(checker, cases) == f"{total} passed, 0 failed"


def test_proofs_from_the_tree_a_sequencer_stored_verify_in_go(
    checker: Path, ledger: Ledger
) -> None:
    record_year(ledger)
    log, tree = event_log(ledger.recorder), log_tree(ledger.recorder)
    sequencer = Sequencer(log, tree, batch=10)
    sequencer.catch_up()
    leaves = [
        leaf_hash(LogEntry.of_stored(row.id, row.originator_id, row.originator_version,
                                     row.state).encode())
        for row in log.read_rows(0, 1_000)
    ]  # fmt: skip
    size = sequencer.size
    pairs = [(index, size) for index in range(size)] + [(3, 17), (16, 33), (31, size - 1)]
    cases = cases_of(tree, leaves, pairs)
    total = len(cases["inclusion"]) + len(cases["consistency"])

    assert check(checker, cases) == f"{total} passed, 0 failed"


def notes(binary: Path, request: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    ran = subprocess.run(
        [str(binary)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    answer: dict[str, Any] = json.loads(ran.stdout)
    return answer


ORIGIN = "ledger.example.vn/capledger"


def test_our_signed_checkpoints_of_the_stored_tree_open_with_gos_note_and_formats(
    notecheck: Path, ledger: Ledger
) -> None:
    record_year(ledger)
    sequencer = Sequencer(event_log(ledger.recorder), log_tree(ledger.recorder))
    sequencer.catch_up()
    log_key = NoteSigner.generate(ORIGIN)
    witness = Witness(NoteSigner.generate("witness.example/w1", COSIGNATURE_V1), log_key.verifier)
    checkpoint = Checkpoint(ORIGIN, sequencer.size, sequencer.root())
    signed = checkpoint.sign(log_key)
    cosigned = signed + witness.cosign(signed, [], now=1_796_000_000)
    forged = signed.replace(f"\n{sequencer.size}\n", f"\n{sequencer.size - 1}\n")
    vkey, witness_vkey = log_key.verifier.verifier_key(), witness.key.verifier.verifier_key()

    answer = notes(notecheck, {"open": [
        {"note": signed, "vkeys": [vkey], "origin": ORIGIN},
        {"note": cosigned, "vkeys": [vkey, witness_vkey], "origin": ORIGIN},
        {"note": forged, "vkeys": [vkey], "origin": ORIGIN},
        {"note": signed, "vkeys": [witness_vkey], "origin": ORIGIN},
    ]})  # fmt: skip

    good, both, refused, unknown = answer["open"]
    root64 = base64.b64encode(sequencer.root()).decode()
    signed_by = [f"{ORIGIN}+{log_key.verifier.key_id:08x}"]
    assert good == {"ok": True, "text": checkpoint.text(), "size": sequencer.size,
                    "root": root64, "signed_by": signed_by}  # fmt: skip
    assert both["ok"] and len(both["signed_by"]) == 2
    assert not refused["ok"] and "invalid signature" in refused["error"]
    assert not unknown["ok"] and "no verifiable signatures" in unknown["error"]


def test_keys_and_notes_made_by_gos_note_are_read_by_ours(notecheck: Path) -> None:
    text = Checkpoint(ORIGIN, 7, bytes(32)).text()

    (made,) = notes(notecheck, {"generate": [{"name": ORIGIN, "text": text}]})["generate"]

    signer = NoteSigner.from_signer_key(made["skey"])
    verifier = NoteVerifier.from_verifier_key(made["vkey"])
    assert signer.verifier.verifier_key() == made["vkey"] and signer.signer_key() == made["skey"]
    assert open_checkpoint(made["note"], verifier) == Checkpoint(ORIGIN, 7, bytes(32))
    assert sign_note(text, signer) == made["note"]


def test_a_log_published_in_the_tiles_layout_is_read_and_proved_by_gos_tile_client(
    tilecheck: Path, ledger: Ledger, tmp_path: Path
) -> None:
    record_year(ledger)
    import_sealed_events(ledger, 600)
    log, tree = event_log(ledger.recorder), log_tree(ledger.recorder)
    sequencer = Sequencer(log, tree)
    sequencer.catch_up()
    size, log_key = sequencer.size, NoteSigner.generate(ORIGIN)
    note = Checkpoint(ORIGIN, size, sequencer.root()).sign(log_key)
    publish_tiles(tmp_path, log, tree, size, note)
    old_sizes = [1, 100, 256, 257, 512, size - 1]

    ran = subprocess.run(
        [str(tilecheck), str(tmp_path), log_key.verifier.verifier_key(), ORIGIN,
         *map(str, old_sizes)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.strip().splitlines()
    assert lines[-1] == f"{1 + size + len(old_sizes)} passed, 0 failed"
    assert lines[:-1] == [
        f"root {old} {base64.b64encode(root(tree, old)).decode()}" for old in old_sizes
    ]
    tile = tmp_path / "tile" / "0" / "001"
    tile.write_bytes(
        tile.read_bytes()[:100] + bytes([tile.read_bytes()[100] ^ 1]) + tile.read_bytes()[101:]
    )
    tampered = subprocess.run(
        [str(tilecheck), str(tmp_path), log_key.verifier.verifier_key(), ORIGIN],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert tampered.returncode == 1 and "FAIL" in tampered.stdout
