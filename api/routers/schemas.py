"""The JSON Schemas of the published events, at the address each Kafka message's
``ce_dataschema`` names: ``<CAPLEDGER_KAFKA_SCHEMA_BASE_URI><Aggregate>.<Event>.v<n>.json``,
the base being ``https://<host><root path>/schemas/`` of this API.

The files are the committed ones (``capledger/schemas/``, generated from the event classes by
``streams/schemas.py``), old versions included: messages already on the topic point at them.
Each is served with its ``$id`` set to the address this deployment names it by, so a validator
that resolves ``$id`` finds the file it was given. No API key: a schema holds no figures, and a
subscriber that holds only the topic must be able to read it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from capledger.streams.schemas import schema_dir

from ..deps import Ctx
from ..problems import ApiProblem, problem_responses
from ..routing import ThreadedRoute

#: The media type of a JSON Schema document (draft 2020-12, section 14.2 of its core).
SCHEMA_JSON = "application/schema+json"
#: A published schema never changes (a change is a new version, a new file): cached a day.
CACHE_CONTROL = "public, max-age=86400"

router = APIRouter(tags=["events"], route_class=ThreadedRoute)


@cache
def _files() -> dict[str, dict[str, Any]]:
    """Every committed schema by file name, read once."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(schema_dir().glob("*.json"))
    }


@cache
def _rendered(file_name: str, base_uri: str) -> bytes:
    schema = {**_files()[file_name], "$id": f"{base_uri}{file_name}"}
    return json.dumps(schema, indent=2, ensure_ascii=False).encode()


@router.get(
    "/schemas/{file_name}",
    operation_id="event_schema",
    summary="The JSON Schema of one published event type's data",
    description=(
        "The JSON Schema (draft 2020-12) of the `data` (the Kafka message value) of one "
        "CloudEvents type of the events topic: the document a message's `ce_dataschema` "
        "names. Published schemas never change; a new event version is a new file. "
        "No API key needed."
    ),
    response_class=Response,
    responses={
        200: {
            "content": {SCHEMA_JSON: {"schema": {"type": "object"}}},
            "description": "The schema, its `$id` the address `ce_dataschema` names.",
        },
        **problem_responses(404, 422),
    },
)
def event_schema(
    ctx: Ctx,
    file_name: Annotated[
        str,
        Path(
            description=(
                "`<Aggregate>.<Event>.v<class version>.json`, e.g. "
                "`Project.CompletedWorkPaid.v1.json`: the end of a `ce_dataschema` value."
            ),
            examples=["Project.CompletedWorkPaid.v1.json"],
        ),
    ],
) -> Response:
    if file_name not in _files():
        raise ApiProblem(404, "not-found", f"no published event type has the schema {file_name}")
    body = _rendered(file_name, ctx.settings.kafka.schema_base_uri)
    return Response(body, media_type=SCHEMA_JSON, headers={"Cache-Control": CACHE_CONTROL})
