"""An export checked against a signed checkpoint of its source, offline and on import.

The source ledger records a year (SQLite, and PostgreSQL with ``CAPLEDGER_TEST_POSTGRES=1``);
a sequencer puts it in the log's tree, the log signs a checkpoint and a witness cosigns it;
the inspector keeps that note and gets an export. The export's lines, in file order, are the
source's log entries: ``check_rows`` over them gives the checkpoint's root, and an import given
the checkpoint records the file. Each forgery of the file is found by both, and the import
records nothing: an amount edited (its stream resealed, as a forger who knows the public chain
algorithm does), the last line deleted, a line inserted, two lines swapped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import pytest
from builders import (
    approve_annual_plan,
    fresh_postgres_schema,
    position,
    record_year,
    sqlite_settings,
)

from capledger.application.chain import seal, unseal
from capledger.application.ledger import Ledger
from capledger.application.storage import event_log, log_tree
from capledger.application.tlog.check import NotWitnessed, check_log, check_rows, open_witnessed
from capledger.application.tlog.checkpoint import Checkpoint, CheckpointError
from capledger.application.tlog.note import COSIGNATURE_V1, NoteSigner
from capledger.application.tlog.sequencer import Sequencer
from capledger.application.tlog.witness import Witness
from capledger.bootstrap import build_ledger
from capledger.exchange import ImportRefused, export_events, export_rows, import_events
from capledger.settings import Persistence, Settings

pytestmark = pytest.mark.integration

ORIGIN = "ledger.example.vn/capledger"
NOW = 1_796_000_000


@dataclass
class Source:
    ledger: Ledger
    log_key: NoteSigner
    witness: NoteSigner
    note: str  # the signed, cosigned checkpoint the inspector keeps
    kept: Checkpoint
    export: str


def issue(ledger: Ledger, log_key: NoteSigner, witness: NoteSigner) -> str:
    """What the log process and a witness do: the tree caught up, its checkpoint signed and
    cosigned."""
    sequencer = Sequencer(event_log(ledger.recorder), log_tree(ledger.recorder))
    sequencer.catch_up()
    note = Checkpoint(ORIGIN, sequencer.size, sequencer.root()).sign(log_key)
    return note + Witness(witness, log_key.verifier).cosign(note, [], NOW)


@pytest.fixture
def source(ledger: Ledger) -> Source:
    record_year(ledger)
    log_key = NoteSigner.generate(ORIGIN)
    witness = NoteSigner.generate("inspector.example.vn/w1", COSIGNATURE_V1)
    note = issue(ledger, log_key, witness)
    kept = open_witnessed(note, log_key.verifier, [witness.verifier])
    out = io.StringIO()
    export_events(ledger, out)
    return Source(ledger, log_key, witness, note, kept, out.getvalue())


@pytest.fixture
def target(store: Settings, tmp_path: Path) -> Iterator[Ledger]:
    """A second, fresh store of the same kind as the source's."""
    if store.store.persistence is Persistence.POSTGRES:
        with fresh_postgres_schema(store) as schema:
            ledger = build_ledger(schema)
            yield ledger
            ledger.close()
    else:
        ledger = build_ledger(sqlite_settings(tmp_path / "target"))
        yield ledger
        ledger.close()


def stored(ledger: Ledger) -> list[tuple[int, str, int, str, bytes]]:
    rows = event_log(ledger.recorder).read_rows(0, 1_000_000)
    return [tuple(row) for row in rows]  # type: ignore[misc]


# -- forgeries of an export's text ------------------------------------------------------------


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def text_of(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def resealed(records: list[dict[str, Any]], stream: str, first: int) -> None:
    """Seal the stream's versions from ``first`` on afresh (their data as the records hold
    it), each linked to the one before: the chains stay whole."""
    prev = "0" * 64
    for record in records:
        if record["stream"] != stream:
            continue
        old = unseal(record["state"])
        if record["version"] >= first:
            state, _ = seal(stream=stream, version=record["version"], topic=record["topic"],
                            data=old.data, meta=old.meta, prev=prev)  # fmt: skip
            record["state"] = json.loads(state)
        prev = record["state"]["_chain"]["hash"]


def amount_edited_and_resealed(text: str) -> str:
    records = lines(text)
    paid = next(r for r in records if r["topic"].endswith("CompletedWorkPaid"))
    paid["state"]["amount"] += 1_000_000
    resealed(records, paid["stream"], paid["version"])
    return text_of(records)


def last_line_deleted(text: str) -> str:
    return "".join(text.splitlines(keepends=True)[:-1])


def line_inserted(text: str) -> str:
    """A new stream of one event, sealed as the ledger seals one, in the middle of the file."""
    records = lines(text)
    model = records[len(records) // 2]
    stream = str(uuid5(NAMESPACE_URL, "forged"))
    old = unseal(model["state"])
    state, _ = seal(stream=stream, version=1, topic=model["topic"], data=old.data,
                    meta=old.meta, prev="0" * 64)  # fmt: skip
    forged = {"position": model["position"], "stream": stream, "version": 1,
              "topic": model["topic"], "state": json.loads(state)}  # fmt: skip
    records.insert(len(records) // 2, forged)
    return text_of(records)


def lines_swapped(text: str) -> str:
    """Two neighbouring lines of different streams swapped: every chain stays whole."""
    records = lines(text)
    at = next(
        i for i in range(1, len(records) - 1) if records[i]["stream"] != records[i + 1]["stream"]
    )
    records[at], records[at + 1] = records[at + 1], records[at]
    return text_of(records)


FORGERIES: dict[str, tuple[Callable[[str], str], str]] = {
    "amount-edited-resealed": (amount_edited_and_resealed, "another root"),
    "last-line-deleted": (last_line_deleted, "1 of the checkpoint's"),
    "line-inserted": (line_inserted, "another root"),
    "lines-swapped": (lines_swapped, "another root"),
}


# -- verify an export offline -----------------------------------------------------------------


def test_an_untouched_export_has_the_checkpoints_entries(source: Source) -> None:
    found = check_rows(export_rows(io.StringIO(source.export)), source.kept)

    assert found.ok and (found.size, found.beyond) == (source.kept.size, 0)
    assert found.root == source.kept.root
    assert found.root == check_log(event_log(source.ledger.recorder)).root


def test_lines_after_the_checkpoints_size_are_not_covered_and_not_an_error(
    source: Source,
) -> None:
    approve_annual_plan(source.ledger, code="KH-LATER")  # recorded after the checkpoint
    out = io.StringIO()
    export_events(source.ledger, out)

    found = check_rows(export_rows(io.StringIO(out.getvalue())), source.kept)

    assert found.ok and found.beyond == found.size - source.kept.size > 0


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
def test_a_forged_export_does_not_match_the_checkpoint(source: Source, forgery: str) -> None:
    forge, problem = FORGERIES[forgery]

    found = check_rows(export_rows(io.StringIO(forge(source.export))), source.kept)

    assert not found.ok and problem in (found.problem or "")


def test_an_amount_edited_without_resealing_breaks_its_chain(source: Source) -> None:
    records = lines(source.export)
    paid = next(r for r in records if r["topic"].endswith("CompletedWorkPaid"))
    paid["state"]["amount"] += 1

    found = check_rows(export_rows(io.StringIO(text_of(records))), source.kept)

    assert found.problem is not None and "content does not match its hash" in found.problem
    assert found.position == paid["position"]


def test_a_checkpoint_signed_by_another_key_or_missing_a_witness_is_refused(
    source: Source,
) -> None:
    impostor = NoteSigner.generate(ORIGIN)
    forged = Checkpoint(ORIGIN, source.kept.size, source.kept.root).sign(impostor)
    with pytest.raises(CheckpointError, match="no known key signed the note"):
        open_witnessed(forged, source.log_key.verifier, [source.witness.verifier])

    unwitnessed = source.kept.sign(source.log_key)
    with pytest.raises(NotWitnessed, match="no cosignature by the witness"):
        open_witnessed(unwitnessed, source.log_key.verifier, [source.witness.verifier])


# -- import against a checkpoint ---------------------------------------------------------------


def test_an_untouched_export_is_imported_against_its_checkpoint(
    source: Source, target: Ledger
) -> None:
    imported = import_events(target, io.StringIO(source.export), checkpoint=source.kept)

    assert imported == source.kept.size
    assert [row[1:] for row in stored(target)] == [row[1:] for row in stored(source.ledger)]


def test_an_export_longer_than_the_checkpoint_is_imported_whole(
    source: Source, target: Ledger
) -> None:
    approve_annual_plan(source.ledger, code="KH-LATER")
    out = io.StringIO()
    export_events(source.ledger, out)

    imported = import_events(target, io.StringIO(out.getvalue()), checkpoint=source.kept)

    assert imported == len(stored(source.ledger)) > source.kept.size


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
def test_a_forged_export_is_refused_against_the_checkpoint_and_nothing_is_recorded(
    source: Source, target: Ledger, forgery: str
) -> None:
    forge, problem = FORGERIES[forgery]
    before, last = stored(target), position(target)

    with pytest.raises(ImportRefused) as caught:
        import_events(target, io.StringIO(forge(source.export)), checkpoint=source.kept)

    assert caught.value.reason == "checkpoint-mismatch"
    assert "checkpoint-mismatch" in str(caught.value) and problem in str(caught.value)
    assert (stored(target), position(target)) == (before, last)


def test_without_a_checkpoint_a_resealed_export_is_judged_as_before(
    source: Source, target: Ledger
) -> None:
    """The swap keeps every chain whole and breaks no rule: only a checkpoint finds it."""
    imported = import_events(target, io.StringIO(lines_swapped(source.export)))

    assert imported == source.kept.size
