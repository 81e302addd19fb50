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
    if store.store.persistence is Persistence.POSTGRES:
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


@pytest.mark.parametrize("target_holds_events", [False, True], ids=["empty", "not-empty"])
def test_a_tampered_amount_is_refused_naming_its_line(
    history: str,
    target: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    target_holds_events: bool,
) -> None:
    monkeypatch.setattr(exchange, "IMPORT_BATCH", 4)  # earlier batches are inserted, then undone
    if target_holds_events:
        approve_annual_plan(target, code="KH-TARGET")
    number = line_number(history, "CompletedWorkPaid")
    record = json.loads(lines_of(history)[number - 1])
    record["state"]["amount"] += 1
    # Written as the export writes it: only the amount differs from the original line.
    edited = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    assert edited != lines_of(history)[number - 1]
    tampered = replace_line(history, number, edited)

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

    assert (error.line, error.reason) == (1, "stream-exists")
    assert "already exists in the target store" in str(error)
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


def test_a_line_naming_no_principal_is_refused_not_given_one(history: str, target: Ledger) -> None:
    number = line_number(history, "CompletedWorkPaid")
    record = json.loads(lines_of(history)[number - 1])
    del record["state"]["_meta"]["principal"]
    sealed, _ = reseal(record)  # sealed again: the chain holds, the principal is missing
    record["state"] = json.loads(sealed)
    edited = replace_line(history, number, json.dumps(record) + "\n")

    error = refused(target, edited)

    assert (error.line, error.reason) == (number, "missing-principal")


def test_principals_are_kept_exactly_as_the_file_has_them(
    ledger: Ledger, history: str, target: Ledger
) -> None:
    import_text(target, history)

    principals = [json.loads(e.state)["_meta"]["principal"] for e in stored_events(target)]
    assert principals == [json.loads(e.state)["_meta"]["principal"] for e in stored_events(ledger)]


def test_a_store_holding_other_streams_takes_a_file_of_new_ones(
    ledger: Ledger, history: str, target: Ledger
) -> None:
    approve_annual_plan(target, code="KH-TARGET")
    before = position(target)

    imported = import_text(target, history)

    assert imported == position(ledger) and position(target) == before + imported
    assert verify_store(target.recorder).ok
    assert target.project("DA-002").lines == ledger.project("DA-002").lines


# -- streams the target holds: never continued -----------------------------------------------


def test_a_file_continuing_streams_the_target_holds_is_refused(
    history: str, target: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange, "IMPORT_BATCH", 5)  # several batches of stored-stream look-ups
    lines = lines_of(history)
    half = len(lines) // 2
    import_text(target, "".join(lines[:half]))
    started = {json.loads(line)["stream"] for line in lines[:half]}
    continuing = next(
        number
        for number, line in enumerate(lines[half:], start=1)
        if json.loads(line)["stream"] in started
    )

    error = refused(target, "".join(lines[half:]))

    assert (error.line, error.reason) == (continuing, "stream-exists")
    assert verify_store(target.recorder).ok


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


# -- the forgery: a sealed payment nobody could have recorded -------------------------

FORGED_AMOUNT = 1_000_000_000_000


def reseal(record: dict[str, Any], prev: str | None = None) -> tuple[bytes, str]:
    """The record's state sealed again with the published algorithm (docs/hash-chain.md)."""
    state = dict(record["state"])
    meta = state.pop("_meta", {})
    chain = state.pop("_chain", {})
    return seal(
        stream=record["stream"], version=record["version"], topic=record["topic"], data=state,
        meta=meta, prev=chain.get("prev", GENESIS) if prev is None else prev,
    )  # fmt: skip


def forged_payment(ledger: Ledger, code: str) -> str:
    """An export line of a payment of 1,000,000,000,000 VND on ``code``, by a made-up principal,
    sealed after the project's last stored event as the published algorithm seals."""
    stored = [e for e in stored_events(ledger) if e.stream == str(project_id(code))]
    last = stored[-1]
    payment = next(e for e in reversed(stored) if e.topic.endswith("CompletedWorkPaid"))
    record = {
        "position": position(ledger) + 1,
        "stream": last.stream,
        "version": last.version + 1,
        "topic": payment.topic,
        "state": json.loads(payment.state),
    }
    record["state"]["amount"] = FORGED_AMOUNT
    record["state"]["treasury_ref"] = "KBNN-FORGED-0001"
    record["state"]["_meta"]["principal"] = "operator:nobody"
    record["state"]["_meta"]["command_id"] = "forged-0001"
    sealed, _ = reseal(record, prev=json.loads(last.state)["_chain"]["hash"])
    record["state"] = json.loads(sealed)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


@pytest.fixture
def fully_paid(ledger: Ledger) -> Ledger:
    """A project whose allocation is paid in full."""
    approve_annual_plan(ledger)
    funded_project(ledger, code="DA-001", amount=100 * BILLION)
    pay(ledger, project_code="DA-001", amount=100 * BILLION)
    return ledger


def test_a_forged_payment_into_the_populated_store_is_refused_and_changes_nothing(
    fully_paid: Ledger,
) -> None:
    forged = forged_payment(fully_paid, "DA-001")
    disbursed = fully_paid.project("DA-001").lines

    error = refused(fully_paid, forged)

    assert (error.line, error.reason) == (1, "stream-exists")
    assert "project:DA-001" in str(error)
    assert fully_paid.project("DA-001").lines == disbursed
    assert verify_store(fully_paid.recorder).ok


def test_a_forged_payment_into_an_empty_store_is_refused_by_the_rules_audit(
    fully_paid: Ledger, target: Ledger
) -> None:
    history = export_text(fully_paid)
    forged = history + forged_payment(fully_paid, "DA-001")
    number = len(lines_of(forged))
    assert verify_store(fully_paid.recorder).ok  # the chain alone cannot tell

    error = refused(target, forged)

    assert (error.line, error.reason) == (number, "rule-broken")
    message = str(error)
    assert f"line {number}:" in message and "project:DA-001" in message
    assert f"version {fully_paid.project('DA-001').version + 1}" in message
    assert "Project.CompletedWorkPaid" in message
    assert position(target) == 0


def test_the_first_breaking_event_in_file_order_is_named_when_several_streams_break(
    ledger: Ledger, target: Ledger
) -> None:
    approve_annual_plan(ledger)
    for code in ("DA-009", "DA-001"):  # stream ids in another order than the file's
        funded_project(ledger, code=code, amount=10 * BILLION)
        pay(ledger, project_code=code, amount=10 * BILLION)
    forged_first = forged_payment(ledger, "DA-009")
    forged_later = forged_payment(ledger, "DA-001")
    text = export_text(ledger) + forged_first + forged_later
    number = len(lines_of(text)) - 1

    error = refused(target, text)

    assert (error.line, error.reason) == (number, "rule-broken")
    assert "project:DA-009" in str(error)


def test_events_of_no_event_class_the_ledger_knows_are_refused(target: Ledger) -> None:
    lines = sealed_lines([{"amount": 1}, {"amount": 2}], {"principal": "system"})

    error = refused(target, "".join(lines))

    assert (error.line, error.reason) == (1, "rule-broken")
    assert "unknown-topic" in str(error)


# -- the fast path reads, writes and checks as the reference does -----------------------------
#
# The reference is the plainest way: ``json.loads``, ``chain.canonical_json`` and
# ``ChainVerifier.check``. The import reads a line with orjson and writes its state with orjson
# when the state holds no float; these tests hold both ways together, value for value.

STREAM = str(uuid5(NAMESPACE_URL, "capledger:test-exchange"))
TOPIC = "capledger.tests:Made.Up"
#: Keys that sort around the reserved ones, control characters, astral and private-use ones.
TRICKY_KEYS = ["_chain", "_meta", "_a", "Z", "amount", "", "\x00", "a\x00", "\u2028", "\ue000"]
TRICKY_KEYS += ["\uffff", "\U0001f600", "\U0010ffff", "đ"]
keys = st.one_of(st.text(max_size=6), st.sampled_from(TRICKY_KEYS))
#: Hypothesis's text is all of Unicode but lone surrogates (which UTF-8 cannot hold).
texts = st.text(max_size=8)
BOUNDS = [2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**30, -(10**30)]
int64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson reads as int
numbers = st.one_of(st.integers(), st.sampled_from(BOUNDS), st.floats())  # NaN, ±inf included
values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=10,
)
plain_values = st.recursive(
    st.one_of(st.none(), st.booleans(), int64, texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=10,
)


def export_line(record: dict[str, Any], *, compact: bool = True) -> str:
    """A line as the export writes it (compact, UTF-8), or as json.dumps does by default."""
    if compact:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    return json.dumps(record) + "\n"


def sealed_lines(
    datas: list[dict[str, Any]], meta: dict[str, Any], *, compact: bool = False
) -> list[str]:
    """Export lines of one stream whose events carry ``datas``, sealed as the ledger seals."""
    lines, prev = [], GENESIS
    for version, data in enumerate(datas, start=1):
        state, prev = seal(
            stream=STREAM, version=version, topic=TOPIC, data=data, meta=meta, prev=prev
        )
        record = {"position": version, "stream": STREAM, "version": version, "topic": TOPIC}
        lines.append(export_line({**record, "state": json.loads(state)}, compact=compact))
    return lines


def line_of(state_text: str) -> str:
    """A line holding this state text verbatim."""
    head = f'{{"position":1,"stream":"{STREAM}","version":1,"topic":"{TOPIC}","state":'
    return f"{head}{state_text}}}\n"


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    datas=st.lists(st.dictionaries(keys, values, max_size=5), min_size=1, max_size=3),
    meta=st.dictionaries(keys, values, max_size=3),
    tamper=st.booleans(),
    compact=st.booleans(),
)
def test_the_import_reads_writes_and_checks_every_line_as_the_reference_does(
    datas: list[dict[str, Any]], meta: dict[str, Any], tamper: bool, compact: bool
) -> None:
    lines = sealed_lines(datas, meta, compact=compact)
    if tamper:
        record = json.loads(lines[-1])
        record["state"]["extra"] = 1
        lines[-1] = export_line(record, compact=compact)
    ours, reference = exchange._ImportVerifier(heads={}), ChainVerifier.new()
    for number, line in enumerate(lines, start=1):
        expected_state = canonical_json(json.loads(line)["state"])
        parsed = exchange._parse_line(number, line)
        assert canonical_json(parsed.state) == expected_state  # read as json.loads reads it

        broken, encoded = ours.check_state(
            number, STREAM, number, TOPIC, parsed.state, plain=parsed.plain
        )

        assert encoded == expected_state
        assert broken == reference.check(number, STREAM, number, TOPIC, encoded)
    assert ours.heads == reference.heads


@hypothesis_settings(max_examples=400, deadline=None)
@given(value=st.dictionaries(keys, plain_values, max_size=6))
def test_orjson_writes_a_float_free_value_as_canonical_json_does(value: dict[str, Any]) -> None:
    assert exchange._encode_plain(value) == canonical_json(value)
    parsed = exchange._parse_line(1, line_of(canonical_json(value).decode()))
    assert parsed.plain and parsed.state == value


EVERY_CODE_POINT = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
PLAIN_STATES: dict[str, dict[str, Any]] = {
    "every code point": {"text": EVERY_CODE_POINT},
    "every code point as a key": {EVERY_CODE_POINT[i : i + 1000]: i for i in range(0, 2**20, 997)},
    "keys in code point order": {key: index for index, key in enumerate(TRICKY_KEYS)},
    "escapes": {"s": '"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u2029', '"\\': "\x1b"},
    "64-bit bounds": {"ints": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1], "bools": [True, False]},
    "nested metadata": {
        "_chain": {"hash": "0" * 64, "prev": GENESIS},
        "_meta": {"a": [{"b": {"c": [None, True, "đồng", 10**18]}}], "": {}, "\x00": []},
        "amount": 9_223_372_036_854_775_807,
    },
    "empty containers": {"a": {}, "b": [], "c": [[], {}, [[]]]},
    "nested as deep as orjson writes": {"deep": json.loads("[" * 250 + "]" * 250)},
}


@pytest.mark.parametrize("state", PLAIN_STATES.values(), ids=PLAIN_STATES.keys())
def test_tricky_float_free_states_are_read_and_written_by_orjson_as_the_reference_does(
    state: dict[str, Any],
) -> None:
    expected = canonical_json(state)
    assert exchange._encode_plain(state) == expected
    for compact in (True, False):
        record = {"position": 1, "stream": STREAM, "version": 1, "topic": TOPIC, "state": state}
        parsed = exchange._parse_line(1, export_line(record, compact=compact))
        assert parsed.plain
        assert canonical_json(parsed.state) == expected
        _, encoded = exchange._ImportVerifier(heads={}).check_state(
            1, STREAM, 1, TOPIC, parsed.state, plain=True
        )
        assert encoded == expected


#: States as JSON text, and whether orjson reads the line: not when it would read a number
#: otherwise than ``json.loads`` (a float, an integer beyond 64 bits) or refuses the text.
STATE_TEXTS: dict[str, tuple[str, bool]] = {
    "negative zero integer": ('{"x":-0}', True),
    "duplicate keys": ('{"a":1,"a":2}', True),
    "white space": ('{ "x" : [ 1 , 2 ] , "y" : { } }', True),
    "escapes": ('{"s":"\\u00e9\\ud83d\\ude00\\/\\u001F\\"\\\\"}', True),
    "64-bit bounds": ('{"x":[18446744073709551615,-9223372036854775808]}', True),
    "nested deeper than orjson writes": ('{"deep":' + "[" * 300 + "]" * 300 + "}", True),
    "fraction": ('{"x":1.5}', False),
    "exponent written as repr writes it": ('{"x":1e-07}', False),
    "exponent orjson writes": ('{"x":1e-7}', False),
    "capital exponent": ('{"x":1E5}', False),
    "negative zero": ('{"x":-0.0}', False),
    "integer one past 64 bits": ('{"x":18446744073709551616}', False),
    "integer one below 64 bits": ('{"x":-9223372036854775809}', False),
    "big integer amount": ('{"amount":123456789012345678901234567890}', False),
    "NaN": ('{"x":NaN}', False),
    "infinity": ('{"x":-Infinity}', False),
    "beyond a double": ('{"x":1e400}', False),
    "float in metadata": ('{"_meta":{"rate":0.1},"a":1}', False),
    "float deep in a list": ('{"a":[[{"b":[1,2,3.0]}]]}', False),
}


@pytest.mark.parametrize(
    ("state_text", "read_by_orjson"), STATE_TEXTS.values(), ids=STATE_TEXTS.keys()
)
def test_every_state_text_is_read_and_written_as_the_reference_does(
    state_text: str, read_by_orjson: bool
) -> None:
    expected = canonical_json(json.loads(state_text))

    parsed = exchange._parse_line(1, line_of(state_text))
    _, encoded = exchange._ImportVerifier(heads={}).check_state(
        1, STREAM, 1, TOPIC, parsed.state, plain=parsed.plain
    )

    assert parsed.plain is read_by_orjson
    assert canonical_json(parsed.state) == expected
    assert encoded == expected


def test_data_keys_sorting_around_the_reserved_ones_are_checked_alike() -> None:
    # "Amount" and "_a" sort before "_meta", "amount" after it.
    meta = {"command": "made-up", "principal": "system"}
    lines = sealed_lines([{"Amount": 5}, {"_a": [1, 2], "amount": 3}, {}], meta)
    record = json.loads(lines[1])
    record["state"]["_a"] = [1, 3]
    tampered = [lines[0], json.dumps(record) + "\n", lines[2]]
    verdicts = []
    for lines_ in (lines, tampered):
        verifier = exchange._ImportVerifier(heads={})
        verdicts.append([
            verifier.check_state(n, STREAM, n, TOPIC, exchange._parse_line(n, line).state)[0]
            for n, line in enumerate(lines_, start=1)
        ])  # fmt: skip

    assert verdicts[0] == [None, None, None]
    assert verdicts[1][0] is None and verdicts[1][1] is not None
    assert "hash" in verdicts[1][1].reason


def test_a_chain_of_another_layout_is_checked_by_chain_verifier_itself(
    history: str, target: Ledger
) -> None:
    number = line_number(history, "CompletedWorkPaid")
    record = json.loads(lines_of(history)[number - 1])
    record["state"]["_chain"]["note"] = "not hashed"  # unseal ignores it; so must the import
    relaid = replace_line(history, number, json.dumps(record) + "\n")

    assert import_text(target, relaid) == len(lines_of(history))
    assert stored_events(target)[number - 1].state == canonical_json(record["state"])


def test_a_lone_surrogate_is_refused_naming_its_line(history: str, target: Ledger) -> None:
    number = line_number(history, "CompletedWorkPaid")
    record = json.loads(lines_of(history)[number - 1])
    record["state"]["treasury_ref"] = "\ud800"  # json.dumps writes "\\ud800", json.loads reads it

    error = refused(target, replace_line(history, number, json.dumps(record) + "\n"))

    assert (error.line, error.reason) == (number, "invalid-value")


def test_a_line_nested_too_deeply_is_refused_naming_its_line(history: str, target: Ledger) -> None:
    number = line_number(history, "CompletedWorkPaid")
    record = json.loads(lines_of(history)[number - 1])
    record["state"]["deep"] = "PLACEHOLDER"
    deep = json.dumps(record).replace('"PLACEHOLDER"', "[" * 1000 + "]" * 1000)

    error = refused(target, replace_line(history, number, deep + "\n"))

    assert (error.line, error.reason) == (number, "malformed-line")
