"""Cash folds into net disbursement, advances outstanding and reversible entries."""

from __future__ import annotations

import pytest

from capledger.projections import MemoryReadModel, MissingContext
from capledger.projections.rows import ContractRow, EntryRow, LineRow, MovementRow

from .published import CENTRAL, PLAN, Log

pytestmark = pytest.mark.unit


def funded(log: Log) -> list[object]:
    return [log.registered("P-1"), log.allocated("P-1", 1_000), log.contract("P-1", "K1", 800)]


def line(model: MemoryReadModel) -> LineRow:
    found = model.get(LineRow, ("P-1", PLAN, CENTRAL))
    assert found is not None
    return found


def contract(model: MemoryReadModel) -> ContractRow:
    found = model.get(ContractRow, ("P-1", "K1"))
    assert found is not None
    return found


def fold(events: list[object]) -> MemoryReadModel:
    return MemoryReadModel().fold(events)  # type: ignore[arg-type]


def test_an_advance_is_disbursed_and_outstanding() -> None:
    log = Log()
    model = fold([*funded(log), log.advance("P-1", "K1", 200)])

    assert (line(model).disbursed, line(model).advances_outstanding) == (200, 200)
    assert (contract(model).advanced, contract(model).advance_outstanding) == (200, 200)


def test_a_work_payment_that_recovers_advance_disburses_only_the_net_cash() -> None:
    log = Log()
    model = fold(
        [
            *funded(log),
            log.advance("P-1", "K1", 200),
            log.paid("P-1", 300, contract_no="K1", advance_recovered=120),
        ]
    )

    assert (line(model).disbursed, line(model).advances_outstanding) == (380, 80)
    assert (contract(model).completed_paid, contract(model).advance_outstanding) == (300, 80)
    assert [(row.kind, row.amount) for row in model.rows(MovementRow)][-2:] == [
        ("disbursed", 180),
        ("advances_outstanding", -120),
    ]


def test_a_reversal_undoes_exactly_the_entry_it_points_at() -> None:
    log = Log()
    events = [*funded(log), log.advance("P-1", "K1", 200)]
    events.append(log.paid("P-1", 300, contract_no="K1", advance_recovered=120))
    payment_version = log.versions["project:P-1"]
    events.append(log.reversed("P-1", payment_version))
    model = fold(events)

    assert (line(model).disbursed, line(model).advances_outstanding) == (200, 200)
    assert (contract(model).completed_paid, contract(model).advance_outstanding) == (0, 200)
    entry = model.get(EntryRow, ("P-1", payment_version))
    assert entry is not None and entry.reversed_by == payment_version + 1
    correction = model.rows(MovementRow)[-2:]
    assert [(row.kind, row.amount, row.correction) for row in correction] == [
        ("disbursed", -180, True),
        ("advances_outstanding", 120, True),
    ]
    assert {row.effective_on for row in correction} == {"2021-06-15"}


def test_reversing_an_advance_takes_it_out_of_the_contract() -> None:
    log = Log()
    events = [*funded(log), log.advance("P-1", "K1", 200)]
    events.append(log.reversed("P-1", log.versions["project:P-1"]))
    model = fold(events)

    assert (line(model).disbursed, line(model).advances_outstanding) == (0, 0)
    assert (contract(model).advanced, contract(model).advance_outstanding) == (0, 0)


def test_a_payment_drawn_on_extended_capital_is_marked_so_is_its_reversal() -> None:
    log = Log()
    events = [*funded(log), log.paid("P-1", 50, from_extension=True, effective_on="2022-03-01")]
    events.append(log.reversed("P-1", log.versions["project:P-1"]))
    model = fold(events)

    assert line(model).disbursed_after_deadline == 0
    assert [row.from_extension for row in model.rows(MovementRow) if row.kind == "disbursed"] == [
        True,
        True,
    ]


def test_a_reversal_of_an_unknown_or_reversed_entry_is_refused() -> None:
    log = Log()
    events = [*funded(log), log.paid("P-1", 50)]
    version = log.versions["project:P-1"]
    events += [log.reversed("P-1", version), log.reversed("P-1", version)]
    with pytest.raises(MissingContext, match="no unreversed entry"):
        fold(events)


def test_lateness_counts_days_to_the_recording_date_in_vietnam() -> None:
    # Recorded at 18:00 UTC on 20 June = 01:00 on 21 June in Hà Nội: 36 days after 16 May.
    log = Log()
    late = log.paid("P-1", 50, effective_on="2021-05-16", recorded_at="2021-06-20T18:00:00.5+00:00")
    model = fold([*funded(log), late])

    (fact,) = [row for row in model.rows(MovementRow) if row.kind == "disbursed"]
    assert (fact.recorded_on, fact.lateness_days) == ("2021-06-21", 36)
    assert fact.recorded_at == "2021-06-20T18:00:00.500000Z"
