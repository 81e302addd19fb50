"""The domain model of public investment capital: plans, projects and their movements.

Imports only the standard library and ``eventsourcing.domain``.
"""

from .apikey import ApiKey
from .capital import Balance
from .errors import DomainError
from .ids import api_key_id, plan_id, project_id
from .plan import CapitalPlan
from .project import AllocationLine, Contract, PaymentEntry, Project
from .rules import RuleBook
from .values import Authority, CapitalSource, Decision, PlanKind, ProjectStatus

__all__ = [
    "AllocationLine",
    "ApiKey",
    "Authority",
    "Balance",
    "CapitalPlan",
    "CapitalSource",
    "Contract",
    "Decision",
    "DomainError",
    "PaymentEntry",
    "PlanKind",
    "Project",
    "ProjectStatus",
    "RuleBook",
    "api_key_id",
    "plan_id",
    "project_id",
]
