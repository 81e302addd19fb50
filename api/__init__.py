"""The HTTP API of capledger: ``create_app`` builds it, ``serve`` runs it (see docs/api.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from capledger.settings import Settings

    from .settings import ApiSettings

__all__ = ["create_app", "serve"]


def create_app(
    settings: Settings | None = None, api_settings: ApiSettings | None = None, **kwargs: Any
) -> FastAPI:
    from .app import create_app as factory

    return factory(settings, api_settings, **kwargs)


def serve(settings: Settings | None = None, api_settings: ApiSettings | None = None) -> None:
    from .server import serve as run

    run(settings, api_settings)
