"""A client generated from ``/openapi.json`` by a tool no one here wrote (openapi-python-client)
drives the ledger: plans, a project, an allocation, payments, a replayed command, a refusal, a
reversal, rates and the typed history. The document is the only thing the client knows.

The generation takes a few seconds (the generator renders some hundred modules): the one
reason this test runs longer than 5 s. Nothing is cached in the repository: the client is
generated into the test's temporary directory and imported from there.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from .support import BILLION, Harness

pytestmark = pytest.mark.integration

PACKAGE = "capledger_generated_client"
#: The cosignature endpoint takes a signed note as ``text/plain``, a media type the generator
#: leaves out of its request bodies; mapped to bytes, the endpoint is generated too.
CONFIG = {
    "post_hooks": [],
    "content_type_overrides": {"text/plain; charset=utf-8": "application/octet-stream"},
}


def generate(document: dict[str, Any], directory: Path) -> Any:
    """The client package generated from ``document``, imported."""
    spec = directory / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    config = directory / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    arguments = ["--path", str(spec), "--meta", "none", "--config", str(config)]
    arguments += ["--output-path", str(directory / PACKAGE)]
    generated = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "will not be generated" not in generated.stdout, generated.stdout
    sys.path.insert(0, str(directory))
    try:
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(directory))


# The document does not depend on the store: one store is enough to prove it usable.
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_client_generated_from_the_document_records_corrects_and_reads_the_ledger(
    api: Harness, tmp_path: Path
) -> None:
    document = api.client.get("/openapi.json").json()
    package = generate(document, tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        scenario(api, package)
    finally:
        sys.path.remove(str(tmp_path))


def scenario(api: Harness, package: Any) -> None:
    commands = importlib.import_module(f"{PACKAGE}.api.commands")
    queries = importlib.import_module(f"{PACKAGE}.api.queries")
    audit = importlib.import_module(f"{PACKAGE}.api.audit")
    models = importlib.import_module(f"{PACKAGE}.models")
    for name in (
        "approve_plan", "register_project", "allocate", "pay_completed_work", "reverse_entry",
    ):  # fmt: skip
        importlib.import_module(f"{PACKAGE}.api.commands.{name}")
    importlib.import_module(f"{PACKAGE}.api.queries.disbursement_rates")
    importlib.import_module(f"{PACKAGE}.api.audit.project_history")

    api.client.headers.update(api.admin)
    client = package.AuthenticatedClient(base_url=str(api.client.base_url), token="unused")
    client.set_httpx_client(api.client)
    decided = {
        "decision_no": "12/NQ-HĐND",
        "decision_date": date(2024, 12, 10),
        "decision_issuer": "HĐND Hà Nội",
        "effective_on": date(2025, 1, 1),
    }

    def command(operation: Any, key: str, *path: str, **body: Any) -> Any:
        return operation.sync_detailed(*path, client=client, idempotency_key=key, **body)

    for code, authority, central in (
        ("HN-TTG-2025", models.Authority.PRIME_MINISTER, 400),
        ("HN-HDND-2025", models.Authority.PROVINCIAL_COUNCIL, 800),
    ):
        plan = models.ApprovePlan(
            code=code,
            title=f"Kế hoạch vốn năm 2025 ({code})",
            kind=models.PlanKind.ANNUAL,
            authority=authority,
            jurisdiction="HN",
            start_year=2025,
            end_year=2025,
            envelopes=models.ApprovePlanEnvelopes.from_dict(
                {"central_budget": str(central * BILLION)}
            ),
            **decided,
        )
        approved = command(commands.approve_plan, f"plan-{code}", body=plan)
        assert approved.status_code == 201, approved.content

    project = models.RegisterProject(
        code="DA-GEN",
        name="Đường vành đai",
        investor_code="BQLDA-GT",
        investor_name="Ban QLDA giao thông",
        program="",
        sector="transport",
        province="HN",
        total_investment=str(2_000 * BILLION),
        **{**decided, "effective_on": date(2024, 6, 1), "decision_date": date(2024, 6, 1)},
    )
    assert command(commands.register_project, "project", body=project).status_code == 201

    allocation = models.Allocate(
        plan_code="HN-HDND-2025",
        source=models.CapitalSource.CENTRAL_BUDGET,
        amount=str(200 * BILLION),
        **{**decided, "effective_on": date(2025, 1, 2), "decision_date": date(2025, 1, 2)},
    )
    allocated = command(commands.allocate, "allocation", "DA-GEN", body=allocation)
    assert allocated.status_code == 201
    assert allocated.parsed.command == "Allocate"

    def payment(amount: int, reference: str) -> Any:
        return models.PayCompletedWork(
            plan_code="HN-HDND-2025",
            source=models.CapitalSource.CENTRAL_BUDGET,
            amount=str(amount * BILLION),
            treasury_ref=reference,
            effective_on=date(2025, 3, 1),
        )

    paid = command(commands.pay_completed_work, "pay-1", "DA-GEN", body=payment(120, "KB-1"))
    wrong = command(commands.pay_completed_work, "pay-2", "DA-GEN", body=payment(40, "KB-2"))
    again = command(commands.pay_completed_work, "pay-2", "DA-GEN", body=payment(40, "KB-2"))
    assert (paid.status_code, wrong.status_code, again.status_code) == (201, 201, 200)
    assert again.parsed.replayed is True
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.parsed.streams.to_dict() == wrong.parsed.streams.to_dict()

    refused = command(commands.pay_completed_work, "pay-3", "DA-GEN", body=payment(500, "KB-3"))
    assert refused.status_code == 422
    assert refused.parsed.code is models.ProblemCode.OVER_DISBURSEMENT

    wrong_version = wrong.parsed.streams.to_dict()["project:DA-GEN"]
    reversal = models.ReverseEntry(
        entry_version=wrong_version,
        reason="Chứng từ KB-2 ghi nhầm",
        effective_on=date(2025, 3, 2),
    )
    reversed_ = command(commands.reverse_entry, "reverse-2", "DA-GEN", body=reversal)
    assert reversed_.status_code == 201, reversed_.content

    rates = queries.disbursement_rates.sync_detailed(
        client=client,
        jurisdiction="HN",
        fiscal_year=2025,
        plan=["HN-HDND-2025", "HN-TTG-2025"],
    )
    assert rates.status_code == 200
    assert "RateLimit" in rates.headers
    assert rates.parsed.disbursed == str(120 * BILLION)
    assert [(rate.plan_code, rate.rate.percent) for rate in rates.parsed.rates] == [
        ("HN-HDND-2025", "15.0"),
        ("HN-TTG-2025", "30.0"),
    ]

    history = audit.project_history.sync_detailed("DA-GEN", client=client)
    assert history.status_code == 200
    kinds = [type(item).__name__ for item in history.parsed.items]
    assert kinds == [
        "HistoryEntryRegistered",
        "HistoryEntryCapitalAllocated",
        "HistoryEntryCompletedWorkPaid",
        "HistoryEntryCompletedWorkPaid",
        "HistoryEntryEntryReversed",
    ]
    payments = history.parsed.items[2:4]
    assert [item.data.amount for item in payments] == [str(120 * BILLION), str(40 * BILLION)]
    assert history.parsed.items[4].data.entry_version == wrong_version
