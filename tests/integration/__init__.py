"""Integration tests: the ledger on a real store (SQLite file, PostgreSQL schema)."""
