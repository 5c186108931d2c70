"""Scenarios and runs, cached: the only place the app calls the model.

A run is a pure function of (scenario text, style, seed, fault specs), so
``st.cache_data`` keyed on exactly those gives the same run to every session
that asks for it, and the playback clock never re-simulates. Errors come back
as one-line messages (``sim``'s own), never as tracebacks.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import sim

LOAD_SAGAS = 1000          # from this many sagas on (or with generated orders), the load view replaces the player


@dataclass(frozen=True)
class Entry:
    """One scenario of the library: what the picker shows, and the text that runs."""

    name: str
    title: str
    summary: str
    text: str
    source: str


def _library_signature(folder: Path) -> tuple:
    """Changes when a scenario file is added, removed or edited (the cache key of the library)."""
    try:
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.yaml")))
    except OSError:
        return ()


@st.cache_data(show_spinner=False, max_entries=4)
def _library(folder: str, signature: tuple) -> tuple:
    entries, broken = [], []
    for path, scenario in sim.list_scenarios(folder):
        if isinstance(scenario, Exception):
            broken.append(str(scenario))
            continue
        entries.append(Entry(scenario.name, scenario.title, scenario.summary,
                             path.read_text(encoding="utf-8"), str(path.relative_to(Path(folder).parent))))
    return tuple(entries), tuple(broken)


def library() -> tuple:
    """(entries, broken-file messages) of ``scenarios/*.yaml``, re-read when a file changes."""
    folder = Path(sim.SCENARIO_DIR)
    return _library(str(folder), _library_signature(folder))


def is_load(scenario) -> bool:
    """Too many sagas to animate: generated orders (``load:``) or a thousand sagas or more."""
    return scenario.load is not None or scenario.saga_count >= LOAD_SAGAS


def default_name(entries) -> str:
    """Lesson 1: where a newcomer starts (the library is in curriculum order)."""
    return entries[0].name if entries else ""


@st.cache_data(show_spinner=False, max_entries=64)
def parse(text: str, source: str):
    """The Scenario, or a ScenarioError's one-line message (a str)."""
    try:
        return sim.parse_scenario(text, source)
    except sim.SagaInputError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - a validator bug must still not reach the user as a traceback
        return f"{source}: could not be read ({type(e).__name__}: {e})"


@st.cache_data(show_spinner=False, max_entries=512)
def simulate(text: str, source: str, style: str, seed: int | None, faults: tuple, keep_events: bool = True):
    """One run as the dict of contract 4 (plus services, steps, ...), or a one-line error message (a str)."""
    scenario = parse(text, source)
    if isinstance(scenario, str):
        return scenario
    try:
        return sim.run(scenario, style, seed=seed, faults=list(faults), keep_events=keep_events).to_dict(
            events=keep_events)
    except (sim.SagaInputError, sim.RunLimitError) as e:
        return str(e)
    except Exception as e:  # noqa: BLE001
        return f"the run failed ({type(e).__name__}: {e})"


@dataclass(frozen=True)
class Shown:
    """A run on screen: the key its figures are cached under, its style, and the run (or why there is none)."""

    key: tuple
    style: str
    run: dict | None
    error: str | None = None


def text_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


def live_runs(text: str, source: str, styles, seed, faults, keep_events: bool = True) -> list:
    """One Shown per style: the cached run of (scenario text, style, seed, faults)."""
    out = []
    for style in styles:
        key = (text_id(text), style, seed, tuple(faults), keep_events)
        result = simulate(text, source, style, seed, tuple(faults), keep_events)
        out.append(Shown(key, style, None, result) if isinstance(result, str) else Shown(key, style, result))
    return out


def check_fault(spec: str, scenario) -> str | None:
    """None if ``spec`` is a fault this scenario can take, else the one-line reason."""
    try:
        fault = sim.parse_fault(spec)
        sim.faults.check_fault_targets(fault, scenario.services, f"fault {spec!r}")
    except sim.SagaInputError as e:
        return str(e)
    return None


def describe(spec: str) -> str:
    try:
        return sim.parse_fault(spec).describe()
    except sim.SagaInputError:
        return spec


# ---------------------------------------------------------------- facts about loaded runs


def end_time(runs) -> float:
    """When the last event of any run happens: where the clock stops."""
    return max((r["events"][-1]["t"] for r in runs if r.get("events")), default=0.0)


def event_times(runs) -> list:
    """Every distinct event time of the runs, sorted: where "step" stops."""
    return sorted({e["t"] for r in runs for e in r.get("events") or ()})


OUTCOME_WORDS = {"in_flight": "still in flight"}


def outcome_words(outcomes: dict) -> str:
    """{"1": "completed", "2": "in_flight"} -> "saga 1 completed, saga 2 still in flight"."""
    if len(outcomes) > 6:
        counts = {}
        for o in outcomes.values():
            counts[o] = counts.get(o, 0) + 1
        return ", ".join(f"{n} {OUTCOME_WORDS.get(o, o)}" for o, n in sorted(counts.items()))
    return ", ".join(f"saga {s} {OUTCOME_WORDS.get(o, o)}" for s, o in outcomes.items())
