"""The catalog of problem codes (capledger.api.problem_codes) holds every code the ledger and the
API can answer with, at the status they answer it with: the error classes are walked, and the
API's own ``ApiProblem(…)``/``problem_response(…)`` calls are read from its source, so a new
error without a catalog entry fails here with its code named."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import capledger
import capledger.api
from capledger.api import middleware, problems
from capledger.api.problem_codes import CATALOG, GROUPS, markdown_table
from capledger.api.store import LastAdministrator
from capledger.application.errors import ApplicationError
from capledger.domain import DomainError
from capledger.exchange import ImportRefused
from capledger.projections.queries import PlanOutsideScope, QueryError

pytestmark = pytest.mark.unit

API_DIR = Path(capledger.api.__file__).resolve().parent
DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def import_every_module() -> None:
    """Import the whole package, so the walk below finds every error class whatever the tests
    that ran before imported (an error class exists for ``__subclasses__`` once imported)."""
    for module in pkgutil.walk_packages(capledger.__path__, "capledger."):
        if not module.name.endswith(".__main__"):  # importing one runs the CLI
            importlib.import_module(module.name)


def subclasses(root: type) -> Iterator[type]:
    yield root
    for cls in root.__subclasses__():
        yield from subclasses(cls)


import_every_module()
#: Errors the API never answers: the CLI reports them with its own exit codes.
CLI_ONLY: frozenset[type] = frozenset({ImportRefused})
ERROR_CLASSES = sorted(
    {*subclasses(DomainError), *subclasses(ApplicationError), PlanOutsideScope} - CLI_ONLY,
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("error", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_domain_application_and_query_error_code_is_in_the_catalog_at_its_status(
    error: type[Exception],
) -> None:
    code = str(error.code)  # type: ignore[attr-defined]
    status, _ = problems.status_of(error("x"))

    assert code in CATALOG, f"problem code {code!r} ({error.__name__}) is not in the catalog"
    assert CATALOG[code].status == status, f"{code}: the API answers {status}"


def test_the_generic_codes_of_http_statuses_are_in_the_catalog() -> None:
    for status, code in problems.STATUS_CODES.items():
        assert code in CATALOG, f"problem code {code!r} (HTTP {status}) is not in the catalog"
        assert CATALOG[code].status == status, code


def test_a_missing_query_resource_and_the_last_administrator_are_catalogued() -> None:
    status, _ = problems.status_of(QueryError("x"))

    assert CATALOG["not-found"].status == status
    assert CATALOG[LastAdministrator.code].status == 409


def module_constants(tree: ast.Module) -> dict[str, str]:
    """A module's own string constants (``UNKNOWN_JURISDICTION = "unknown-jurisdiction"``)."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def raised_codes() -> Iterator[tuple[str, int, int | None, str]]:
    """(file, line, status, code) of every ``ApiProblem(status, code, …)``,
    ``problem_response(request, status, code, …)`` and server ``_refuse(status, code, …)`` in
    the API's source, and of the refusals
    :func:`capledger.api.middleware.json_body_refusal` returns."""
    constants = {name: value for name, value in vars(problems).items() if isinstance(value, str)}
    for path in sorted(API_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        local = {**constants, **module_constants(tree)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            at = {"ApiProblem": 0, "problem_response": 1, "_refuse": 0}.get(str(name))
            if at is None or len(node.args) < at + 2:
                continue
            status_node, code_node = node.args[at], node.args[at + 1]
            status = status_node.value if isinstance(status_node, ast.Constant) else None
            if isinstance(code_node, ast.Constant) and isinstance(code_node.value, str):
                yield path.name, node.lineno, status, code_node.value
            elif isinstance(code_node, ast.Name) and code_node.id in local:
                yield path.name, node.lineno, status, local[code_node.id]
    source = ast.parse(inspect.getsource(middleware.json_body_refusal))
    for node in ast.walk(source):
        if isinstance(node, ast.Tuple) and len(node.elts) == 4:
            status_node, code_node = node.elts[0], node.elts[1]
            if isinstance(status_node, ast.Constant) and isinstance(code_node, ast.Constant):
                yield "middleware.py", node.lineno, status_node.value, code_node.value


def test_every_code_the_api_raises_itself_is_in_the_catalog_at_its_status() -> None:
    found = list(raised_codes())
    assert len(found) > 20  # the reading of the source still finds the calls

    for file_name, line, status, code in found:
        assert code in CATALOG, f"problem code {code!r} ({file_name}:{line}) is not in the catalog"
        if isinstance(status, int):
            assert CATALOG[code].status == status, f"{code} ({file_name}:{line}) is {status}"


def test_every_catalogued_code_has_a_meaning_and_known_groups() -> None:
    for entry in CATALOG.values():
        assert entry.meaning.strip(), entry.code
        assert 400 <= entry.status <= 599, entry.code
        assert all(group == "*" or group in GROUPS for group in entry.where), entry.code


def test_docs_api_md_carries_the_catalog_as_its_table() -> None:
    assert markdown_table() in DOCS.read_text(encoding="utf-8"), (
        "docs/api.md's problem-code table differs from the catalog: paste "
        "capledger.api.problem_codes.markdown_table()"
    )
