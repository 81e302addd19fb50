"""Command receipts: the record that makes every command idempotent.

A receipt is an aggregate whose id derives from the client's command id. It is recorded in the
same atomic write as the command's events, so either both are recorded or neither is; a second
attempt with the same id collides on the receipt and gets the first outcome back.

Ids are scoped per principal (the IETF ``Idempotency-Key`` draft's model): the first principal
to use an id holds its shared slot (``receipt_id``), any other principal its own
(``own_receipt_id``). A receipt is never deleted, so an id is remembered for as long as the
log is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from capledger.domain.ids import NAMESPACE

from .chain import canonical_json_exact
from .commands import Command


def receipt_id(command_id: str) -> UUID:
    """The command id's shared slot: the receipt of the first principal to use the id.

    Every receipt recorded before ids were scoped per principal is in this slot, so they keep
    replaying for the principal that recorded them.
    """
    return uuid5(NAMESPACE, f"command:{command_id}")


def own_receipt_id(principal: str, command_id: str) -> UUID:
    """The principal's own slot for a command id, used once another principal holds the
    shared slot (``receipt_id``): keys are scoped per principal, so the same id from two
    principals is two commands. Principal and id are a JSON pair, so no choice of either
    can spell another pair's name."""
    pair = canonical_json_exact([principal, command_id]).decode()
    return uuid5(NAMESPACE, f"command-of:{pair}")


def _default(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


# What receipts recorded before 2026-11-22 digest: ``json.dumps(sort_keys=True)``'s spacing.
_LEGACY_ENCODER = json.JSONEncoder(sort_keys=True, default=_default)


def fingerprint(command: str, args: dict[str, Any]) -> str:
    """A digest of what was asked, so a reused id with other content is recognised.

    The SHA-256 of the command's canonical JSON, dates as ISO text: the hash chain's canonical
    form (``chain.canonical_json_exact``, orjson for the values commands carry).
    """
    document = {"command": command, "args": args}
    return hashlib.sha256(canonical_json_exact(document, default=_default)).hexdigest()


#: The name each command had when commands were Ledger verbs. Receipts recorded then carry it
#: as their command, and every fingerprint digests it, recorded then or now, so a command id
#: already used keeps naming the same command. A command added since digests its type name.
VERB_NAMES: Mapping[str, str] = {
    "ApprovePlan": "approve_plan",
    "AdjustPlan": "adjust_plan",
    "RegisterProject": "register_project",
    "AdjustTotalInvestment": "adjust_total_investment",
    "ChangeInvestor": "change_investor",
    "ChangeStatus": "change_status",
    "Settle": "settle",
    "Allocate": "allocate",
    "Transfer": "transfer",
    "Cut": "cut",
    "ExtendDisbursementPeriod": "extend",
    "Lapse": "lapse",
    "SignContract": "sign_contract",
    "PayAdvance": "pay_advance",
    "PayCompletedWork": "pay_completed_work",
    "ReverseEntry": "reverse_entry",
}


def command_name(command: Command) -> str:
    """The name a receipt records: the command's type name (``PayCompletedWork``)."""
    return type(command).__name__


def recorded_names(command: Command) -> tuple[str, ...]:
    """The names a receipt of this command may carry: its type name, or its old verb's."""
    name = command_name(command)
    verb = VERB_NAMES.get(name)
    return (name,) if verb is None else (name, verb)


def fingerprinted(command: Command) -> tuple[str, dict[str, Any]]:
    """The name and arguments a command's fingerprint digests: its verb name and its fields,
    as the verb's arguments were (envelopes as a plain dict)."""
    kind = type(command)
    args: dict[str, Any] = {}
    for name in _field_names(kind):
        value = getattr(command, name)
        if value is None and name in kind.ADDED_FIELDS:
            continue
        args[name] = value if type(value) in _SCALARS else _plain(value)
    name = kind.__name__
    return VERB_NAMES.get(name, name), args


_FIELD_NAMES: dict[type[Command], tuple[str, ...]] = {}
# What commands' fields mostly hold: passed as they are, without asking whether each is a Mapping.
_SCALARS = frozenset({str, int, bool, date, type(None)})


def _field_names(kind: type[Command]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(each.name for each in fields(kind))
    return names


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def legacy_fingerprint(command: str, args: dict[str, Any]) -> str:
    """The fingerprint receipts recorded before 2026-11-22 carry (spaced, ASCII-escaped JSON)."""
    text = _LEGACY_ENCODER.encode({"command": command, "args": args})
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint_matches(recorded: str, command: str, args: dict[str, Any], digest: str) -> bool:
    """Whether a receipt's fingerprint is this command's (``digest``), in either format."""
    return recorded == digest or recorded == legacy_fingerprint(command, args)


class CommandReceipt(Aggregate):
    class Accepted(Aggregate.Created):
        class_version = 1
        command_id: str
        command: str
        fingerprint: str
        streams: dict[str, int]
        principal: str

    @staticmethod
    def create_id(command_id: str) -> UUID:
        return receipt_id(command_id)

    @event(Accepted)
    def __init__(
        self,
        *,
        command_id: str,
        command: str,
        fingerprint: str,
        streams: dict[str, int],
        principal: str,
    ) -> None:
        self.command_id = command_id
        self.command = command
        self.fingerprint = fingerprint
        self.streams = streams
        self.principal = principal


_RECEIPT_TOPIC = get_topic(CommandReceipt)


def accepted(
    *,
    command_id: str,
    command: str,
    fingerprint: str,
    streams: dict[str, int],
    principal: str,
    slot: UUID | None = None,
) -> CommandReceipt.Accepted:
    """The event ``CommandReceipt(...)`` would record, without building the aggregate.

    A command saves its receipt and never reads it back on the way (a replay reads it from the
    store), so the aggregate is not needed, nor cached: the same event, version 1 of the stream
    ``receipt_id(command_id)`` (or ``slot``, the principal's own: ``own_receipt_id``), with
    the same fields.
    """
    # The event's own fields are declared as annotations, which mypy does not see as arguments.
    return CommandReceipt.Accepted(  # type: ignore[call-arg]
        originator_topic=_RECEIPT_TOPIC,
        originator_id=receipt_id(command_id) if slot is None else slot,
        originator_version=CommandReceipt.INITIAL_VERSION,
        timestamp=CommandReceipt.Accepted.create_timestamp(),
        command_id=command_id,
        command=command,
        fingerprint=fingerprint,
        streams=streams,
        principal=principal,
    )
