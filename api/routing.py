"""The routers' route class: one thread-pool hop per request, and query models read in one go.

FastAPI runs a plain ``def`` endpoint in the thread pool, then validates what it returned in
the pool again, and runs every plain ``def`` dependency there as well: each hop hands the
request to a worker thread and back through the event loop. The dependencies are ``async``
(:mod:`capledger.api.deps`), and :class:`ThreadedRoute` gives each synchronous endpoint an
``async`` front that runs it in the pool once: the handlers still block nothing on the loop
(the ledger and the stores are synchronous), and the returned model is checked on the loop,
where an instance of the response model is not validated a second time.

A query model (``query: Annotated[BalanceQuery, Query()]``) is read by FastAPI field by field,
inspecting every field's type again on every request: for the twenty fields of a balance query
that costs more than the SQL. :class:`ThreadedRoute` reads such a parameter with one pydantic
validation of the query string instead (:func:`query_model`), with the same values, defaults
and errors (422, located in ``query``), and documents its fields as FastAPI would have.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, get_args, get_origin

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Query as QueryParam
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

M = TypeVar("M", bound=BaseModel)


class ThreadedRoute(APIRoute):
    """An ``APIRoute`` whose synchronous endpoint runs in the thread pool in one hop, and whose
    query models are read by :func:`query_model`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        signature = _signature(endpoint)
        models = [model for parameter in signature.parameters.values()
                  if (model := _query_model_of(parameter.annotation)) is not None]  # fmt: skip
        if models:
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [
                *extra.get("parameters", []),
                *(parameter for model in models for parameter in documented_parameters(model)),
            ]
            kwargs["openapi_extra"] = copy.deepcopy(extra)
        super().__init__(path, threaded(endpoint, _reading_queries(signature)), **kwargs)


def threaded(
    endpoint: Callable[..., Any], signature: inspect.Signature | None = None
) -> Callable[..., Any]:
    """An ``async`` front running a synchronous ``endpoint`` in the thread pool; a coroutine
    function is returned as it is (unless its ``signature`` is to change)."""
    if inspect.iscoroutinefunction(endpoint):
        if signature is None:
            return endpoint

        @functools.wraps(endpoint)
        async def direct(*args: Any, **kwargs: Any) -> Any:
            return await endpoint(*args, **kwargs)

        front: Callable[..., Any] = direct
    else:

        @functools.wraps(endpoint)
        async def pooled(*args: Any, **kwargs: Any) -> Any:
            return await run_in_threadpool(endpoint, *args, **kwargs)

        front = pooled
    # FastAPI reads the parameters (and the response model) from the signature.
    front.__signature__ = signature or _signature(endpoint)  # type: ignore[attr-defined]
    return front


def _signature(endpoint: Callable[..., Any]) -> inspect.Signature:
    """The endpoint's signature, its string annotations evaluated in its module; as written
    when they name something only a closure sees (FastAPI then resolves them as it would)."""
    try:
        return inspect.signature(endpoint, eval_str=True)
    except NameError:
        return inspect.signature(endpoint)


# -- query models -----------------------------------------------------------------------------


def _query_model_of(annotation: Any) -> type[BaseModel] | None:
    """``Model`` for ``Annotated[Model, Query()]``, else None."""
    if get_origin(annotation) is not Annotated:
        return None
    model, *metadata = get_args(annotation)
    is_query = any(isinstance(item, QueryParam) for item in metadata)
    if is_query and inspect.isclass(model) and issubclass(model, BaseModel):
        return model
    return None


def _reading_queries(signature: inspect.Signature) -> inspect.Signature | None:
    """The signature with each query model read by :func:`query_model`, last: FastAPI solves
    dependencies in the order of the parameters, and a query is judged only once the caller
    is authenticated (401 before 422), as FastAPI orders it. None if there is none."""
    others, queries = [], []
    for parameter in signature.parameters.values():
        model = _query_model_of(parameter.annotation)
        if model is None:
            others.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))
        else:
            reading = Annotated[model, Depends(query_model(model))]  # type: ignore[valid-type]
            queries.append(
                parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=reading)
            )
    return signature.replace(parameters=[*others, *queries]) if queries else None


@functools.cache
def query_model(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency validating the query string into ``model`` in one call, given the values
    FastAPI would give it (every value of a list field, the last of any other field, names
    that are no field left to the model's ``extra`` policy) and raising its 422 errors, located
    in ``query``."""
    is_list = {field.alias or name: _is_list(field.annotation)
               for name, field in model.model_fields.items()}  # fmt: skip

    async def read_query(request: Request) -> M:
        params = request.query_params
        values: dict[str, Any] = {}
        for key in params:
            if is_list.get(key):
                values[key] = params.getlist(key)
            elif key in is_list:
                values[key] = params[key]  # the last value
            else:
                found = params.getlist(key)
                values[key] = found[0] if len(found) == 1 else found
        try:
            return model.model_validate(values)
        except ValidationError as error:
            raise RequestValidationError(
                [
                    {**item, "loc": ("query", *item["loc"])}
                    for item in error.errors(include_url=False)
                ]
            ) from None

    return read_query


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return _is_list(get_args(annotation)[0])
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(_is_list(argument) for argument in get_args(annotation)) if origin else False


@functools.cache
def documented_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI parameters FastAPI writes for ``Annotated[model, Query()]``, taken from a
    one-route app's document, their component references inlined (the main document need not
    hold those components)."""

    async def endpoint(query: Any) -> None:
        return None

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "query",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[model, Query()],
            )
        ]
    )
    app = FastAPI()
    app.get("/")(endpoint)
    document = app.openapi()
    components = document.get("components", {}).get("schemas", {})
    parameters: list[dict[str, Any]] = document["paths"]["/"]["get"].get("parameters", [])
    return [_inlined(parameter, components) for parameter in parameters]


def _inlined(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
            target = components[reference.rsplit("/", 1)[1]]
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return {**_inlined(target, components), **_inlined(rest, components)}
        return {key: _inlined(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_inlined(item, components) for item in node]
    return node
