"""``serve()``: run the API under uvicorn, embedded (one process: the ledger, the read model
and its runner live in it)."""

from __future__ import annotations

import structlog

from capledger.observability import configure_logging
from capledger.settings import Settings

log = structlog.get_logger(__name__)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted. One worker: the embedded runner and the write lock are
    per process (scale out with several processes on PostgreSQL and an external projector)."""
    import uvicorn

    from capledger.bootstrap import build_app

    api_settings = settings.api
    configure_logging(settings.log)
    app = build_app(settings)
    chosen_host = host or api_settings.host
    chosen_port = api_settings.port if port is None else port
    log.info("api_serving", host=chosen_host, port=chosen_port)
    config = uvicorn.Config(
        app,
        host=chosen_host,
        port=chosen_port,
        # Our own JSON access log (with request ids) replaces uvicorn's.
        access_log=False,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
