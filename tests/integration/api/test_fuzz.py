"""No input a client can send makes the API answer 500: schemathesis generates requests from
the app's own OpenAPI document (valid and invalid data) and sends them in process (ASGI, no
network), with an administrator's key so that every endpoint is reached past authentication.

Every answer must also be declared: its status code, its content type, its body and the
headers documented for that status must match the schema, and invalid data must be refused
with a 4xx (``negative_data_rejection``), never accepted. The number of examples per operation
is bounded (``CAPLEDGER_FUZZ_EXAMPLES``, default 25) so the whole run takes about a minute or
two.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from capledger.api.roles import Role
from capledger.api.settings import ApiSettings
from capledger.bootstrap import build_app
from capledger.settings import Persistence, Settings, StoreSettings

from .support import funded, plan_body

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("CAPLEDGER_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
#: Examples run, counted for the report at the end of the module.
RUN: dict[str, int] = {"cases": 0}


class Fuzzed:
    def __init__(self, tmp: Path) -> None:
        settings = Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=tmp))
        api_settings = ApiSettings(
            store_file=tmp / "api.sqlite3",
            write_rate_per_s=1_000_000,
            write_burst=1_000_000,
            read_rate_per_s=1_000_000,
            read_burst=1_000_000,
            failed_auth_rate_per_s=1_000_000,
            failed_auth_burst=1_000_000,
            read_your_writes_timeout_s=10,
        )
        self.app = build_app(settings.model_copy(update={"api": api_settings}))
        store = self.app.state.ctx.store
        self.headers = {"X-API-Key": store.create_key("fuzzer", Role.ADMINISTRATOR).token}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    target = Fuzzed(tmp_path_factory.mktemp("fuzz"))
    with TestClient(target.app) as client:
        # Something to find: a plan and a funded project under the codes in the examples.
        from .support import Harness

        seed = Harness(client, target.app, Settings(), ApiSettings(), target.headers,
                       target.headers, target.headers, target.headers)  # fmt: skip
        seed.command("/plans", plan_body())
        funded(seed)
        yield target
        # Whatever was recorded, the read model still follows the ledger (no poison event).
        ready = client.get("/readyz").json()
        assert ready["ready"] is True, ready
    print(f"\nschemathesis: {RUN['cases']} generated requests, none answered 500")


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    schema.config.generation.update(with_security_parameters=False, database="none")
    return schema


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_is_a_server_error(mode: GenerationMode, api_schema: Any, fuzzed: Fuzzed) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            RUN["cases"] += 1
            case.call_and_validate(headers=fuzzed.headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # An operation without parameters has no invalid data to send.
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as error:
            error.add_note(f"operation: {operation.label} ({mode.value} data)")
            raise
