"""The embedded runner: restart-safe batches, read-your-writes, progress, rebuild and switch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from capledger.application.commands import PayCompletedWork
from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner, ReadModelStore, rebuild
from capledger.projections import batch as batch_module
from capledger.projections.queries import BalanceFilter, balances

from .haiphong import BN, CENTRAL, PM_PLAN, record_hai_phong
from .support import Clock, dump

pytestmark = pytest.mark.integration

OpenReadModel = Callable[[], ReadModelStore]


def one_pass(ledger: Ledger, read_models: OpenReadModel) -> dict[str, Any]:
    """The rows of a read model filled in one go, to compare others with."""
    reference = read_models()
    EmbeddedRunner(reference, ledger.recorder, batch_size=10_000).catch_up()
    return dump(reference)


def test_a_runner_stopped_midway_and_a_new_one_never_count_twice(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, read_models: OpenReadModel
) -> None:
    recorded = record_hai_phong(ledger, clock)
    first = EmbeddedRunner(read_model, ledger.recorder, batch_size=4)
    for _ in range(6):
        first.step()
    assert read_model.position() == first.position > 0

    second = EmbeddedRunner(read_model, ledger.recorder, batch_size=5)
    assert second.catch_up() == recorded.last.position
    second.catch_up()  # nothing left: applying again changes nothing

    assert dump(read_model) == one_pass(ledger, read_models)
    assert first.notifications_applied + second.notifications_applied == recorded.last.position


def test_a_batch_that_fails_midway_leaves_no_trace_and_is_applied_once_later(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    read_models: OpenReadModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record_hai_phong(ledger, clock)
    runner = EmbeddedRunner(read_model, ledger.recorder, batch_size=20)
    runner.step()
    position = read_model.position()
    rows_before = dump(read_model)
    real_reducers = batch_module.REDUCERS

    def crash_once(event: Any, ctx: Any) -> Any:
        if event.position > position + 6:  # in the middle of the next batch
            monkeypatch.setattr(batch_module, "REDUCERS", real_reducers)
            raise RuntimeError("power cut")
        return real_reducers[event.name](event, ctx)

    every_reducer(monkeypatch, crash_once)
    with pytest.raises(RuntimeError, match="power cut"):
        runner.step()

    assert (read_model.position(), dump(read_model)) == (position, rows_before)
    runner.catch_up()
    assert dump(read_model) == one_pass(ledger, read_models)


def test_two_runners_on_one_read_model_take_turns_without_double_counting(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, read_models: OpenReadModel
) -> None:
    recorded = record_hai_phong(ledger, clock)
    runners = [EmbeddedRunner(read_model, ledger.recorder, batch_size=3) for _ in range(2)]
    threads = [threading.Thread(target=runner.catch_up) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert read_model.position() == recorded.last.position
    assert sum(runner.notifications_applied for runner in runners) == recorded.last.position
    assert dump(read_model) == one_pass(ledger, read_models)


def test_progress_reports_positions_done_out_of_the_total(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore
) -> None:
    recorded = record_hai_phong(ledger, clock)
    calls: list[tuple[int, int]] = []

    EmbeddedRunner(read_model, ledger.recorder, batch_size=10).catch_up(
        lambda done, total: calls.append((done, total))
    )

    total = recorded.last.position
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(calls) == 1 + -(-total // 10)


def test_a_query_after_a_command_waits_for_the_background_runner_to_apply_it(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore
) -> None:
    record_hai_phong(ledger, clock)
    with EmbeddedRunner(read_model, ledger.recorder, poll_interval=0.01) as runner:
        outcome = ledger.execute(PayCompletedWork(
            project_code="HP-002", plan_code=PM_PLAN, source=CENTRAL, amount=100 * BN,
            treasury_ref="KBNN-X", effective_on=date(2021, 12, 30),
        ), command_id="late-december")  # fmt: skip
        assert outcome.position is not None
        assert runner.wait_for(outcome.position, timeout=10)
        (dike,) = balances(
            read_model, "project", filters=BalanceFilter(project_code="HP-002")
        ).items
        assert dike.disbursed == 2_100 * BN
        assert not runner.wait_for(outcome.position + 1_000, timeout=0.1)
    assert not runner.running


def test_wait_for_without_a_background_thread_applies_the_batches_itself(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore
) -> None:
    recorded = record_hai_phong(ledger, clock)
    runner = EmbeddedRunner(read_model, ledger.recorder, batch_size=8)

    late = recorded.late_payment.position
    assert late is not None

    assert runner.wait_for(late, timeout=10)
    assert late <= read_model.position() < recorded.last.position


def test_rebuild_fills_a_fresh_namespace_and_switches_while_the_live_runner_follows(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, read_models: OpenReadModel
) -> None:
    record_hai_phong(ledger, clock)
    live_before = read_model.current_namespace()
    progress: list[tuple[int, int]] = []
    with EmbeddedRunner(read_model, ledger.recorder, poll_interval=0.01) as live:
        report = rebuild(
            read_model, ledger.recorder, batch_size=6, progress=lambda *p: progress.append(p)
        )
        more = ledger.execute(PayCompletedWork(
            project_code="HP-002", plan_code=PM_PLAN, source=CENTRAL, amount=50 * BN,
            treasury_ref="KBNN-Y", effective_on=date(2021, 12, 30),
        ), command_id="after-rebuild")  # fmt: skip
        assert more.position is not None and live.wait_for(more.position, timeout=10)

    assert (report.previous, report.namespace) == (live_before, read_model.current_namespace())
    assert read_model.namespaces() == [report.namespace]
    assert progress[-1][0] == progress[-1][1] > 0
    assert dump(read_model) == one_pass(ledger, read_models)


def test_a_rebuild_that_fails_leaves_the_live_namespace_serving(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record_hai_phong(ledger, clock)
    EmbeddedRunner(read_model, ledger.recorder).catch_up()
    before = dump(read_model)

    def broken(event: Any, ctx: Any) -> Any:
        raise RuntimeError("disk full")

    every_reducer(monkeypatch, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        rebuild(read_model, ledger.recorder)

    assert read_model.namespaces() == [read_model.current_namespace()]
    assert dump(read_model) == before


def every_reducer(monkeypatch: pytest.MonkeyPatch, reducer: Any) -> None:
    """Make ``reducer`` fold every event the runners fold (the reducers they look up)."""
    replaced = dict.fromkeys(batch_module.REDUCERS, reducer)
    monkeypatch.setattr(batch_module, "REDUCERS", replaced)
