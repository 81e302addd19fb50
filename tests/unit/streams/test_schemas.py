"""The JSON Schemas of the published events: generated from the event classes, committed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from capledger.domain import Decision
from capledger.streams import schemas
from capledger.streams.settings import DEFAULT_SCHEMA_BASE_URI

pytestmark = pytest.mark.unit


def test_committed_schemas_are_up_to_date() -> None:
    problems = schemas.stale()
    assert problems == [], (
        "capledger/schemas is stale; run `python tests/fixtures/make_schemas.py --write` "
        f"and commit the result: {problems}"
    )


def test_every_event_class_of_every_aggregate_has_a_schema() -> None:
    names = {event_type.name for event_type in schemas.event_types()}
    assert {"Project.CompletedWorkPaid", "CapitalPlan.Approved", "CommandReceipt.Accepted"} <= names
    assert len(names) == 24
    for event_type in schemas.event_types():
        assert (schemas.schema_dir() / event_type.file_name).is_file()


@pytest.mark.parametrize("event_type", schemas.event_types(), ids=lambda e: e.file_name)
def test_each_schema_is_a_valid_draft_2020_12_schema(event_type: schemas.EventType) -> None:
    schema = schemas.load(event_type.file_name)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"{DEFAULT_SCHEMA_BASE_URI}{event_type.file_name}"
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == sorted(schema["properties"])


def test_the_current_version_of_a_versioned_event_is_the_one_generated() -> None:
    registered = {e.name: e for e in schemas.event_types()}["Project.Registered"]
    assert registered.class_version == 2
    assert registered.ce_type == "vn.capledger.Project.Registered.v2"
    properties = schemas.load("Project.Registered.v2.json")["properties"]
    assert "investor_code" in properties
    assert "investor" not in properties


@pytest.mark.parametrize(
    ("name", "hint", "expected"),
    [
        ("amount", int, {"type": "integer", "minimum": 1}),
        ("settled_value", int, {"type": "integer", "minimum": 0}),
        ("fiscal_year", int, {"type": "integer"}),
        ("reason", str, {"type": "string"}),
        ("contract_no", str | None, {"type": ["string", "null"]}),
        ("from_extension", bool, {"type": "boolean"}),
        ("effective_on", date, {"type": "string", "format": "date"}),
        ("auto_extended_until", date | None, {"type": ["string", "null"], "format": "date"}),
        ("decision", Decision, {"$ref": "#/$defs/Decision"}),
        ("decision", Decision | None, {"anyOf": [{"$ref": "#/$defs/Decision"}, {"type": "null"}]}),
        (
            "envelopes",
            dict[str, int],
            {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        ),
    ],
)
def test_field_types_map_to_json_schema(name: str, hint: object, expected: object) -> None:
    assert schemas.field_schema(name, hint) == expected


def test_an_unsupported_field_type_is_refused() -> None:
    with pytest.raises(TypeError, match="no JSON Schema mapping"):
        schemas.field_schema("when", complex)


def test_stale_reports_missing_changed_and_foreign_files(tmp_path: Path) -> None:
    schemas.write(tmp_path)
    assert schemas.stale(tmp_path) == []
    (tmp_path / "Project.Settled.v1.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "Project.AdvancePaid.v1.json").unlink()
    (tmp_path / "Project.Unknown.v1.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "Project.Registered.v3.json").write_text("{}\n", encoding="utf-8")
    assert sorted(schemas.stale(tmp_path)) == [
        "missing Project.AdvancePaid.v1.json",
        "not generated Project.Registered.v3.json",
        "not generated Project.Unknown.v1.json",
        "out of date Project.Settled.v1.json",
    ]


def test_schemas_of_older_versions_are_kept_frozen(tmp_path: Path) -> None:
    schemas.write(tmp_path)
    (tmp_path / "Project.Registered.v1.json").write_text('{"frozen": true}\n', encoding="utf-8")
    assert schemas.stale(tmp_path) == []


def test_the_command_line_writes_then_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fixtures.make_schemas import main

    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert "missing" in capsys.readouterr().out
    assert main(["--write", "--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    assert "24 schemas up to date" in capsys.readouterr().out


def test_a_payment_s_schema_says_its_amount_is_gross_and_how_to_get_the_cash() -> None:
    paid = schemas.load("Project.CompletedWorkPaid.v1.json")["properties"]
    assert paid["amount"]["description"].startswith("Gross")
    assert "amount − advance_recovered" in paid["amount"]["description"]
    assert paid["advance_recovered"]["description"]
    assert schemas.load("Project.AdvancePaid.v1.json")["properties"]["amount"]["description"]
