"""Topics as code: what the ledger's topics must look like, created idempotently, checked.

- the events topic: the permanent public log. Kept forever (``retention.ms=-1``,
  ``retention.bytes=-1``), never compacted (``cleanup.policy=delete``), keyed by subject;
- the relay-positions topic: one partition, compacted (``cleanup.policy=compact``), holding
  each relay's last committed position under the relay's name.

``ensure_topics`` creates what is missing and returns the drift of what exists; ``check``
only compares. Drift is logged as a warning and never corrected automatically: partitions
cannot shrink and the retention of a public log is a decision for an operator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

from .settings import KafkaSettings

log = structlog.get_logger(__name__)

#: Roll the positions topic's segments hourly so that compaction can keep it small.
POSITIONS_SEGMENT_MS = 3_600_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Drift:
    """One difference between a topic as it is and as the settings want it."""

    topic: str
    setting: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.setting} is {self.actual}, expected {self.expected}"


def events_topic(settings: KafkaSettings) -> TopicSpec:
    return TopicSpec(
        name=settings.events_topic,
        partitions=settings.partitions,
        replication_factor=settings.replication_factor,
        configs={
            "cleanup.policy": "delete",
            "retention.ms": "-1",
            "retention.bytes": "-1",
            "min.insync.replicas": str(settings.min_insync_replicas),
        },
    )


def positions_topic(settings: KafkaSettings) -> TopicSpec:
    return TopicSpec(
        name=settings.positions_topic,
        partitions=1,
        replication_factor=settings.replication_factor,
        configs={
            "cleanup.policy": "compact",
            "min.insync.replicas": str(settings.min_insync_replicas),
            "segment.ms": str(POSITIONS_SEGMENT_MS),
        },
    )


def topic_specs(settings: KafkaSettings) -> list[TopicSpec]:
    return [events_topic(settings), positions_topic(settings)]


def consumer(
    settings: KafkaSettings,
    role: str,
    *,
    group: str | None = None,
    isolation: str = "read_committed",
    **options: Any,
) -> KafkaConsumer:
    """A kafka-python consumer of the brokers ``settings`` name, its client id saying its
    ``role``; offsets are committed only by hand (``options`` go to ``KafkaConsumer``)."""
    return KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-{role}",
        group_id=group,
        enable_auto_commit=False,
        isolation_level=isolation,
        request_timeout_ms=settings.request_timeout_ms,
        reconnect_backoff_max_ms=settings.reconnect_backoff_max_ms,
        **options,
    )


@contextmanager
def admin_client(settings: KafkaSettings) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.request_timeout_ms,
        reconnect_backoff_max_ms=settings.reconnect_backoff_max_ms,
    )
    try:
        yield client
    finally:
        client.close()


def ensure_topics(settings: KafkaSettings, admin: KafkaAdminClient | None = None) -> list[Drift]:
    """Create the missing topics; return (and log) the drift of the existing ones."""
    if admin is None:
        with admin_client(settings) as client:
            return ensure_topics(settings, client)
    specs = topic_specs(settings)
    existing = set(admin.list_topics())
    for spec in specs:
        if spec.name not in existing:
            _create(admin, spec)
    return _report(diff(admin, specs))


def check(settings: KafkaSettings, admin: KafkaAdminClient | None = None) -> list[Drift]:
    """Compare the live topics with the settings, creating nothing; logs each drift."""
    if admin is None:
        with admin_client(settings) as client:
            return check(settings, client)
    return _report(diff(admin, topic_specs(settings)))


def _create(admin: KafkaAdminClient, spec: TopicSpec) -> None:
    try:
        admin.create_topics(
            {
                spec.name: {
                    "num_partitions": spec.partitions,
                    "replication_factor": spec.replication_factor,
                    "configs": dict(spec.configs),
                }
            },
            wait_for_metadata=True,
        )
    except TopicAlreadyExistsError:
        log.info("topic_exists", topic=spec.name)  # created concurrently: compare below
        return
    log.info("topic_created", topic=spec.name, partitions=spec.partitions,
             replication_factor=spec.replication_factor, configs=dict(spec.configs))  # fmt: skip


def diff(admin: KafkaAdminClient, specs: list[TopicSpec]) -> list[Drift]:
    """Every difference between the live topics and ``specs`` (a missing topic is one)."""
    existing = set(admin.list_topics())
    present = [spec for spec in specs if spec.name in existing]
    drifts = [Drift(spec.name, "exists", "true", "false") for spec in specs if spec not in present]
    if not present:
        return drifts
    described = {topic["name"]: topic for topic in admin.describe_topics([s.name for s in present])}
    configs = _live_configs(admin, [spec.name for spec in present])
    for spec in present:
        drifts.extend(_topic_drift(spec, described.get(spec.name, {}), configs.get(spec.name, {})))
    return drifts


def _topic_drift(
    spec: TopicSpec, described: Mapping[str, Any], configs: Mapping[str, str]
) -> Iterator[Drift]:
    partitions = described.get("partitions") or []
    if len(partitions) != spec.partitions:
        yield Drift(spec.name, "partitions", str(spec.partitions), str(len(partitions)))
    replicas = {len(partition.get("replica_nodes") or []) for partition in partitions}
    if partitions and replicas != {spec.replication_factor}:
        actual = ",".join(str(count) for count in sorted(replicas))
        yield Drift(spec.name, "replication.factor", str(spec.replication_factor), actual)
    for name, expected in spec.configs.items():
        live = configs.get(name)
        if live != expected:
            yield Drift(spec.name, name, expected, "unset" if live is None else live)


def _live_configs(admin: KafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
    try:
        result = admin.describe_configs(resources, config_filter="all")
    except UnknownTopicOrPartitionError:
        return {}
    found: dict[str, dict[str, str]] = {}
    for name, entries in result.get("topic", {}).items():
        found[name] = {key: str(entry.get("value")) for key, entry in entries.items()}
    return found


def _report(drifts: list[Drift]) -> list[Drift]:
    for drift in drifts:
        log.warning("topic_drift", topic=drift.topic, setting=drift.setting,
                    expected=drift.expected, actual=drift.actual)  # fmt: skip
    return drifts


def checkpoints_topic(settings: KafkaSettings, name: str) -> TopicSpec:
    """The verifiable log's checkpoints (docs/kafka.md): one partition, so that subscribers
    read them in order; kept forever like the events."""
    return TopicSpec(
        name=name,
        partitions=1,
        replication_factor=settings.replication_factor,
        configs={
            "cleanup.policy": "delete",
            "retention.ms": "-1",
            "retention.bytes": "-1",
            "min.insync.replicas": str(settings.min_insync_replicas),
        },
    )


def ensure_topic(settings: KafkaSettings, spec: TopicSpec) -> list[Drift]:
    """Create one topic if it is missing; return (and log) its drift."""
    with admin_client(settings) as admin:
        if spec.name not in set(admin.list_topics()):
            _create(admin, spec)
        return _report(diff(admin, [spec]))
