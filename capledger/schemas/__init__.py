"""JSON Schemas of the published events' data, one file per type: ``<Name>.v<version>.json``.

Generated from the event classes by ``python tests/fixtures/make_schemas.py --write``; a test
fails when they are out of date. See docs/kafka.md.
"""
