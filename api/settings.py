"""Settings of the HTTP API: the ``api`` section (``CAPLEDGER_API_*``) of
:class:`capledger.settings.Settings`.

Where it listens, where API keys and published digests are kept, and the limits it enforces on
clients. A plain model: the composition root reads the environment, not this module.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: Mount point behind a reverse proxy (``/capledger``), for links and the docs page.
    root_path: str = ""

    #: Where API keys and published heads digests live. SQLite: this file (default
    #: ``<data dir>/api.sqlite3``); PostgreSQL (when the ledger is on PostgreSQL): a schema.
    store_file: Path | None = None
    store_schema: str = "capledger_api"

    #: Run the embedded projection runner in the API process (off when a separate projector,
    #: such as the Kafka one, keeps the read model).
    embedded_runner: bool = True
    #: How long a command waits for the read model to reach its position (read-your-writes).
    read_your_writes_timeout_s: float = Field(default=5.0, ge=0, le=60)
    #: /readyz fails when the read model is more than this many positions behind the ledger.
    ready_max_lag: int = Field(default=1_000, ge=0)

    #: Requests with a larger body are refused (413) before they are read whole.
    max_body_bytes: int = Field(default=64 * 1024, ge=1_024)
    #: Limits on every connection of ``capledger serve`` (docs/security.md): a header section
    #: above ``max_header_bytes`` gets 431; a header section or a body that does not arrive
    #: whole within its timeout gets 408 and the connection is closed; an idle keep-alive
    #: connection is closed after ``keep_alive_timeout_s``; beyond ``max_connections`` open
    #: connections a request gets 503.
    max_header_bytes: int = Field(default=16 * 1024, ge=1_024, le=1024 * 1024)
    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    body_timeout_s: float = Field(default=30.0, gt=0, le=600)
    keep_alive_timeout_s: float = Field(default=5.0, gt=0, le=600)
    max_connections: int = Field(default=1_000, ge=1)
    #: Writes per API key: a token bucket refilled at this rate with this capacity (429 beyond),
    #: kept in the store like the two below.
    write_rate_per_s: float = Field(default=10.0, gt=0)
    write_burst: int = Field(default=100, ge=1)
    #: Reads (and administration) per API key, and failed authentications per client address:
    #: token buckets kept in the store, shared by every process and node (429 beyond). See
    #: :mod:`capledger.api.ratelimit` and docs/api.md.
    read_rate_per_s: float = Field(default=100.0, gt=0)
    read_burst: int = Field(default=1_000, ge=1)
    failed_auth_rate_per_s: float = Field(default=1.0, gt=0)
    failed_auth_burst: int = Field(default=20, ge=1)
    #: Tokens a process takes from the store at a time and spends locally (1: every request
    #: asks the store). A burst may exceed a quota by (processes × (lease − 1)) at most.
    rate_limit_lease: int = Field(default=8, ge=1, le=1_000)

    #: Default and largest page of list endpoints.
    page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=1_000, ge=1)

    #: Rendered pages of the hottest reads (``GET /balances``) kept per read-model state, per
    #: caller scope and query (an LRU of this many pages; 0 turns the cache off). Validators
    #: (``ETag``, ``If-None-Match``) work either way. See docs/api.md.
    response_cache_size: int = Field(default=128, ge=0, le=100_000)

    #: Base of problem ``type`` URIs: ``<base><code>``, e.g. ``…/problems/over-disbursement``.
    problem_base: str = "https://capledger.vn/problems/"
    #: Serve the interactive docs (/docs, Swagger UI from the package); the schema is always
    #: at /openapi.json.
    docs: bool = True
