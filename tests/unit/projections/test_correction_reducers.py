"""A correction folds from its own data: capital back on its line with a fact of the other sign
that names the corrected version (the original's fact stays), or the record fields put back."""

from __future__ import annotations

from typing import Any

import pytest

from capledger.projections import MemoryReadModel
from capledger.projections.rows import LineRow, MovementRow, ProjectRow

from .published import CENTRAL, DECISION, PLAN, Log

pytestmark = pytest.mark.unit

NOTHING_RESTORED = dict.fromkeys(
    ("total_investment", "investor_code", "investor_name", "status", "review_class")
)
NOTHING_MOVED = dict.fromkeys(
    ("plan_code", "source", "amount", "extended_until", "counterpart", "counterpart_version")
)


def corrected(log: Log, code: str, version: int, corrects: str, **data: Any) -> Any:
    fields = {**NOTHING_MOVED, **NOTHING_RESTORED, **data}
    return log.project(
        code, "EntryCorrected", entry_version=version, corrects=corrects, reason="ghi sai",
        decision=DECISION, effective_on="2021-10-01", **fields,
    )  # fmt: skip


def test_an_allocation_corrected_leaves_both_facts_and_takes_the_capital_back() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [
            log.registered("P-1"),
            log.allocated("P-1", 500),
            corrected(
                log, "P-1", 2, "CapitalAllocated", plan_code=PLAN, source=CENTRAL, amount=500
            ),
        ]
    )

    line = model.get(LineRow, ("P-1", PLAN, CENTRAL))
    assert line is not None and (line.allocated, line.undisbursed) == (0, 0)
    facts = [(row.kind, row.amount, row.correction, row.entry_version) for row in
             model.rows(MovementRow)]  # fmt: skip
    assert facts == [("allocated", 500, False, None), ("allocated", -500, True, 2)]


def test_a_change_of_status_corrected_puts_the_old_status_back() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [
            log.registered("P-1"),
            log.project(
                "P-1",
                "StatusChanged",
                status="slow",
                review_class=None,
                reason="chậm",
                decision=None,
                effective_on="2021-09-01",
            ),
            corrected(log, "P-1", 2, "StatusChanged", status="on_track"),
        ]
    )

    project = model.get(ProjectRow, ("P-1",))
    assert project is not None and project.status == "on_track"
