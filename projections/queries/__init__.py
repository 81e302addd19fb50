"""Queries of the read model for inspectors, the CLI and the API; typed results, int VND."""

from .balances import BalanceFilter, Dimension, GroupBalance, balances
from .facts import LateEntry, late_entries
from .plans import (
    AdjustmentCount,
    PlanCapital,
    PlanVersion,
    adjustment_counts,
    plan_capital,
    plan_versions,
)
from .rates import (
    DisbursementRate,
    ScopeRates,
    SummedRate,
    disbursement_rate,
    disbursement_rates,
    scope_rates,
)
from .series import Basis, Bunching, MonthlyPoint, MonthlySeries, bunching, monthly_series
from .types import (
    NO_EXCLUSIONS,
    AsOf,
    Denominator,
    Exclusions,
    NoAnnualPlan,
    NotYetKnown,
    Page,
    PlanOutsideScope,
    QueryError,
    Ratio,
    Scope,
    UnknownPlanCode,
)
from .watch import WatchEntry, WatchLevel, WatchList, watch_list

__all__ = [
    "NO_EXCLUSIONS",
    "AdjustmentCount",
    "AsOf",
    "BalanceFilter",
    "Basis",
    "Bunching",
    "Denominator",
    "Dimension",
    "DisbursementRate",
    "Exclusions",
    "GroupBalance",
    "LateEntry",
    "MonthlyPoint",
    "MonthlySeries",
    "NoAnnualPlan",
    "NotYetKnown",
    "Page",
    "PlanCapital",
    "PlanOutsideScope",
    "PlanVersion",
    "QueryError",
    "Ratio",
    "Scope",
    "ScopeRates",
    "SummedRate",
    "UnknownPlanCode",
    "WatchEntry",
    "WatchLevel",
    "WatchList",
    "adjustment_counts",
    "balances",
    "bunching",
    "disbursement_rate",
    "disbursement_rates",
    "late_entries",
    "monthly_series",
    "plan_capital",
    "plan_versions",
    "scope_rates",
    "watch_list",
]
