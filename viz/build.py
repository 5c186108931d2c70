"""The one door to the figures of a run: ``figures(run)`` and friends.

A run is one element of ``runs`` in the JSON of contract 4, so a downloaded run
can be shown again. Every function here is pure: the same run gives the same
figures.
"""
from __future__ import annotations

import plotly.graph_objects as go

from . import trace as tr
from .aggregate import load_figures
from .sequence import sequence
from .statefig import state_figure
from .timeline import saga_log, timeline
from .network import topology_frame
from .waitfor import deadlocks, wait_for

BUILDERS = {
    "topology": lambda run, now: topology_frame(run, tr.end_time(run) if now is None else now),
    "sequence": sequence,
    "timeline": timeline,
    "saga_log": saga_log,
    "wait_for": lambda run, now: wait_for(run),
    "state": state_figure,
}


def figure_keys(run: dict) -> list:
    """The figures this run has: saga_log for orchestration, wait_for after a deadlock."""
    keys = ["topology", "sequence", "timeline"]
    if run.get("style") == "orchestration" or any(e.get("kind") == "saga_log" for e in tr.events(run)):
        keys.append("saga_log")
    if deadlocks(run):
        keys.append("wait_for")
    return keys + ["state"]


def figure(run: dict, key: str, now: float | None = None) -> go.Figure:
    """One figure by key; with ``now``, a "now" line (the topology: the snapshot at ``now``, else at the end)."""
    if key not in BUILDERS:
        raise KeyError(f"no figure {key!r}; known: {', '.join(BUILDERS)}")
    return BUILDERS[key](run, now)


def figure_at(run: dict, key: str, t: float) -> go.Figure:
    """The figure ``key`` as it should look at time ``t`` (see :func:`figure`)."""
    return figure(run, key, now=t)


def figures(run: dict, scenario: dict | None = None, now: float | None = None) -> dict:
    """All figures of a run, by key; big runs (over 50 sagas) also get the load aggregates."""
    out = {key: figure(run, key, now) for key in figure_keys(run)}
    title = _scenario_title(scenario)
    if title:
        for fig in out.values():
            fig.update_layout(title_text=f"{fig.layout.title.text} - {title}")
    if len(tr.saga_ids(run)) > tr.BIG_RUN:
        out.update(load_figures(run))
    return out


def _scenario_title(scenario):
    if scenario is None:
        return ""
    get = scenario.get if isinstance(scenario, dict) else lambda k, d=None: getattr(scenario, k, d)
    return str(get("title") or get("name") or "")
