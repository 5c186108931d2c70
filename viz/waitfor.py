"""The wait-for graph of a deadlock: who waits for whom, with the detected cycle in vermillion.

Nodes and cycle come from ``deadlock_detected`` (``detail.cycle``, in order:
each node waits for the next, the last for the first); other waits seen in
``lock_waiting`` events are grey. The victim, if any, is ringed.
"""
from __future__ import annotations

import math

import networkx as nx
import plotly.graph_objects as go

from . import trace as tr
from .style import DARK, GREY, SMALL_FONT, VERMILLION, base_layout, fmt, note_figure


def deadlocks(run: dict) -> list:
    """The ``deadlock_detected`` events that name a cycle."""
    return [e for e in tr.events(run) if e.get("kind") == "deadlock_detected"
            and tr.detail(e).get("cycle")]


def cycle_edges(cycle: list) -> list:
    """[a, b, c] -> [(a, b), (b, c), (c, a)]: each waits for the next."""
    return [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]


def wait_graph(run: dict) -> nx.DiGraph:
    """Every detected cycle's edges (``cycle=True``), plus waits from lock_waiting events."""
    g = nx.DiGraph()
    for e in deadlocks(run):
        cycle = [str(n) for n in tr.detail(e)["cycle"]]
        g.add_nodes_from(cycle)
        for a, b in cycle_edges(cycle):
            g.add_edge(a, b, cycle=True)
    saga_nodes = any(n.startswith("saga ") for n in g)
    for e in tr.events(run):
        holder = tr.detail(e).get("holder")
        if e.get("kind") == "lock_waiting" and saga_nodes and holder is not None:
            a, b = f"saga {e.get('saga')}", f"saga {holder}"
            if a != b and not g.has_edge(a, b):
                g.add_edge(a, b, cycle=False, item=tr.detail(e).get("item"))
    return g


def wait_for(run: dict) -> go.Figure:
    """The wait-for graph with the detected cycle highlighted (a note if there was no deadlock)."""
    found = deadlocks(run)
    if not found:
        return note_figure("Wait-for graph", "No deadlock was detected in this run.")
    g = wait_graph(run)
    pos = _layout(g, [str(n) for n in tr.detail(found[0])["cycle"]])
    victims = {str(tr.detail(e).get("victim")) for e in found if tr.detail(e).get("victim") is not None}
    fig = go.Figure([_edges(g, pos, False), *_cycles(found, pos), _nodes(g, pos, victims),
                     _wait_labels(found[0], pos)])
    for a, b, data in g.edges(data=True):
        _arrowhead(fig, pos[a], pos[b], VERMILLION if data["cycle"] else GREY)
    first = tr.detail(found[0])
    title = (f"Deadlock at t={fmt(float(found[0]['t']))}: "
             + " waits for ".join(str(n) for n in first["cycle"] + first["cycle"][:1]))
    base_layout(fig, title, height=560, hovermode="closest")
    fig.update_xaxes(visible=False, range=[-1.6, 1.6])
    fig.update_yaxes(visible=False, range=[-1.45, 1.45], scaleanchor="x", scaleratio=1)
    return fig


def _layout(g, first_cycle):
    """The first cycle clockwise from the top, other nodes on an outer ring."""
    pos = {}
    for ring, radius in ((first_cycle, 1.0), ([n for n in g if n not in first_cycle], 1.35)):
        for k, n in enumerate(ring):
            a = math.pi / 2 - 2 * math.pi * k / len(ring) + (0.0 if radius == 1.0 else 0.4)
            pos[n] = (math.cos(a) * radius, math.sin(a) * radius)
    return pos


def _shorten(a, b, by=0.2):
    d = math.dist(a, b) or 1.0
    f = by / d
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f), (b[0] + (a[0] - b[0]) * f,
                                                                    b[1] + (a[1] - b[1]) * f)


def _edges(g, pos, cycle):
    xs, ys = [], []
    for a, b, data in g.edges(data=True):
        if data["cycle"] == cycle:
            p, q = _shorten(pos[a], pos[b])
            xs += [p[0], q[0], None]
            ys += [p[1], q[1], None]
    return go.Scatter(x=xs, y=ys, mode="lines", name="other waits", hoverinfo="skip",
                      line={"color": GREY, "width": 2, "dash": "dot"}, showlegend=bool(xs))


def _cycles(found, pos):
    """One closed path per detected cycle, through its nodes in order (customdata: the nodes)."""
    out = []
    for i, e in enumerate(found):
        cycle = [str(n) for n in tr.detail(e)["cycle"]]
        path = cycle + cycle[:1]
        out.append(go.Scatter(
            x=[pos[n][0] for n in path], y=[pos[n][1] for n in path], mode="lines", customdata=path,
            name=f"cycle at t={fmt(float(e['t']))}", legendgroup="cycle", showlegend=i == 0,
            line={"color": VERMILLION, "width": 5}, hoverinfo="text",
            hovertext=[f"{a} waits for {b}" for a, b in zip(path, path[1:])] + [""]))
    return out


def _wait_labels(event, pos):
    """What each node of the cycle waits for (a lock's item), beside its edge; empty if unknown."""
    d = tr.detail(event)
    cycle, items = [str(n) for n in d["cycle"]], d.get("items") or []
    xs, ys, text, where = [], [], [], []
    for (a, b), item in zip(cycle_edges(cycle), items):
        (ax, ay), (bx, by) = pos[a], pos[b]
        length = math.dist(pos[a], pos[b]) or 1.0
        right = ((by - ay) / length, -(bx - ax) / length)     # to the right of a -> b
        xs.append((ax + bx) / 2 + right[0] * 0.06)
        ys.append((ay + by) / 2 + right[1] * 0.06)
        text.append(f"{a} wants {item}")
        where.append(("middle right" if right[0] > 0 else "middle left") if abs(right[0]) > abs(right[1])
                     else ("top center" if right[1] > 0 else "bottom center"))
    return go.Scatter(x=xs, y=ys, mode="text", text=text, textposition=where, name="waits for",
                      showlegend=False,
                      textfont={"size": SMALL_FONT + 2, "color": VERMILLION}, hoverinfo="skip")


def _nodes(g, pos, victims):
    nodes = list(g)
    return go.Scatter(
        x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text", name="nodes",
        text=[f"<b>{n}</b>" + ("<br>(victim)" if n in victims else "") for n in nodes],
        textposition="middle center", textfont={"size": SMALL_FONT + 2}, showlegend=False,
        marker={"size": 100, "color": "white",
                "line": {"color": [VERMILLION if n in victims else DARK for n in nodes],
                         "width": [7 if n in victims else 3 for n in nodes]}},
        hovertext=[f"{n} waits for " + ", ".join(g.successors(n)) for n in nodes], hoverinfo="text")


def _arrowhead(fig, a, b, colour):
    p, q = _shorten(a, b, by=0.24)
    fig.add_annotation(x=q[0], y=q[1], ax=p[0], ay=p[1], xref="x", yref="y", axref="x", ayref="y",
                       showarrow=True, arrowhead=3, arrowsize=1.6, arrowwidth=3, arrowcolor=colour, text="")
