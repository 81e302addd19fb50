"""Export and import of stored events: verbatim round trips, and refusals that change nothing.

Each test runs on SQLite and, with ``CAPLEDGER_TEST_POSTGRES=1``, on PostgreSQL (fresh schemas
dropped afterwards). The source history is recorded through the ledger; the target is a second,
fresh store of the same kind.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from builders import (
    BILLION,
    CONTRACT,
    approve_annual_plan,
    fresh_postgres_schema,
    funded_project,
    pay,
    pay_advance,
    position,
    sign_contract,
    sqlite_settings,
    transfer,
)
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from capledger import exchange
from capledger.application.chain import GENESIS, ChainVerifier, canonical_json, seal
from capledger.application.errors import ApplicationError
from capledger.application.ledger import Ledger
from capledger.application.verify import verify_store
from capledger.bootstrap import build_ledger
from capledger.domain.ids import project_id
from capledger.exchange import ImportRefused, export_events, import_events
from capledger.settings import Persistence, Settings

pytestmark = pytest.mark.integration

PROJECTS = ("DA-001", "DA-002", "DA-003")
NOT_A_UUID = '{"position": 7, "stream": "x", "version": 1, "topic": "t", "state": {}}\n'


@dataclass(frozen=True)
class Stored:
    position: int
    stream: str
    version: int
    topic: str
    state: bytes


def stored_events(ledger: Ledger) -> list[Stored]:
    """Every stored event of the ledger's store, in notification order."""
    found: list[Stored] = []
    start = 1
    while page := ledger.recorder.select_notifications(start=start, limit=1_000):
        found.extend(
            Stored(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in page
        )
        start = page[-1].id + 1
    return found


def record_history(ledger: Ledger) -> None:
    """Plans, projects, allocations, a transfer, a contract, an advance and payments."""
    approve_annual_plan(ledger)
    for code in PROJECTS:
        funded_project(ledger, code=code, amount=100 * BILLION)
    transfer(ledger, from_project="DA-001", to_project="DA-002", amount=10 * BILLION)
    sign_contract(ledger, project_code="DA-003", value=50 * BILLION)
    pay_advance(ledger, project_code="DA-003", contract_no=CONTRACT, amount=5 * BILLION)
    for round_ in range(3):
        for code in PROJECTS:
            pay(ledger, project_code=code, amount=(round_ + 1) * 1_000_000_007)


def export_text(ledger: Ledger) -> str:
    out = io.StringIO()
    export_events(ledger, out)
    return out.getvalue()


def import_text(ledger: Ledger, text: str) -> int:
    return import_events(ledger, io.StringIO(text))


def refused(ledger: Ledger, text: str) -> ImportRefused:
    """Import ``text``, expect a refusal, and check that the store did not change."""
    before, last = stored_events(ledger), position(ledger)
    with pytest.raises(ImportRefused) as caught:
        import_text(ledger, text)
    assert position(ledger) == last
    assert stored_events(ledger) == before
    return caught.value


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def target_store(store: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second fresh store of the same kind as ``store``."""
    if store.persistence is Persistence.POSTGRES:
        with fresh_postgres_schema(store) as schema:
            yield schema
    else:
        yield sqlite_settings(tmp_path / "target")


@pytest.fixture
def open_target(target_store: Settings) -> Iterator[Callable[[], Ledger]]:
    opened: list[Ledger] = []

    def open_() -> Ledger:
        ledger = build_ledger(target_store)
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in reversed(opened):
        ledger.close()


@pytest.fixture
def target(open_target: Callable[[], Ledger]) -> Ledger:
    return open_target()


@pytest.fixture
def history(ledger: Ledger) -> str:
    """The source ledger's recorded history, exported."""
    record_history(ledger)
    return export_text(ledger)


def lines_of(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def line_number(text: str, topic_suffix: str) -> int:
    """The 1-based number of the first line whose event topic ends with ``topic_suffix``."""
    for number, line in enumerate(lines_of(text), start=1):
        if json.loads(line)["topic"].endswith(topic_suffix):
            return number
    raise AssertionError(f"no {topic_suffix} event in the export")


def replace_line(text: str, number: int, new: str) -> str:
    lines = lines_of(text)
    lines[number - 1] = new
    return "".join(lines)


# -- export -----------------------------------------------------------------------------------


def test_export_writes_every_event_as_stored_with_integer_amounts(
    ledger: Ledger, history: str
) -> None:
    records = [json.loads(line) for line in lines_of(history)]
    stored = stored_events(ledger)
    assert len(records) == len(stored) == position(ledger)
    for record, event in zip(records, stored, strict=True):
        assert record["position"] == event.position
        assert record["stream"] == event.stream
        assert record["version"] == event.version
        assert record["topic"] == event.topic
        assert canonical_json(record["state"]) == event.state
    payments = [r["state"] for r in records if r["topic"].endswith("CompletedWorkPaid")]
    assert payments and all(type(state["amount"]) is int for state in payments)
    assert {state["amount"] for state in payments} >= {1_000_000_007, 3_000_000_021}


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_into_a_fresh_store_gives_identical_events(
    ledger: Ledger,
    history: str,
    target: Ledger,
    open_target: Callable[[], Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exchange, "CROSS_CHECK_EVERY", 1)  # ChainVerifier re-checks them all
    reported: list[tuple[int, int]] = []
    imported = import_events(target, io.StringIO(history), lambda d, t: reported.append((d, t)))

    assert imported == position(ledger)
    assert stored_events(target) == stored_events(ledger)
    assert reported and reported[-1][0] == imported
    source_report, target_report = verify_store(ledger.recorder), verify_store(target.recorder)
    assert target_report.ok and target_report.checked == imported
    assert target_report.heads_digest == source_report.heads_digest
    assert export_text(target) == history
    reopened = open_target()  # an empty cache: state rebuilt from the imported events alone
    for code in PROJECTS:
        assert reopened.project(code).version == ledger.project(code).version
        assert reopened.project(code).lines == ledger.project(code).lines


def test_streams_may_be_spelled_as_any_uuid(ledger: Ledger, history: str, target: Ledger) -> None:
    records = [json.loads(line) for line in lines_of(history)]
    for record in records:
        record["stream"] = UUID(record["stream"]).hex.upper()
    respelled = "".join(json.dumps(record) + "\n" for record in records)

    import_text(target, respelled)

    assert stored_events(target) == stored_events(ledger)


def test_imported_store_takes_new_commands_on_the_same_chains(
    ledger: Ledger, history: str, target: Ledger
) -> None:
    import_text(target, history)

    outcome = pay(target, project_code="DA-002", amount=7_000_000)

    assert outcome.streams["project:DA-002"] == ledger.project("DA-002").version + 1
    assert verify_store(target.recorder).ok


def test_repeating_an_imported_command_returns_its_first_outcome(
    ledger: Ledger, target: Ledger
) -> None:
    approve_annual_plan(ledger)
    funded_project(ledger, code="DA-001")
    first = pay(ledger, project_code="DA-001", amount=1_000_000, cid="pay-once")
    import_text(target, export_text(ledger))

    again = pay(target, project_code="DA-001", amount=1_000_000, cid="pay-once")

    assert again.replayed and again.streams == first.streams
    assert stored_events(target) == stored_events(ledger)


# -- refusals ---------------------------------------------------------------------------------


def test_a_tampered_amount_is_refused_naming_its_line(
    history: str, target: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange, "IMPORT_BATCH", 4)  # earlier batches are inserted, then undone
    monkeypatch.setattr(exchange, "CROSS_CHECK_EVERY", 1)
    approve_annual_plan(target, code="KH-TARGET")
    number = line_number(history, "CompletedWorkPaid")
    record = json.loads(lines_of(history)[number - 1])
    record["state"]["amount"] += 1
    tampered = replace_line(history, number, json.dumps(record, ensure_ascii=False) + "\n")

    error = refused(target, tampered)

    assert isinstance(error, ApplicationError) and error.code == "import-refused"
    assert (error.line, error.reason) == (number, "broken-chain")
    assert f"line {number}:" in str(error) and "hash" in str(error)
    assert verify_store(target.recorder).ok


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"position": 7, "stream": \n', "malformed-line"),
        ("[1, 2, 3]\n", "malformed-line"),
        ('{"position": 7, "version": 1, "topic": "t", "state": {}}\n', "missing-key"),
        (NOT_A_UUID, "invalid-value"),
    ],
    ids=["not-json", "not-an-object", "missing-stream", "stream-not-a-uuid"],
)
def test_a_malformed_line_is_refused_naming_its_line(
    history: str, target: Ledger, monkeypatch: pytest.MonkeyPatch, bad_line: str, reason: str
) -> None:
    monkeypatch.setattr(exchange, "IMPORT_BATCH", 4)
    approve_annual_plan(target, code="KH-TARGET")
    number = len(lines_of(history)) - 2

    error = refused(target, replace_line(history, number, bad_line))

    assert (error.line, error.reason) == (number, reason)
    assert f"line {number}:" in str(error)


@pytest.mark.parametrize("target_holds_events", [False, True], ids=["empty", "not-empty"])
def test_the_first_bad_line_is_named_when_several_are_bad(
    history: str, target: Ledger, target_holds_events: bool
) -> None:
    if target_holds_events:  # stored heads are looked up: lines are parsed ahead of checking
        approve_annual_plan(target, code="KH-TARGET")
    number = line_number(history, "CompletedWorkPaid")
    record = json.loads(lines_of(history)[number - 1])
    record["state"]["amount"] += 1
    tampered = replace_line(history, number, json.dumps(record) + "\n")
    both = replace_line(tampered, len(lines_of(history)) - 1, "{not json\n")

    error = refused(target, both)

    assert (error.line, error.reason) == (number, "broken-chain")


def test_importing_the_same_file_twice_is_refused_the_second_time(
    history: str, target: Ledger
) -> None:
    import_text(target, history)

    error = refused(target, history)

    assert (error.line, error.reason) == (1, "collision")
    assert "already stored" in str(error)
    assert verify_store(target.recorder).ok


def test_a_line_repeated_within_the_file_is_a_collision(history: str, target: Ledger) -> None:
    lines = lines_of(history)

    error = refused(target, "".join([*lines, lines[-1]]))

    assert (error.line, error.reason) == (len(lines) + 1, "collision")
    assert "earlier in the file" in str(error)


def test_a_version_gap_is_refused(history: str, target: Ledger) -> None:
    number = line_number(history, "CompletedWorkPaid")
    without = replace_line(history, number, "")  # that project's stream skips one version

    error = refused(target, without)

    assert error.reason == "version-gap" and error.line is not None and error.line > number


# -- continuing stored chains -----------------------------------------------------------------


def test_importing_into_a_store_holding_the_first_half_continues_its_chains(
    ledger: Ledger, history: str, target: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange, "IMPORT_BATCH", 5)  # several batches of stored-head look-ups
    lines = lines_of(history)
    half = len(lines) // 2
    first, second = "".join(lines[:half]), "".join(lines[half:])
    import_text(target, first)
    cached_version = target.project("DA-001").version  # now in the target's cache
    assert cached_version < ledger.project("DA-001").version

    imported = import_text(target, second)

    assert target.cached(project_id("DA-001")) is None  # the stale cached project is gone
    assert imported == len(lines) - half
    assert stored_events(target) == stored_events(ledger)
    assert verify_store(target.recorder).ok
    assert target.project("DA-001").version == ledger.project("DA-001").version
    assert target.project("DA-001").lines == ledger.project("DA-001").lines


def test_the_second_half_alone_is_refused_by_a_fresh_store(history: str, target: Ledger) -> None:
    lines = lines_of(history)
    half = len(lines) // 2
    # The first line of the second half that continues a stream begun in the first half.
    started = {json.loads(line)["stream"] for line in lines[:half]}
    continuing = next(
        number
        for number, line in enumerate(lines[half:], start=1)
        if json.loads(line)["stream"] in started
    )

    error = refused(target, "".join(lines[half:]))

    assert (error.line, error.reason) == (continuing, "version-gap")


def test_a_forged_continuation_of_a_stored_stream_is_refused(history: str, target: Ledger) -> None:
    lines = lines_of(history)
    half = len(lines) // 2
    import_text(target, "".join(lines[:half]))
    started = {json.loads(line)["stream"] for line in lines[:half]}
    number = next(
        number
        for number, line in enumerate(lines[half:], start=1)
        if json.loads(line)["stream"] in started
    )
    record = json.loads(lines[half + number - 1])
    record["state"]["_chain"]["prev"] = "f" * 64  # links to a head the store does not have
    forged = replace_line("".join(lines[half:]), number, json.dumps(record) + "\n")

    error = refused(target, forged)

    assert (error.line, error.reason) == (number, "broken-chain")
    assert "previous event" in str(error)


# -- the import's verifier agrees with ChainVerifier ------------------------------------------

STREAM = str(uuid5(NAMESPACE_URL, "capledger:test-exchange"))
TOPIC = "capledger.tests:Made.Up"
keys = st.one_of(st.text(max_size=6), st.sampled_from(["_chain", "_meta", "_a", "Z", "amount"]))
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def sealed_lines(datas: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    """Export lines of one stream whose events carry ``datas``, sealed as the ledger seals."""
    lines, prev = [], GENESIS
    for version, data in enumerate(datas, start=1):
        state, prev = seal(
            stream=STREAM, version=version, topic=TOPIC, data=data, meta=meta, prev=prev
        )
        record = {"position": version, "stream": STREAM, "version": version, "topic": TOPIC}
        lines.append(json.dumps({**record, "state": json.loads(state)}) + "\n")
    return lines


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    datas=st.lists(st.dictionaries(keys, values, max_size=5), min_size=1, max_size=3),
    meta=st.dictionaries(st.text(max_size=5), values, max_size=3),
    tamper=st.booleans(),
)
def test_the_import_check_gives_chain_verifiers_verdict_and_canonical_state(
    datas: list[dict[str, Any]], meta: dict[str, Any], tamper: bool
) -> None:
    lines = sealed_lines(datas, meta)
    if tamper:
        record = json.loads(lines[-1])
        record["state"]["extra"] = 1
        lines[-1] = json.dumps(record)
    ours, reference = exchange._ImportVerifier(heads={}), ChainVerifier.new()
    for number, line in enumerate(lines, start=1):
        parsed = exchange._parse_line(number, line)
        state = parsed.state
        broken, encoded = ours.check_state(number, STREAM, number, TOPIC, state)
        assert encoded == canonical_json(state)
        assert broken == reference.check(number, STREAM, number, TOPIC, encoded)
    assert ours.heads == reference.heads


def test_states_of_another_layout_are_checked_by_chain_verifier_itself(target: Ledger) -> None:
    # "Amount" and "_a" sort before "_meta": the canonical state does not start with the chain.
    lines = sealed_lines([{"Amount": 5}, {"_a": [1, 2]}, {}], {"command": "made-up"})
    record = json.loads(lines[1])
    record["state"]["_a"] = [1, 3]
    tampered = replace_line("".join(lines), 2, json.dumps(record) + "\n")

    error = refused(target, tampered)

    assert (error.line, error.reason) == (2, "broken-chain")
    assert import_text(target, "".join(lines)) == 3
    assert verify_store(target.recorder).ok
