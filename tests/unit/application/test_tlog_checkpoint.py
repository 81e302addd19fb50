"""Signed notes and checkpoints in the C2SP formats, checked against the specifications' own
examples (Go's ``sumdb/note`` reads ours: tests/integration/test_tlog_go_interop.py)."""

from __future__ import annotations

import base64

import pytest

from capledger.application.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from capledger.application.tlog.merkle import EMPTY_ROOT
from capledger.application.tlog.note import (
    NoteError,
    NoteSigner,
    NoteVerifier,
    open_note,
    sign_note,
)

pytestmark = pytest.mark.unit

# c2sp.org/signed-note's example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# golang.org/x/mod/sumdb/note's documented key pair and note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = GO_TEXT + (
    "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ORIGIN = "ledger.example.vn/capledger"


def test_the_specifications_example_note_opens_with_its_verifier_key() -> None:
    verifier = NoteVerifier.from_verifier_key(SPEC_VKEY)

    opened = open_note(SPEC_NOTE, [verifier])

    assert opened.text == "This is an example message.\n"
    assert [(s.name, s.key_id) for s in opened.signatures] == [("example.com/foo", 0x530D903A)]
    assert verifier.verifier_key() == SPEC_VKEY


def test_gos_documented_signer_key_signs_gos_documented_note_byte_for_byte() -> None:
    signer = NoteSigner.from_signer_key(GO_SKEY)

    assert sign_note(GO_TEXT, signer) == GO_NOTE  # Ed25519 signatures are deterministic
    assert signer.verifier.verifier_key() == GO_VKEY
    assert signer.signer_key() == GO_SKEY
    assert open_note(GO_NOTE, [NoteVerifier.from_verifier_key(GO_VKEY)]).text == GO_TEXT


def test_a_note_is_refused_if_a_known_key_signed_badly_or_no_known_key_signed() -> None:
    known = NoteVerifier.from_verifier_key(GO_VKEY)
    other = NoteSigner.generate("someone.else/key")
    tampered = GO_NOTE.replace("cryptography", "Cryptography")

    with pytest.raises(NoteError, match="invalid signature"):
        open_note(tampered, [known])
    with pytest.raises(NoteError, match="no known key"):
        open_note(GO_NOTE, [other.verifier])
    cosigned = sign_note(GO_TEXT, NoteSigner.from_signer_key(GO_SKEY), other)
    opened = open_note(cosigned, [known])
    assert [s.name for s in opened.unverified] == ["someone.else/key"]
    for malformed in (GO_TEXT, GO_NOTE.rstrip("\n"), GO_NOTE.replace("—", "-"), "a\tb\n" + GO_NOTE):
        with pytest.raises(NoteError):
            open_note(malformed, [known])


def test_keys_with_a_wrong_id_or_name_are_refused() -> None:
    with pytest.raises(NoteError):
        NoteVerifier.from_verifier_key(GO_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(NoteError):
        NoteSigner.from_signer_key(GO_SKEY.replace("c74f20a3", "00000000"))
    with pytest.raises(NoteError):
        NoteSigner.generate("a name with spaces")


def test_a_checkpoint_is_three_lines_and_opens_only_with_the_logs_own_key() -> None:
    log_key = NoteSigner.generate(ORIGIN)
    root = bytes(range(32))
    checkpoint = Checkpoint(ORIGIN, 20852163, root)

    note = checkpoint.sign(log_key)

    text = f"{ORIGIN}\n20852163\n{base64.b64encode(root).decode()}\n"
    assert checkpoint.text() == text and note.startswith(text + "\n— " + ORIGIN + " ")
    assert open_checkpoint(note, log_key.verifier) == checkpoint
    impostor = NoteSigner.generate("impostor.example/log")
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note(text, impostor), log_key.verifier)
    with pytest.raises(CheckpointError):
        open_checkpoint(note, impostor.verifier)
    with pytest.raises(CheckpointError):
        checkpoint.sign(impostor)


def test_checkpoint_text_is_parsed_strictly() -> None:
    root64 = base64.b64encode(EMPTY_ROOT).decode()
    assert Checkpoint.parse(f"o\n0\n{root64}\n") == Checkpoint("o", 0, EMPTY_ROOT)
    assert Checkpoint.parse(f"o\n1\n{root64}\next\n").extensions == ("ext",)
    for bad in (
        f"o\n01\n{root64}\n",
        f"o\n-1\n{root64}\n",
        f"o\n1\n{root64}",
        f"o\n1\n{base64.b64encode(b'short').decode()}\n",
        "o\n1\n\n",
        f"\n1\n{root64}\n",
        f"o\n1\n{root64}\n\n",
    ):
        with pytest.raises(CheckpointError):
            Checkpoint.parse(bad)


def test_a_checkpoint_signed_by_the_old_and_the_new_log_key_opens_with_either() -> None:
    old, new = NoteSigner.generate(ORIGIN), NoteSigner.generate(ORIGIN)
    checkpoint = Checkpoint(ORIGIN, 9, bytes(32))

    note = checkpoint.sign(new, old)

    assert new.verifier.key_id != old.verifier.key_id
    assert open_checkpoint(note, old.verifier) == checkpoint
    assert open_checkpoint(note, new.verifier) == checkpoint
    with pytest.raises(CheckpointError):
        open_checkpoint(checkpoint.sign(new), old.verifier)
