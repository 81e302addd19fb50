"""Commands as a user issues them: a Ledger verb, a deterministic command id and primitives.

The scenario is data (a list of :class:`Command`); :func:`issue_all` sends each one through the
matching :class:`~capledger.application.ledger.Ledger` verb. A command id never changes between
runs, so a second run replays every first outcome and records nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from capledger.application.ledger import CommandOutcome, Ledger

Verb = Literal[
    "approve_plan",
    "adjust_plan",
    "register_project",
    "adjust_total_investment",
    "change_investor",
    "change_status",
    "settle",
    "allocate",
    "transfer",
    "cut",
    "extend_disbursement_period",
    "lapse",
    "sign_contract",
    "pay_advance",
    "pay_completed_work",
    "reverse_entry",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EntryOf:
    """The stream version at which an earlier command of the scenario recorded a cash entry.

    A correction (``reverse_entry``) points at the entry it reverses; the user reads that version
    from the outcome of the wrong payment, and so does the scenario.
    """

    key: str
    project_code: str

    def resolve(self, outcomes: Mapping[str, CommandOutcome]) -> int:
        return outcomes[self.key].streams[f"project:{self.project_code}"]


Arg = str | int | date | None | dict[str, int] | EntryOf


@dataclass(frozen=True)
class Command:
    """One command of the scenario; ``key`` names it inside the scenario, ``on`` orders it."""

    key: str
    verb: Verb
    on: date
    args: Mapping[str, Arg]
    command_id: str = ""


class Script:
    """Collects a scenario's commands; keys are unique so later commands can refer to them."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._keys: set[str] = set()

    def add(self, key: str, verb: Verb, on: date, **args: Arg) -> str:
        if key in self._keys:
            raise ValueError(f"the scenario already has a command {key!r}")
        self._keys.add(key)
        self._commands.append(Command(key=key, verb=verb, on=on, args=args))
        return key

    def numbered(self, prefix: str) -> list[Command]:
        """The commands in date order (stable), with ids ``{prefix}:0001``, ``{prefix}:0002``…"""
        ordered = sorted(self._commands, key=lambda command: command.on)
        return [
            replace(command, command_id=f"{prefix}:{number:04d}")
            for number, command in enumerate(ordered, start=1)
        ]


def issue(
    ledger: Ledger, command: Command, outcomes: Mapping[str, CommandOutcome]
) -> CommandOutcome:
    """Send one command through its Ledger verb, resolving references to earlier outcomes."""
    if not command.command_id:
        raise ValueError(f"command {command.key!r} has no command id")
    args = {
        name: value.resolve(outcomes) if isinstance(value, EntryOf) else value
        for name, value in command.args.items()
    }
    verb: Callable[..., CommandOutcome] = getattr(ledger, command.verb)
    return verb(command_id=command.command_id, **args)


def issue_all(
    ledger: Ledger, commands: Sequence[Command], progress: Progress | None = None
) -> dict[str, CommandOutcome]:
    """Issue the commands in order; ``progress(done, total)`` after each one."""
    outcomes: dict[str, CommandOutcome] = {}
    total = len(commands)
    for done, command in enumerate(commands, start=1):
        outcomes[command.key] = issue(ledger, command, outcomes)
        if progress is not None:
            progress(done, total)
    return outcomes
