"""Fiscal Data Package (Open Spending) export of plans and their execution.

Two CSV resources per jurisdiction and fiscal year, described by a ``datapackage.json`` with
the fiscal profile's ``model`` (measures with ISO 4217 currency, dimensions):

- ``plans.csv``: each plan covering the year, per capital source, at each version: phase
  ``approved`` (version 1) or ``adjusted`` (each adjustment's full envelope, not a delta);
- ``projects.csv``: each project line of the year's annual plans: ``approved`` (capital
  allocated), ``adjusted`` (capital after transfers and cuts, when it differs) and
  ``executed`` (net disbursement).

The ledger records decided plans, not proposals: ``proposed`` is a valid phase of the schema
that this export never emits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

CURRENCY = "VND"
PHASES = ("proposed", "approved", "adjusted", "executed")

PLAN_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("plan_code", "string", "Plan code"),
    ("plan_title", "string", "Plan title"),
    ("plan_kind", "string", "annual or medium_term"),
    ("authority", "string", "Assigning authority"),
    ("jurisdiction", "string", "Jurisdiction (province)"),
    ("start_year", "integer", "First fiscal year of the plan"),
    ("end_year", "integer", "Last fiscal year of the plan"),
    ("plan_version", "integer", "Plan version (1 = approval)"),
    ("decision_no", "string", "Decision number"),
    ("date", "date", "Effective date of the version"),
    ("capital_source", "string", "Capital source"),
    ("phase", "string", "Budget phase"),
    ("amount", "integer", "Amount (VND)"),
    ("currency", "string", "ISO 4217 currency"),
)
PROJECT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("project_code", "string", "Project code"),
    ("project_name", "string", "Project name"),
    ("investor_code", "string", "Investor accountable now"),
    ("investor_name", "string", "Investor name"),
    ("sector", "string", "Sector"),
    ("program", "string", "Program"),
    ("province", "string", "Province"),
    ("plan_code", "string", "Plan the capital comes from"),
    ("fiscal_year", "integer", "Fiscal year"),
    ("capital_source", "string", "Capital source"),
    ("phase", "string", "Budget phase"),
    ("amount", "integer", "Amount (VND)"),
    ("currency", "string", "ISO 4217 currency"),
)


def rows_csv(fields: Sequence[tuple[str, str, str]], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [name for name, _, _ in fields], lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def _schema(fields: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    described: list[dict[str, Any]] = []
    for name, kind, title in fields:
        field: dict[str, Any] = {"name": name, "type": kind, "title": title}
        if name == "phase":
            field["constraints"] = {"enum": list(PHASES)}
        if name == "currency":
            field["constraints"] = {"enum": [CURRENCY]}
        described.append(field)
    return {"fields": described}


def datapackage(jurisdiction: str, fiscal_year: int, generated: str) -> dict[str, Any]:
    dimensions = {
        "plan": {"attributes": {"code": {"source": "plan_code"}}, "primaryKey": "code"},
        "source": {
            "attributes": {"code": {"source": "capital_source"}},
            "primaryKey": "code",
            "dimensionType": "classification",
        },
        "phase": {"attributes": {"phase": {"source": "phase"}}, "primaryKey": "phase"},
        "date": {
            "attributes": {"date": {"source": "date"}},
            "primaryKey": "date",
            "dimensionType": "datetime",
        },
        "project": {
            "attributes": {"code": {"source": "project_code"}, "name": {"source": "project_name"}},
            "primaryKey": "code",
        },
        "investor": {
            "attributes": {"code": {"source": "investor_code"}},
            "primaryKey": "code",
            "dimensionType": "entity",
        },
    }
    return {
        "name": f"capledger-{jurisdiction.lower()}-{fiscal_year}",
        "title": f"Public investment capital of {jurisdiction}, {fiscal_year}",
        "profile": "fiscal-data-package",
        "countryCode": "VN",
        "created": generated,
        "fiscalPeriod": {"start": f"{fiscal_year}-01-01", "end": f"{fiscal_year}-12-31"},
        "licenses": [{"name": "ODC-PDDL-1.0"}],
        "resources": [
            {
                "name": "plans",
                "path": "plans.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "profile": "tabular-data-resource",
                "schema": _schema(PLAN_FIELDS),
            },
            {
                "name": "projects",
                "path": "projects.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "profile": "tabular-data-resource",
                "schema": _schema(PROJECT_FIELDS),
            },
        ],
        "model": {
            "measures": {
                "amount": {"source": "amount", "currency": CURRENCY, "factor": 1},
            },
            "dimensions": dimensions,
        },
    }
