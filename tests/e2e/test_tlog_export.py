"""An export checked against a witnessed checkpoint, through the command line, as an inspector
does it: real ``capledger`` processes on SQLite and PostgreSQL.

The operator's log process (``capledger log run``) issues the checkpoint and the inspector's
witness (``capledger witness cosign`` against ``capledger serve``) cosigns it (the fixture of
``test_tlog_surfaces``); the inspector keeps the note and receives ``capledger export``'s
file. ``capledger verify --export`` checks it offline (no store), ``capledger import
--checkpoint`` records it into a fresh store only if it matches; a forged file, a checkpoint
signed by another key and one without the required witness's cosignature are refused, and the
target store records nothing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import pytest
from builders import fresh_postgres_schema, sqlite_settings
from integration.test_exchange_checkpoint import (
    amount_edited_and_resealed,
    last_line_deleted,
    line_inserted,
    lines_swapped,
)

from capledger.application.chain import seal, unseal
from capledger.application.tlog.checkpoint import Checkpoint
from capledger.application.tlog.note import NoteSigner, NoteVerifier
from capledger.bootstrap import build_ledger
from capledger.settings import Persistence, Settings

from .api.served import drop_schemas, shared_settings
from .test_tlog_surfaces import ORIGIN, WITNESS, Inspected, Keys, capledger, inspection
from .test_tlog_surfaces import keys as keys

pytestmark = pytest.mark.e2e

EXIT_OK, EXIT_MISMATCH, EXIT_REFUSED = 0, 3, 4


@pytest.fixture(scope="module")
def inspected(
    module_store: Settings, tmp_path_factory: pytest.TempPathFactory, keys: Keys
) -> Iterator[Inspected]:
    """One inspection per store for the module: its tests only read the inspected store (the
    export, the checks, imports into a ``target`` of their own)."""
    with inspection(module_store, tmp_path_factory.mktemp("inspected"), keys) as found:
        yield found


@pytest.fixture(scope="module")
def exported(inspected: Inspected) -> Path:
    path = inspected.tmp / "export.jsonl"
    capledger(inspected.settings, "export", "--output", str(path), check=True)
    return path


@pytest.fixture
def target(inspected: Inspected, tmp_path: Path) -> Iterator[Settings]:
    """A fresh store of the same kind as the inspected one, with its own read model."""
    directory = tmp_path / "target"
    if inspected.settings.store.persistence is Persistence.POSTGRES:
        with fresh_postgres_schema(inspected.settings) as schema:
            settings = shared_settings(schema, directory)
            try:
                yield settings
            finally:
                drop_schemas(settings)
    else:
        yield shared_settings(sqlite_settings(directory), directory)


def stored_count(settings: Settings) -> int:
    ledger = build_ledger(settings)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def kept_size(w: Inspected) -> int:
    return int(w.kept.read_text().splitlines()[1])


def verify_export(
    w: Inspected, export: Path, checkpoint: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return capledger(w.settings, "verify", "--export", str(export), "--checkpoint",
                     str(checkpoint or w.kept), "--key", w.log_vkey, "--witness",
                     w.witness_vkey)  # fmt: skip


def import_into(
    target: Settings, w: Inspected, export: Path, checkpoint: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return capledger(target, "import", str(export), "--checkpoint", str(checkpoint or w.kept),
                     "--key", w.log_vkey, "--witness", w.witness_vkey)  # fmt: skip


def forged(w: Inspected, export: Path, name: str, forge: Callable[[str], str]) -> Path:
    path = w.tmp / f"{name}.jsonl"
    path.write_text(forge(export.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def test_an_untouched_export_verifies_offline_and_imports_against_the_checkpoint(
    inspected: Inspected, exported: Path, target: Settings
) -> None:
    size = kept_size(inspected)

    verified = verify_export(inspected, exported)
    nowhere = inspected.tmp / "no-store"  # offline: the inspector's machine holds no store
    offline = capledger(sqlite_settings(nowhere), "verify", "--export", str(exported),
                        "--checkpoint", str(inspected.kept),
                        "--key", inspected.log_vkey)  # fmt: skip
    imported = import_into(target, inspected, exported)

    assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
    assert f"checkpoint: {size:,} entries, signed by {ORIGIN}, cosigned by {WITNESS}" in (
        verified.stdout
    )
    assert f"entries in the export: {size:,}" in verified.stdout
    assert verified.stdout.endswith("OK\n") and "not covered" not in verified.stdout
    assert offline.returncode == EXIT_OK, offline.stdout + offline.stderr
    assert not nowhere.exists()
    assert imported.returncode == EXIT_OK, imported.stdout + imported.stderr
    assert f"the first {size:,} are the entries of the source's checkpoint" in imported.stdout
    assert stored_count(target) == size


def test_lines_after_the_checkpoint_are_reported_as_not_covered(
    inspected: Inspected, exported: Path
) -> None:
    """The export of a ledger that grew since the kept checkpoint: its last line is a new
    stream of one event, recorded after the checkpoint's entries."""
    size = kept_size(inspected)
    text = exported.read_text(encoding="utf-8")
    last = json.loads(text.splitlines()[-1])
    stream = str(uuid5(NAMESPACE_URL, "recorded later"))
    old = unseal(last["state"])
    state, _ = seal(stream=stream, version=1, topic=last["topic"], data=old.data,
                    meta=old.meta, prev="0" * 64)  # fmt: skip
    later = {"position": last["position"] + 1, "stream": stream, "version": 1,
             "topic": last["topic"], "state": json.loads(state)}  # fmt: skip
    longer = inspected.tmp / "longer.jsonl"
    longer.write_text(text + json.dumps(later, ensure_ascii=False) + "\n", encoding="utf-8")

    verified = verify_export(inspected, longer)

    assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
    assert f"entries in the export: {size + 1:,}" in verified.stdout
    assert f"not covered by the checkpoint: the last 1 lines (after its {size:,} entries)" in (
        verified.stdout
    )


@pytest.mark.parametrize(
    ("forgery", "problem"),
    [
        (amount_edited_and_resealed, "another root"),
        (last_line_deleted, "1 of the checkpoint's"),
        (line_inserted, "another root"),
        (lines_swapped, "another root"),
    ],
    ids=["amount-edited-resealed", "last-line-deleted", "line-inserted", "lines-swapped"],
)
def test_a_forged_export_is_refused_offline_and_by_import(
    inspected: Inspected,
    exported: Path,
    target: Settings,
    forgery: Callable[[str], str],
    problem: str,
) -> None:
    path = forged(inspected, exported, forgery.__name__, forgery)

    verified = verify_export(inspected, path)
    imported = import_into(target, inspected, path)

    assert verified.returncode == EXIT_MISMATCH, verified.stdout + verified.stderr
    assert "DOES NOT MATCH THE CHECKPOINT" in verified.stdout
    assert "checkpoint-mismatch: " in verified.stderr and problem in verified.stderr
    assert imported.returncode == EXIT_REFUSED, imported.stdout + imported.stderr
    assert "import-refused: import refused, nothing recorded: " in imported.stderr
    assert "checkpoint-mismatch" in imported.stderr and problem in imported.stderr
    assert stored_count(target) == 0


def test_a_checkpoint_signed_by_another_key_or_not_witnessed_is_refused(
    inspected: Inspected, exported: Path, target: Settings
) -> None:
    kept = inspected.kept.read_text()
    text = kept[: kept.index("\n\n") + 1]
    impostor = inspected.tmp / "impostor"
    impostor.write_text(Checkpoint.parse(text).sign(NoteSigner.generate(ORIGIN)))
    witness = NoteVerifier.from_verifier_key(inspected.witness_vkey)
    unwitnessed = inspected.tmp / "unwitnessed"
    cosigned_by_witness = f"— {witness.name} "
    lines = kept.splitlines(keepends=True)
    unwitnessed.write_text("".join(x for x in lines if not x.startswith(cosigned_by_witness)))

    for note, code in ((impostor, "bad-checkpoint"), (unwitnessed, "not-witnessed")):
        verified = verify_export(inspected, exported, note)
        imported = import_into(target, inspected, exported, note)

        assert verified.returncode == EXIT_MISMATCH, verified.stdout + verified.stderr
        assert f"{code}: " in verified.stderr
        assert imported.returncode == EXIT_REFUSED, imported.stdout + imported.stderr
        assert f"import-refused: import refused, nothing recorded: {code}: " in imported.stderr
        assert stored_count(target) == 0


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "--export", "events.jsonl"),
        ("verify", "--export", "events.jsonl", "--checkpoint", "kept", "--rules", "--key", "k"),
        ("verify", "--export", "events.jsonl", "--checkpoint", "kept"),
        ("import", "events.jsonl", "--key", "ledger.example.vn/capledger+00000000+AQ"),
        ("import", "events.jsonl", "--checkpoint", "kept"),
    ],
    ids=["export-without-checkpoint", "export-with-rules", "no-key", "key-alone", "import-no-key"],
)
def test_misused_checkpoint_options_are_usage_errors_that_change_nothing(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    settings = sqlite_settings(tmp_path / "store")

    ran = capledger(settings, *args)

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "capledger: error: usage: " in ran.stderr
    assert not (tmp_path / "store").exists()
