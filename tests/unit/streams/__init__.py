"""Unit tests of capledger.streams: wire format, schemas, topics, relay (with fakes)."""
