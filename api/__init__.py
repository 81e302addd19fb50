"""The HTTP API of capledger (see docs/api.md). ``capledger.api.app.create_app`` puts the
ledger's pieces behind FastAPI; the composition root (``capledger.bootstrap.build_app``) builds
them, and ``capledger serve`` runs it."""
