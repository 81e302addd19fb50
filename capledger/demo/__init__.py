"""The demo: a realistic year of Hải Phòng and five years of Ho Chi Minh City, issued through the
Ledger's own verbs, and a report read back from the ledger.

``run_demo`` is idempotent: every command has a fixed id, so running it again on the same store
replays the first outcomes, records nothing new and reports the same figures.
"""

from __future__ import annotations

from capledger.application.ledger import Ledger

from .commands import Progress, issue_all
from .report import DemoReport, build_report
from .scenario import build_scenario

__all__ = ["DemoReport", "run_demo"]


def run_demo(ledger: Ledger, progress: Progress | None = None) -> DemoReport:
    """Issue the scenario's commands (``progress(done, total)`` after each) and report."""
    scenario = build_scenario()
    issue_all(ledger, scenario.commands, progress)
    return build_report(ledger, scenario.index)
