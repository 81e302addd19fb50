"""Builders of test stores, and of plans, projects and movements recorded through a Ledger.

Store builders give ``Settings`` of a fresh SQLite file or PostgreSQL schema. Command builders
take the ledger first and keyword arguments with plausible defaults, record one command (under
a fresh command id unless ``cid`` is given) and return its ``CommandOutcome``. Dates sit in
fiscal year 2025, whose capital may be disbursed until 31 January 2026 and extended until
31 December 2026 at the latest; capital added after 30 September 2025 is extended automatically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import ApplicationRecorder
from psycopg import sql

from capledger.api.settings import ApiSettings
from capledger.application.chain import seal, unseal
from capledger.application.commands import (
    AdjustPlan,
    AdjustTotalInvestment,
    Allocate,
    ApprovePlan,
    ChangeApiKeyScope,
    ChangeInvestor,
    ChangeStatus,
    Cut,
    ExtendDisbursementPeriod,
    IssueApiKey,
    Lapse,
    PayAdvance,
    PayCompletedWork,
    RegisterProject,
    ReverseEntry,
    RevokeApiKey,
    Settle,
    SignContract,
    Transfer,
)
from capledger.application.errors import UnknownPlan
from capledger.application.ledger import CommandOutcome, Ledger
from capledger.application.storage import event_log
from capledger.settings import Persistence, Settings, StoreSettings

CENTRAL = "central_budget"
LOCAL = "local_budget"
BILLION = 10**9
YEAR = 2025
PLAN = "HN-KHV-2025"
MEDIUM_TERM_PLAN = "HN-TH-2021-2025"
PROJECT = "DA-001"
CONTRACT = "HD-01/2025"


# -- stores ----------------------------------------------------------------------------


def postgres_connect(settings: Settings) -> psycopg.Connection[tuple[object, ...]]:
    """A plain autocommit connection to the database the settings point at."""
    return psycopg.connect(
        host=settings.store.postgres.host,
        port=settings.store.postgres.port,
        user=settings.store.postgres.user,
        password=settings.store.postgres.password.get_secret_value(),
        dbname=settings.store.postgres.dbname,
        autocommit=True,
        connect_timeout=10,
    )


@contextmanager
def fresh_postgres_schema(base: Settings) -> Iterator[Settings]:
    """Settings for a new, empty schema that is dropped (with everything in it) on exit."""
    schema = f"test_{uuid4().hex[:16]}"
    with postgres_connect(base) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        postgres = base.store.postgres.model_copy(update={"schema_name": schema})
        store = base.store.model_copy(
            update={"persistence": Persistence.POSTGRES, "postgres": postgres}
        )
        yield base.model_copy(update={"store": store})
    finally:
        with postgres_connect(base) as connection:
            connection.execute("SET lock_timeout = '30s'")
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def sqlite_settings(directory: Path) -> Settings:
    return Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=directory))


# -- commands ----------------------------------------------------------------------------


def command_id(prefix: str = "cmd") -> str:
    """A command id no other command of the test uses."""
    return f"{prefix}-{uuid4().hex}"


def decision(
    number: str = "5678/QĐ-UBND", issued_on: date = date(YEAR, 1, 2), issuer: str = "UBND Hà Nội"
) -> dict[str, Any]:
    """The decision fields of a command."""
    return {"decision_no": number, "decision_date": issued_on, "decision_issuer": issuer}


def position(ledger: Ledger) -> int:
    """The store's last notification id (0 when empty): moves whenever anything is recorded."""
    return ledger.recorder.max_notification_id() or 0


def approve_annual_plan(
    ledger: Ledger,
    *,
    code: str = PLAN,
    year: int = YEAR,
    envelopes: Mapping[str, int] | None = None,
    implements: str | None = None,
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        ApprovePlan(
            code=code,
            title=f"Kế hoạch đầu tư công năm {year}",
            kind="annual",
            authority="provincial_council",
            jurisdiction="HN",
            start_year=year,
            end_year=year,
            envelopes=dict(envelopes or {CENTRAL: 1_000 * BILLION, LOCAL: 500 * BILLION}),
            effective_on=date(year, 1, 1),
            implements=implements,
            **decision("99/NQ-HĐND", date(year - 1, 12, 10), "HĐND Hà Nội"),
        ),
        command_id=command_id("approve") if cid is None else cid,
    )


def approve_medium_term_plan(
    ledger: Ledger,
    *,
    code: str = MEDIUM_TERM_PLAN,
    start_year: int = 2021,
    envelopes: Mapping[str, int] | None = None,
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        ApprovePlan(
            code=code,
            title=f"Kế hoạch đầu tư công trung hạn {start_year}-{start_year + 4}",
            kind="medium_term",
            authority="provincial_council",
            jurisdiction="HN",
            start_year=start_year,
            end_year=start_year + 4,
            envelopes=dict(envelopes or {CENTRAL: 5_000 * BILLION}),
            effective_on=date(start_year, 1, 1),
            **decision("12/NQ-HĐND", date(start_year - 1, 12, 10), "HĐND Hà Nội"),
        ),
        command_id=command_id("approve") if cid is None else cid,
    )


def register_project(
    ledger: Ledger,
    *,
    code: str = PROJECT,
    total_investment: int = 2_000 * BILLION,
    investor_code: str = "BQLDA-GT",
    investor_name: str = "Ban QLDA đầu tư xây dựng công trình giao thông",
    on: date = date(2024, 6, 1),
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        RegisterProject(
            code=code,
            name=f"Dự án {code}",
            investor_code=investor_code,
            investor_name=investor_name,
            program="breakthrough-transport",
            sector="transport",
            province="HN",
            total_investment=total_investment,
            effective_on=on,
            **decision("123/QĐ-UBND", on),
        ),
        command_id=command_id("register") if cid is None else cid,
    )


def allocate(
    ledger: Ledger,
    *,
    project_code: str = PROJECT,
    amount: int = 100 * BILLION,
    plan_code: str = PLAN,
    source: str = CENTRAL,
    on: date = date(YEAR, 1, 2),
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        Allocate(
            plan_code=plan_code,
            project_code=project_code,
            source=source,
            amount=amount,
            effective_on=on,
            **decision(issued_on=on),
        ),
        command_id=command_id("allocate") if cid is None else cid,
    )


def funded_project(
    ledger: Ledger,
    *,
    code: str = PROJECT,
    amount: int = 100 * BILLION,
    plan_code: str = PLAN,
    total_investment: int = 2_000 * BILLION,
    source: str = CENTRAL,
) -> CommandOutcome:
    """Approve the annual plan (unless recorded), register the project, allocate ``amount``;
    returns the allocation's outcome."""
    try:
        ledger.plan(plan_code)
    except UnknownPlan:
        approve_annual_plan(ledger, code=plan_code)
    register_project(ledger, code=code, total_investment=total_investment)
    return allocate(ledger, project_code=code, amount=amount, plan_code=plan_code, source=source)


def transfer(
    ledger: Ledger,
    *,
    from_project: str,
    to_project: str,
    amount: int,
    plan_code: str = PLAN,
    source: str = CENTRAL,
    on: date = date(YEAR, 7, 1),
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        Transfer(
            plan_code=plan_code,
            source=source,
            from_project=from_project,
            to_project=to_project,
            amount=amount,
            effective_on=on,
            **decision("777/QĐ-UBND", on),
        ),
        command_id=command_id("transfer") if cid is None else cid,
    )


def cut(
    ledger: Ledger,
    *,
    project_code: str = PROJECT,
    amount: int | None,
    plan_code: str = PLAN,
    source: str = CENTRAL,
    on: date = date(YEAR, 7, 1),
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        Cut(
            plan_code=plan_code,
            project_code=project_code,
            source=source,
            amount=amount,
            reason="không thể triển khai trong năm",
            effective_on=on,
            **decision("888/QĐ-UBND", on),
        ),
        command_id=command_id("cut") if cid is None else cid,
    )


def sign_contract(
    ledger: Ledger,
    *,
    project_code: str = PROJECT,
    contract_no: str = CONTRACT,
    value: int = 50 * BILLION,
    on: date = date(YEAR, 2, 1),
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        SignContract(
            project_code=project_code,
            contract_no=contract_no,
            contractor="Tổng công ty Xây dựng Thăng Long",
            value=value,
            effective_on=on,
        ),
        command_id=command_id("contract") if cid is None else cid,
    )


def pay_advance(
    ledger: Ledger,
    *,
    amount: int,
    project_code: str = PROJECT,
    contract_no: str = CONTRACT,
    plan_code: str = PLAN,
    source: str = CENTRAL,
    on: date = date(YEAR, 3, 1),
    cid: str | None = None,
) -> CommandOutcome:
    return ledger.execute(
        PayAdvance(
            project_code=project_code,
            contract_no=contract_no,
            plan_code=plan_code,
            source=source,
            amount=amount,
            treasury_ref="KBNN-TU-0001",
            effective_on=on,
        ),
        command_id=command_id("advance") if cid is None else cid,
    )


def pay(
    ledger: Ledger,
    *,
    amount: int,
    project_code: str = PROJECT,
    plan_code: str = PLAN,
    source: str = CENTRAL,
    on: date = date(YEAR, 6, 1),
    contract_no: str | None = None,
    advance_recovered: int = 0,
    treasury_ref: str = "KBNN-TT-0001",
    cid: str | None = None,
) -> CommandOutcome:
    """Pay for completed work."""
    return ledger.execute(
        PayCompletedWork(
            project_code=project_code,
            plan_code=plan_code,
            source=source,
            amount=amount,
            treasury_ref=treasury_ref,
            effective_on=on,
            contract_no=contract_no,
            advance_recovered=advance_recovered,
        ),
        command_id=command_id("pay") if cid is None else cid,
    )


# -- a year of every movement --------------------------------------------------------------

OTHER_PROJECT = "DA-002"


@dataclass(frozen=True)
class Year:
    """A year of movements recorded on the store, and the stream versions worth pointing at."""

    ledger: Ledger
    advance_version: int
    payment_version: int
    wrong_payment_version: int
    extended_payment_version: int


def record_key_administration(ledger: Ledger, ids: Callable[[str], str] = command_id) -> None:
    """An officer's API key issued, rescoped and revoked by an administrator."""
    admin = "administrator:admin"
    ledger.execute(
        IssueApiKey(key_id="0a1b2c3d", name="lan", role="finance_officer", provinces=("HP",)),
        command_id=ids("issue-key"),
        principal=admin,
    )
    ledger.execute(
        ChangeApiKeyScope(key_id="0a1b2c3d", provinces=("HN", "HP")),
        command_id=ids("rescope-key"),
        principal=admin,
    )
    ledger.execute(RevokeApiKey(key_id="0a1b2c3d"), command_id=ids("revoke-key"), principal=admin)


#: DA-002's stream: registered, allocated, transferred out, cut (``record_year``).
OTHER_PROJECT_CUT_VERSION = 4


def record_corrections(ledger: Ledger, ids: Callable[[str], str] = command_id) -> CommandOutcome:
    """After :func:`record_year`: DA-002's cut corrected by a decision on 1 September 2025 (the
    20 billion come back to DA-002 and are allocated from the plan again)."""
    return ledger.execute(
        ReverseEntry(
            project_code=OTHER_PROJECT,
            entry_version=OTHER_PROJECT_CUT_VERSION,
            reason="cắt giảm nhầm dự án",
            effective_on=date(2025, 9, 1),
            **decision("901/QĐ-UBND", date(2025, 9, 1)),
        ),
        command_id=ids("correct"),
    )


def record_year(ledger: Ledger, ids: Callable[[str], str] = command_id) -> Year:
    """Record every movement the ledger knows, on two projects of the 2025 plan.

    ``ids(verb)`` names each command (a fresh id by default). On DA-001: 300 billion VND
    allocated, 40 billion transferred in from DA-002, an advance of 60 billion on contract
    HD-01/2025, work paid 100 billion of which 30 billion recovers the advance, a wrong payment
    of 7 billion reversed, 50 billion extended to 30 June 2026, 160 billion lapsed on 1 February
    2026, 20 billion paid from the extension, the last 30 billion lapsed in 2027; total
    investment adjusted, investor changed, completed and settled at 150 billion. DA-002 gets
    100 billion, gives 40 to DA-001 and has 20 cut back to the plan. Then an API key's
    administration (issued, rescoped, revoked).
    """
    approve_medium_term_plan(ledger, cid=ids("approve"))
    approve_annual_plan(ledger, implements=MEDIUM_TERM_PLAN, cid=ids("approve"))
    ledger.execute(
        AdjustPlan(
            code=PLAN,
            envelopes={CENTRAL: 1_200 * BILLION},
            reason="bổ sung vốn ngân sách trung ương",
            effective_on=date(2025, 4, 1),
            **decision("45/NQ-HĐND", date(2025, 3, 28), "HĐND Hà Nội"),
        ),
        command_id=ids("adjust"),
    )
    register_project(ledger, code=PROJECT, cid=ids("register"))
    register_project(ledger, code=OTHER_PROJECT, cid=ids("register"))
    allocate(ledger, project_code=PROJECT, amount=300 * BILLION, cid=ids("allocate"))
    allocate(ledger, project_code=OTHER_PROJECT, amount=100 * BILLION, cid=ids("allocate"))
    transfer(
        ledger,
        from_project=OTHER_PROJECT,
        to_project=PROJECT,
        amount=40 * BILLION,
        cid=ids("transfer"),
    )
    cut(ledger, project_code=OTHER_PROJECT, amount=20 * BILLION, cid=ids("cut"))
    sign_contract(ledger, value=200 * BILLION, cid=ids("contract"))
    advance = pay_advance(ledger, amount=60 * BILLION, cid=ids("advance"))
    payment = pay(
        ledger,
        amount=100 * BILLION,
        contract_no=CONTRACT,
        advance_recovered=30 * BILLION,
        on=date(2025, 6, 1),
        cid=ids("pay"),
    )
    wrong = pay(
        ledger,
        amount=7 * BILLION,
        on=date(2025, 8, 1),
        treasury_ref="KBNN-TT-SAI",
        cid=ids("pay"),
    )
    project_stream = f"project:{PROJECT}"
    ledger.execute(
        ReverseEntry(
            project_code=PROJECT,
            entry_version=wrong.streams[project_stream],
            reason="chi nhầm số tiền",
            effective_on=date(2025, 8, 5),
        ),
        command_id=ids("reverse"),
    )
    ledger.execute(
        ExtendDisbursementPeriod(
            project_code=PROJECT,
            plan_code=PLAN,
            source=CENTRAL,
            amount=50 * BILLION,
            until=date(2026, 6, 30),
            effective_on=date(2026, 1, 20),
            **decision("12/QĐ-TTg", date(2026, 1, 20), "Thủ tướng Chính phủ"),
        ),
        command_id=ids("extend"),
    )
    # After the deadline what was not extended lapses; the extension may still be paid.
    ledger.execute(
        Lapse(project_code=PROJECT, plan_code=PLAN, source=CENTRAL, as_of=date(2026, 2, 1)),
        command_id=ids("lapse"),
    )
    extended = pay(ledger, amount=20 * BILLION, on=date(2026, 3, 1), cid=ids("pay"))
    ledger.execute(
        Lapse(project_code=PROJECT, plan_code=PLAN, source=CENTRAL, as_of=date(2027, 1, 5)),
        command_id=ids("lapse"),
    )
    ledger.execute(
        AdjustTotalInvestment(
            project_code=PROJECT,
            total_investment=1_800 * BILLION,
            effective_on=date(2026, 9, 1),
            **decision("321/QĐ-UBND", date(2026, 9, 1)),
        ),
        command_id=ids("adjust-total"),
    )
    ledger.execute(
        ChangeInvestor(
            project_code=PROJECT,
            investor_code="BQLDA-HN",
            investor_name="Ban QLDA các công trình giao thông Hà Nội",
            reason="hợp nhất ban quản lý dự án",
            effective_on=date(2026, 10, 1),
        ),
        command_id=ids("investor"),
    )
    ledger.execute(
        ChangeStatus(
            project_code=PROJECT,
            status="completed",
            reason="nghiệm thu hoàn thành",
            effective_on=date(2027, 2, 1),
        ),
        command_id=ids("status"),
    )
    ledger.execute(
        Settle(
            project_code=PROJECT,
            settled_value=150 * BILLION,
            effective_on=date(2027, 6, 1),
            **decision("999/QĐ-STC", date(2027, 6, 1), "Sở Tài chính Hà Nội"),
        ),
        command_id=ids("settle"),
    )
    record_key_administration(ledger, ids)
    return Year(
        ledger=ledger,
        advance_version=advance.streams[project_stream],
        payment_version=payment.streams[project_stream],
        wrong_payment_version=wrong.streams[project_stream],
        extended_payment_version=extended.streams[project_stream],
    )


def forge_last_event(
    recorder: ApplicationRecorder, stream: UUID, **changes: object
) -> tuple[int, int]:
    """Rewrite the stream's last event with ``changes`` and seal it again as the ledger would,
    so the hash chain still holds; returns its position and version."""
    log = event_log(recorder)
    stored = recorder.select_events(stream, desc=True, limit=1)[0]
    opened = unseal(stored.state)
    state, _ = seal(
        stream=str(stream),
        version=stored.originator_version,
        topic=stored.topic,
        data={**opened.data, **changes},
        meta=opened.meta,
        prev=opened.prev,
    )
    log.overwrite_stored_event(stream, stored.originator_version, state=state)
    position = log.position_of(stream, stored.originator_version)
    assert position is not None
    return position, stored.originator_version


def drop_postgres_schemas(settings: Settings, api_settings: ApiSettings) -> None:
    """Drop a test's read-model schemas (its namespaces too) and its API store's schema."""
    if settings.store.persistence is not Persistence.POSTGRES:
        return
    base = settings.read_model.schema_name
    with postgres_connect(settings) as connection:
        schemas = connection.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name = %s OR schema_name LIKE %s OR schema_name = %s",
            (base, f"{base}\\_rm%", api_settings.store_schema),
        ).fetchall()
        for (schema,) in schemas:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
