"""The demo: a realistic year of Hải Phòng and five years of Ho Chi Minh City, issued as the
ledger's own commands, and a report read back from the read models.

``run_demo`` is idempotent: every command has a fixed id, so running it again on the same store
replays the first outcomes, records nothing new and reports the same figures.
"""

from __future__ import annotations

from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner

from .commands import Progress, issue_all
from .report import DemoReport, build_report
from .scenario import build_scenario

__all__ = ["DemoReport", "run_demo"]


def run_demo(
    ledger: Ledger, runner: EmbeddedRunner, progress: Progress | None = None
) -> DemoReport:
    """Issue the scenario's commands (``progress(done, total)`` after each), bring the read
    model ``runner`` follows up to the last of them (read-your-writes), and report from it."""
    scenario = build_scenario()
    outcomes = issue_all(ledger, scenario.commands, progress)
    last = max((outcome.position or 0 for outcome in outcomes.values()), default=0)
    runner.catch_up(until=max(last, runner.stored_position()))
    return build_report(runner.store, scenario.index)
