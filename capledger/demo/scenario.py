"""The demo scenario: Ho Chi Minh City 2016–2020, then Hải Phòng 2021, as one list of commands.

Each city's commands are in date order with ids ``demo:hcm-2016-2020:NNNN`` and
``demo:hp-2021:NNNN``; building the scenario is pure and gives the same list every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import hai_phong, hcmc
from .commands import Step
from .index import ScenarioIndex


@dataclass(frozen=True)
class Scenario:
    commands: tuple[Step, ...]
    index: ScenarioIndex


def build_scenario() -> Scenario:
    hcmc_commands, hcmc_index = hcmc.build()
    hai_phong_commands, hai_phong_index = hai_phong.build()
    return Scenario(
        commands=(*hcmc_commands, *hai_phong_commands),
        index=ScenarioIndex(hai_phong=hai_phong_index, hcmc=hcmc_index),
    )
