"""The read model agrees with the domain's own state and with a plain sum of the raw events,
for a year of every movement and for random valid command sequences."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from builders import (
    BILLION,
    MEDIUM_TERM_PLAN,
    OTHER_PROJECT,
    PLAN,
    PROJECT,
    record_corrections,
    record_year,
    sqlite_settings,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capledger.application.commands import (
    AdjustPlan,
    Allocate,
    ApprovePlan,
    ChangeInvestor,
    Cut,
    ExtendDisbursementPeriod,
    Lapse,
    PayAdvance,
    PayCompletedWork,
    RegisterProject,
    ReverseEntry,
    SignContract,
    Transfer,
)
from capledger.application.errors import ApplicationError
from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger
from capledger.domain import DomainError
from capledger.projections import EmbeddedRunner, ReadModelStore

from .oracle import assert_matches_ledger

pytestmark = pytest.mark.integration


def test_a_year_of_every_movement_matches_the_domains_own_state(
    ledger: Ledger, read_model: ReadModelStore
) -> None:
    record_year(ledger)

    EmbeddedRunner(read_model, ledger.recorder, batch_size=5).catch_up()

    assert_matches_ledger(ledger, read_model, [PROJECT, OTHER_PROJECT], [PLAN, MEDIUM_TERM_PLAN])


def test_a_year_with_a_corrected_cut_matches_the_domains_own_state(
    ledger: Ledger, read_model: ReadModelStore
) -> None:
    record_year(ledger)
    record_corrections(ledger)

    EmbeddedRunner(read_model, ledger.recorder, batch_size=5).catch_up()

    assert_matches_ledger(ledger, read_model, [PROJECT, OTHER_PROJECT], [PLAN, MEDIUM_TERM_PLAN])


# -- random valid command sequences -----------------------------------------------------------

PROJECTS = ["P1", "P2"]
SOURCES = ["central_budget", "local_budget"]
INVESTORS = ["BQL-A", "BQL-B", "BQL-C"]
#: Fiscal year 2025: paid until 31 January 2026, extended to 31 December 2026 at most, and
#: capital added after 30 September 2025 extended automatically.
IN_YEAR = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 1, 31))
LATER = st.dates(min_value=date(2026, 2, 1), max_value=date(2026, 12, 31))
DAYS = st.one_of(IN_YEAR, IN_YEAR, IN_YEAR, LATER)
#: Allocations and adjustments move these amounts; cash and transfers a tenth of them.
AMOUNTS = st.integers(min_value=1, max_value=400).map(lambda tenths: tenths * BILLION // 10)


#: Each verb as often as it needs to be for the rarer combinations (a reversal of a payment
#: that recovered an advance, a cut that releases extended capital) to come up.
VERBS = [
    *["allocate", "cut", "lapse", "adjust", "investor"],
    *["transfer", "advance", "reverse", "extend", "correct"] * 2,
    *["pay"] * 4,
]


@dataclass(frozen=True)
class Step:
    verb: str
    project: str
    other: str
    source: str
    amount: int
    part: int
    day: date
    flag: bool

    @property
    def small(self) -> int:
        return max(1, self.amount // 10)


STEPS = st.builds(
    Step,
    verb=st.sampled_from(VERBS),
    project=st.sampled_from(PROJECTS),
    other=st.sampled_from(PROJECTS),
    source=st.sampled_from(SOURCES),
    amount=AMOUNTS,
    part=st.integers(min_value=0, max_value=100),
    day=DAYS,
    flag=st.booleans(),
)


class Player:
    """Plays steps on a ledger; a step the ledger refuses records nothing and is skipped."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.ids = 0
        self.entries: dict[str, list[int]] = {code: [] for code in PROJECTS}
        #: Movements other than cash, by project, that a correction may name.
        self.movements: dict[str, list[int]] = {code: [] for code in PROJECTS}
        self.accepted = 0

    def cid(self) -> str:
        self.ids += 1
        return f"c{self.ids}"

    def decision(self, day: date) -> dict[str, object]:
        return {"decision_no": f"QĐ-{self.ids}", "decision_date": day, "decision_issuer": "UBND"}

    def setup(self) -> None:
        self.ledger.execute(ApprovePlan(
            code="KH-2025", title="Kế hoạch 2025", kind="annual", authority="provincial_council",
            jurisdiction="HN", start_year=2025, end_year=2025,
            envelopes={SOURCES[0]: 1_000 * BILLION, SOURCES[1]: 500 * BILLION},
            effective_on=date(2025, 1, 1), **self.decision(date(2025, 1, 1)),
        ), command_id=self.cid())  # fmt: skip
        for code in PROJECTS:
            self.ledger.execute(RegisterProject(
                code=code, name=f"Dự án {code}", investor_code="BQL-A", investor_name="Ban A",
                program="p", sector="transport", province="HN", total_investment=900 * BILLION,
                effective_on=date(2025, 1, 1), **self.decision(date(2025, 1, 1)),
            ), command_id=self.cid())  # fmt: skip
            for source in SOURCES:
                self.ledger.execute(Allocate(
                    plan_code="KH-2025", project_code=code, source=source, amount=100 * BILLION,
                    effective_on=date(2025, 1, 2), **self.decision(date(2025, 1, 2)),
                ), command_id=self.cid())  # fmt: skip
            self.ledger.execute(SignContract(
                project_code=code, contract_no=f"K-{code}", contractor="Nhà thầu",
                value=600 * BILLION, effective_on=date(2025, 1, 2),
            ), command_id=self.cid())  # fmt: skip

    def play(self, step: Step) -> None:
        try:
            outcome = getattr(self, step.verb)(step)
        except (DomainError, ApplicationError):
            return
        self.accepted += 1
        if step.verb in {"advance", "pay"}:
            self.entries[step.project].append(outcome.streams[f"project:{step.project}"])
        if step.verb in {"allocate", "transfer", "cut", "extend", "lapse", "investor"}:
            streams = outcome.streams  # type: ignore[attr-defined]
            for code in PROJECTS:
                if f"project:{code}" in streams:
                    self.movements[code].append(streams[f"project:{code}"])

    def allocate(self, s: Step) -> object:
        return self.ledger.execute(Allocate(
            plan_code="KH-2025", project_code=s.project, source=s.source, amount=s.amount,
            effective_on=s.day, **self.decision(s.day),
        ), command_id=self.cid())  # fmt: skip

    def transfer(self, s: Step) -> object:
        return self.ledger.execute(Transfer(
            plan_code="KH-2025", source=s.source, from_project=s.project, to_project=s.other,
            amount=s.small, effective_on=s.day, **self.decision(s.day),
        ), command_id=self.cid())  # fmt: skip

    def cut(self, s: Step) -> object:
        return self.ledger.execute(Cut(
            plan_code="KH-2025", project_code=s.project, source=s.source, reason="không triển khai",
            effective_on=s.day, amount=None if s.flag else s.small, **self.decision(s.day),
        ), command_id=self.cid())  # fmt: skip

    def advance(self, s: Step) -> object:
        return self.ledger.execute(PayAdvance(
            project_code=s.project, contract_no=f"K-{s.project}", plan_code="KH-2025",
            source=s.source, amount=s.small, treasury_ref="TU", effective_on=s.day,
        ), command_id=self.cid())  # fmt: skip

    def pay(self, s: Step) -> object:
        contract = f"K-{s.project}" if s.flag else None
        recovered = s.small * s.part // 100 if s.flag else 0
        return self.ledger.execute(PayCompletedWork(
            project_code=s.project, plan_code="KH-2025", source=s.source, amount=s.small,
            treasury_ref="TT", effective_on=s.day, contract_no=contract,
            advance_recovered=recovered,
        ), command_id=self.cid())  # fmt: skip

    def reverse(self, s: Step) -> object:
        entries = self.entries[s.project]
        if not entries:
            raise DomainError("nothing to reverse")
        return self.ledger.execute(ReverseEntry(
            project_code=s.project, entry_version=entries[s.part % len(entries)], reason="sai",
            effective_on=s.day,
        ), command_id=self.cid())  # fmt: skip

    def correct(self, s: Step) -> object:
        movements = self.movements[s.project]
        if not movements:
            raise DomainError("nothing to correct")
        decided = self.decision(s.day) if s.flag or s.part % 3 else {}
        return self.ledger.execute(ReverseEntry(
            project_code=s.project, entry_version=movements[s.part % len(movements)],
            reason="ghi sai", effective_on=s.day, **decided,
        ), command_id=self.cid())  # fmt: skip

    def extend(self, s: Step) -> object:
        until = date(2026, 3, 31) if s.flag else date(2026, 12, 31)
        return self.ledger.execute(ExtendDisbursementPeriod(
            project_code=s.project, plan_code="KH-2025", source=s.source, amount=s.small,
            until=until, effective_on=s.day, **self.decision(s.day),
        ), command_id=self.cid())  # fmt: skip

    def lapse(self, s: Step) -> object:
        return self.ledger.execute(
            Lapse(project_code=s.project, plan_code="KH-2025", source=s.source, as_of=s.day),
            command_id=self.cid(),
        )

    def adjust(self, s: Step) -> object:
        envelope = self.ledger.plan("KH-2025").envelopes[s.source] + s.amount * (
            1 if s.flag else -1
        )
        return self.ledger.execute(AdjustPlan(
            code="KH-2025", envelopes={s.source: max(0, envelope)}, reason="điều chỉnh",
            effective_on=s.day, **self.decision(s.day),
        ), command_id=self.cid())  # fmt: skip

    def investor(self, s: Step) -> object:
        investor = INVESTORS[s.part % len(INVESTORS)]
        return self.ledger.execute(ChangeInvestor(
            project_code=s.project, investor_code=investor, investor_name=f"Ban {investor}",
            reason="đổi", effective_on=s.day,
        ), command_id=self.cid())  # fmt: skip


def step(verb: str, day: date, amount: int = 0, *, part: int = 0, flag: bool = False) -> Step:
    return Step(verb, "P1", "P2", SOURCES[0], amount * BILLION, part, day, flag)


#: Combinations random sequences reach only now and then, played on purpose.
SCRIPTS = {
    "reversal of a payment that recovered an advance": [
        step("advance", date(2025, 3, 1), 300),
        step("pay", date(2025, 4, 1), 300, part=50, flag=True),
        step("reverse", date(2025, 5, 1), part=1),
    ],
    "cut that releases extended capital": [
        step("extend", date(2025, 12, 20), 400),
        step("cut", date(2025, 12, 21), 700),
        step("pay", date(2026, 3, 1), 100),
    ],
    "transfer away of extended capital, payment from the rest, lapse": [
        step("extend", date(2025, 12, 20), 300, flag=True),
        step("transfer", date(2025, 12, 22), 900),
        step("pay", date(2026, 3, 1), 50),
        step("lapse", date(2026, 4, 1)),
    ],
    "corrections of a transfer, a cut, an investor, an extension and a lapse": [
        step("transfer", date(2025, 7, 1), 300),
        step("correct", date(2025, 7, 2), part=0, flag=True),
        step("cut", date(2025, 8, 1), 200),
        step("correct", date(2025, 8, 2), part=1),
        step("investor", date(2025, 8, 3), part=1),
        step("correct", date(2025, 8, 4), part=2),
        step("extend", date(2025, 12, 20), 400),
        step("correct", date(2025, 12, 21), part=3, flag=True),
        step("lapse", date(2026, 2, 1)),
        step("correct", date(2026, 2, 2), part=4),
    ],
    "payment from the extension, reversed": [
        step("extend", date(2026, 1, 5), 200),
        step("pay", date(2026, 3, 1), 100),
        step("reverse", date(2026, 3, 5)),
    ],
}


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_rare_combinations_project_to_the_ledgers_own_balances(script: str, tmp_path: Path) -> None:
    ledger = build_ledger(sqlite_settings(tmp_path / "ledger"))
    read_model = ReadModelStore.sqlite(tmp_path / "projections.sqlite3")
    try:
        player = Player(ledger)
        player.setup()
        for played in SCRIPTS[script]:
            player.play(played)
        assert player.accepted == len(SCRIPTS[script])
        read_model.initialise()
        EmbeddedRunner(read_model, ledger.recorder).catch_up()

        assert_matches_ledger(ledger, read_model, PROJECTS, ["KH-2025"])
    finally:
        read_model.close()
        ledger.close()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(STEPS, min_size=15, max_size=60),
    batch_size=st.integers(min_value=1, max_value=30),
    stop_after=st.integers(min_value=0, max_value=10),
)
def test_random_valid_commands_project_to_the_ledgers_own_balances(
    steps: list[Step], batch_size: int, stop_after: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        ledger = build_ledger(sqlite_settings(Path(directory) / "ledger"))
        read_model = ReadModelStore.sqlite(Path(directory) / "projections.sqlite3")
        try:
            player = Player(ledger)
            player.setup()
            for step in steps:
                player.play(step)
            read_model.initialise()
            first = EmbeddedRunner(read_model, ledger.recorder, batch_size=batch_size)
            for _ in range(stop_after):
                first.step()
            # A new runner (a restart) finishes the job.
            EmbeddedRunner(read_model, ledger.recorder, batch_size=batch_size).catch_up()

            assert_matches_ledger(ledger, read_model, PROJECTS, ["KH-2025"])
        finally:
            read_model.close()
            ledger.close()
