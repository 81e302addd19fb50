"""The HTTP API of capledger: ``create_app`` builds it, ``serve`` runs it (see docs/api.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from capledger.settings import Settings

__all__ = ["create_app", "serve"]


def create_app(settings: Settings, **kwargs: Any) -> FastAPI:
    from .app import create_app as factory

    return factory(settings, **kwargs)


def serve(settings: Settings) -> None:
    from .server import serve as run

    run(settings)
