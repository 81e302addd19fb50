"""JSON Schemas of the published events, generated from the event classes themselves.

One source of truth: the annotations of each event class (``Project.CompletedWorkPaid`` …)
become the JSON Schema (draft 2020-12) of the event's published ``data`` — the Kafka message
value. Amounts are integers (with a minimum where the domain enforces one), dates are
``string``/``format: date``, decisions are objects, optional fields are nullable. Every field
is required (the published form always carries it, ``null`` when empty) and no other field is
allowed: a change to an event class must come with a new ``class_version`` and a new file.
A published schema never changes: when a class moves to a new version, the file of the old
version stays (messages already on the topic point at it) and is no longer regenerated.

    python tests/fixtures/make_schemas.py --write   # regenerate capledger/schemas/*.json
    python tests/fixtures/make_schemas.py --check   # exit 1 if the committed files are stale
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate, AggregateCreated, AggregateEvent

from capledger.application.published import TYPE_PREFIX
from capledger.application.receipts import CommandReceipt
from capledger.domain import ApiKey, CapitalPlan, Decision, Project

from .settings import DEFAULT_SCHEMA_BASE_URI

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The aggregates whose events are recorded, hence published.
AGGREGATES: tuple[type[Aggregate], ...] = (CapitalPlan, Project, CommandReceipt, ApiKey)
#: Fields every domain event has that the published ``data`` does not carry.
_ENVELOPE_FIELDS = frozenset(typing.get_type_hints(AggregateCreated))
#: Smallest value of integer fields, as the domain checks them.
INTEGER_MINIMUM: Mapping[str, int] = {
    "amount": 1,
    "total_investment": 1,
    "value": 1,
    "settled_value": 0,
    "advance_recovered": 0,
    "entry_version": 1,
}
#: Smallest value of the integers in mappings (``{source: VND}``, ``{subject: version}``).
MAP_VALUE_MINIMUM: Mapping[str, int] = {"envelopes": 0, "streams": 1}
#: What a field of an event's data holds, where its name alone could mislead (gross vs net).
#: A description changes no message: it is written into the current schema files.
FIELD_DESCRIPTIONS: Mapping[str, Mapping[str, str]] = {
    "Project.CompletedWorkPaid": {
        "amount": "Gross: the value of the completed work paid for (giá trị khối lượng hoàn "
        "thành), VND, the advance recovered included. The cash paid out (giải ngân) is "
        "amount − advance_recovered.",
        "advance_recovered": "The part of amount that repays the contract's advance (thu hồi "
        "tạm ứng), VND: not paid out again.",
    },
    "Project.AdvancePaid": {
        "amount": "The advance paid out (tạm ứng), VND: gross and net cash alike.",
    },
}
#: The decision behind a movement, as published (see application/eventstore.DecisionAsDict).
DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The legal decision behind the event: its number, date and issuer.",
    "properties": {
        "number": {"type": "string", "minLength": 1},
        "issued_on": {"type": "string", "format": "date"},
        "issuer": {"type": "string", "minLength": 1},
    },
    "required": ["issued_on", "issuer", "number"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class EventType:
    """One published event type: its class, name and version."""

    cls: type[AggregateEvent]
    name: str  # "Project.CompletedWorkPaid"
    class_version: int

    @property
    def ce_type(self) -> str:
        return f"{TYPE_PREFIX}.{self.name}.v{self.class_version}"

    @property
    def file_name(self) -> str:
        return schema_file_name(self.name, self.class_version)


def schema_file_name(name: str, class_version: int) -> str:
    return f"{name}.v{class_version}.json"


def schema_dir() -> Path:
    """``capledger/schemas`` next to this package (the committed schemas)."""
    import capledger

    return Path(capledger.__file__).resolve().parent / "schemas"


def event_types() -> list[EventType]:
    """Every event class of every recorded aggregate, in a stable order."""
    found: list[EventType] = []
    for aggregate in AGGREGATES:
        for attribute, value in vars(aggregate).items():
            if attribute in ("Event", "Created") or not isinstance(value, type):
                continue
            if issubclass(value, AggregateEvent):
                version = int(getattr(value, "class_version", 1))
                found.append(EventType(value, value.__qualname__, version))
    return sorted(found, key=lambda event_type: event_type.name)


def event_fields(cls: type[AggregateEvent]) -> dict[str, Any]:
    """The event's own fields and their types (not the library's envelope fields)."""
    hints = typing.get_type_hints(cls)
    return {name: hint for name, hint in hints.items() if name not in _ENVELOPE_FIELDS}


def field_schema(name: str, hint: Any) -> dict[str, Any]:
    """JSON Schema of one field of the published ``data``."""
    args = typing.get_args(hint)
    if _is_union(hint):
        present = [arg for arg in args if arg is not type(None)]
        if len(present) != 1:
            raise TypeError(f"field {name}: only ``X | None`` unions are supported, got {hint}")
        inner = field_schema(name, present[0])
        if len(present) == len(args):
            return inner
        return _nullable(inner)
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        schema: dict[str, Any] = {"type": "integer"}
        if name in INTEGER_MINIMUM:
            schema["minimum"] = INTEGER_MINIMUM[name]
        return schema
    if hint is str:
        return {"type": "string"}
    if hint is date:
        return {"type": "string", "format": "date"}
    if hint is Decision:
        return {"$ref": "#/$defs/Decision"}
    origin = typing.get_origin(hint)
    if origin is dict and args and args[0] is str:
        values = field_schema(name, args[1])
        if name in MAP_VALUE_MINIMUM and values.get("type") == "integer":
            values["minimum"] = MAP_VALUE_MINIMUM[name]
        return {"type": "object", "additionalProperties": values}
    if origin in (list, tuple) and args:
        return {"type": "array", "items": field_schema(name, args[0])}
    raise TypeError(f"field {name}: no JSON Schema mapping for {hint!r}")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]}


def event_schema(event_type: EventType, base_uri: str = DEFAULT_SCHEMA_BASE_URI) -> dict[str, Any]:
    fields = event_fields(event_type.cls)
    properties = {name: field_schema(name, hint) for name, hint in sorted(fields.items())}
    for name, text in FIELD_DESCRIPTIONS.get(event_type.name, {}).items():
        properties[name] = {"description": text, **properties[name]}
    doc = " ".join(class_docstring(event_type.cls).split())
    description = f"Data of CloudEvents type {event_type.ce_type}."
    if doc:
        description = f"{doc} {description}"
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{base_uri}{event_type.file_name}",
        "title": f"{event_type.name} v{event_type.class_version}",
        "description": description,
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }
    if _uses_decision(properties):
        schema["$defs"] = {"Decision": DECISION_SCHEMA}
    return schema


@cache
def class_docstring(cls: type) -> str:
    """The docstring written in the class body (the library replaces ``__doc__``)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return ""
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.ClassDef):
        return ""
    return ast.get_docstring(node) or ""


def _uses_decision(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get("$ref") == "#/$defs/Decision" or any(
            _uses_decision(item) for item in value.values()
        )
    if isinstance(value, list):
        return any(_uses_decision(item) for item in value)
    return False


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """File name → file content of every schema, as the event classes define them now."""
    return {event_type.file_name: render(event_schema(event_type)) for event_type in event_types()}


def stale(directory: Path | None = None) -> list[str]:
    """What differs between the committed schemas and the generated ones (empty: up to date)."""
    directory = directory or schema_dir()
    wanted = generated()
    problems: list[str] = []
    for file_name, content in wanted.items():
        path = directory / file_name
        if not path.exists():
            problems.append(f"missing {file_name}")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"out of date {file_name}")
    current = {event_type.name: event_type.class_version for event_type in event_types()}
    for path in sorted(directory.glob("*.json")):
        if path.name not in wanted and not _is_historical(path.name, current):
            problems.append(f"not generated {path.name}")
    return problems


def _is_historical(file_name: str, current: Mapping[str, int]) -> bool:
    """A schema of an older version of a current event type: frozen, kept for old messages."""
    stem = file_name.removesuffix(".json")
    name, _, version = stem.rpartition(".v")
    return version.isdigit() and name in current and int(version) < current[name]


def write(directory: Path | None = None) -> list[str]:
    """(Re)write every schema file; returns the names of the files written."""
    directory = directory or schema_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, content in generated().items():
        path = directory / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            written.append(file_name)
    return written


def load(file_name: str, directory: Path | None = None) -> dict[str, Any]:
    path = (directory or schema_dir()) / file_name
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def iter_schemas(directory: Path | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(CloudEvents type, schema) of every committed schema."""
    for event_type in event_types():
        yield event_type.ce_type, load(event_type.file_name, directory)
