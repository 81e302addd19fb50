"""What :mod:`capledger.api.server` takes from uvicorn is still there: it fails when a uvicorn
release renames or drops a method the protocol overrides or an attribute it reads. The
behaviour itself is tested against a real server in tests/e2e/api/test_connection_limits.py."""

from __future__ import annotations

import asyncio
import inspect

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from capledger.api.server import LimitedHttpProtocol, protocol_for, uvicorn_config
from capledger.api.settings import ApiSettings

pytestmark = pytest.mark.unit

OVERRIDDEN = {
    "connection_made": ["self", "transport"],
    "data_received": ["self", "data"],
    "connection_lost": ["self", "exc"],
    "on_headers_complete": ["self"],
    "on_message_complete": ["self"],
}


async def app(scope: object, receive: object, send: object) -> None:
    return None


@pytest.mark.parametrize(("name", "parameters"), OVERRIDDEN.items())
def test_uvicorn_still_has_each_method_the_protocol_overrides(
    name: str, parameters: list[str]
) -> None:
    method = getattr(HttpToolsProtocol, name)
    assert list(inspect.signature(method).parameters) == parameters
    assert name in vars(LimitedHttpProtocol)


def test_uvicorn_still_sets_the_attributes_the_protocol_reads() -> None:
    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(app)
        protocol = HttpToolsProtocol(
            config=config, server_state=ServerState(), app_state={}, _loop=loop
        )
        assert protocol.loop is loop
        assert hasattr(protocol, "transport") and protocol.cycle is None
    finally:
        loop.close()
    assert "response_started" in inspect.getsource(RequestResponseCycle.__init__)


def test_the_settings_reach_the_protocol_and_uvicorn() -> None:
    settings = ApiSettings(
        max_header_bytes=4096,
        header_timeout_s=2,
        body_timeout_s=3,
        keep_alive_timeout_s=4,
        max_connections=7,
    )
    protocol = protocol_for(settings)
    assert issubclass(protocol, HttpToolsProtocol)
    assert (protocol.max_header_bytes, protocol.header_timeout_s, protocol.body_timeout_s) == (
        4096,
        2,
        3,
    )
    config = uvicorn_config(app, settings, host="127.0.0.1", port=0)
    assert isinstance(config.http, type) and issubclass(config.http, LimitedHttpProtocol)
    assert config.http.max_header_bytes == 4096
    assert config.timeout_keep_alive == 4
    # uvicorn counts the connection asking: 7 served, the 8th refused.
    assert config.limit_concurrency == 8
