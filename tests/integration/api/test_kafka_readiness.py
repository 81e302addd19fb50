"""/readyz with Kafka on: the relay's lag and the Kafka projector's lag, from the real broker.

With ``CAPLEDGER_PROJECTIONS_RUNNER=kafka`` the API runs no embedded runner: its read model is
the projector's, commands do not wait for it, and readiness is the relay having published every
recorded event and the projector having folded every committed record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capledger.settings import ProjectionsRunner, Settings
from capledger.streams.projector_rebuild import rebuild_from_kafka
from capledger.streams.relay import Relay
from capledger.streams.settings import KafkaSettings, ProjectorSettings
from integration.streams.broker import delete_topics, kafka_env, requires_kafka, unique_settings

from .support import Harness, api_settings_for, harness, plan_body

pytestmark = requires_kafka

READY_WITHIN_S = 60.0


@pytest.fixture
def kafka(monkeypatch: pytest.MonkeyPatch) -> Iterator[KafkaSettings]:
    # A probe of a topic that does not exist yet answers (not ready) after probe_timeout_s.
    settings = unique_settings("api", probe_timeout_s=0.5)
    for name, value in kafka_env(settings).items():
        monkeypatch.setenv(name, value)
    yield settings
    delete_topics(settings)


@pytest.fixture
def projected_from_kafka(
    store: Settings, tmp_path: Path, kafka: KafkaSettings
) -> Iterator[Harness]:
    settings, api_settings = api_settings_for(store, tmp_path)
    read_model = settings.read_model.model_copy(update={"runner": ProjectionsRunner.KAFKA})
    settings = settings.model_copy(update={"read_model": read_model, "kafka": kafka})
    api_settings = api_settings.model_copy(update={"ready_max_lag": 0})
    with harness(settings, api_settings) as found:
        yield found


def failing(api: Harness) -> dict[str, Any]:
    body = api.client.get("/readyz").json()
    return {check["name"]: check["detail"] for check in body["checks"] if not check["ok"]}


def test_without_an_embedded_runner_a_command_does_not_wait_and_readyz_names_the_lags(
    projected_from_kafka: Harness, kafka: KafkaSettings
) -> None:
    api = projected_from_kafka
    assert api.ctx.runner is None

    response = api.command("/plans", plan_body())

    assert response.json()["read_model_caught_up"] is False
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["projection_position"] is None
    assert {"kafka_relay", "kafka_projector"} <= set(failing(api))


def test_ready_once_the_relay_published_and_the_projector_folded_everything(
    projected_from_kafka: Harness, kafka: KafkaSettings
) -> None:
    api = projected_from_kafka
    api.command("/plans", plan_body())
    Relay(api.ctx.ledger.recorder, kafka).run(until_caught_up=True)
    group = f"test-api-{uuid.uuid4().hex[:8]}"
    rebuild_from_kafka(kafka, api.ctx.read_model, ProjectorSettings(group=group))

    deadline = time.monotonic() + READY_WITHIN_S
    while (problems := failing(api)) and time.monotonic() < deadline:
        time.sleep(0.5)  # the probes' answers are cached for a couple of seconds

    assert problems == {}
    body = api.client.get("/readyz").json()
    assert {"kafka_relay", "kafka_projector"} <= {check["name"] for check in body["checks"]}
    plans = api.get("/plans")
    assert plans.status_code == 200
    assert plan_body()["code"] in {plan["plan_code"] for plan in plans.json()}
