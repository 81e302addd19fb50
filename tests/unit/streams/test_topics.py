"""Topics as code and the Kafka settings (a fake admin client: no broker)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from capledger.settings import Settings
from capledger.streams import topics
from capledger.streams.settings import KafkaSettings

pytestmark = pytest.mark.unit


class FakeAdmin:
    """Answers like kafka-python's admin client for topics that exist."""

    def __init__(self, live: dict[str, tuple[int, int, dict[str, str]]]) -> None:
        self.live = live
        self.created: list[dict[str, Any]] = []

    def list_topics(self) -> list[str]:
        return list(self.live)

    def create_topics(self, new_topics: dict[str, Any], **_: Any) -> None:
        self.created.append(new_topics)
        for name, spec in new_topics.items():
            self.live[name] = (spec["num_partitions"], spec["replication_factor"], spec["configs"])

    def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "partitions": [
                    {"partition_index": index, "replica_nodes": list(range(replicas))}
                    for index in range(partitions)
                ],
            }
            for name in names
            for partitions, replicas, _ in [self.live[name]]
        ]

    def describe_configs(self, resources: list[Any], **_: Any) -> dict[str, Any]:
        return {
            "topic": {
                resource.name: {
                    key: {"value": value} for key, value in self.live[resource.name][2].items()
                }
                for resource in resources
            }
        }


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOOTSTRAP", "EVENTS_TOPIC", "RELAY_NAME", "BATCH_SIZE"):
        monkeypatch.delenv(f"CAPLEDGER_KAFKA_{name}", raising=False)
    settings = KafkaSettings()
    assert settings.bootstrap == "127.0.0.1:9092"
    assert settings.events_topic == "capledger.events"
    assert settings.positions_topic == "capledger.relay-positions"
    assert settings.relay_transactional_id == settings.relay_name


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPLEDGER_KAFKA_BOOTSTRAP", "k1:9092, k2:9092")
    monkeypatch.setenv("CAPLEDGER_KAFKA_BATCH_SIZE", "50")
    monkeypatch.setenv("CAPLEDGER_KAFKA_TRANSACTIONAL_ID", "relay-a")
    settings = Settings().kafka
    assert settings.bootstrap_servers == ["k1:9092", "k2:9092"]
    assert settings.batch_size == 50
    assert settings.relay_transactional_id == "relay-a"


def test_min_insync_replicas_cannot_exceed_the_replication_factor() -> None:
    with pytest.raises(ValidationError, match="min_insync_replicas"):
        KafkaSettings(replication_factor=1, min_insync_replicas=2)
    assert KafkaSettings(replication_factor=3, min_insync_replicas=2).min_insync_replicas == 2


def test_the_events_topic_keeps_everything_forever_and_is_never_compacted() -> None:
    spec = topics.events_topic(KafkaSettings(partitions=12, replication_factor=3,
                                             min_insync_replicas=2))  # fmt: skip
    assert (spec.partitions, spec.replication_factor) == (12, 3)
    assert spec.configs["retention.ms"] == "-1"
    assert spec.configs["retention.bytes"] == "-1"
    assert spec.configs["cleanup.policy"] == "delete"
    assert spec.configs["min.insync.replicas"] == "2"


def test_the_positions_topic_is_compacted_with_one_partition() -> None:
    spec = topics.positions_topic(KafkaSettings())
    assert spec.partitions == 1
    assert spec.configs["cleanup.policy"] == "compact"


def test_ensure_creates_missing_topics_once() -> None:
    settings = KafkaSettings(events_topic="e", positions_topic="p")
    admin = FakeAdmin({})
    assert topics.ensure_topics(settings, admin) == []  # type: ignore[arg-type]
    assert topics.ensure_topics(settings, admin) == []  # type: ignore[arg-type]
    assert [list(created) for created in admin.created] == [["e"], ["p"]]


def test_check_reports_every_drift_and_creates_nothing() -> None:
    settings = KafkaSettings(events_topic="e", positions_topic="p", partitions=6)
    live = {
        "cleanup.policy": "compact",
        "retention.ms": "604800000",
        "retention.bytes": "-1",
        "min.insync.replicas": "1",
    }
    admin = FakeAdmin({"e": (3, 1, live)})
    drifts = topics.check(settings, admin)  # type: ignore[arg-type]
    assert sorted(str(drift) for drift in drifts) == [
        "e: cleanup.policy is compact, expected delete",
        "e: partitions is 3, expected 6",
        "e: retention.ms is 604800000, expected -1",
        "p: exists is false, expected true",
    ]
    assert admin.created == []
