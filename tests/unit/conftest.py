"""Fixtures of the domain's unit tests: the default rules, a plan and a funded project.

Fixtures hand out aggregates whose events are already collected (as if saved), so a test sees
in ``collect_events()`` exactly what its own commands recorded.
"""

from __future__ import annotations

import pytest

from capledger.bootstrap import load_rules
from capledger.domain import CapitalPlan, Project, RuleBook

from .builders import BILLION, allocate, annual_plan, project


@pytest.fixture(scope="session")
def rules() -> RuleBook:
    """The rules of Vietnam's public investment law as shipped with capledger."""
    return load_rules()


@pytest.fixture
def plan() -> CapitalPlan:
    """The 2025 annual plan: 1,000 billion VND central budget and 500 billion local budget."""
    capital_plan = annual_plan()
    capital_plan.collect_events()
    return capital_plan


@pytest.fixture
def funded(plan: CapitalPlan, rules: RuleBook) -> Project:
    """Project P-001 (total investment 2,000 billion) with 100 billion of the 2025 central
    budget allocated on 2 January 2025."""
    funded_project = project("P-001")
    allocate(plan, funded_project, 100 * BILLION, rules)
    funded_project.collect_events()
    plan.collect_events()
    return funded_project


@pytest.fixture
def other(plan: CapitalPlan, rules: RuleBook) -> Project:
    """Project P-002 with 50 billion of the 2025 central budget allocated on 2 January 2025."""
    other_project = project("P-002")
    allocate(plan, other_project, 50 * BILLION, rules)
    other_project.collect_events()
    plan.collect_events()
    return other_project
