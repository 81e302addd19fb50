"""A witness: cosigns a log's checkpoints only while each one extends the last it cosigned.

An inspector runs it with a key of its own (a ``cosignature/v1`` key, C2SP tlog-cosignature).
Given the log's next signed checkpoint and a consistency proof from the last checkpoint it
cosigned, it checks the log's signature, the proof (RFC 9162 §2.1.4) and that the tree did not
shrink, then returns its cosignature line, to be appended to the checkpoint's note. It refuses a
fork (another root at the same size), a rewrite (no proof leads from the old root to the new),
a smaller tree, and a checkpoint the log did not sign. What it last cosigned is its state
(:attr:`Witness.last`): keeping it between runs is its caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence

from .checkpoint import Checkpoint, CheckpointError, open_checkpoint
from .merkle import ProofError, verify_consistency
from .note import COSIGNATURE_V1, NoteSigner, NoteVerifier


class WitnessRefusal(ValueError):
    """The witness will not cosign this checkpoint (and its state is unchanged)."""


class Witness:
    def __init__(
        self, key: NoteSigner, log_key: NoteVerifier, last: Checkpoint | None = None
    ) -> None:
        if key.kind != COSIGNATURE_V1:
            raise ValueError("a witness signs with a cosignature/v1 key")
        self.key = key
        self.log_key = log_key
        self.last = last

    def cosign(self, note: str, proof: Sequence[bytes], now: int) -> str:
        """The cosignature line for the checkpoint in ``note``, made at ``now`` (POSIX seconds),
        given the consistency proof from :attr:`last` to it; :class:`WitnessRefusal` otherwise."""
        try:
            checkpoint = open_checkpoint(note, self.log_key)
        except CheckpointError as error:
            raise WitnessRefusal(str(error)) from error
        last = self.last
        if last is not None:
            if checkpoint.size < last.size:
                raise WitnessRefusal(
                    f"the log shrank: {checkpoint.size} entries after {last.size} were cosigned"
                )
            try:
                verify_consistency(last.size, checkpoint.size, proof, last.root, checkpoint.root)
            except ProofError as error:
                raise WitnessRefusal(
                    f"checkpoint of {checkpoint.size} entries does not extend the one of "
                    f"{last.size} cosigned before (a fork or a rewrite): {error}"
                ) from error
        line = self.key.signature_line(checkpoint.text(), now)
        self.last = checkpoint
        return line
