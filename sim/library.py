"""The scenario library: the curriculum in ``scenarios/*.yaml``."""
from __future__ import annotations

from pathlib import Path

from .errors import ScenarioError
from .scenario import load_scenario

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def list_scenarios(folder=SCENARIO_DIR):
    """Every scenario in the folder, in curriculum order (``lesson``, then file name),
    as (path, Scenario or ScenarioError); files that do not load come last."""
    out = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            out.append((path, load_scenario(path)))
        except ScenarioError as e:
            out.append((path, e))

    def place(entry):
        path, sc = entry
        lesson = getattr(sc, "lesson", None)
        return (lesson is None, lesson or 0, path.name)
    return sorted(out, key=place)
