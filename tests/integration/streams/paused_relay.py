"""``capledger relay`` pausing at random inside each Kafka transaction: the relay fault tests.

    python tests/integration/streams/paused_relay.py MAX_PAUSE_MS [--until-caught-up]

Before a transaction's records are flushed and it is committed, the relay's producer sleeps up
to ``MAX_PAUSE_MS`` (at random), so that a kill lands inside a transaction whose records are
already in the broker's log. The fault lives here, in the tests, wrapped around the relay's
producer through its public ``producer_factory``; the ledger's settings have no such knob.
Settings, logging and exit statuses are those of ``capledger relay``.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from typing import Any

from capledger.bootstrap import build_ledger, load_settings
from capledger.observability import configure_logging
from capledger.streams.relay import (
    EXIT_FENCED,
    Relay,
    RelayFenced,
    TransactionalProducer,
    kafka_producer,
    quiet_kafka_client_logs,
)
from capledger.streams.settings import KafkaSettings


class PausingProducer:
    """The relay's producer, sleeping up to ``max_pause_s`` before each flush."""

    def __init__(self, producer: TransactionalProducer, max_pause_s: float) -> None:
        self.producer = producer
        self.max_pause_s = max_pause_s

    def flush(self, timeout: float | None = None) -> None:
        time.sleep(random.uniform(0, self.max_pause_s))
        self.producer.flush(timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)


def main(argv: list[str]) -> int:
    max_pause_s = int(argv[0]) / 1000

    def producer(kafka: KafkaSettings) -> TransactionalProducer:
        return PausingProducer(kafka_producer(kafka), max_pause_s)

    settings = load_settings()
    configure_logging(settings.log)
    quiet_kafka_client_logs()
    ledger = build_ledger(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    relay = Relay(ledger.recorder, settings.kafka, producer_factory=producer)
    try:
        relay.run(stop, until_caught_up="--until-caught-up" in argv[1:])
    except RelayFenced as error:
        sys.stderr.write(f"capledger: error: relay-fenced: {error}\n")
        return EXIT_FENCED
    finally:
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
