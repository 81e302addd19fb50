"""The Kafka side's settings: the relay's and subscriber's (:class:`KafkaSettings`) and the
stream projector's (:class:`ProjectorSettings`).

Plain validated values: they read no environment themselves. They are sections of the one
:class:`capledger.settings.Settings` (``CAPLEDGER_KAFKA_*``, ``CAPLEDGER_PROJECTOR_*``), which the
composition root reads once and hands down; this layer never imports it. Nothing here is needed
to run the ledger embedded.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Prefix of CloudEvents ``dataschema`` values; a schema's file name follows it. The API serves
#: every schema at ``/schemas/<file name>`` (api/routers/schemas.py): a deployment sets this to
#: its API's public address, ``https://<host><root path>/schemas/``.
DEFAULT_SCHEMA_BASE_URI = "https://capledger.vn/schemas/"


class KafkaSettings(BaseModel):
    """The brokers, the topics, the relay and the subscriber (``CAPLEDGER_KAFKA_*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``host:port[,host:port…]`` of the brokers.
    bootstrap: str = "127.0.0.1:9092"
    #: A relay publishes this ledger to Kafka: the API's /readyz then checks the relay's lag.
    #: (The relay and the subscriber themselves run whatever this says.)
    enabled: bool = False
    client_id: str = "capledger"

    # -- topics ------------------------------------------------------------------------
    #: The permanent public log: every recorded event once, kept forever, keyed by subject.
    events_topic: str = "capledger.events"
    #: Compacted topic holding each relay's last committed position (key = relay name).
    positions_topic: str = "capledger.relay-positions"
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    #: For the replicated deployment: 2 with a replication factor of 3.
    min_insync_replicas: int = Field(default=1, ge=1)

    # -- relay -------------------------------------------------------------------------
    #: Names the relay's position record; also its transactional id unless one is set.
    relay_name: str = "capledger-relay"
    transactional_id: str | None = None
    #: Most events per Kafka transaction. What is there is sent at once; this only caps it.
    batch_size: int = Field(default=500, ge=1)
    #: The producer's ``linger.ms``. The relay flushes before each commit, so this never
    #: delays an event; it lets a transaction's records go out as few large requests.
    linger_ms: int = Field(default=100, ge=0)
    #: How long the relay sleeps when the notification log has nothing new (polling stores).
    poll_interval_ms: int = Field(default=20, ge=1)
    #: Follow PostgreSQL with ``recorder.subscribe()`` (LISTEN/NOTIFY) instead of polling.
    postgres_subscribe: bool = True
    #: Seconds between two ``relay_lag`` log lines.
    lag_log_interval_s: float = Field(default=10.0, gt=0)
    transaction_timeout_ms: int = Field(default=60_000, ge=1_000)
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    #: Ceiling of the clients' reconnection backoff, so they resume soon after a broker
    #: returns (kafka-python's default grows to 30 s).
    reconnect_backoff_max_ms: int = Field(default=1_000, ge=50)
    #: Upper bound on blocking producer calls (``init_transactions``, metadata, a full buffer).
    max_block_ms: int = Field(default=60_000, ge=1_000)
    #: Seconds to wait before starting a new producer session after an error.
    retry_backoff_s: float = Field(default=1.0, ge=0)
    #: Longest wait, in seconds, for a topic in a readiness probe of the relay's or the
    #: projector's lag (``/readyz`` must answer quickly, also while a topic does not exist yet).
    probe_timeout_s: float = Field(default=5.0, gt=0)

    # -- CloudEvents ---------------------------------------------------------------------
    #: The ledger's name in ``ce_source`` (``/capledger/<ledger_name>``).
    ledger_name: str = "capledger"
    #: ``ce_dataschema`` = this prefix + ``<Name>.v<version>.json`` (see capledger/schemas/).
    schema_base_uri: str = DEFAULT_SCHEMA_BASE_URI

    # -- subscriber ----------------------------------------------------------------------
    subscriber_group: str = "capledger-subscriber"

    @model_validator(mode="after")
    def _check_replication(self) -> Self:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas ({self.min_insync_replicas}) cannot exceed "
                f"replication_factor ({self.replication_factor}): no write could succeed"
            )
        return self

    @property
    def relay_transactional_id(self) -> str:
        return self.transactional_id or self.relay_name

    @property
    def ce_source(self) -> str:
        return f"/capledger/{self.ledger_name}"

    @property
    def bootstrap_servers(self) -> list[str]:
        return [server.strip() for server in self.bootstrap.split(",") if server.strip()]


class ProjectorSettings(BaseModel):
    """The stream projector's settings (``CAPLEDGER_PROJECTOR_*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The consumer group: workers with the same group share the partitions.
    group: str = "capledger-projector"
    #: Most records per database transaction.
    batch_size: int = Field(default=5_000, ge=1)
    #: Longest wait to fill a batch: low traffic is applied within this.
    batch_within_s: float = Field(default=0.2, gt=0)
    #: Records per fetch from the broker (aiokafka ``max_poll_records``).
    max_poll_records: int = Field(default=5_000, ge=1)
    #: Seconds between two ``projector_lag`` log lines.
    lag_log_interval_s: float = Field(default=10.0, gt=0)
    #: First and longest wait before retrying a failed batch.
    retry_backoff_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=30.0, ge=0)
    #: Rows the batch cache keeps between batches.
    max_cached_rows: int = Field(default=500_000, ge=1)
    #: Static group membership (``group.instance.id``, e.g. a pod's name): a worker restarted
    #: under the same id gets its partitions back at once, without a rebalance. Unique per
    #: worker. Without it a restarted worker waits for the group to drop its old member.
    instance_id: str | None = None
    #: Seconds without heartbeats after which the group drops a worker (and, with an
    #: ``instance_id``, gives its partitions to the others).
    session_timeout_s: float = Field(default=30.0, ge=6.0, le=90.0)
    #: Seconds between a worker's heartbeats (at most a third of ``session_timeout_s``): a
    #: worker learns of a rebalance — another worker joining or leaving — at its next one.
    heartbeat_interval_s: float = Field(default=3.0, gt=0)
    #: Processes a rebuild replays the topic in, each reading a fixed share of the partitions
    #: (no consumer group). 0: one per CPU, at most one per partition, on a PostgreSQL read
    #: model; one on SQLite (a single writer).
    rebuild_workers: int = Field(default=0, ge=0)
