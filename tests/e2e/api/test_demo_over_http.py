"""Done when: a client that knows only the API's OpenAPI document records the demo scenario over
real HTTP (``capledger.api.serve`` under uvicorn on loopback) and reads back 33.8% and 63.1%.

The client maps each demo command's type to the operation whose ``x-capledger-command`` names
that type, fills the path's parameters from the command's fields and sends the rest as the JSON
body, with the command's id as ``Idempotency-Key``. A correction names the stream version its
wrong payment was recorded at, read from that payment's HTTP response.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from capledger.application.commands import ReverseEntry
from capledger.cli.api import create_api_key
from capledger.demo.commands import Reversal, Step
from capledger.demo.hai_phong_data import JURISDICTION, YEAR
from capledger.demo.scenario import build_scenario
from capledger.projections.events import REPORTING_TZ
from capledger.settings import Settings, StoreSettings

from .served import STARTUP_DEADLINE_S, free_port

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("served")
    token = create_api_key(
        "demo-clerk", "administrator", settings=Settings(store=StoreSettings(data_dir=data_dir))
    ).token
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        "CAPLEDGER_DATA_DIR": str(data_dir),
        "CAPLEDGER_API_PORT": str(port),
        "CAPLEDGER_API_WRITE_RATE_PER_S": "100000",
        "CAPLEDGER_API_WRITE_BURST": "100000",
        "CAPLEDGER_LOG_FORMAT": "json",
        "CAPLEDGER_LOG_LEVEL": "WARNING",
    }
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "capledger", "serve"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield Server(url, token, process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer /healthz: {log.read_text()}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    path_params: tuple[str, ...]


def operations_by_command(document: dict[str, Any]) -> dict[str, Operation]:
    """Each command operation by the command type it sends (its ``x-capledger-command``)."""
    found = {}
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            if "x-capledger-command" not in spec:
                continue
            params = tuple(
                parameter["name"]
                for parameter in spec.get("parameters", [])
                if parameter["in"] == "path"
            )
            found[spec["x-capledger-command"]] = Operation(method.upper(), path, params)
    return found


def plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def operation_for(step: Step, operations: dict[str, Operation]) -> Operation:
    kind = ReverseEntry if isinstance(step.command, Reversal) else type(step.command)
    return operations[kind.__name__]


def request_for(
    step: Step, operation: Operation, outcomes: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    command = step.resolve(lambda key: outcomes[key]["streams"])
    args = {field.name: plain(getattr(command, field.name)) for field in fields(command)}
    path = operation.path
    for name in operation.path_params:
        # A path parameter carries the field of its name (`plan_code` is a plan command's `code`).
        value = args.pop(name) if name in args else args.pop("code")
        path = path.replace(f"{{{name}}}", str(value))
    return path, args


def test_the_demo_over_http_reads_33_8_and_63_1_percent(server: Server) -> None:
    scenario = build_scenario()
    headers = {"X-API-Key": server.token}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        document = client.get("/openapi.json").json()
        assert document["openapi"].startswith("3.1")
        operations = operations_by_command(document)
        outcomes: dict[str, dict[str, Any]] = {}
        for command in scenario.commands:
            operation = operation_for(command, operations)
            path, body = request_for(command, operation, outcomes)
            response = client.request(
                operation.method,
                path,
                json=body,
                headers={"Idempotency-Key": command.command_id},
            )
            assert response.status_code == 201, (command.key, response.text)
            outcomes[command.key] = response.json()
            assert outcomes[command.key]["read_model_caught_up"] is True

        index = scenario.index.hai_phong
        rates = client.get(
            "/rates",
            params={
                "jurisdiction": JURISDICTION,
                "fiscal_year": YEAR,
                "as_of": index.as_of.isoformat(),
                # The demo is recorded today about 2021: known by now (a day in Vietnam time).
                "known": datetime.now(REPORTING_TZ).date().isoformat(),
                "plan": [index.city_plan, index.pm_plan],
            },
        )
        assert rates.status_code == 200, rates.text
        percents = {entry["plan_code"]: entry["rate"]["percent"] for entry in rates.json()["rates"]}
        assert percents == {index.city_plan: "33.8", index.pm_plan: "63.1"}
        assert 4_600 * 10**9 < int(rates.json()["disbursed"]) < 4_700 * 10**9

        # Sending the first commands again records nothing: their first outcomes come back.
        for command in scenario.commands[:5]:
            operation = operation_for(command, operations)
            path, body = request_for(command, operation, outcomes)
            again = client.request(
                operation.method, path, json=body, headers={"Idempotency-Key": command.command_id}
            )
            assert again.status_code == 200
            assert again.headers["Idempotent-Replayed"] == "true"

        project = index.projects[0]
        history = client.get(f"/projects/{project}/history").json()
        assert {item["principal"] for item in history["items"]} == {"administrator:demo-clerk"}
        metrics = client.get("/metrics").text
        recorded = re.findall(r'^capledger_commands_total\{.*outcome="recorded"\} (\S+)$', metrics,
                              re.MULTILINE)  # fmt: skip
        assert sum(float(value) for value in recorded) == len(scenario.commands)
