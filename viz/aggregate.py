"""Aggregate figures: choreography against orchestration, and runs of thousands of sagas.

``compare(runs)`` is a grouped bar chart of the runs' metrics. ``load_figures(run)``
draws distributions instead of messages: saga latency (histogram with
percentiles), outcomes, and messages in flight over time (from the events, or
from a series in ``metrics`` for a summary run).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import trace as tr
from .style import (BLUE, DARK, GREY, OUTCOME_COLOURS, PURPLE, SMALL_FONT, base_layout, fmt,
                    note_figure)

COMPARED = ("duration", "messages", "compensations", "retries")
STYLE_COLOURS = {"choreography": PURPLE, "orchestration": BLUE}
PATTERNS = ("", "/", "x", ".", "\\", "+")
MAX_POINTS = 1000
BINS = 40


def _run_name(run, runs):
    style = run.get("style", "run")
    same = [r for r in runs if r.get("style") == style]
    return style if len(same) == 1 else f"{style} (seed {run.get('seed')}, {len(run.get('faults') or [])} faults)"


def compare(runs: list, metrics: tuple = COMPARED) -> go.Figure:
    """Grouped bars: for each metric, one bar per run (colour and hatching per style)."""
    if not runs:
        return note_figure("Comparison", "No runs to compare.")
    fig = go.Figure()
    for i, run in enumerate(runs):
        values = [(run.get("metrics") or {}).get(m) for m in metrics]
        colour = STYLE_COLOURS.get(run.get("style"), GREY)
        fig.add_trace(go.Bar(x=list(metrics), y=values, name=_run_name(run, runs),
                             text=[fmt(float(v)) if v is not None else "n/a" for v in values],
                             textposition="outside", textfont={"size": SMALL_FONT},
                             marker={"color": colour, "pattern": {"shape": PATTERNS[i % len(PATTERNS)]},
                                     "line": {"color": DARK, "width": 1}}))
    base_layout(fig, "Choreography and orchestration compared", barmode="group", height=480,
                yaxis={"title": "value", "rangemode": "tozero"}, bargap=0.25)
    fig.update_yaxes(range=[0, _top(fig)])
    return fig


def _top(fig):
    ys = [float(y) for trace in fig.data for y in trace.y if y is not None]
    return max(ys, default=1.0) * 1.18 or 1.0


# ---------------------------------------------------------------- load runs


def load_figures(run: dict) -> dict:
    """Aggregates of a big run: ``latency``, ``outcomes`` and ``in_flight``."""
    return {"latency": latency_figure(run), "outcomes": outcomes_figure(run),
            "in_flight": in_flight_figure(run)}


def latency_figure(run: dict) -> go.Figure:
    """Histogram of saga latencies (start to end) with p50, p90 and p99 marked."""
    values = [lat for _, _, lat in tr.latencies(run)]
    if not values:
        return _latency_from_metrics(run)
    counts, edges = np.histogram(values, bins=min(BINS, max(1, len(set(values)))))
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centres.round(6).tolist(), y=counts.tolist(), width=float(edges[1] - edges[0]),
                           name="sagas", marker={"color": BLUE, "line": {"color": "white", "width": 1}},
                           hovertemplate="latency %{x}: %{y} sagas<extra></extra>"))
    for q, dash in ((50, "solid"), (90, "dash"), (99, "dot")):
        p = tr.percentile(values, q)
        fig.add_vline(x=p, line={"color": DARK, "width": 2, "dash": dash},
                      annotation={"text": f"p{q} = {fmt(p)}", "font": {"size": SMALL_FONT}})
    base_layout(fig, f"Saga latency ({len(values)} finished sagas)", height=440, bargap=0.05,
                xaxis={"title": "time from start to end"}, yaxis={"title": "sagas"})
    return fig


def _latency_from_metrics(run):
    """A summary run: the percentiles ``metrics`` gives, as bars."""
    m = run.get("metrics") or {}
    lat = m.get("latency") if isinstance(m.get("latency"), dict) else {}
    found = {k: v for k, v in {**m, **lat}.items()
             if isinstance(v, (int, float)) and k.lstrip("latency_").startswith("p")
             and k.lstrip("latency_")[1:].isdigit()}
    if not found:
        return note_figure("Saga latency", "This run has neither events nor latency percentiles.")
    fig = go.Figure(go.Bar(x=list(found), y=list(found.values()), marker={"color": BLUE},
                           text=[fmt(float(v)) for v in found.values()], textposition="outside"))
    return base_layout(fig, "Saga latency percentiles", height=440, yaxis={"title": "time"})


def outcomes_figure(run: dict) -> go.Figure:
    """How many sagas ended in each outcome."""
    counts = {}
    for outcome in (run.get("outcomes") or {}).values():
        counts[outcome] = counts.get(outcome, 0) + 1
    if not counts:
        counts = {k: v for k, v in ((run.get("metrics") or {}).get("outcomes") or {}).items()}
    names = [o for o in OUTCOME_COLOURS if o in counts] + sorted(set(counts) - set(OUTCOME_COLOURS))
    fig = go.Figure(go.Bar(x=names, y=[counts[n] for n in names], text=[counts[n] for n in names],
                           textposition="outside", textfont={"size": SMALL_FONT},
                           marker={"color": [OUTCOME_COLOURS.get(n, GREY) for n in names]}))
    top = max(counts.values(), default=1) * 1.15
    return base_layout(fig, f"Outcomes of {sum(counts.values())} sagas", height=420,
                       yaxis={"title": "sagas", "range": [0, top]})


def in_flight_series(run: dict) -> tuple:
    """(times, counts) of messages in flight, from the events or else from ``metrics``."""
    deltas = []
    for m in tr.messages(run):
        deltas.append((m.sent, 1))
        if m.end is not None:
            deltas.append((m.end, -1))
    if not deltas:
        return _metrics_series(run.get("metrics") or {}, ("in_flight", "messages_in_flight"))
    deltas.sort()
    times, counts, n = [], [], 0
    for t, d in deltas:
        n += d
        if times and times[-1] == t:
            counts[-1] = n
        else:
            times.append(t)
            counts.append(n)
    return _peaks(times, counts)


def _metrics_series(metrics, names):
    for name in names:
        s = metrics.get(name)
        if isinstance(s, dict) and "t" in s:
            values = next((s[k] for k in ("n", "value", "values", "count") if k in s), [])
            return list(s["t"]), list(values)
        if isinstance(s, list) and s and isinstance(s[0], (list, tuple)):
            return [p[0] for p in s], [p[1] for p in s]
    return [], []


def _peaks(times, counts, limit=MAX_POINTS):
    """At most ``limit`` points; each kept point is the highest of its stretch (peaks survive)."""
    if len(times) <= limit:
        return times, counts
    size = -(-len(times) // limit)
    return ([times[i] for i in range(0, len(times), size)],
            [max(counts[i:i + size]) for i in range(0, len(times), size)])


def in_flight_figure(run: dict) -> go.Figure:
    """Messages in flight over time (a step line)."""
    times, counts = in_flight_series(run)
    if not times:
        return note_figure("Messages in flight", "This run has neither events nor an in-flight series.")
    fig = go.Figure(go.Scatter(x=times, y=counts, mode="lines", line_shape="hv", fill="tozeroy",
                               line={"color": BLUE, "width": 2}, name="in flight",
                               hovertemplate="t=%{x}: %{y} in flight<extra></extra>"))
    return base_layout(fig, "Messages in flight over time", height=420,
                       xaxis={"title": "time"}, yaxis={"title": "messages", "rangemode": "tozero"})
