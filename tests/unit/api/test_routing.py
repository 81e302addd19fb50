"""The routers' route class: synchronous endpoints run off the event loop in one hop, and a query
model read in one validation gives what FastAPI's own reading gives: values, errors, documents.

Each check runs the same endpoints under FastAPI's ``APIRoute`` and under ``ThreadedRoute``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from capledger.api.routing import ThreadedRoute, documented_parameters

pytestmark = pytest.mark.unit


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Search(BaseModel):
    model_config = ConfigDict(extra="ignore")

    colour: Colour = Colour.RED
    count: int = Field(default=1, ge=1, description="How many.")
    tags: list[str] = Field(default_factory=list, max_length=3)
    since: date | None = None
    start: str | None = Field(default=None, alias="from")
    year: int


async def signed_in(x_key: Annotated[str | None, Header()] = None) -> str:
    if x_key != "secret":
        raise HTTPException(401, "who are you?")
    return x_key


async def loop_thread() -> int:
    return threading.get_ident()


#: The threads the last search ran in: its async dependency's (the loop's) and its endpoint's.
THREADS: dict[str, int] = {}


def search(
    key: Annotated[str, Depends(signed_in)],
    query: Annotated[Search, Query()],
    loop: Annotated[int, Depends(loop_thread)],
) -> dict[str, Any]:
    THREADS.update(loop=loop, endpoint=threading.get_ident())
    return query.model_dump(mode="json", by_alias=True)


def build(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(route_class=route_class)
    router.get("/search")(search)
    app = FastAPI()
    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    with TestClient(build(APIRoute)) as fastapi, TestClient(build(ThreadedRoute)) as threaded:
        yield fastapi, threaded


SIGNED = {"X-Key": "secret"}
QUERIES = [
    "year=2021",
    "year=2021&colour=blue&count=3&since=2021-06-20&from=x",
    "year=2021&count=2&count=5",  # a single-valued field takes the last value
    "year=2021&tags=a&tags=b&unknown=1&unknown=2",
    "year=2021&tags=a&tags=b&tags=c&tags=d",  # too many
    "colour=green&count=0&since=someday",  # invalid, and the year missing
    "year=twenty",
    "",
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_query_model_reads_as_fastapi_reads_it(
    clients: tuple[TestClient, TestClient], query: str
) -> None:
    fastapi, threaded = clients

    expected = fastapi.get(f"/search?{query}", headers=SIGNED)
    answer = threaded.get(f"/search?{query}", headers=SIGNED)

    assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())


def test_the_caller_is_authenticated_before_the_query_is_judged(
    clients: tuple[TestClient, TestClient],
) -> None:
    for client in clients:
        assert client.get("/search?year=twenty").status_code == 401


def test_a_synchronous_endpoint_runs_off_the_event_loop(
    clients: tuple[TestClient, TestClient],
) -> None:
    _, threaded = clients
    THREADS.clear()

    assert threaded.get("/search?year=2021", headers=SIGNED).status_code == 200

    assert THREADS["loop"] != THREADS["endpoint"]


def test_the_query_models_fields_are_documented_as_fastapi_documents_them(
    clients: tuple[TestClient, TestClient],
) -> None:
    fastapi, threaded = clients
    theirs = fastapi.get("/openapi.json").json()
    ours = threaded.get("/openapi.json").json()

    def parameters(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
        found = document["paths"]["/search"]["get"]["parameters"]
        return {parameter["name"]: parameter for parameter in found}

    expected, documented = parameters(theirs), parameters(ours)
    assert documented.keys() == expected.keys()
    for name, parameter in documented.items():
        if "$ref" in str(expected[name]):
            # The colour's enumeration is written out rather than referred to.
            assert parameter["schema"]["enum"] == ["red", "blue"]
            continue
        assert parameter == expected[name]
    assert documented["from"]["in"] == "query"
    assert documented["year"]["required"] is True


def test_documented_parameters_are_computed_once_per_model() -> None:
    assert documented_parameters(Search) is documented_parameters(Search)


def test_no_two_routers_answer_the_same_method_and_path() -> None:
    """The app includes the queries' router first (the busiest); that changes no answer only
    while no route of another router would take the same request."""
    import re

    from capledger.api.routers import admin, audit, commands, exports, inspector, ops, queries

    routes = [
        (module.__name__, method, route.path, route.path_regex)
        for module in (queries, commands, audit, exports, admin, ops, inspector)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    ]
    for name, method, path, _ in routes:
        example = re.sub(r"\{[^}]+\}", "x", path)
        takers = {other for other, verb, _, regex in routes
                  if verb == method and regex.match(example)}  # fmt: skip
        assert takers == {name}, f"{method} {path}"


def test_dependency_overrides_apply_to_a_threaded_route() -> None:
    app = build(ThreadedRoute)
    app.dependency_overrides[signed_in] = lambda: "someone"
    with TestClient(app) as client:
        assert client.get("/search?year=2021").status_code == 200
    app.dependency_overrides.clear()
    with TestClient(app) as client:
        assert client.get("/search?year=2021").status_code == 401
