"""Scripted scenarios: timed steps that play the market side of a test (see ``docs/simulator.md``).

``spec`` parses a JSON/TOML script into timed events (pure, seeded), ``runner`` executes them
against a simulator's state, ``desk`` is the order entry they use, ``bots`` the ordinary
traffic (DCA, grid, market making). Example scripts: ``kucoin_sim/scenario/examples/``.
"""

from kucoin_sim.scenario.runner import ScenarioRun
from kucoin_sim.scenario.spec import Scenario, ScenarioError, example, load, parse, read

__all__ = ["Scenario", "ScenarioError", "ScenarioRun", "example", "load", "parse", "read"]
