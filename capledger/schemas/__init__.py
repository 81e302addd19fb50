"""JSON Schemas of the published events' data, one file per type: ``<Name>.v<version>.json``.

Generated from the event classes by ``python -m capledger.streams.schemas --write``; a test
fails when they are out of date. See docs/kafka.md.
"""
