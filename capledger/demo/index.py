"""What the scenario created: the plan and project codes the report reads back from the ledger.

The index holds codes and display hints only, never a figure: every amount in the report comes
from the ledger's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class HaiPhongIndex:
    #: The plan assigned by the city (the larger denominator) and the one it implements.
    city_plan: str
    pm_plan: str
    projects: tuple[str, ...]
    #: The date of the published figures; no cash movement of the scenario is dated after it.
    as_of: date


@dataclass(frozen=True)
class HcmcIndex:
    plan: str
    projects: tuple[str, ...]
    #: Sectors whose total investment is not in the published source (the demo assumes it).
    assumed_total_sectors: frozenset[str]


@dataclass(frozen=True)
class ScenarioIndex:
    hai_phong: HaiPhongIndex
    hcmc: HcmcIndex
