"""The verifiable log through its surfaces, as operators and inspectors use them: real
``capledger`` processes on SQLite and PostgreSQL, ``capledger serve`` under uvicorn on loopback.

The operator makes the log's key (``capledger log keygen``) and runs the log process
(``capledger log run``); an inspector makes a witness key (``capledger witness keygen``),
cosigns the served checkpoint (``capledger witness cosign``, which submits it to the API) and
keeps the cosigned note. Then:

- ``capledger verify --checkpoint`` accepts the untouched ledger and finds each attack of
  issue #12 (an edited event, a stream rewritten with fresh hashes, the last events deleted, an
  event inserted, a fork);
- after each attack that the tree shows, the operator rebuilds the log over the tampered store
  and signs its checkpoint with the real key: the witness refuses it (exit 6);
- Go's tile client (x/mod/sumdb/tlog) and note reader (x/mod/sumdb/note,
  transparency-dev/formats) read the log and the cosigned checkpoint from the API;
- the log process runs continuously, logs its progress, stops on SIGTERM, resumes without a
  second checkpoint of one size, and publishes its checkpoints on Kafka.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from builders import PROJECT, postgres_connect, record_year, sqlite_settings
from integration.conftest import RawStore
from integration.streams.broker import KAFKA_ENABLED, read_topic, unique_settings
from integration.test_tlog_attacks import reseal, stream_events
from integration.test_tlog_go_interop import notecheck as notecheck
from integration.test_tlog_go_interop import notes
from integration.test_tlog_go_interop import tilecheck as tilecheck
from psycopg.sql import SQL, Identifier

from capledger.application.commands import IssueApiKey
from capledger.application.storage import checkpoint_store
from capledger.application.tlog.checkpoint import open_checkpoint
from capledger.application.tlog.note import NoteVerifier
from capledger.bootstrap import build_ledger, build_log_issuer
from capledger.domain.ids import project_id
from capledger.settings import Persistence, Settings, TlogSettings, environment

from .api.served import Served, drop_schemas, serve, shared_settings

pytestmark = pytest.mark.e2e

ORIGIN = "ledger.example.vn/capledger"
WITNESS = "inspectorate.example.vn/witness"
EXIT_OK, EXIT_MISMATCH, EXIT_WITNESS_REFUSED = 0, 3, 6
DEADLINE_S = 60.0


def capledger(
    settings: Settings, *args: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        **environment(settings),
        "CAPLEDGER_LOG_FORMAT": "json",
        "CAPLEDGER_LOG_LEVEL": "WARNING",
    }
    ran = subprocess.run(
        [sys.executable, "-m", "capledger", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if check:
        assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran


@dataclass(frozen=True)
class Keys:
    """The log's and the inspector's witness's key pairs (files and verifier keys)."""

    log_key: Path
    log_vkey: str
    witness_key: Path
    witness_vkey: str


@dataclass
class Inspected:
    settings: Settings
    served: Served
    tmp: Path
    log_vkey: str
    witness_vkey: str
    witness_key: Path
    kept: Path  # the cosigned checkpoint the inspector keeps

    def verify(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return capledger(self.settings, "verify", "--key", self.log_vkey,
                         "--witness", self.witness_vkey, *extra)  # fmt: skip

    def cosign(self) -> subprocess.CompletedProcess[str]:
        return capledger(self.settings, "witness", "cosign", "--url", self.served.url,
                         "--log-key", self.log_vkey, "--key", str(self.witness_key),
                         "--state", str(self.tmp / "witness.state"))  # fmt: skip

    def raw(self) -> RawStore:
        ledger = build_ledger(self.settings)
        try:
            return RawStore(self.settings, ledger.recorder.events_table_name)  # type: ignore[attr-defined]
        finally:
            ledger.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """The key pairs, made once per module by the real ``keygen`` commands: a key needs no
    store, and every inspected store of the module is signed and cosigned with the same."""
    tmp = tmp_path_factory.mktemp("keys")
    base = sqlite_settings(tmp / "no-store")
    log_vkey = capledger(base, "log", "keygen", "--name", ORIGIN, "--out",
                         str(tmp / "log.key"), check=True).stdout.strip()  # fmt: skip
    assert (tmp / "log.key").stat().st_mode & 0o777 == 0o600
    witness_vkey = capledger(base, "witness", "keygen", "--name", WITNESS, "--out",
                             str(tmp / "witness.key"), check=True).stdout.strip()  # fmt: skip
    assert not (tmp / "no-store").exists()
    return Keys(tmp / "log.key", log_vkey, tmp / "witness.key", witness_vkey)


@contextmanager
def inspection(store: Settings, tmp: Path, keys: Keys) -> Iterator[Inspected]:
    """A year recorded on ``store``, its checkpoint issued, ``capledger serve`` on it, and the
    witness's cosignature of the served checkpoint, kept by the inspector.

    The checkpoint is issued in this process, as ``capledger log run --once`` issues it: that
    command runs as a process of its own in ``rebuild_log``, after each attack."""
    tlog = TlogSettings(key_file=keys.log_key, witnesses=keys.witness_vkey)
    settings = shared_settings(store, tmp).model_copy(update={"tlog": tlog})
    ledger = build_ledger(settings)
    try:
        record_year(ledger)
        issuer, close = build_log_issuer(settings, ledger)
        try:
            while issuer.step()[0]:
                pass
            issuer.issue()
        finally:
            close()
    finally:
        ledger.close()
    try:
        with serve(settings, tmp / "server.log") as served:
            inspected = Inspected(settings, served, tmp, keys.log_vkey, keys.witness_vkey,
                                  keys.witness_key, tmp / "kept")  # fmt: skip
            cosigned = inspected.cosign()
            assert cosigned.returncode == 0, cosigned.stderr
            inspected.kept.write_text(httpx.get(f"{served.url}/log/checkpoint").text)
            yield inspected
    finally:
        drop_schemas(settings)


@pytest.fixture
def inspected(store: Settings, tmp_path: Path, keys: Keys) -> Iterator[Inspected]:
    """An inspection of the test's own store, for a test that tampers with it."""
    with inspection(store, tmp_path, keys) as found:
        yield found


@pytest.fixture(scope="module")
def witnessed(
    module_store: Settings, tmp_path_factory: pytest.TempPathFactory, keys: Keys
) -> Iterator[Inspected]:
    """One inspection per store for the module's tests that only read the ledger and its log
    (a cosignature of the same checkpoint again, proofs, tiles, Go's clients)."""
    with inspection(module_store, tmp_path_factory.mktemp("witnessed"), keys) as found:
        yield found


def rebuild_log(w: Inspected) -> None:
    """What an operator does to get a checkpoint of the tampered store: drop the tree and its
    checkpoints, and run the log process again (signing with the log's real key)."""
    raw = w.raw()
    tables = [f"{raw.table}_tlog_{name}" for name in ("head", "runs", "tiles", "checkpoints",
                                                      "cosignatures")]  # fmt: skip
    raw.close()
    if w.settings.store.persistence is Persistence.SQLITE:
        with sqlite3.connect(w.settings.store.sqlite_path) as connection:
            for table in tables:
                connection.execute(f"DROP TABLE {table}")
    else:
        schema = w.settings.store.postgres.schema_name
        with postgres_connect(w.settings) as connection:
            for table in tables:
                connection.execute(SQL("DROP TABLE {}.{}").format(Identifier(schema),
                                                                  Identifier(table)))  # fmt: skip
    capledger(w.settings, "log", "run", "--once", check=True)


def assert_found(w: Inspected, problem: str) -> None:
    found = w.verify("--checkpoint", str(w.kept))
    assert found.returncode == EXIT_MISMATCH, found.stdout + found.stderr
    assert "DOES NOT MATCH THE CHECKPOINT" in found.stdout
    assert problem in found.stderr


def assert_witness_refuses(w: Inspected, reason: str) -> None:
    rebuild_log(w)
    refused = w.cosign()
    assert refused.returncode == EXIT_WITNESS_REFUSED, refused.stdout + refused.stderr
    assert "witness-refused" in refused.stderr and reason in refused.stderr
    assert (w.tmp / "witness.state").read_text() in w.kept.read_text()  # state unchanged


def test_an_untouched_ledger_matches_the_witnessed_checkpoint(witnessed: Inspected) -> None:
    w = witnessed
    served = httpx.get(f"{w.served.url}/log/checkpoint").text
    verifiers = [NoteVerifier.from_verifier_key(k) for k in (w.log_vkey, w.witness_vkey)]
    kept = open_checkpoint(served, verifiers[0], verifiers[1:])
    assert f"— {WITNESS} " in served  # the stored cosignature is served with it

    ok = w.verify("--checkpoint", str(w.kept))
    assert ok.returncode == EXIT_OK, ok.stdout + ok.stderr
    assert f"checkpoint: {kept.size:,} entries" in ok.stdout and ok.stdout.endswith("OK\n")

    again = w.cosign()  # nothing new: the same checkpoint, cosigned again
    assert again.returncode == EXIT_OK, again.stderr
    since = w.verify("--since", str(w.kept))
    assert since.returncode == EXIT_OK and "extends the one of" in since.stdout


def test_an_edited_event_is_found(inspected: Inspected) -> None:
    w, stream = inspected, project_id(PROJECT)
    raw = w.raw()
    row = raw.row(stream, 3)
    raw.update_state(stream, 3, row.state.replace(b'"amount":', b'"amount":1'))
    raw.close()
    assert_found(w, f"content does not match its hash (position {row.position})")


def test_a_whole_stream_rewritten_with_fresh_hashes_is_found_and_refused(
    inspected: Inspected,
) -> None:
    w, stream = inspected, project_id(PROJECT)
    raw = w.raw()
    events = stream_events(raw, stream)
    for _, data, _ in events:
        if "amount" in data:
            data["amount"] += 1_000_000
    reseal(raw, stream, events, first=1)
    raw.close()
    assert_found(w, "another root")
    assert_witness_refuses(w, "fork")


def test_the_last_events_deleted_are_found_and_refused(inspected: Inspected) -> None:
    w = inspected
    raw = w.raw()
    for row in raw.rows()[-2:]:
        raw.delete(row.originator_id, row.originator_version)
    raw.close()
    assert_found(w, "entries are missing at the end")
    assert_witness_refuses(w, "shrank")


def test_an_event_inserted_into_a_streams_history_is_found_and_refused(
    inspected: Inspected,
) -> None:
    w, stream = inspected, project_id(PROJECT)
    raw = w.raw()
    events = stream_events(raw, stream)
    topic, data, meta = events[2]
    reseal(raw, stream, [(topic, {**data, "amount": 5_000_000_000}, meta), *events[2:]], first=3)
    raw.close()
    assert_found(w, "another root")
    assert_witness_refuses(w, "does not extend")


def test_a_fork_a_checkpoint_of_the_same_size_with_another_root_is_found_and_refused(
    inspected: Inspected,
) -> None:
    w, stream = inspected, project_id(PROJECT)
    raw = w.raw()
    events = stream_events(raw, stream)
    events[-1][1]["reason"] = "forked"
    reseal(raw, stream, events[-1:], first=len(events))
    raw.close()
    assert_found(w, "another root")
    rebuild_log(w)
    served = httpx.get(f"{w.served.url}/log/checkpoint").text
    kept = open_checkpoint(w.kept.read_text(), NoteVerifier.from_verifier_key(w.log_vkey))
    fork = open_checkpoint(served, NoteVerifier.from_verifier_key(w.log_vkey))
    assert fork.size == kept.size and fork.root != kept.root
    refused = w.cosign()
    assert refused.returncode == EXIT_WITNESS_REFUSED and "fork" in refused.stderr


def test_gos_clients_read_the_served_log_and_its_cosigned_checkpoint(
    witnessed: Inspected, tilecheck: Path, notecheck: Path
) -> None:
    w = witnessed
    note = httpx.get(f"{w.served.url}/log/checkpoint").text
    size = int(note.split("\n")[1])

    ran = subprocess.run([str(tilecheck), f"{w.served.url}/log", w.log_vkey, ORIGIN, "1",
                          str(size - 1)], capture_output=True, text=True, timeout=300,
                         check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == f"{1 + size + 2} passed, 0 failed"
    answer = notes(notecheck, {"open": [
        {"note": note, "vkeys": [w.log_vkey, w.witness_vkey], "origin": ORIGIN}]})  # fmt: skip
    opened = answer["open"][0]
    assert opened["ok"] and opened["size"] == size and len(opened["signed_by"]) == 2


def test_the_api_serves_proofs_and_tiles_and_refuses_what_it_should(witnessed: Inspected) -> None:
    url = witnessed.served.url
    note = httpx.get(f"{url}/log/checkpoint").text
    size = int(note.split("\n")[1])
    proof = httpx.get(f"{url}/log/proof/inclusion", params={"index": 3}).json()
    assert proof["tree_size"] == size and len(base64.b64decode(proof["entry"])) == 65
    stream = project_id(PROJECT)
    params = {"stream": str(stream), "version": 1, "size": size - 1}
    by_event = httpx.get(f"{url}/log/proof/inclusion", params=params)
    assert by_event.status_code == 200 and by_event.json()["tree_size"] == size - 1
    consistency = httpx.get(f"{url}/log/proof/consistency", params={"old": 5}).json()
    assert consistency["new_size"] == size and consistency["hashes"]
    tile = httpx.get(f"{url}/log/tile/0/000.p/{size}")
    assert tile.headers["content-type"] == "application/octet-stream"
    assert len(tile.content) == 32 * size and "immutable" not in tile.headers["cache-control"]
    entries = httpx.get(f"{url}/log/tile/entries/000.p/{size}")
    assert len(entries.content) == 67 * size

    for path, status, code in [
        ("/log/tile/0/000", 404, "no-tile"),  # a full tile the tree does not have yet
        ("/log/tile/0/0", 404, "no-tile"),
        (f"/log/proof/inclusion?index={size}", 404, "not-in-log"),
        ("/log/proof/inclusion", 422, "bad-proof-request"),
        (f"/log/proof/consistency?old={size + 1}&new={size}", 422, "bad-proof-request"),
        (f"/log/proof/consistency?old=1&new={10**9}", 404, "tree-too-small"),
    ]:
        answer = httpx.get(f"{url}{path}")
        assert (answer.status_code, answer.json()["code"]) == (status, code), path
        assert answer.headers["content-type"] == "application/problem+json"
    stranger = capledger(witnessed.settings, "witness", "keygen", "--name", "stranger",
                         "--out", str(witnessed.tmp / "stranger.key"), check=True)  # fmt: skip
    assert stranger.stdout
    text = note[: note.rfind("\n\n") + 1]
    unknown = httpx.post(f"{url}/log/cosignature", content=text + "\n— stranger AAAAAAAAAAAA\n",
                         headers={"Content-Type": "text/plain; charset=utf-8"})  # fmt: skip
    assert unknown.status_code == 403 and unknown.json()["code"] == "unknown-witness"
    spec = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert {"/log/checkpoint", "/log/proof/inclusion", "/log/proof/consistency",
            "/log/cosignature", "/log/tile/{level}/{path}"} <= set(spec)  # fmt: skip


def test_the_log_process_runs_resumes_and_publishes_its_checkpoints(
    store: Settings, tmp_path: Path
) -> None:
    kafka = unique_settings("tlog", enabled=KAFKA_ENABLED)
    topic = f"test.checkpoints.{kafka.relay_name}"
    base = shared_settings(store, tmp_path).model_copy(update={"kafka": kafka})
    capledger(base, "log", "keygen", "--name", ORIGIN, "--out", str(tmp_path / "log.key"),
              check=True)  # fmt: skip
    settings = base.model_copy(update={"tlog": TlogSettings(
        key_file=tmp_path / "log.key", checkpoint_entries=10, checkpoint_interval_s=0.2,
        poll_interval_s=0.05, checkpoint_topic=topic)})  # fmt: skip
    ledger = build_ledger(settings)
    try:
        record_year(ledger)
        first = run_log_until(settings, tmp_path / "log1.log", size=None)
        ledger.execute(
            IssueApiKey(key_id="9f8e7d6c", name="later", role="inspector"),
            command_id="issue-after-restart",
            principal="administrator:admin",
        )
        second = run_log_until(settings, tmp_path / "log2.log", size=first + 1)
        assert second > first
        issued = capledger(settings, "log", "checkpoint", check=True).stdout
        assert issued.split("\n")[1] == str(second)
    finally:
        ledger.close()
        drop_schemas(settings)
    if KAFKA_ENABLED:
        messages = read_topic(kafka.bootstrap, topic)
        sizes = [int(message.headers["tree-size"]) for message in messages]
        assert {message.key for message in messages} == {ORIGIN.encode()}
        assert sizes == sorted(sizes) and sizes[-1] == second
        for message in messages:
            assert message.value is not None
            assert message.value.decode().split("\n")[1] == message.headers["tree-size"].decode()
        # one root per size, whatever was published again after the restart
        roots = {(m.headers["tree-size"], m.value.split(b"\n")[2]) for m in messages if m.value}
        assert len(roots) == len(set(sizes))


def run_log_until(settings: Settings, log_path: Path, size: int | None) -> int:
    """``capledger log run`` until its checkpoint covers the whole log; SIGTERM; its size.

    The wait reads the stored checkpoints in this process: the test is about the log process,
    and ``capledger log checkpoint`` is run as a process of its own once the log has stopped."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        **environment(settings),
        "CAPLEDGER_LOG_FORMAT": "json",
        "CAPLEDGER_LOG_LEVEL": "INFO",
    }
    with log_path.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "capledger", "log", "run"], env=env,
                                   stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    ledger = build_ledger(settings)
    latest = 0
    try:
        head = len(ledger.recorder.select_notifications(1, 1_000_000))
        checkpoints = checkpoint_store(ledger.recorder)
        checkpoints.create_checkpoint_tables()
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            stored = checkpoints.latest_checkpoint()
            latest = 0 if stored is None else stored[0]
            if latest == head:
                break
            time.sleep(0.1)
    finally:
        ledger.close()
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=30)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert status == 0, log_path.read_text()
    assert latest == head and (size is None or latest >= size)
    ours = {"log_started", "log_progress", "checkpoint_issued", "log_stopped"}
    events = [line["event"] for line in lines if line.get("event") in ours]
    assert events[0] == "log_started" and events[-1] == "log_stopped"
    assert "checkpoint_issued" in events and "log_progress" in events
    return latest
