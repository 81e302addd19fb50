"""Checkpoints of the log's tree in the C2SP format (c2sp.org/tlog-checkpoint), as signed notes.

A checkpoint's text is three lines: the log's **origin** (a schema-less URL naming the log,
which is also its key's name), the tree **size** in decimal, and the **root hash** in base64;
optional extension lines follow. It is signed as a C2SP signed note (:mod:`.note`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .merkle import HASH_SIZE
from .note import NoteError, NoteSigner, NoteVerifier, open_note, sign_note

_SIZE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A note whose text is not a checkpoint, or a checkpoint of another log."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.origin or "\n" in self.origin or len(self.root) != HASH_SIZE:
            raise CheckpointError("a checkpoint has a one-line origin and a 32-byte root")
        if self.size < 0 or any(not line or "\n" in line for line in self.extensions):
            raise CheckpointError("a checkpoint's size is not negative, its extensions not empty")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise CheckpointError("a checkpoint's text ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise CheckpointError("a checkpoint has at least three non-empty lines")
        origin, size, root64, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise CheckpointError(f"tree size is not a decimal without leading zeros: {size!r}")
        try:
            root = base64.b64decode(root64, validate=True)
        except binascii.Error as error:
            raise CheckpointError("root hash is not base64") from error
        if len(root) != HASH_SIZE:
            raise CheckpointError(f"root hash is {len(root)} bytes, not {HASH_SIZE}")
        return cls(origin, int(size), root, tuple(extensions))

    def sign(self, signer: NoteSigner, *cosigners: NoteSigner, timestamp: int | None = None) -> str:
        """The signed note, the log's signature first (its key is named after the origin), then
        any cosignatures, made at ``timestamp``."""
        if signer.name != self.origin:
            raise CheckpointError(f"the log's key {signer.name!r} is not named {self.origin!r}")
        return sign_note(self.text(), signer, *cosigners, timestamp=timestamp)


def open_checkpoint(
    note: str | bytes, log_key: NoteVerifier, others: Sequence[NoteVerifier] = ()
) -> Checkpoint:
    """The checkpoint of a signed note, once the log's own key's signature verified (and any
    other known key's signature too)."""
    try:
        opened = open_note(note, [log_key, *others])
    except NoteError as error:
        raise CheckpointError(f"checkpoint refused: {error}") from error
    if not any(
        (signature.name, signature.key_id) == (log_key.name, log_key.key_id)
        for signature in opened.signatures
    ):
        raise CheckpointError(f"checkpoint is not signed by the log's key {log_key.name}")
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != log_key.name:
        raise CheckpointError(f"checkpoint of {checkpoint.origin!r}, not of {log_key.name!r}")
    return checkpoint
