"""Command-line pieces for ``capledger``: ``serve``, ``api-key`` and ``digest``.

The CLI plugs them in with ``api.register(subparsers)``; each handler takes
``(args, context)`` like the CLI's own commands and returns an exit status. The functions
:func:`create_api_key`, :func:`revoke_api_key` and :func:`publish_heads_digest` work without
the CLI too.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

import structlog

from capledger.api import keyevents
from capledger.api.roles import Role
from capledger.api.store import ApiKey, ApiStore, IssuedKey, LastAdministrator, PublishedDigest
from capledger.application.ledger import Ledger
from capledger.application.verify import verify_store
from capledger.bootstrap import build_api_store, build_app, build_ledger
from capledger.domain import DomainError
from capledger.observability import configure_logging
from capledger.settings import Settings

from .errors import EXIT_REFUSED
from .subcommands import Subcommands

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BROKEN_CHAIN = 3


class Context(Protocol):
    settings: Settings
    stdout: TextIO
    stderr: TextIO


def _store(settings: Settings) -> ApiStore:
    return build_api_store(settings)


def create_api_key(
    name: str,
    role: Role | str,
    *,
    investors: Sequence[str] = (),
    provinces: Sequence[str] = (),
    settings: Settings,
) -> IssuedKey:
    """Create a key; its token is in the result and nowhere else (only its hash is stored).
    Its issue is recorded on the ledger's audit trail (:mod:`capledger.api.keyevents`)."""
    with _ledger(settings) as ledger:
        return keyevents.issue_key(_store(settings), ledger, operator(), name, Role(role),
                                   investors=investors, provinces=provinces)  # fmt: skip


def revoke_api_key(key_id: str, *, settings: Settings, force: bool = False) -> ApiKey:
    """Revoke a key; the last active administrator key only with ``force`` (else
    :class:`~capledger.api.store.LastAdministrator`)."""
    with _ledger(settings) as ledger:
        return keyevents.revoke_key(_store(settings), ledger, operator(), key_id, force=force)


def change_api_key_scope(
    key_id: str,
    *,
    investors: Sequence[str] = (),
    provinces: Sequence[str] = (),
    settings: Settings,
) -> ApiKey:
    with _ledger(settings) as ledger:
        return keyevents.change_key_scope(_store(settings), ledger, operator(), key_id,
                                          investors=investors, provinces=provinces)  # fmt: skip


def operator() -> str:
    """The principal the ledger records for key administration from the command line."""
    return f"operator:{getpass.getuser()}"


@contextmanager
def _ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = build_ledger(settings)
    try:
        yield ledger
    finally:
        ledger.close()


def list_api_keys(*, settings: Settings) -> list[ApiKey]:
    return _store(settings).all_keys()


def publish_heads_digest(
    principal: str = "system:cli",
    *,
    settings: Settings,
) -> PublishedDigest | None:
    """Verify every chain and publish the heads digest; None if a chain is broken."""
    ledger = build_ledger(settings)
    try:
        position = int(ledger.recorder.max_notification_id() or 0)
        report = verify_store(ledger.recorder)
    finally:
        ledger.close()
    if not report.ok:
        return None
    return _store(settings).publish_digest(
        report.heads_digest,
        position=position,
        streams=report.streams,
        checked=report.checked,
        principal=principal,
    )


# -- argparse ------------------------------------------------------------------------------


def register(subparsers: Subcommands) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the HTTP API (uvicorn, embedded)",
        description="Serve the HTTP API. Settings: CAPLEDGER_API_HOST, CAPLEDGER_API_PORT and "
        "the other CAPLEDGER_API_* variables (see docs/api.md).",
    )
    serve.add_argument("--host", help="address to listen on (default CAPLEDGER_API_HOST)")
    serve.add_argument("--port", type=int, help="port (default CAPLEDGER_API_PORT)")
    serve.set_defaults(handler=run_serve)

    keys = subparsers.add_parser("api-key", help="create, list, rescope or revoke API keys")
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print its token once")
    create.add_argument("name", help="unique name; writes are recorded as <role>:<name>")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--investor", action="append", default=[], help="scope (repeatable)")
    create.add_argument("--province", action="append", default=[], help="scope (repeatable)")
    create.set_defaults(handler=run_create_key)
    listing = actions.add_parser("list", help="list keys (never their tokens)")
    listing.set_defaults(handler=run_list_keys)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.add_argument(
        "--force",
        action="store_true",
        help="revoke it even if it is the last active administrator key (the operator's way "
        "out; the API never does this)",
    )
    revoke.set_defaults(handler=run_revoke_key)
    rescope = actions.add_parser("scope", help="change a finance officer's key's scope")
    rescope.add_argument("key_id")
    rescope.add_argument("--investor", action="append", default=[], help="scope (repeatable)")
    rescope.add_argument("--province", action="append", default=[], help="scope (repeatable)")
    rescope.set_defaults(handler=run_change_key_scope)

    digest = subparsers.add_parser(
        "digest", help="verify every hash chain and publish the heads digest"
    )
    digest.set_defaults(handler=run_publish_digest)


def run_serve(args: argparse.Namespace, context: Context) -> int:
    serve(context.settings, host=args.host, port=args.port)
    return EXIT_OK


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the API under uvicorn, with the connection limits of ``settings.api``
    (:mod:`capledger.api.server`), until interrupted. One worker: the embedded runner and the
    write lock are per process (scale out with several processes on PostgreSQL and an external
    projector)."""
    import uvicorn

    from capledger.api.server import uvicorn_config  # uvicorn only when serving

    configure_logging(settings.log)
    app = build_app(settings)
    chosen_host = host or settings.api.host
    chosen_port = settings.api.port if port is None else port
    log.info("api_serving", host=chosen_host, port=chosen_port)
    config = uvicorn_config(app, settings.api, host=chosen_host, port=chosen_port)
    uvicorn.Server(config).run()


def run_create_key(args: argparse.Namespace, context: Context) -> int:
    try:
        issued = create_api_key(
            args.name,
            args.role,
            investors=args.investor,
            provinces=args.province,
            settings=context.settings,
        )
    except ValueError as error:
        print(f"capledger: error: invalid-key: {error}", file=context.stderr)
        return 2
    _print(context, {**_key(issued.key), "token": issued.token})
    print("capledger: keep the token now: it is stored only hashed", file=context.stderr)
    return EXIT_OK


def run_list_keys(args: argparse.Namespace, context: Context) -> int:
    for key in list_api_keys(settings=context.settings):
        _print(context, _key(key))
    return EXIT_OK


def run_revoke_key(args: argparse.Namespace, context: Context) -> int:
    try:
        key = revoke_api_key(args.key_id, settings=context.settings, force=args.force)
    except LookupError as error:
        print(f"capledger: error: unknown-key: {error}", file=context.stderr)
        return 2
    except LastAdministrator as error:
        print(f"capledger: error: {error.code}: {error} (or --force)", file=context.stderr)
        return EXIT_REFUSED
    _print(context, _key(key))
    return EXIT_OK


def run_change_key_scope(args: argparse.Namespace, context: Context) -> int:
    try:
        key = change_api_key_scope(args.key_id, investors=args.investor,
                                   provinces=args.province, settings=context.settings)  # fmt: skip
    except LookupError as error:
        print(f"capledger: error: unknown-key: {error}", file=context.stderr)
        return 2
    except (ValueError, DomainError) as error:
        print(f"capledger: error: invalid-key: {error}", file=context.stderr)
        return 2
    _print(context, _key(key))
    return EXIT_OK


def run_publish_digest(args: argparse.Namespace, context: Context) -> int:
    digest = publish_heads_digest(settings=context.settings)
    if digest is None:
        print("capledger: error: broken-chain: not published (run capledger verify)",
              file=context.stderr)  # fmt: skip
        return EXIT_BROKEN_CHAIN
    _print(context, {**vars(digest), "published_at": digest.published_at.isoformat()})
    return EXIT_OK


def _key(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "role": key.role.value,
        "principal": key.principal,
        "investors": sorted(key.scope.investors),
        "provinces": sorted(key.scope.provinces),
        "created_at": key.created_at.isoformat(),
        "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
    }


def _print(context: Context, record: dict[str, Any]) -> None:
    print(json.dumps(record, ensure_ascii=False), file=context.stdout)
