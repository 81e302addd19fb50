"""``/openapi.json``: FastAPI's document of the routes, completed into the contract an outside
client builds on without reading anything else.

What is added to what FastAPI writes from the routes and models, each from its one source:

- **meanings** of fields and parameters (:mod:`capledger.api.glossary`) where a model or route
  gives none;
- **problem codes** (:mod:`capledger.api.problem_codes`): ``Problem.code`` is their enum, the
  ``Problem`` schema carries their table, and each error response lists the codes it may carry
  (``x-problem-codes``) with a ``application/problem+json`` schema;
- **roles** per operation (``x-roles``, ``security``) from :data:`capledger.api.roles.ROLES`
  and the access the route's dependencies check (:data:`ACCESS_OF`);
- **rate limits** per operation (``x-rate-limit``, from the ``api`` settings' policies) and the
  ``RateLimit``/``RateLimit-Policy`` headers (IETF draft-ietf-httpapi-ratelimit-headers) on
  every response of a limited operation, ``Retry-After`` where the API sends it;
- a schema for every status: the replayed ``200`` of a command is a ``CommandResult`` like its
  ``201``, with the command's headers;
- **typed histories**: the ``data`` of an entry of a project's history (and of an API key's) is
  the published JSON Schema of its event type and version (``capledger/schemas``,
  :mod:`capledger.streams.schemas`), a project's amounts as strings, one entry schema per
  event type, discriminated by ``event``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from capledger.streams.schemas import DECISION_SCHEMA, event_types, load

from . import deps, glossary
from .problem_codes import CATALOG, codes_for, markdown_table
from .problems import PROBLEM_JSON, Problem
from .ratelimit import Policies, Policy
from .roles import ROLES, Access
from .schemas import MONEY_KEYS
from .settings import ApiSettings

REF = "#/components/schemas/"
_VERSION = re.compile(r"V[0-9]+$")
#: The access each dependency of :mod:`capledger.api.deps` checks.
ACCESS_OF: Mapping[Any, Access] = {
    deps.reader: Access.READ,
    deps.authenticated: Access.READ,
    deps.writer: Access.WRITE,
    deps.inspector_or_admin: Access.LEDGER_WIDE,
    deps.administrator: Access.ADMINISTER,
}
_RANK = [Access.PUBLIC, Access.READ, Access.WRITE, Access.LEDGER_WIDE, Access.ADMINISTER]
#: Routers whose figures are refused (503) while the ledger fails verification.
_GUARDED = frozenset({"queries", "audit", "exports"})
_METHODS_WITH_BODY = frozenset({"post", "put", "patch"})
#: A path parameter's converter (``{path:path}``), which the document's paths leave out.
_CONVERTER = re.compile(r"\{(\w+):[^}]+\}")

ERROR_DESCRIPTIONS: Mapping[int, str] = {
    400: "Bad request",
    401: "No valid API key",
    403: "The key's role or scope does not allow it",
    404: "Unknown resource",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type or encoding",
    422: "Invalid request, or refused by a rule of the ledger",
    429: "Rate limit spent: retry after `Retry-After` seconds",
    500: "Unexpected error",
    503: "Unavailable: retry after `Retry-After` seconds",
}
#: Statuses whose answers carry ``Retry-After`` (seconds).
RETRY_AFTER_STATUSES = frozenset({409, 429, 503})

HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit": {
        "description": "The quota left under the policy this request was counted against "
        '(IETF draft-ietf-httpapi-ratelimit-headers): `"<policy>";r=<requests left>;t=<seconds '
        "until the bucket is full again>`. `r` is what this server process knows.",
        "schema": {"type": "string", "examples": ['"reads";r=998;t=1']},
    },
    "RateLimit-Policy": {
        "description": "The policy this request was counted against: "
        '`"<policy>";q=<burst>;w=<seconds to refill the burst>` (policies: `reads` and '
        "`writes` per API key, `failed-authentications` per client address).",
        "schema": {"type": "string", "examples": ['"reads";q=1000;w=10']},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying (RFC 9110).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-Request-ID": {
        "description": "The request's id: the client's own when it sent a sane one, else a new "
        "UUID; it is also the problem's `request_id` and is in the server's logs.",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this Idempotency-Key was seen before and nothing new was "
        "recorded (status 200), else `false`.",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "X-Ledger-Position": {
        "description": "Global position of the command's last event in the ledger.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "X-Read-Model-Caught-Up": {
        "description": "`true` when queries already see the command (read-your-writes), "
        "`false` when the wait for the read model timed out.",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "Link": {
        "description": 'The next page (`<url>; rel="next"`, RFC 8288), absent on the last.',
        "schema": {"type": "string"},
    },
}
_COMMAND_HEADERS = ("Idempotent-Replayed", "X-Ledger-Position", "X-Read-Model-Caught-Up")


def document(app: FastAPI, api: ApiSettings) -> dict[str, Any]:
    """The whole contract of ``app``, whose rate limits are ``api``'s."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault("Problem", Problem.model_json_schema())
    _rename_qualified(schema)
    _problem_schema(schemas)
    _typed_history(schemas)
    components["headers"] = copy.deepcopy(HEADERS)
    policies = Policies.from_settings(api)
    # Pages a history cursor walks: their next page is also in a ``Link`` header.
    linked = [f"{REF}{name}" for name, item in schemas.items()
              if "next_after" in item.get("properties", {})]  # fmt: skip
    for route, method, operation in _operations(app, schema):
        _complete_operation(route, method, operation, policies, linked)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _describe(schema)
    return schema


# -- names -------------------------------------------------------------------------------


def _rename_qualified(schema: dict[str, Any]) -> None:
    """Pydantic names two models of one name after their modules
    (``capledger__api__routers__audit__PointOut``); a client generator would make class names of
    them. They become ``AuditPointOut`` and ``QueriesPointOut``."""
    schemas = schema["components"]["schemas"]
    renames = {}
    for name in list(schemas):
        if "__" in name:
            *modules, short = name.split("__")
            renames[name] = f"{modules[-1].capitalize()}{short}"
    if not renames:
        return
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = new
    for node in _nodes(schema):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF) and ref[len(REF) :] in renames:
            node["$ref"] = REF + renames[ref[len(REF) :]]


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


# -- problems ------------------------------------------------------------------------------


def _problem_schema(schemas: dict[str, Any]) -> None:
    problem = schemas["Problem"]
    problem["description"] = (
        "An error (RFC 9457 problem details, `application/problem+json`). Branch on `code`, "
        "which is stable; `detail` is for people. Every code, its status and meaning:\n\n"
        + markdown_table()
    )
    problem["properties"]["code"] = {
        "type": "string",
        "enum": sorted(CATALOG),
        "title": "Code",
        "description": "The stable error code (see the table above and each response's "
        "`x-problem-codes`).",
        "x-problem-codes": {
            code: {"status": entry.status, "meaning": entry.meaning}
            for code, entry in sorted(CATALOG.items())
        },
    }


# -- operations ----------------------------------------------------------------------------


def _operations(
    app: FastAPI, schema: dict[str, Any]
) -> Iterator[tuple[APIRoute, str, dict[str, Any]]]:
    # Routers are included as such (not copied route by route): FastAPI's public walk of
    # them gives each route with the path it is served at.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = _CONVERTER.sub(r"{\1}", context.path or route.path_format)
        item = schema["paths"].get(path, {})
        for method in sorted(route.methods or ()):
            operation = item.get(method.lower())
            if operation is not None:
                yield route, method.lower(), operation


def access_of(route: APIRoute) -> Access:
    """The strictest access the route's dependencies check (public without any)."""
    found = {ACCESS_OF[call] for call in _calls(route.dependant) if call in ACCESS_OF}
    return max(found, key=_RANK.index, default=Access.PUBLIC)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def policies_of(access: Access, policies: Policies) -> list[tuple[Policy, str]]:
    """The rate-limit policies an operation of this access is counted against, and per what."""
    if access is Access.PUBLIC:
        return []
    per_key = policies.writes if access is Access.WRITE else policies.reads
    return [(per_key, "API key"), (policies.failed_authentications, "client address")]


def _complete_operation(
    route: APIRoute,
    method: str,
    operation: dict[str, Any],
    policies: Policies,
    linked: list[str],
) -> None:
    tags = operation.get("tags", [])
    access = access_of(route)
    roles = [role.value for role in ROLES[access]]
    operation["x-roles"] = roles
    if access is Access.PUBLIC:
        operation["security"] = []
    limits = policies_of(access, policies)
    operation["x-rate-limit"] = [
        {
            "policy": policy.name,
            "per": per,
            "burst": policy.burst,
            "rate_per_second": policy.rate_per_s,
            "window_seconds": policy.window_s,
            "counts": "requests without a valid API key"
            if per == "client address"
            else "every request",
        }
        for policy, per in limits
    ]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for due in _statuses(method, operation, access, tags):
        responses.setdefault(str(due), {"description": ERROR_DESCRIPTIONS[due]})
    is_command = "x-capledger-command" in operation
    for status, response in responses.items():
        code = int(status) if status.isdigit() else 0
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = {"$ref": "#/components/headers/X-Request-ID"}
        if limits:  # a 401 carries those of the failed-authentications policy
            for name in ("RateLimit", "RateLimit-Policy"):
                headers[name] = {"$ref": f"#/components/headers/{name}"}
        if code in RETRY_AFTER_STATUSES:
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        for media_type, media in response.get("content", {}).items():
            if not media.get("schema"):
                media["schema"] = _raw_schema(media_type)
        if code >= 400:
            _error_response(response, code, tags)
        elif is_command:
            _command_response(responses, response, code)
        if code == 200 and any(ref in str(response.get("content", "")) for ref in linked):
            headers["Link"] = {"$ref": "#/components/headers/Link"}
    operation["description"] = _operation_description(operation, access, roles, limits)


def _raw_schema(media_type: str) -> dict[str, Any]:
    """The schema of a body a route writes itself: text, or bytes."""
    if media_type.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}


def _statuses(method: str, operation: dict[str, Any], access: Access, tags: list[str]) -> list[int]:
    """Statuses every operation of its kind may answer, whether or not its route says so."""
    statuses = [500]
    if access is not Access.PUBLIC:
        statuses += [401, 403, 429]
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(422)
    if method in _METHODS_WITH_BODY and "application/json" in str(operation.get("requestBody")):
        statuses += [400, 413, 415]
    if set(tags) & _GUARDED:
        statuses.append(503)
    return statuses


def _error_response(response: dict[str, Any], status: int, tags: list[str]) -> None:
    content = response.get("content")
    if content and f"{REF}Problem" not in str(content):
        return  # an answer of its own (``/readyz``'s 503 is its Readiness)
    codes = codes_for(status, tags)
    media = (content or {}).get(PROBLEM_JSON, {})  # keeps the route's examples
    response["content"] = {PROBLEM_JSON: {**media, "schema": {"$ref": f"{REF}Problem"}}}
    response["x-problem-codes"] = [entry.code for entry in codes]
    base = response.get("description") or ERROR_DESCRIPTIONS.get(status, "Error")
    base = base.split("\n\nCodes:")[0]
    if codes:
        listed = "; ".join(f"`{entry.code}`: {entry.meaning}" for entry in codes)
        response["description"] = f"{base}\n\nCodes: {listed}"
    else:
        response["description"] = base


def _command_response(responses: dict[str, Any], response: dict[str, Any], status: int) -> None:
    headers = response["headers"]
    for name in _COMMAND_HEADERS:
        headers[name] = {"$ref": f"#/components/headers/{name}"}
    if status == 200:
        response["content"] = copy.deepcopy(responses["201"]["content"])
        response["description"] = (
            "Replayed: this Idempotency-Key was used before for the same command; nothing new "
            "was recorded and the first outcome comes back (`replayed: true`, "
            "`Idempotent-Replayed: true`)."
        )
    elif status == 201:
        response["description"] = "Recorded: the command's events are in the ledger."


def _operation_description(
    operation: dict[str, Any], access: Access, roles: list[str], limits: list[tuple[Policy, str]]
) -> str:
    text = str(operation.get("description") or operation.get("summary") or "").strip()
    text = text.split("\n\n**Roles**")[0]
    if access is Access.PUBLIC:
        who = "**Roles**: none: no API key is needed."
    else:
        who = f"**Roles**: {', '.join(f'`{role}`' for role in roles)}."
        if access in (Access.READ, Access.WRITE):
            who += " A `finance_officer` only within its scope (its investors and provinces)."
    lines = [text, who]
    for policy, per in limits:
        what = "requests" if per == "API key" else "failed authentications"
        lines.append(
            f"**Rate limit** `{policy.name}`: {policy.burst} {what} per {per}, refilled at "
            f"{policy.rate_per_s:g} a second (429 `rate-limited` beyond)."
        )
    return "\n\n".join(line for line in lines if line)


# -- history -------------------------------------------------------------------------------


def _typed_history(schemas: dict[str, Any]) -> None:
    """A project's history and an API key's: one entry schema per event type of the
    aggregate, its ``data`` the published JSON Schema of that type at its current version (a
    history upcasts older events to it), discriminated by ``event``."""
    schemas["EventDecision"] = {
        **copy.deepcopy(DECISION_SCHEMA),
        "description": "The decision (quyết định) behind the event: number, issue date, issuer.",
    }
    # A project's history names an event within its aggregate and writes amounts as strings
    # (capledger.api.schemas.money_fields); a key's history names it whole.
    _typed_entries(schemas, "HistoryPage", "HistoryEntryOut", "HistoryEntry", "Project", True)
    _typed_entries(schemas, "KeyHistory", "KeyEventOut", "KeyEvent", "ApiKey", False)


def _typed_entries(
    schemas: dict[str, Any], page: str, base: str, union: str, aggregate: str, project: bool
) -> None:
    entry, listing = schemas.get(base), schemas.get(page)
    if entry is None or listing is None:
        return
    mapping: dict[str, str] = {}
    for event_type in event_types():
        owner, _, short = event_type.name.partition(".")
        if owner != aggregate:
            continue
        event = short if project else event_type.name
        version = event_type.class_version
        data_name = f"{owner}{short}V{version}"
        schemas[data_name] = _as_component(load(event_type.file_name), money=project)
        variant = copy.deepcopy(entry)
        variant_name = f"{union}{short}"
        variant["title"] = variant_name
        variant["description"] = (
            f"An entry of event `{event}` (CloudEvents type `{event_type.ce_type}`)"
            + (", with the project's balances right after it." if project else ".")
        )
        properties = variant["properties"]
        properties["event"] = {
            "type": "string",
            "enum": [event],
            "description": "The event's type.",
        }
        properties["class_version"] = {
            "type": "integer",
            "enum": [version],
            "description": "The version of the event's schema (the `vN` of its published JSON "
            "Schema; older events are upcast to it).",
        }
        amounts = ", its amounts as strings of whole VND" if project else ""
        properties["data"] = {
            "$ref": f"{REF}{data_name}",
            "description": f"The event's data: the published JSON Schema "
            f"`{event_type.file_name}` (the `ce_dataschema` of its Kafka messages){amounts}.",
        }
        schemas[variant_name] = variant
        mapping[event] = f"{REF}{variant_name}"
    schemas[union] = {
        "description": f"One event of {'a project' if project else 'an API key'}'s history: "
        "the schema of its `data` is chosen by `event` (and versioned by `class_version`).",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "event", "mapping": mapping},
    }
    listing["properties"]["items"] = {
        "type": "array",
        "items": {"$ref": f"{REF}{union}"},
        "title": "Items",
        "description": "The events, oldest first.",
    }
    schemas.pop(base)


def _as_component(published: dict[str, Any], *, money: bool) -> dict[str, Any]:
    """A published event schema as an OpenAPI component: without ``$schema`` and ``$id`` (an
    ``$id`` would move the base of the document's references), its ``Decision`` the
    document's ``EventDecision``, with ``money`` its amounts strings of whole VND."""
    schema = {key: value for key, value in published.items() if not key.startswith("$")}
    schema["description"] = re.sub(r"``([^`]+)``", r"`\1`", str(schema.get("description", "")))
    for node in _nodes(schema):
        if node.get("$ref") == "#/$defs/Decision":
            node["$ref"] = f"{REF}EventDecision"
    if money:
        schema["properties"] = {
            name: _money(name, field) for name, field in schema.get("properties", {}).items()
        }
    return schema


def _money(name: str, field: dict[str, Any]) -> dict[str, Any]:
    money = {"type": "string", "pattern": r"^-?[0-9]+$"}
    if name == "envelopes" and field.get("type") == "object":
        return {**field, "additionalProperties": money}
    if name in MONEY_KEYS and "integer" in _types(field):
        if "null" in _types(field):
            return {"type": ["string", "null"], "pattern": money["pattern"]}
        return money
    return field


def _types(field: dict[str, Any]) -> list[str]:
    kind = field.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


# -- descriptions --------------------------------------------------------------------------


def _describe(schema: dict[str, Any]) -> None:
    """Meanings from the glossary for every property and parameter that has none (or only its
    type's unit), and for schemas without their own description."""
    for name, component in schema["components"]["schemas"].items():
        if "description" not in component and name in glossary.SCHEMAS:
            component["description"] = glossary.SCHEMAS[name]
        # A history entry's variants read as the entry; an event's data also by its name
        # without the version (``ProjectCompletedWorkPaid``), which outlives a new version.
        qualifiers = [name, _VERSION.sub("", name)]
        for union, base in (("HistoryEntry", "HistoryEntryOut"), ("KeyEvent", "KeyEventOut")):
            if name.startswith(union) and name != union:
                qualifiers.append(base)
        for field, value in component.get("properties", {}).items():
            _describe_field(value, field, *qualifiers)
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _describe_field(parameter, parameter["name"], operation.get("operationId", ""))


def _describe_field(node: dict[str, Any], name: str, *qualifiers: str) -> None:
    own = node.get("description")
    current = own if own is not None else node.get("schema", {}).get("description")
    if current is not None and current not in glossary.GENERIC:
        if own is None:
            node["description"] = current
        return
    meaning = glossary.meaning(name, *qualifiers)
    if meaning is None:
        return
    node["description"] = meaning if current is None else f"{meaning} {current}"
