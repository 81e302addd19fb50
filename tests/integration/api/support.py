"""Helpers of the API's tests: an app on a fresh store with keys of every role, and commands
sent over HTTP with plausible defaults (fiscal year 2025, Hà Nội)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from builders import drop_postgres_schemas
from fastapi import FastAPI
from fastapi.testclient import TestClient

from capledger.api.context import ApiContext
from capledger.api.roles import Role
from capledger.api.settings import ApiSettings
from capledger.api.store import ApiStore
from capledger.bootstrap import build_app
from capledger.settings import Settings

BILLION = 10**9
YEAR = 2025
PLAN = "HN-KHV-2025"
PROJECT = "DA-001"
OTHER = "DA-002"
CENTRAL = "central_budget"
LOCAL = "local_budget"
INVESTOR = "BQLDA-GT"
OTHER_INVESTOR = "BQLDA-YT"
Headers = dict[str, str]


@dataclass
class Harness:
    client: TestClient
    app: FastAPI
    settings: Settings
    api_settings: ApiSettings
    admin: Headers
    inspector: Headers
    officer: Headers  # investor BQLDA-GT only
    province_officer: Headers  # province HN
    _ids: list[int] = field(default_factory=lambda: [0])

    @property
    def ctx(self) -> ApiContext:
        context: ApiContext = self.app.state.ctx
        return context

    def key(
        self,
        name: str,
        role: Role,
        *,
        investors: tuple[str, ...] = (),
        provinces: tuple[str, ...] = (),
    ) -> Headers:
        issued = self.ctx.store.create_key(name, role, investors=investors, provinces=provinces)
        return {"X-API-Key": issued.token}

    def command(
        self,
        path: str,
        body: dict[str, Any],
        *,
        headers: Headers | None = None,
        key: str | None = None,
        expect: int | None = 201,
    ) -> Any:
        """POST a command (a fresh idempotency key unless given); the response."""
        chosen = key or f"test-{uuid4().hex}"
        response = self.client.post(
            path, json=body, headers={**(headers or self.admin), "Idempotency-Key": chosen}
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    def get(self, path: str, *, headers: Headers | None = None, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=headers or self.inspector)


def decision(number: str = "5678/QĐ-UBND", on: str = f"{YEAR}-01-02") -> dict[str, str]:
    return {"decision_no": number, "decision_date": on, "decision_issuer": "UBND Hà Nội"}


def plan_body(code: str = PLAN, *, central: int = 1_000, local: int = 500) -> dict[str, Any]:
    return {
        "code": code,
        "title": f"Kế hoạch đầu tư công năm {YEAR}",
        "kind": "annual",
        "authority": "provincial_council",
        "jurisdiction": "HN",
        "start_year": YEAR,
        "end_year": YEAR,
        "envelopes": {CENTRAL: str(central * BILLION), LOCAL: local * BILLION},
        "effective_on": f"{YEAR}-01-01",
        **decision("99/NQ-HĐND", f"{YEAR - 1}-12-10"),
    }


def project_body(
    code: str = PROJECT, *, investor: str = INVESTOR, total: int = 2_000
) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"Dự án {code}",
        "investor_code": investor,
        "investor_name": f"Ban QLDA {investor}",
        "program": "",
        "sector": "transport",
        "province": "HN",
        "total_investment": str(total * BILLION),
        "effective_on": "2024-06-01",
        **decision("123/QĐ-UBND", "2024-06-01"),
    }


def allocation_body(
    amount: int = 100, *, source: str = CENTRAL, on: str = f"{YEAR}-01-02"
) -> dict[str, Any]:
    return {
        "plan_code": PLAN,
        "source": source,
        "amount": str(amount * BILLION),
        "effective_on": on,
        **decision(on=on),
    }


def payment_body(amount: int, *, on: str, source: str = CENTRAL, **extra: Any) -> dict[str, Any]:
    return {
        "plan_code": PLAN,
        "source": source,
        "amount": str(amount * BILLION),
        "treasury_ref": f"KBNN-{uuid4().hex[:8]}",
        "effective_on": on,
        **extra,
    }


def funded(
    harness: Harness, code: str = PROJECT, *, investor: str = INVESTOR, amount: int = 100
) -> None:
    """The plan (once), a project and an allocation, recorded by the administrator."""
    if harness.client.get(f"/plans/{PLAN}/capital", headers=harness.admin).status_code == 404:
        harness.command("/plans", plan_body())
    harness.command("/projects", project_body(code, investor=investor))
    harness.command(f"/projects/{code}/allocations", allocation_body(amount))


def api_settings_for(store: Settings, tmp_path: Path) -> tuple[Settings, ApiSettings]:
    suffix = uuid4().hex[:10]
    read_model = store.read_model.model_copy(update={"schema_name": f"rmapi_{suffix}"})
    settings = store.model_copy(update={"read_model": read_model})
    api_settings = ApiSettings(
        store_file=tmp_path / "api.sqlite3",
        store_schema=f"api_{suffix}",
        write_rate_per_s=10_000,
        write_burst=100_000,
        read_rate_per_s=1_000_000,
        read_burst=1_000_000,
        failed_auth_rate_per_s=1_000_000,
        failed_auth_burst=1_000_000,
        read_your_writes_timeout_s=10,
    )
    return settings, api_settings


@contextmanager
def harness(settings: Settings, api_settings: ApiSettings) -> Iterator[Harness]:
    app = build_app(settings.model_copy(update={"api": api_settings}))
    store: ApiStore = app.state.ctx.store
    keys = {
        "admin": store.create_key("admin", Role.ADMINISTRATOR),
        "inspector": store.create_key("inspector", Role.INSPECTOR),
        "officer": store.create_key("lan", Role.FINANCE_OFFICER, investors=[INVESTOR]),
        "province": store.create_key("hoa", Role.FINANCE_OFFICER, provinces=["HN"]),
    }
    try:
        with TestClient(app) as client:
            yield Harness(
                client=client,
                app=app,
                settings=settings,
                api_settings=api_settings,
                admin={"X-API-Key": keys["admin"].token},
                inspector={"X-API-Key": keys["inspector"].token},
                officer={"X-API-Key": keys["officer"].token},
                province_officer={"Authorization": f"Bearer {keys['province'].token}"},
            )
    finally:
        drop_postgres_schemas(settings, api_settings)
