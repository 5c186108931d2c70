"""Figures for the app, from ``viz``, cached so the clock only pays for what changes.

Building a plotly figure costs milliseconds (validation), so the app builds each
figure of a run once, keeps it as plain JSON in ``st.cache_data`` (keyed by the
run's inputs), already fitted to half the page, and when the stage reports a new
time only adds the "now" line (and the cover over the future) to a copy of that
JSON. What moves with the clock is drawn by the stage in the browser, not here.

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
CHART_CONFIG = {"displaylogo": False, "scrollZoom": False,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def _light(fig_json: dict) -> go.Figure:
    """A figure from JSON that is already valid (it came out of a plotly figure): no re-validation."""
    return go.Figure(fig_json, _validate=False)


def narrow_json(fig_json: dict, height: int | None = None) -> dict:
    """Fit a figure in half the page (where the app draws them all): the legend at the foot of the figure,
    under the axis numbers and title (not beside the plot, not over the axis). A new dict; ``fig_json`` is left
    as it was."""
    old = fig_json.get("layout", {})
    layout = {**old, "legend": {**old.get("legend", {}), "orientation": "h", "x": 0, "xanchor": "left",
                                "y": 0, "yanchor": "bottom", "yref": "container", "font": {"size": 13}},
              "margin": {"l": 50, "r": 10, "t": 60, "b": 110}}
    if height:
        layout["height"] = height
    return {**fig_json, "layout": layout}


@st.cache_data(show_spinner=False, max_entries=256)
def _figure_json(run_key: tuple, which: str, _run: dict) -> dict:
    return narrow_json(viz.figure(_run, which).to_plotly_json())


def detail_keys(run: dict) -> list:
    """The figures besides the topology this run has (saga log for orchestration, ...)."""
    return [k for k in viz.figure_keys(run) if k != "topology"]


def detail_at(run_key: tuple, run: dict, which: str, t: float, end: float | None = None,
              hide_after: bool = False) -> go.Figure:
    """Figure ``which`` of the run, fitted to half the page, with a "now" line at ``t``; with ``end``, its time
    axis runs from 0 to ``end`` (the same range for both styles); with ``hide_after``, what lies ahead of
    ``t`` is covered (a class is asked what happens next before it sees it)."""
    fig = _figure_json(run_key, which, run)
    axis = NOW_AXIS.get(which)
    if not axis:
        return _light(fig)
    layout = dict(fig["layout"])
    shape, label = viz.now_marks(t, axis)
    shapes = [*layout.get("shapes", ()), shape]
    if end is not None and end > 0:
        span = [-0.02 * end, end * 1.02]
        key = f"{axis}axis"
        layout[key] = {**layout.get(key, {}), "range": span[::-1] if axis == "y" else span, "autorange": False}
        if hide_after and t < end:
            cover = {"type": "rect", "xref": "x" if axis == "x" else "paper", "yref": "y" if axis == "y" else "paper",
                     "fillcolor": "#F2F3F6", "opacity": 0.93, "line": {"width": 0}, "layer": "above"}
            cover.update({"x0": t, "x1": span[1], "y0": 0, "y1": 1} if axis == "x" else
                         {"x0": 0, "x1": 1, "y0": t, "y1": span[1]})
            shapes.append(cover)
    layout["shapes"] = shapes
    layout["annotations"] = [*layout.get("annotations", ()), label]
    return _light({**fig, "layout": layout})


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
