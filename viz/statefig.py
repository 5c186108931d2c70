"""Balances, stock and order states over time, as step lines derived from the events.

Three stacked panels sharing the time axis: each customer's balance, each
item's available stock, and how many orders are PENDING, APPROVED or REJECTED.
"""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import trace as tr
from .style import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, VERMILLION, YELLOW, base_layout

SERIES_COLOURS = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, YELLOW, GREY)
ORDER_COLOURS = {"PENDING": SKY, "APPROVED": GREEN, "REJECTED": VERMILLION}
ORDER_DASH = {"PENDING": "dot", "APPROVED": "solid", "REJECTED": "dash"}
MAX_POINTS = 1000


def _sample(series, limit=MAX_POINTS):
    """At most ``limit`` changes (keeping the first and the last), for runs of many sagas."""
    if len(series) <= limit:
        return series
    step = len(series) / (limit - 1)
    return [series[int(i * step)] for i in range(limit - 1)] + [series[-1]]


def _panel_traces(series, end, panel, names, colour_of, dash_of=None):
    """One step line per name in one panel of the state (balances, stock or order counts)."""
    out = []
    for i, name in enumerate(names):
        xs = [t for t, _ in series] + [end]
        ys = [_value(s, panel, name) for _, s in series]
        ys.append(ys[-1])
        out.append(go.Scatter(x=xs, y=ys, mode="lines", line_shape="hv", name=str(name),
                              legendgroup=panel, legendgrouptitle={"text": panel},
                              line={"color": colour_of(i, name), "width": 3,
                                    "dash": dash_of(name) if dash_of else "solid"},
                              hovertemplate=f"{name}: %{{y}} at t=%{{x}}<extra></extra>"))
    return out


def _value(state, panel, name):
    if panel == "orders":
        return sum(1 for v in state["orders"].values() if v == name)
    return state[panel].get(name, 0)


def state_figure(run: dict, now: float | None = None) -> go.Figure:
    """Balances, stock and order-state counts over the run."""
    series = _sample(tr.state_series(run))
    end = max(tr.end_time(run), series[-1][0])
    final = series[-1][1]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Balances (money)", "Stock (available units)",
                                        "Orders by state (count)"))
    panels = (("balances", sorted(final["balances"])), ("stock", sorted(final["stock"])),
              ("orders", [s for s in ORDER_COLOURS if any(_value(st, "orders", s) for _, st in series)]))
    for row, (panel, names) in enumerate(panels, start=1):
        colour = (lambda i, n: ORDER_COLOURS[n]) if panel == "orders" else (
            lambda i, n: SERIES_COLOURS[i % len(SERIES_COLOURS)])
        dash = ORDER_DASH.get if panel == "orders" else None
        fig.add_traces(_panel_traces(series, end, panel, names, colour, dash), rows=row, cols=1)
    base_layout(fig, "State over time", height=760, hovermode="x unified")
    fig.update_annotations(font={"size": 16})
    fig.update_xaxes(range=[0, end * 1.03 + 0.1])
    fig.update_xaxes(title="time", row=3, col=1)
    fig.update_layout(legend={"tracegroupgap": 140})
    if now is not None:
        for row in (1, 2, 3):
            fig.add_vline(x=now, line={"color": "#333333", "width": 2, "dash": "dot"}, row=row, col=1)
    return fig

