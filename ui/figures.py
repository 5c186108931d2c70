"""Figures for the app, from ``viz``, cached so the clock only pays for what changes.

Building a plotly figure costs milliseconds (validation), so the app builds each
figure of a run once, keeps it as plain JSON in ``st.cache_data`` (keyed by the
run's inputs), already fitted to half the page, and on a clock tick only adds the
"now" line to a copy of that JSON. The service graph changes with time: a run's
:class:`viz.Topology` is built once and each snapshot only builds the moving traces.

Nothing here rebuilds a figure that did not change, and a figure that did not
change reaches the browser as the same JSON, which the browser does not redraw:
after an injection, only what the fault changes is drawn again.
"""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

import viz


# which way the "now" line runs in each figure: a time axis across (x) or down (y)
NOW_AXIS = {"sequence": "y", "timeline": "x", "saga_log": "x", "state": "x"}
DETAIL_LABELS = {"sequence": "Sequence diagram", "timeline": "Timeline", "saga_log": "Saga log",
                 "wait_for": "Wait-for graph", "state": "Balances and stock over time"}
CHART_CONFIG = {"displaylogo": False, "scrollZoom": False,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
TOPOLOGY_HEIGHT = 640


def _light(fig_json: dict) -> go.Figure:
    """A figure from JSON that is already valid (it came out of a plotly figure): no re-validation."""
    return go.Figure(fig_json, _validate=False)


def narrow_json(fig_json: dict, height: int | None = None) -> dict:
    """Fit a figure in half the page (where the app draws them all): the legend under the plot, not beside
    it. A new dict; ``fig_json`` is left as it was."""
    old = fig_json.get("layout", {})
    layout = {**old, "legend": {**old.get("legend", {}), "orientation": "h", "y": -0.02, "yanchor": "top", "x": 0,
                                "font": {"size": 13}},
              "margin": {"l": 50, "r": 10, "t": 60, "b": 10}}
    if height:
        layout["height"] = height
    return {**fig_json, "layout": layout}


@st.cache_data(show_spinner=False, max_entries=256)
def _figure_json(run_key: tuple, which: str, _run: dict) -> dict:
    return narrow_json(viz.figure(_run, which).to_plotly_json())


@st.cache_resource(show_spinner=False, max_entries=64)
def _topology(run_key: tuple, _run: dict) -> viz.Topology:
    return viz.Topology(_run)


@st.cache_data(show_spinner=False, max_entries=2000)
def _topology_json(run_key: tuple, t: float, _run: dict) -> dict:
    return narrow_json(_topology(run_key, _run).at_json(t), TOPOLOGY_HEIGHT)


def detail_keys(run: dict) -> list:
    """The figures besides the topology this run has (saga log for orchestration, ...)."""
    return [k for k in viz.figure_keys(run) if k != "topology"]


def detail_at(run_key: tuple, run: dict, which: str, t: float) -> go.Figure:
    """Figure ``which`` of the run, fitted to half the page, with a "now" line at ``t``."""
    fig = _figure_json(run_key, which, run)
    axis = NOW_AXIS.get(which)
    if axis:
        shape, label = viz.now_marks(t, axis)
        layout = fig["layout"]
        fig = {**fig, "layout": {**layout, "shapes": [*layout.get("shapes", ()), shape],
                                 "annotations": [*layout.get("annotations", ()), label]}}
    return _light(fig)


def topology_at(run_key: tuple, run: dict, t: float) -> go.Figure:
    """The services and the messages in flight at ``t`` (to 1/20 of a time unit, so replays hit the cache),
    fitted to half the page."""
    return _light(_topology_json(run_key, round(float(t) * 20) / 20, run))


@st.cache_data(show_spinner=False, max_entries=128)
def _compare_json(keys: tuple, metrics: tuple | None, _runs: list) -> dict:
    return (viz.compare(_runs, metrics) if metrics else viz.compare(_runs)).to_plotly_json()


def compare(keys: tuple, runs: list, metrics: tuple | None = None) -> go.Figure:
    """Grouped bars of the runs' metrics (``viz.compare``'s choice unless ``metrics`` names them)."""
    return _light(_compare_json(keys, metrics, runs))


@st.cache_data(show_spinner=False, max_entries=32)
def _load_json(run_key: tuple, _run: dict) -> dict:
    return {name: fig.to_plotly_json() for name, fig in viz.load_figures(_run).items()}


def load_figures(run_key: tuple, run: dict) -> dict:
    return {name: _light(j) for name, j in _load_json(run_key, run).items()}


def show(fig: go.Figure, key: str, static: bool = False) -> None:
    """Draw a figure. ``static`` (while the clock runs): no hover or zoom, so the browser redraws it faster."""
    st.plotly_chart(fig, key=key, width="stretch", theme=None, config={**CHART_CONFIG, "staticPlot": static})
