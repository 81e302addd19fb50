"""The Kafka side's readiness checks for ``/readyz``: the relay's lag when a relay publishes
this ledger (``CAPLEDGER_KAFKA_ENABLED``), and the projector's lag when the Kafka projector
writes the read model (``CAPLEDGER_PROJECTIONS_RUNNER=kafka``)."""

from __future__ import annotations

from capledger.application.ledger import Ledger
from capledger.projections import ReadModelStore
from capledger.settings import Settings
from capledger.streams.health import lag_check, projector_lag_total, relay_lag
from capledger.streams.settings import KafkaSettings

from .context import ReadinessCheck
from .settings import ApiSettings


def kafka_checks(
    settings: Settings,
    api_settings: ApiSettings,
    ledger: Ledger,
    read_model: ReadModelStore,
    kafka: KafkaSettings | None = None,
) -> list[ReadinessCheck]:
    kafka = kafka or KafkaSettings()
    bound = api_settings.ready_max_lag
    checks: list[ReadinessCheck] = []

    def head() -> int:
        return int(ledger.recorder.max_notification_id() or 0)

    if kafka.enabled or settings.projected_from_kafka:
        probe = lag_check("relay", lambda: relay_lag(kafka, head), bound)
        checks.append(ReadinessCheck("kafka_relay", probe))
    if settings.projected_from_kafka:
        probe = lag_check("projector", lambda: projector_lag_total(kafka, read_model), bound)
        checks.append(ReadinessCheck("kafka_projector", probe))
    return checks
