"""Tests of capledger.streams against a real Kafka broker (CAPLEDGER_TEST_KAFKA=1)."""
