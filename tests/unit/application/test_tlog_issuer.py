"""The log process's issuer: checkpoints on the schedule, stored one per size, published, and
never a second root for one size, across restarts.

On the in-memory store; through real processes on SQLite and PostgreSQL:
tests/e2e/test_tlog_surfaces.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import record_year

from capledger.application.ledger import Ledger
from capledger.application.storage import checkpoint_store, event_log, log_tree
from capledger.application.tlog.checkpoint import Checkpoint, open_checkpoint
from capledger.application.tlog.issuer import (
    CheckpointIssuer,
    ForkRefused,
    LogKeyError,
    load_signer,
    signed_with_cosignatures,
)
from capledger.application.tlog.merkle import root
from capledger.application.tlog.note import COSIGNATURE_V1, NoteSigner
from capledger.bootstrap import load_rules

pytestmark = pytest.mark.unit

ORIGIN = "ledger.example.vn/capledger"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    opened = Ledger(rules=load_rules())
    yield opened
    opened.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def issuer_of(
    ledger: Ledger,
    signer: NoteSigner,
    *,
    every_entries: int = 1_000_000,
    every_s: float = 60.0,
    clock: Clock | None = None,
    published: list[tuple[Checkpoint, str]] | None = None,
) -> CheckpointIssuer:
    recorder = ledger.recorder
    return CheckpointIssuer(
        event_log(recorder),
        log_tree(recorder),
        checkpoint_store(recorder),
        signer,
        every_entries=every_entries,
        every_s=every_s,
        publish=None if published is None else lambda c, note: published.append((c, note)),
        clock=clock or Clock(),
        batch=7,
    )


def test_the_first_checkpoint_is_issued_at_once_then_only_when_the_schedule_says(
    ledger: Ledger,
) -> None:
    signer, clock, published = NoteSigner.generate(ORIGIN), Clock(), []
    issuer = issuer_of(ledger, signer, every_entries=20, every_s=30, clock=clock,
                       published=published)  # fmt: skip
    appended, issued = issuer.step()
    assert appended == 0 and issued is not None and issued.checkpoint.size == 0

    record_year(ledger)
    appended, issued = issuer.step()
    assert issued is not None and issued.checkpoint.size == appended == 21
    while issuer.step()[0]:
        pass
    size = issuer.sequencer.size
    assert issuer.issued_size < size and not issuer.due()  # fewer than 20 new, 0 s passed

    clock.now = 31
    assert issuer.due()
    latest = issuer.issue()
    assert latest is not None and latest.checkpoint.size == size
    assert open_checkpoint(latest.note, signer.verifier).root == root(
        log_tree(ledger.recorder), size
    )
    assert [checkpoint.size for checkpoint, _ in published][-1] == size
    clock.now = 100
    assert not issuer.due()  # time passed, nothing new


def test_a_restarted_issuer_resumes_and_signs_no_second_checkpoint_of_a_size(
    ledger: Ledger,
) -> None:
    signer = NoteSigner.generate(ORIGIN)
    record_year(ledger)
    first = issuer_of(ledger, signer, every_entries=10**9)
    while first.step()[0]:
        pass
    assert first.issue() is None or first.issued_size == first.sequencer.size
    stored = checkpoint_store(ledger.recorder).latest_checkpoint()
    assert stored is not None

    published: list[tuple[Checkpoint, str]] = []
    again = issuer_of(ledger, signer, published=published)
    assert again.issued_size == stored[0]
    assert published == [(Checkpoint.parse(stored[2][: stored[2].rfind("\n\n") + 1]), stored[2])]
    assert again.issue() is None  # the same size: the one stored stands
    assert checkpoint_store(ledger.recorder).latest_checkpoint() == stored


def test_a_root_that_differs_from_the_checkpoint_of_its_size_is_never_signed(
    ledger: Ledger,
) -> None:
    signer = NoteSigner.generate(ORIGIN)
    record_year(ledger)
    issuer = issuer_of(ledger, signer)
    while issuer.step()[0]:
        pass
    size = issuer.sequencer.size
    store = checkpoint_store(ledger.recorder)
    forged = Checkpoint(ORIGIN, size - 1, bytes(32))  # as if issued before a rewrite
    store.store_checkpoint(size - 1, forged.root, forged.sign(signer))

    with pytest.raises(ForkRefused, match="another root"):
        _issue_at(issuer, size - 1)
    assert store.checkpoint_of_size(size - 1) == (size - 1, bytes(32), forged.sign(signer))


def _issue_at(issuer: CheckpointIssuer, size: int) -> None:
    """The issuer asked to sign the tree at ``size`` (as after a rewrite of the store)."""
    issuer.sequencer.frontier.size = size  # only the size is read by issue()
    issuer.issue()


def test_the_store_refuses_a_second_checkpoint_of_one_size(ledger: Ledger) -> None:
    store = checkpoint_store(ledger.recorder)
    store.store_checkpoint(3, bytes(32), "note\n")
    with pytest.raises(Exception, match="already stored"):
        store.store_checkpoint(3, bytes([1]) * 32, "other\n")
    store.store_cosignature(3, "w+00000001", "— w AAAA\n")
    store.store_cosignature(3, "w+00000001", "— w BBBB\n")
    assert store.cosignatures(3) == ["— w BBBB\n"]
    assert (
        signed_with_cosignatures("n\n\n— l X\n", store.cosignatures(3)) == "n\n\n— l X\n— w BBBB\n"
    )


def test_the_log_key_is_read_from_its_file_or_secret_and_must_be_a_logs(tmp_path: Path) -> None:
    signer = NoteSigner.generate(ORIGIN)
    key_file = tmp_path / "log.key"
    key_file.write_text(signer.signer_key() + "\n")
    assert load_signer(key_file, None).verifier == signer.verifier
    assert load_signer(None, signer.signer_key()).verifier == signer.verifier
    with pytest.raises(LogKeyError, match="no log key"):
        load_signer(None, None)
    with pytest.raises(LogKeyError, match="cannot read"):
        load_signer(tmp_path / "missing", None)
    with pytest.raises(LogKeyError, match="witness"):
        load_signer(None, NoteSigner.generate("w", COSIGNATURE_V1).signer_key())
    with pytest.raises(LogKeyError, match="not a signer key"):
        load_signer(None, "PRIVATE+KEY+nonsense")
