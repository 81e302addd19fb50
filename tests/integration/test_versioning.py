"""Stored events stay readable: golden stored events of every event type and class version.

``tests/fixtures/golden/<Aggregate>.<Event>.v<N>.json`` holds an event exactly as the ledger
stored it under class version N, with the stream it ends (written by
``tests/fixtures/make_golden.py``; ``Project.Registered.v1.json`` is hand-written, from before
v2). Every fixture must decode through the ledger's mapper into the current classes (upcast
where its version is older), and its streams must rebuild their aggregates in a fresh store.
Every event class must declare its ``class_version`` and have a fixture of that version, so an
event added or changed without one fails here.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from builders import (
    BILLION,
    CENTRAL,
    CONTRACT,
    LOCAL,
    MEDIUM_TERM_PLAN,
    OTHER_PROJECT,
    PLAN,
    PROJECT,
    command_id,
    sqlite_settings,
)
from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import resolve_topic
from jsonschema import Draft202012Validator, FormatChecker

import capledger.domain
from capledger.application.commands import ChangeInvestor
from capledger.application.errors import IdempotencyConflict, UnknownProject
from capledger.application.ledger import Ledger
from capledger.application.published import EventName, PublishedEvent, StreamKind, publish
from capledger.application.receipts import CommandReceipt, receipt_id
from capledger.application.verify import verify_store
from capledger.bootstrap import build_ledger
from capledger.domain import CapitalPlan, Decision, Project
from capledger.domain.ids import api_key_id, plan_id, project_id
from capledger.projections import MemoryReadModel, ReadModelStore, rebuild
from capledger.projections.batch import published
from capledger.projections.history import published as history_published
from capledger.projections.rows import ProjectRow
from capledger.streams import schemas, wire

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
LEGACY_PROJECT = "DA-2019-07"
LEGACY_INVESTOR = "Ban QLDA đầu tư xây dựng huyện Đông Anh"


@dataclass(frozen=True)
class Golden:
    name: str  # "Project.Registered"
    class_version: int
    stream: list[StoredEvent]

    @property
    def file_name(self) -> str:
        return f"{self.name}.v{self.class_version}.json"

    @property
    def event(self) -> StoredEvent:
        """The event of the fixture's type: the last of its stream."""
        return self.stream[-1]


def load_golden(path: Path) -> Golden:
    document = json.loads(path.read_text(encoding="utf-8"))
    return Golden(
        name=document["event"],
        class_version=document["class_version"],
        stream=[
            StoredEvent(
                originator_id=UUID(item["originator_id"]),
                originator_version=item["originator_version"],
                topic=item["topic"],
                state=item["state"].encode("utf-8"),
            )
            for item in document["stream"]
        ],
    )


GOLDENS = {path.name: load_golden(path) for path in sorted(GOLDEN.glob("*.json"))}


# -- every event class, found in the code --------------------------------------------------


def aggregate_classes() -> list[type[Aggregate]]:
    """Every aggregate class of capledger: the domain's modules, and whatever the Ledger
    (imported above) records besides, such as its command receipts."""
    for module in pkgutil.walk_packages(capledger.domain.__path__, "capledger.domain."):
        importlib.import_module(module.name)
    found: list[type[Aggregate]] = []
    pending: list[type[Aggregate]] = [Aggregate]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith("capledger."):
                found.append(subclass)
    return sorted(set(found), key=lambda cls: cls.__qualname__)


def event_classes(aggregate: type[Aggregate]) -> list[type[CanMutateAggregate[UUID]]]:
    """The events an aggregate records: every event class on it but the library's bases
    (``Event``, and ``Created`` unless no other event creates the aggregate)."""
    events = {
        name: value
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, CanMutateAggregate) and name != "Event"
    }
    creators = [name for name, cls in events.items() if issubclass(cls, CanInitAggregate)]
    if "Created" in events and len(creators) > 1:
        del events["Created"]
    return list(events.values())


def declared_class_version(event_class: type) -> tuple[type, int] | None:
    """The class that declares ``class_version`` for an event class, and the version."""
    for cls in event_class.__mro__:
        if "class_version" in vars(cls):
            return cls, int(vars(cls)["class_version"])
    return None


EVENT_CLASSES = {
    f"{cls.__qualname__}": cls
    for aggregate in aggregate_classes()
    for cls in event_classes(aggregate)
}


def test_event_discovery_finds_the_aggregates_and_events_of_the_domain() -> None:
    assert {cls.__name__ for cls in aggregate_classes()} >= {
        "CapitalPlan",
        "Project",
        "CommandReceipt",
    }
    # Discovery finds at least the events known today (more may come, each with a fixture).
    assert EVENT_CLASSES.keys() >= {
        *(f"CapitalPlan.{n}" for n in ("Approved", "Adjusted", "CapitalAllocated")),
        "CapitalPlan.CapitalReturned",
        "CommandReceipt.Accepted",
        "Project.Registered",
        "Project.CompletedWorkPaid",
        "Project.Settled",
    }
    assert len(EVENT_CLASSES) >= 20


@pytest.mark.parametrize("name", sorted(EVENT_CLASSES))
def test_every_event_class_declares_its_own_class_version(name: str) -> None:
    declared = declared_class_version(EVENT_CLASSES[name])

    assert declared is not None, f"{name} declares no class_version"
    owner, version = declared
    assert owner.__qualname__ == name, f"{name} inherits class_version from {owner.__qualname__}"
    assert owner.__module__.startswith("capledger.")
    assert version >= 1


@pytest.mark.parametrize("name", sorted(EVENT_CLASSES))
def test_every_event_class_has_a_golden_fixture_of_its_current_version(name: str) -> None:
    declared = declared_class_version(EVENT_CLASSES[name])
    assert declared is not None
    file_name = f"{name}.v{declared[1]}.json"

    assert file_name in GOLDENS, (
        f"no golden stored event {file_name}: run `python tests/fixtures/make_golden.py` "
        "after adding the event to builders.record_year"
    )


@pytest.mark.parametrize("file_name", sorted(GOLDENS))
def test_every_golden_fixture_is_readable_by_the_current_event_class(file_name: str) -> None:
    golden = GOLDENS[file_name]
    assert golden.file_name == file_name
    cls = resolve_topic(golden.event.topic)
    declared = declared_class_version(cls)
    assert declared is not None

    assert cls.__qualname__ == golden.name
    assert golden.class_version <= declared[1]
    for version in range(golden.class_version, declared[1]):
        assert callable(getattr(cls, f"upcast_v{version}_v{version + 1}", None))
    versions = [stored.originator_version for stored in golden.stream]
    assert versions == list(range(1, len(versions) + 1))
    assert {stored.originator_id for stored in golden.stream} == {golden.event.originator_id}


# -- decoding each golden event through the ledger's mapper --------------------------------

DECISION_PLAN = Decision("12/NQ-HĐND", date(2020, 12, 10), "HĐND Hà Nội")

#: The fields each golden event must decode to (the first event of its type in record_year).
EXPECTED: dict[str, dict[str, Any]] = {
    "CapitalPlan.Approved.v1": {
        "originator_id": plan_id(MEDIUM_TERM_PLAN),
        "code": MEDIUM_TERM_PLAN,
        "kind": "medium_term",
        "authority": "provincial_council",
        "start_year": 2021,
        "end_year": 2025,
        "envelopes": {CENTRAL: 5_000 * BILLION},
        "decision": DECISION_PLAN,
        "effective_on": date(2021, 1, 1),
        "implements": None,
    },
    "CapitalPlan.Adjusted.v1": {
        "originator_id": plan_id(PLAN),
        "originator_version": 2,
        "envelopes": {CENTRAL: 1_200 * BILLION, LOCAL: 500 * BILLION},
        "reason": "bổ sung vốn ngân sách trung ương",
        "decision": Decision("45/NQ-HĐND", date(2025, 3, 28), "HĐND Hà Nội"),
        "effective_on": date(2025, 4, 1),
    },
    "CapitalPlan.CapitalAllocated.v1": {
        "project_code": PROJECT,
        "source": CENTRAL,
        "amount": 300 * BILLION,
        "effective_on": date(2025, 1, 2),
    },
    "CapitalPlan.CapitalReturned.v1": {
        "project_code": OTHER_PROJECT,
        "source": CENTRAL,
        "amount": 20 * BILLION,
        "decision": Decision("888/QĐ-UBND", date(2025, 7, 1), "UBND Hà Nội"),
    },
    "CommandReceipt.Accepted.v1": {
        "originator_id": receipt_id("golden-01-approve"),
        "command_id": "golden-01-approve",
        "command": "approve_plan",
        "streams": {f"plan:{MEDIUM_TERM_PLAN}": 1},
        "principal": "system",
    },
    "Project.Registered.v2": {
        "originator_id": project_id(PROJECT),
        "originator_version": 1,
        "code": PROJECT,
        "investor_code": "BQLDA-GT",
        "investor_name": "Ban QLDA đầu tư xây dựng công trình giao thông",
        "total_investment": 2_000 * BILLION,
        "decision": Decision("123/QĐ-UBND", date(2024, 6, 1), "UBND Hà Nội"),
        "effective_on": date(2024, 6, 1),
    },
    "Project.Registered.v1": {
        "originator_id": project_id(LEGACY_PROJECT),
        "code": LEGACY_PROJECT,
        "investor_code": LEGACY_INVESTOR,
        "investor_name": LEGACY_INVESTOR,
        "total_investment": 185 * BILLION,
        "decision": Decision("2468/QĐ-UBND", date(2019, 7, 15), "UBND huyện Đông Anh"),
    },
    "Project.TotalInvestmentAdjusted.v1": {"total_investment": 1_800 * BILLION},
    "Project.InvestorChanged.v1": {
        "investor_code": "BQLDA-HN",
        "investor_name": "Ban QLDA các công trình giao thông Hà Nội",
        "effective_on": date(2026, 10, 1),
    },
    "Project.StatusChanged.v1": {
        "status": "completed",
        "review_class": None,
        "decision": None,
        "effective_on": date(2027, 2, 1),
    },
    "Project.CapitalAllocated.v1": {
        "originator_id": project_id(PROJECT),
        "originator_version": 2,
        "plan_code": PLAN,
        "plan_kind": "annual",
        "fiscal_year": 2025,
        "source": CENTRAL,
        "amount": 300 * BILLION,
        "auto_extended_until": None,
    },
    "Project.CapitalTransferredOut.v1": {
        "originator_id": project_id(OTHER_PROJECT),
        "to_project": PROJECT,
        "amount": 40 * BILLION,
    },
    "Project.CapitalTransferredIn.v1": {
        "originator_id": project_id(PROJECT),
        "from_project": OTHER_PROJECT,
        "plan_kind": "annual",
        "fiscal_year": 2025,
        "amount": 40 * BILLION,
        "auto_extended_until": None,
    },
    "Project.AllocationCut.v1": {
        "originator_id": project_id(OTHER_PROJECT),
        "amount": 20 * BILLION,
        "reason": "không thể triển khai trong năm",
    },
    "Project.ContractSigned.v1": {
        "contract_no": CONTRACT,
        "contractor": "Tổng công ty Xây dựng Thăng Long",
        "value": 200 * BILLION,
    },
    "Project.AdvancePaid.v1": {
        "contract_no": CONTRACT,
        "amount": 60 * BILLION,
        "from_extension": False,
        "treasury_ref": "KBNN-TU-0001",
        "effective_on": date(2025, 3, 1),
    },
    "Project.CompletedWorkPaid.v1": {
        "contract_no": CONTRACT,
        "amount": 100 * BILLION,
        "advance_recovered": 30 * BILLION,
        "from_extension": False,
        "effective_on": date(2025, 6, 1),
    },
    "Project.EntryReversed.v1": {
        "originator_version": 8,
        "entry_version": 7,
        "reason": "chi nhầm số tiền",
    },
    "Project.EntryCorrected.v1": {
        "originator_version": 5,
        "entry_version": 4,
        "corrects": "AllocationCut",
        "amount": 20 * BILLION,
        "effective_on": date(2025, 9, 1),
    },
    "Project.DisbursementPeriodExtended.v1": {
        "amount": 50 * BILLION,
        "until": date(2026, 6, 30),
        "decision": Decision("12/QĐ-TTg", date(2026, 1, 20), "Thủ tướng Chính phủ"),
    },
    "Project.CapitalLapsed.v1": {"amount": 160 * BILLION, "effective_on": date(2026, 2, 1)},
    "Project.Settled.v1": {"settled_value": 150 * BILLION, "effective_on": date(2027, 6, 1)},
    "ApiKey.Issued.v1": {
        "originator_id": api_key_id("0a1b2c3d"),
        "key_id": "0a1b2c3d",
        "name": "lan",
        "role": "finance_officer",
        "investors": [],
        "provinces": ["HP"],
    },
    "ApiKey.ScopeChanged.v1": {"investors": [], "provinces": ["HN", "HP"]},
    "ApiKey.Revoked.v1": {"originator_version": 3},
}


@pytest.fixture(scope="module")
def mapper_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    ledger = build_ledger(sqlite_settings(tmp_path_factory.mktemp("mapper")))
    yield ledger
    ledger.close()


def test_every_golden_fixture_has_expected_fields() -> None:
    assert {name.removesuffix(".json") for name in GOLDENS} == EXPECTED.keys()


@pytest.mark.parametrize("file_name", sorted(GOLDENS))
def test_a_golden_event_decodes_through_the_ledger_mapper_with_its_key_fields(
    file_name: str, mapper_ledger: Ledger
) -> None:
    golden = GOLDENS[file_name]

    event = mapper_ledger.mapper.to_domain_event(golden.event)

    assert type(event) is resolve_topic(golden.event.topic)
    fields = vars(event)
    for key, expected in EXPECTED[file_name.removesuffix(".json")].items():
        assert fields[key] == expected, key
    assert "_meta" not in fields
    assert "_chain" not in fields
    assert "class_version" not in fields


def test_a_v1_registration_upcasts_its_investor_to_code_and_name(mapper_ledger: Ledger) -> None:
    stored = GOLDENS["Project.Registered.v1.json"].event
    state = json.loads(stored.state)
    assert "class_version" not in state
    assert state["investor"] == LEGACY_INVESTOR

    event = mapper_ledger.mapper.to_domain_event(stored)

    assert isinstance(event, Project.Registered)
    assert vars(event)["investor_code"] == LEGACY_INVESTOR
    assert vars(event)["investor_name"] == LEGACY_INVESTOR
    assert "investor" not in vars(event)


# -- golden streams in a store ---------------------------------------------------------------


def insert_golden_streams(ledger: Ledger) -> None:
    """Insert every golden stream, stream by stream, without repeating an event that two
    fixtures share (they must agree byte for byte)."""
    events: dict[tuple[str, int], StoredEvent] = {}
    for golden in GOLDENS.values():
        for stored in golden.stream:
            key = (str(stored.originator_id), stored.originator_version)
            assert events.setdefault(key, stored) == stored, f"fixtures disagree on {key}"
    for key in sorted(events):
        ledger.recorder.insert_events([events[key]])


@pytest.fixture
def golden_ledger(ledger: Ledger, open_ledger: Callable[[], Ledger]) -> Ledger:
    """A fresh ledger on a store holding nothing but the golden streams."""
    insert_golden_streams(ledger)
    return open_ledger()


def test_golden_streams_in_a_fresh_store_keep_an_intact_hash_chain(golden_ledger: Ledger) -> None:
    report = verify_store(golden_ledger.recorder)

    assert report.ok, report.broken
    assert report.checked == golden_ledger.recorder.max_notification_id()


def test_a_golden_receipt_recorded_before_ids_were_scoped_still_guards_its_principals_id(
    golden_ledger: Ledger,
) -> None:
    receipt: CommandReceipt = golden_ledger.repository.get(receipt_id("golden-01-approve"))
    other_command = ChangeInvestor(
        project_code="DA-404", investor_code="X", investor_name="X", reason="test",
        effective_on=date(2021, 1, 1),
    )  # fmt: skip

    # The id names the golden plan's approval for the principal that recorded it...
    with pytest.raises(IdempotencyConflict, match="approve_plan"):
        golden_ledger.execute(
            other_command, command_id="golden-01-approve", principal=receipt.principal
        )
    # ...and nothing for another principal: its command is judged as a new one.
    with pytest.raises(UnknownProject):
        golden_ledger.execute(
            other_command, command_id="golden-01-approve", principal="operator:other"
        )


def test_golden_streams_in_a_fresh_store_rebuild_their_aggregates(golden_ledger: Ledger) -> None:
    project = golden_ledger.project(PROJECT)
    other = golden_ledger.project(OTHER_PROJECT)
    plan = golden_ledger.plan(PLAN)
    receipt: CommandReceipt = golden_ledger.repository.get(receipt_id("golden-01-approve"))

    # DA-001's longest golden stream ends with its settlement (version 16).
    assert (project.version, project.status) == (16, "settled")
    assert project.settled_value == 150 * BILLION
    assert project.disbursed == 150 * BILLION
    assert project.lines[f"{PLAN}|{CENTRAL}"].undisbursed == 0
    assert project.entries[7].reversed
    # DA-002's longest golden stream ends with the correction of its cut (20 billion back).
    assert other.lines[f"{PLAN}|{CENTRAL}"].undisbursed == 60 * BILLION
    assert other.movements[4].corrected
    # The plan's longest golden stream ends with the capital returned by the cut.
    assert plan.allocated[CENTRAL] == 380 * BILLION
    assert plan.unallocated(CENTRAL) == 820 * BILLION
    assert isinstance(golden_ledger.plan(MEDIUM_TERM_PLAN), CapitalPlan)
    assert isinstance(receipt, CommandReceipt)
    assert receipt.command == "approve_plan"


def test_a_project_registered_under_v1_rebuilds_and_takes_new_commands(
    golden_ledger: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    legacy = golden_ledger.project(LEGACY_PROJECT)
    assert (legacy.investor_code, legacy.investor_name) == (LEGACY_INVESTOR, LEGACY_INVESTOR)

    golden_ledger.execute(ChangeInvestor(
        project_code=LEGACY_PROJECT, investor_code="BQLDA-DA", investor_name=LEGACY_INVESTOR,
        reason="cấp mã chủ đầu tư", effective_on=date(2025, 1, 1),
    ), command_id=command_id())  # fmt: skip

    reloaded = open_ledger().project(LEGACY_PROJECT)
    assert (reloaded.version, reloaded.investor_code) == (2, "BQLDA-DA")
    assert reloaded.total_investment == 185 * BILLION
    assert verify_store(golden_ledger.recorder).ok


# -- golden events in their published form: projections, the Kafka wire, history --------------


def published_golden(stored: StoredEvent, position: int = 1) -> PublishedEvent:
    return publish(position, stored.originator_id, stored.originator_version, stored.topic,
                   stored.state)  # fmt: skip


@pytest.mark.parametrize("file_name", sorted(GOLDENS))
def test_a_golden_event_is_published_in_its_current_class_version_with_its_subject(
    file_name: str,
) -> None:
    golden = GOLDENS[file_name]
    current = resolve_topic(golden.event.topic)

    event = published_golden(golden.event)

    assert event.name == golden.name
    assert event.class_version == current.class_version
    assert event.subject is not None
    kind, _, code = event.subject.partition(":")
    assert kind in set(StreamKind) and code
    assert "class_version" not in event.data and "_meta" not in event.data
    assert golden.name in set(EventName)


def test_a_v1_registration_is_published_upcast_and_named_by_its_code() -> None:
    event = published_golden(GOLDENS["Project.Registered.v1.json"].event)

    assert event.class_version == 2
    assert event.subject == f"project:{LEGACY_PROJECT}"
    assert event.data["investor_code"] == event.data["investor_name"] == LEGACY_INVESTOR
    assert "investor" not in event.data


@pytest.mark.parametrize("file_name", sorted(GOLDENS))
def test_a_golden_event_crosses_the_kafka_wire_unchanged(file_name: str) -> None:
    golden = GOLDENS[file_name]
    stamp = wire.WireFormat("/capledger/golden", "urn:capledger:schema:")
    stored = golden.event
    note = Notification(id=9, originator_id=stored.originator_id,
                        originator_version=stored.originator_version, topic=stored.topic,
                        state=stored.state)  # fmt: skip
    event = published_golden(stored, position=9)

    message = wire.to_message(note, stamp)
    received = wire.published_event(wire.header_map(message.headers), message.value)

    # The wire carries the metadata in part (no command name): everything else comes back.
    assert received._replace(meta={}) == event._replace(meta={})
    assert received.meta.items() <= {**event.meta, "subject": event.subject}.items()
    schema = schemas.load(schemas.schema_file_name(event.name, event.class_version))
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(json.loads(message.value))


def test_golden_streams_fold_into_the_read_model(golden_ledger: Ledger) -> None:
    events = list(published(golden_ledger.recorder.select_notifications(1, 10_000)))

    model = MemoryReadModel().fold(events)

    legacy = model.get(ProjectRow, (LEGACY_PROJECT,))
    assert legacy is not None
    assert (legacy.investor_code, legacy.investor_name) == (LEGACY_INVESTOR, LEGACY_INVESTOR)
    assert legacy.total_investment == 185 * BILLION
    project = model.get(ProjectRow, (PROJECT,))
    assert project is not None and project.status == "settled"
    assert {row.project_code for row in model.rows(ProjectRow)} == {
        LEGACY_PROJECT, PROJECT, OTHER_PROJECT,
    }  # fmt: skip


def test_golden_streams_rebuild_the_stored_read_model(
    golden_ledger: Ledger, read_models: Callable[[], ReadModelStore]
) -> None:
    store = read_models()

    report = rebuild(store, golden_ledger.recorder)

    assert report.position == golden_ledger.recorder.max_notification_id()
    found = store.read(
        lambda reader: reader.rows(
            "SELECT investor_code, investor_name FROM {project} WHERE project_code = :code",
            {"code": LEGACY_PROJECT},
        )
    )
    assert found == [(LEGACY_INVESTOR, LEGACY_INVESTOR)]


def test_the_history_of_a_v1_project_shows_its_registration_upcast(golden_ledger: Ledger) -> None:
    (stored,) = golden_ledger.recorder.select_events(project_id(LEGACY_PROJECT))
    history = history_published(stored)

    assert history.name == "Project.Registered" and history.class_version == 2
    assert history.data["investor_code"] == LEGACY_INVESTOR


def test_the_published_event_names_are_the_event_classes_of_the_ledger() -> None:
    assert set(EventName) == set(EVENT_CLASSES)
    assert set(StreamKind) == {"project", "plan", "command", "api-key"}


# -- the stored form of today's events is the one their fixtures hold ------------------------


def load_make_golden() -> Any:
    path = GOLDEN.parent / "make_golden.py"
    spec = importlib.util.spec_from_file_location("make_golden", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recorded_today() -> dict[str, str]:
    """Golden documents as the ledger writes them today (``make_golden.golden_files``)."""
    return dict(load_make_golden().golden_files())


def test_every_event_recorded_today_has_the_stored_form_of_its_fixture(
    recorded_today: dict[str, str],
) -> None:
    make_golden = load_make_golden()
    changed = [
        name
        for name, document in sorted(recorded_today.items())
        if name in GOLDENS
        and not make_golden.same_shape(
            make_golden.event_shape((GOLDEN / name).read_text(encoding="utf-8")),
            make_golden.event_shape(document),
        )
    ]
    assert recorded_today.keys() <= GOLDENS.keys(), "run tests/fixtures/make_golden.py"
    assert changed == [], f"stored form changed without a new class_version: {changed}"


def test_a_field_added_to_a_stored_event_is_a_changed_stored_form() -> None:
    make_golden = load_make_golden()
    document = (GOLDEN / "Project.Settled.v1.json").read_text(encoding="utf-8")
    fixture = json.loads(document)
    state = json.loads(fixture["stream"][-1]["state"])
    state["settled_amount"] = "1"
    fixture["stream"][-1]["state"] = json.dumps(state)
    altered = json.dumps(fixture)

    assert make_golden.same_shape(
        make_golden.event_shape(document), make_golden.event_shape(document)
    )
    assert not make_golden.same_shape(
        make_golden.event_shape(document), make_golden.event_shape(altered)
    )
