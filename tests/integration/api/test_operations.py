"""Operations: liveness, readiness (store reachable, read model caught up within a bound,
pluggable checks), Prometheus metrics, JSON access logs with request ids."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from capledger.api.context import ReadinessCheck
from capledger.observability import configure_logging
from capledger.settings import LogSettings, Settings

from .support import PLAN, Harness, api_settings_for, harness, plan_body

pytestmark = pytest.mark.integration


def test_healthz(api: Harness) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}


def test_ready_when_caught_up(api: Harness) -> None:
    api.command("/plans", plan_body())
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["projection_lag"] == 0
    assert {check["name"] for check in body["checks"]} >= {
        "event_store",
        "read_model",
        "projection_lag",
        "api_store",
    }


def test_a_failing_hook_makes_it_unready(api: Harness) -> None:
    api.ctx.readiness_checks.append(ReadinessCheck("kafka_relay", lambda: "relay 5000 behind"))
    response = api.client.get("/readyz")
    assert response.status_code == 503
    failing = [check for check in response.json()["checks"] if not check["ok"]]
    assert failing == [{"name": "kafka_relay", "ok": False, "detail": "relay 5000 behind"}]


@pytest.fixture
def without_projector(store: Settings, tmp_path: Path) -> Iterator[Harness]:
    settings, api_settings = api_settings_for(store, tmp_path)
    api_settings = api_settings.model_copy(
        update={"embedded_runner": False, "ready_max_lag": 0, "read_your_writes_timeout_s": 0}
    )
    with harness(settings, api_settings) as found:
        yield found


def test_unready_when_the_read_model_lags(without_projector: Harness) -> None:
    response = without_projector.command("/plans", plan_body())
    assert response.json()["read_model_caught_up"] is False
    assert response.headers["X-Read-Model-Caught-Up"] == "false"
    ready = without_projector.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["projection_lag"] > 0


def test_metrics_count_requests_commands_and_lag(api: Harness) -> None:
    api.command("/plans", plan_body(), key="m-1")
    api.command("/plans", plan_body(), key="m-1", expect=200)
    api.command("/plans", plan_body(), expect=409)
    api.get(f"/plans/{PLAN}/versions")
    text = api.client.get("/metrics").text
    assert 'capledger_commands_total{code="",command="ApprovePlan",outcome="recorded"} 1.0' in text
    assert 'capledger_commands_total{code="",command="ApprovePlan",outcome="replayed"} 1.0' in text
    assert (
        'capledger_commands_total{code="duplicate-plan",command="ApprovePlan",'
        'outcome="refused"} 1.0' in text
    )
    assert (
        'capledger_http_requests_total{method="GET",route="/plans/{plan_code}/versions",'
        'status="200"} 1.0' in text
    )
    assert "capledger_http_request_duration_seconds_bucket" in text
    assert "capledger_projection_lag 0.0" in text


def test_access_logs_are_json_lines_with_request_ids(api: Harness) -> None:
    buffer = io.StringIO()
    configure_logging(LogSettings(format="json", level="INFO"), stream=buffer)
    try:
        given = api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        generated = api.client.get("/balances", headers=api.inspector)
        odd = api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    finally:
        structlog.reset_defaults()
    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(generated.headers["X-Request-ID"]) == 36
    assert odd.headers["X-Request-ID"] != "bad id with spaces"
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    access = [line for line in lines if line.get("event") == "http_request"]
    first = next(line for line in access if line["request_id"] == "abc-123")
    assert first["correlation_id"] == "abc-123"
    assert (first["method"], first["route"], first["status"]) == ("GET", "/healthz", 200)
    second = next(line for line in access if line["path"] == "/balances")
    assert second["principal"] == "inspector:inspector"
    assert second["request_id"] == generated.headers["X-Request-ID"]
