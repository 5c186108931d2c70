"""Aggregate figures: choreography against orchestration, and runs of thousands of sagas.

``compare(runs)`` puts the runs' metrics side by side, one panel (and axis) per metric. ``load_figures(run)``
draws distributions instead of messages: saga latency (histogram with
percentiles), outcomes, and messages in flight over time (from the events, or
from a series in ``metrics`` for a summary run).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import trace as tr
from .style import (BLUE, DARK, GREY, OUTCOME_COLOURS, PURPLE, SKY, SMALL_FONT, base_layout, fmt,
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


METRIC_TITLES = {"duration": "Duration<br>(time units)", "messages": "Messages<br>delivered",
                 "compensations": "Compen-<br>sations", "retries": "Retries", "timeouts": "Timeouts",
                 "p50": "Latency<br>p50", "p95": "Latency<br>p95", "p99": "Latency<br>p99",
                 "throughput": "Throughput<br>(sagas/time)"}


def compare(runs: list, metrics: tuple = COMPARED) -> go.Figure:
    """One small panel per metric, each on its own axis (a duration and a count never share one), with one
    bar per run (colour and hatching per style); each bar's trace carries its metric in ``meta``."""
    if not runs:
        return note_figure("Comparison", "No runs to compare.")
    fig = make_subplots(rows=1, cols=len(metrics), horizontal_spacing=0.1,
                        subplot_titles=[METRIC_TITLES.get(m, m) for m in metrics])
    for col, metric in enumerate(metrics, 1):
        values = [(run.get("metrics") or {}).get(metric) for run in runs]
        top = max((float(v) for v in values if v is not None), default=0.0) * 1.25 or 1.0
        for i, (run, value) in enumerate(zip(runs, values)):
            name = _run_name(run, runs)
            fig.add_trace(go.Bar(x=[name], y=[value], name=name, meta=metric, legendgroup=name, showlegend=col == 1,
                                 text=[fmt(float(value)) if value is not None else "n/a"], textposition="outside",
                                 textfont={"size": SMALL_FONT}, cliponaxis=False,
                                 marker={"color": STYLE_COLOURS.get(run.get("style"), GREY),
                                         "pattern": {"shape": PATTERNS[i % len(PATTERNS)]},
                                         "line": {"color": DARK, "width": 1}}), row=1, col=col)
        fig.update_yaxes(range=[0, top], row=1, col=col)
    base_layout(fig, "Choreography and orchestration compared", height=440, bargap=0.3, margin={"t": 110},
                legend={"orientation": "h", "x": 0, "y": 0, "yref": "container", "yanchor": "bottom"})
    fig.update_xaxes(showticklabels=False)
    fig.update_annotations(font={"size": SMALL_FONT})
    return fig


# ---------------------------------------------------------------- load runs


def load_figures(run: dict) -> dict:
    """Aggregates of a big run: ``latency``, ``outcomes`` and ``in_flight``."""
    return {"latency": latency_figure(run), "outcomes": outcomes_figure(run),
            "in_flight": in_flight_figure(run)}


def latency_figure(run: dict) -> go.Figure:
    """Histogram of saga latencies (start to end), stacked by outcome, with p50, p90 and p99 marked."""
    lats = tr.latencies(run)
    values = [lat for _, _, lat in lats]
    if not values:
        return _latency_from_metrics(run)
    edges = np.histogram_bin_edges(values, bins=min(BINS, max(1, len(set(values)))))
    centres = ((edges[:-1] + edges[1:]) / 2).round(6).tolist()
    fig = go.Figure()
    for outcome in dict.fromkeys(o for _, o, _ in lats):
        counts, _ = np.histogram([lat for _, o, lat in lats if o == outcome], bins=edges)
        fig.add_trace(go.Bar(x=centres, y=counts.tolist(), width=float(edges[1] - edges[0]), name=outcome,
                             marker={"color": OUTCOME_COLOURS.get(outcome, GREY),
                                     "line": {"color": "white", "width": 1}},
                             hovertemplate=f"{outcome}, latency %{{x}}: %{{y}} sagas<extra></extra>"))
    for i, (q, dash) in enumerate(((50, "solid"), (90, "dash"), (99, "dot"))):
        p = tr.percentile(values, q)
        fig.add_vline(x=p, line={"color": DARK, "width": 2, "dash": dash})
        fig.add_annotation(x=p, y=1 - 0.09 * i, yref="paper", xanchor="left", showarrow=False,
                           text=f" p{q} = {fmt(p)}", font={"size": SMALL_FONT}, bgcolor="rgba(255,255,255,0.8)")
    base_layout(fig, f"Saga latency ({len(values)} finished sagas)", height=440, bargap=0.05,
                barmode="stack", xaxis={"title": "time from start to end"}, yaxis={"title": "sagas"})
    return fig


def _latency_from_metrics(run):
    """A summary run: the percentiles ``metrics`` gives, as bars."""
    m = run.get("metrics") or {}
    lat = m.get("latency") if isinstance(m.get("latency"), dict) else {}
    found = {k: v for k, v in {**m, **lat}.items() if isinstance(v, (int, float)) and _is_percentile(k)}
    if not found:
        return note_figure("Saga latency", "This run has neither events nor latency percentiles.")
    fig = go.Figure(go.Bar(x=list(found), y=list(found.values()), marker={"color": BLUE},
                           text=[fmt(float(v)) for v in found.values()], textposition="outside"))
    return base_layout(fig, "Saga latency percentiles", height=440, yaxis={"title": "time"})


def _is_percentile(key):
    key = key.removeprefix("latency_")
    return key[:1] == "p" and key[1:].isdigit()


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


def in_flight_series(run: dict, limit: int | None = MAX_POINTS) -> tuple:
    """(times, counts) of messages in flight after each instant, from the events or else ``metrics``.

    At most ``limit`` points (None: all); a kept point is the highest of its stretch.
    """
    deltas = []
    for m in tr.messages(run):
        deltas.append((m.sent, 1))
        if m.end is not None:
            deltas.append((m.end, -1))
    if not deltas:
        return _metrics_series(run.get("metrics") or {})
    deltas.sort()
    times, counts, n = [], [], 0
    for t, d in deltas:
        n += d
        if times and times[-1] == t:
            counts[-1] = n
        else:
            times.append(t)
            counts.append(n)
    return _peaks(times, counts, limit) if limit else (times, counts)


def _metrics_series(metrics):
    """A summary run: ``metrics.series`` = {"t": [...], "in_broker": [...]} sampled by the engine."""
    series = metrics.get("series") or {}
    if isinstance(series, dict) and series.get("t") and series.get("in_broker"):
        times, counts = list(series["t"]), list(series["in_broker"])
        # the engine samples as messages are sent, and once more when the run stops (at its horizon): that
        # last sample holds from the run's last event on, not from the sample before it (else a message
        # seemed in flight for hundreds of time units after everything had ended)
        end = metrics.get("duration")
        if isinstance(end, (int, float)) and len(times) > 1 and times[-2] <= end < times[-1]:
            times[-1] = end
        return times, counts
    return [], []


def _peaks(times, counts, limit=MAX_POINTS):
    """At most ``limit`` points; each kept point is the highest of its stretch (peaks survive)."""
    if len(times) <= limit:
        return times, counts
    size = -(-len(times) // limit)
    return ([times[i] for i in range(0, len(times), size)],
            [max(counts[i:i + size]) for i in range(0, len(times), size)])


def time_average(times: list, counts: list, buckets: int = 100) -> tuple:
    """The step function (times, counts) averaged over ``buckets`` equal stretches of time."""
    t = np.asarray(times, dtype=float)
    if len(t) < 2 or t[-1] <= t[0]:
        return list(times), list(counts)
    edges = np.linspace(t[0], t[-1], buckets + 1)
    area = np.concatenate([[0.0], np.cumsum(np.diff(t) * np.asarray(counts[:-1], dtype=float))])
    at_edges = np.interp(edges, t, area)     # the integral is piecewise linear: interpolation is exact
    means = np.diff(at_edges) / np.diff(edges)
    return ((edges[:-1] + edges[1:]) / 2).round(6).tolist(), means.round(3).tolist()


def in_flight_figure(run: dict) -> go.Figure:
    """Messages in flight over time: the peaks (a step line) and the average (a dark line)."""
    times, counts = in_flight_series(run, limit=None)
    if not times:
        return note_figure("Messages in flight", "This run has neither events nor an in-flight series.")
    peak_t, peak_n = _peaks(times, counts, MAX_POINTS)
    mean_t, mean_n = time_average(times, counts)
    fig = go.Figure([
        go.Scatter(x=peak_t, y=peak_n, mode="lines", line_shape="hv", fill="tozeroy", name="in flight (peaks)",
                   line={"color": SKY, "width": 1}, hovertemplate="t=%{x}: %{y} in flight<extra></extra>"),
        go.Scatter(x=mean_t, y=mean_n, mode="lines", name="average", line={"color": DARK, "width": 3},
                   hovertemplate="around t=%{x}: %{y} on average<extra></extra>")])
    return base_layout(fig, "Messages in flight over time", height=420,
                       xaxis={"title": "time"}, yaxis={"title": "messages", "rangemode": "tozero"})
