"""The Kafka side's readiness checks for ``/readyz``: the relay's lag when a relay publishes
this ledger (``CAPLEDGER_KAFKA_ENABLED``), and the projector's lag when the Kafka projector
writes the read model (``CAPLEDGER_PROJECTIONS_RUNNER=kafka``)."""

from __future__ import annotations

from capledger.application.ledger import Ledger
from capledger.projections import ReadModelStore
from capledger.settings import Settings
from capledger.streams.health import lag_check, projector_lag_total, relay_lag

from .context import ReadinessCheck


def kafka_checks(
    settings: Settings, ledger: Ledger, read_model: ReadModelStore
) -> list[ReadinessCheck]:
    kafka = settings.kafka
    bound = settings.api.ready_max_lag
    checks: list[ReadinessCheck] = []

    def head() -> int:
        return int(ledger.recorder.max_notification_id() or 0)

    if kafka.enabled or settings.read_model.projected_from_kafka:
        probe = lag_check("relay", lambda: relay_lag(kafka, head), bound)
        checks.append(ReadinessCheck("kafka_relay", probe))
    if settings.read_model.projected_from_kafka:
        probe = lag_check("projector", lambda: projector_lag_total(kafka, read_model), bound)
        checks.append(ReadinessCheck("kafka_projector", probe))
    return checks
