"""The scenario's steps: the ledger's own commands as a user issues them, in order.

The scenario is data: a list of :class:`Step`, each one of the ledger's commands
(``capledger.application.commands``) with a key that names it inside the scenario, the day that
orders it and a deterministic command id. :func:`issue_all` executes them in order. A command id
never changes between runs, so a second run replays every first outcome and records nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from capledger.application.commands import Command, ReverseEntry
from capledger.application.ledger import CommandOutcome, Ledger

Progress = Callable[[int, int], None]
#: The stream versions an earlier step recorded, by the step's key (``CommandOutcome.streams``).
StreamsOf = Callable[[str], Mapping[str, int]]


@dataclass(frozen=True)
class EntryOf:
    """The stream version at which an earlier step of the scenario recorded a cash entry."""

    key: str
    project_code: str

    def resolve(self, streams_of: StreamsOf) -> int:
        return streams_of(self.key)[f"project:{self.project_code}"]


@dataclass(frozen=True)
class Reversal:
    """A correction of an earlier step's cash entry: a :class:`ReverseEntry` whose
    ``entry_version`` the user reads from the outcome of the wrong payment, as the scenario does."""

    of: EntryOf
    reason: str
    effective_on: date

    def resolve(self, streams_of: StreamsOf) -> ReverseEntry:
        return ReverseEntry(
            project_code=self.of.project_code,
            entry_version=self.of.resolve(streams_of),
            reason=self.reason,
            effective_on=self.effective_on,
        )


@dataclass(frozen=True)
class Step:
    """One command of the scenario; ``key`` names it inside the scenario, ``on`` orders it."""

    key: str
    on: date
    command: Command | Reversal
    command_id: str = ""

    def resolve(self, streams_of: StreamsOf) -> Command:
        """The command to execute, a reversal's entry read from the earlier outcomes."""
        if isinstance(self.command, Reversal):
            return self.command.resolve(streams_of)
        return self.command


class Script:
    """Collects a scenario's steps; keys are unique so later steps can refer to them."""

    def __init__(self) -> None:
        self._steps: list[Step] = []
        self._keys: set[str] = set()

    def add(self, key: str, on: date, command: Command | Reversal) -> str:
        if key in self._keys:
            raise ValueError(f"the scenario already has a command {key!r}")
        self._keys.add(key)
        self._steps.append(Step(key=key, on=on, command=command))
        return key

    def numbered(self, prefix: str) -> list[Step]:
        """The steps in date order (stable), with ids ``{prefix}:0001``, ``{prefix}:0002``…"""
        ordered = sorted(self._steps, key=lambda step: step.on)
        return [
            replace(step, command_id=f"{prefix}:{number:04d}")
            for number, step in enumerate(ordered, start=1)
        ]


def issue(ledger: Ledger, step: Step, outcomes: Mapping[str, CommandOutcome]) -> CommandOutcome:
    """Execute one step's command, resolving references to earlier outcomes."""
    if not step.command_id:
        raise ValueError(f"command {step.key!r} has no command id")
    command = step.resolve(lambda key: outcomes[key].streams)
    return ledger.execute(command, command_id=step.command_id)


def issue_all(
    ledger: Ledger, steps: Sequence[Step], progress: Progress | None = None
) -> dict[str, CommandOutcome]:
    """Issue the steps in order; ``progress(done, total)`` after each one."""
    outcomes: dict[str, CommandOutcome] = {}
    total = len(steps)
    for done, step in enumerate(steps, start=1):
        outcomes[step.key] = issue(ledger, step, outcomes)
        if progress is not None:
            progress(done, total)
    return outcomes
