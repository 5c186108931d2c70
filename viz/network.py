"""The service graph: broker in the centre, services around it, messages as tokens.

``topology_frame(run, t)`` is one snapshot (the app redraws it on its own
clock; the browser's stage animates the run itself). A token travels src -> broker -> dst;
it waits at the broker while its receiver is down. A dropped message turns into
a cross for a moment; the broker's duplicate copy is a second, diamond token.
"""
from __future__ import annotations

import math
from dataclasses import astuple

import networkx as nx
import numpy as np
import plotly.graph_objects as go

from sim.scenario import step_messages

from . import trace as tr
from .style import (DARK, DUPLICATE_COLOUR, FLOW_COLOURS, FLOW_LABELS, SMALL_FONT,
                    STATUS_COLOURS, STATUS_SYMBOLS, VERMILLION, base_layout, fmt, legend_entry)

MAX_TOKENS = 60          # more tokens than this at once: draw counts per spoke instead
MAX_TOKEN_LABELS = 10
DYNAMIC_TRACES = ("nodes", "tokens", "dropped", "counts")


# ---------------------------------------------------------------- layout


def positions(run: dict) -> dict:
    """Fixed coordinates: broker at (0, 0), the ring clockwise from the top."""
    ring = tr.participants(run)
    pos = {tr.BROKER: (0.0, 0.0)}
    for k, name in enumerate(ring):
        angle = math.pi / 2 - 2 * math.pi * k / max(len(ring), 1)
        pos[name] = (round(math.cos(angle), 6), round(math.sin(angle), 6))
    return pos


def talk_graph(run: dict, msgs: list | None = None) -> nx.DiGraph:
    """Who talks to whom: subscriptions (and, in orchestration, replies), plus messages seen."""
    g = nx.DiGraph()
    steps = [s["name"] for s in run.get("steps") or []] or list(run.get("services") or [])
    publisher = {name: step for step in steps for name in astuple(step_messages(step))}
    orchestrated = run.get("style") == "orchestration"
    for service, names in (run.get("subscriptions") or {}).items():
        for name in names:
            src = tr.ORCHESTRATOR if orchestrated and service != tr.ORCHESTRATOR else publisher.get(name)
            if src and src != service:
                _add_message_edge(g, src, service, name)
    for m in tr.messages(run) if msgs is None else msgs:
        if not m.duplicate and m.src != m.dst:
            _add_message_edge(g, m.src, m.dst, m.message)
    return g


def _add_message_edge(g, src, dst, name):
    if not g.has_edge(src, dst):
        g.add_edge(src, dst, messages=[])
    if name not in g[src][dst]["messages"]:
        g[src][dst]["messages"].append(name)


def _lerp(a, b, f):
    f = min(max(f, 0.0), 1.0)
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)


def _arc(a, b, bend=0.3, n=16):
    """Points on a curve from a to b bulging to the right of the direction (so a->b and b->a part)."""
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    dx, dy = b[0] - a[0], b[1] - a[1]
    cx, cy = mx + dy * bend, my - dx * bend
    pts = []
    for i in range(n + 1):
        s = i / n
        pts.append(((1 - s) ** 2 * a[0] + 2 * (1 - s) * s * cx + s * s * b[0],
                    (1 - s) ** 2 * a[1] + 2 * (1 - s) * s * cy + s * s * b[1]))
    return pts


# ---------------------------------------------------------------- static traces


def _static_traces(run, pos, msgs):
    ring = [n for n in pos if n != tr.BROKER]
    xs, ys = [], []
    for name in ring:
        xs += [0.0, pos[name][0], None]
        ys += [0.0, pos[name][1], None]
    spokes = go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#DDDDDD", "width": 6},
                        hoverinfo="skip", showlegend=False, name="spokes")
    return [spokes] + _talk_traces(talk_graph(run, msgs), pos) + [_broker_trace()]


def _talk_traces(graph, pos):
    """Who-talks-to-whom as faint curved arrows, the message names in the hover text."""
    xs, ys, sizes, hover = [], [], [], []
    for src, dst, data in sorted(graph.edges(data=True)):
        if src not in pos or dst not in pos:
            continue
        pts = _arc(_shrink(pos[src], pos[dst]), _shrink(pos[dst], pos[src]))
        xs += [p[0] for p in pts] + [None]
        ys += [p[1] for p in pts] + [None]
        sizes += [0] * (len(pts) - 1) + [14, 0]
        text = f"{src} -> {dst}: " + ", ".join(data["messages"])
        hover += [text] * len(pts) + [None]
    if not xs:
        return []
    return [go.Scatter(x=xs, y=ys, mode="lines+markers", name="who talks to whom",
                       line={"color": "#BBBBBB", "width": 1.5, "dash": "dot"},
                       marker={"symbol": "arrow", "angleref": "previous", "size": sizes,
                               "color": "#AAAAAA"},
                       hovertext=hover, hoverinfo="text", legendgroup="graph",
                       legendgrouptitle={"text": "graph"})]


def _shrink(a, b, by=0.16):
    """A point just outside node a on the way to b (so arrows do not hide under nodes)."""
    d = math.dist(a, b) or 1.0
    return _lerp(a, b, by / d)


def _broker_trace():
    return go.Scatter(x=[0.0], y=[0.0], mode="markers+text", text=["broker"], name="broker",
                      textposition="middle center", textfont={"size": SMALL_FONT},
                      marker={"symbol": "square", "size": 64, "color": "#EEEEEE",
                              "line": {"color": DARK, "width": 2}},
                      hovertext=["broker: every message passes through it"], hoverinfo="text",
                      showlegend=False)


def _legend_traces(many=False):
    out = [legend_entry(FLOW_LABELS[f], "messages", marker={"color": c, "size": 14})
           for f, c in FLOW_COLOURS.items()]
    out.append(legend_entry("duplicate copy", "messages",
                            marker={"color": DUPLICATE_COLOUR, "size": 14, "symbol": "diamond"}))
    out.append(legend_entry("dropped (lost)", "messages",
                            marker={"color": VERMILLION, "size": 16, "symbol": "x"}))
    if many:
        out.append(legend_entry("N on their way to a service", "messages", marker={"color": DARK, "size": 18}))
    out += [legend_entry(s, "service state", marker={"color": c, "size": 16, "symbol": STATUS_SYMBOLS[s],
                                                     "line": {"color": DARK, "width": 2}})
            for s, c in STATUS_COLOURS.items()]
    return out


# ---------------------------------------------------------------- dynamic traces


class _Context:
    """What every frame needs, computed once per run."""

    def __init__(self, run):
        self.pos = positions(run)
        self.ring = [n for n in self.pos if n != tr.BROKER]
        self.msgs = tr.messages(run)
        self.hop = tr.hop_time(self.msgs)
        self.statuses = tr.Statuses(tr.activity(run))
        self.flash = self.statuses.flash
        self.dropped = [m for m in self.msgs if m.fate == "dropped"]
        self.sent = np.array([m.sent for m in self.msgs])
        self.end = np.array([math.inf if m.end is None else m.end for m in self.msgs])
        self.many = len(tr.saga_ids(run)) > tr.BIG_RUN


def _dynamic_traces(ctx, t):
    """Nodes, tokens, drop crosses and (for big runs) counts per spoke, at time t."""
    flying = [ctx.msgs[i] for i in np.flatnonzero((ctx.sent <= t) & (t < ctx.end))]
    aggregate = ctx.many or len(flying) > MAX_TOKENS
    return [_node_trace(ctx, t),
            _token_trace([] if aggregate else flying, ctx, t),
            _dropped_trace(ctx, t),
            _count_trace(flying if aggregate else [], ctx)]


def _node_trace(ctx, t):
    status = {n: ctx.statuses.at(n, t) for n in ctx.ring}
    if ctx.many:
        status = {n: s + (f" x{ctx.statuses.busy(n, t)}" if s in ("working", "compensating") else "")
                  for n, s in status.items()}
    return go.Scatter(
        x=[ctx.pos[n][0] for n in ctx.ring], y=[ctx.pos[n][1] for n in ctx.ring],
        mode="markers+text", name="nodes", showlegend=False,
        text=[f"<b>{n}</b><br>{status[n]}" for n in ctx.ring],
        # the name and state away from the broker: above the top service, below the others
        textposition=["top center" if ctx.pos[n][1] > 0.5 else "bottom center" for n in ctx.ring],
        cliponaxis=False,
        textfont={"size": SMALL_FONT + 2},
        marker={"size": 52, "color": [STATUS_COLOURS[status[n].split()[0]] for n in ctx.ring],
                "symbol": [STATUS_SYMBOLS[status[n].split()[0]] for n in ctx.ring],
                "line": {"color": DARK, "width": 3}},
        hovertext=[f"{n}: {status[n]} at t={fmt(t)}" for n in ctx.ring], hoverinfo="text")


def token_position(m: tr.Message, t: float, pos: dict, hop: float) -> tuple:
    """Where a token is at t: first leg src->broker, a wait at the broker, last leg broker->dst."""
    src, mid, dst = pos.get(m.src, (0.0, 0.0)), (0.0, 0.0), pos.get(m.dst, (0.0, 0.0))
    total = (m.end - m.sent) if m.end is not None else math.inf
    first = 0.0 if m.duplicate else min(hop, total / 2)
    last = min(hop, total / 2) if m.fate == "delivered" else 0.0
    if t - m.sent < first:
        return _lerp(src, mid, (t - m.sent) / first)
    if m.end is not None and last > 0 and m.end - t < last:
        return _lerp(mid, dst, 1 - (m.end - t) / last)
    return mid


def _token_trace(flying, ctx, t):
    pts = [token_position(m, t, ctx.pos, ctx.hop) for m in flying]
    copies = [m.duplicate and not m.redelivery for m in flying]
    pts, text = _queue(flying, pts, ctx.pos)
    pts = _spread(pts, copies)
    label = len(flying) <= MAX_TOKEN_LABELS
    return go.Scatter(
        x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers+text" if label else "markers",
        name="tokens", showlegend=False, customdata=[m.msg_id for m in flying],
        text=text if label else None, textposition=_text_side(pts),
        textfont={"size": SMALL_FONT},
        marker={"size": [18 if c else 16 for c in copies],
                "color": [DUPLICATE_COLOUR if c else FLOW_COLOURS[m.flow] for m, c in zip(flying, copies)],
                "symbol": ["diamond" if c else "circle" for c in copies],
                "line": {"color": "white", "width": 1.5}},
        hovertext=[_token_hover(m) for m in flying], hoverinfo="text")


def _token_hover(m):
    copy = " (held for redelivery)" if m.redelivery else " (duplicate copy)" if m.duplicate else ""
    return (f"{m.message}{copy} #{m.msg_id}, saga {m.saga}<br>{m.src} -> broker -> {m.dst}"
            f"<br>{m.flow}, sent t={fmt(m.sent)}")


def _queue(flying, pts, pos):
    """Tokens waiting in the broker line up on their receiver's spoke; the first says how many."""
    waiting = {}
    for i, p in enumerate(pts):
        if p == (0.0, 0.0):
            waiting.setdefault(flying[i].dst, []).append(i)
    pts, text = list(pts), [m.message for m in flying]
    for dst, queue in waiting.items():
        for k, i in enumerate(queue):
            pts[i] = _lerp((0.0, 0.0), pos.get(dst, (0.0, 0.0)), min(0.24 + 0.085 * k, 0.64))
            last = k == len(queue) - 1
            text[i] = "" if not last else (text[i] if len(queue) == 1 else f"{len(queue)} waiting for {dst}")
    return pts, text


def _text_side(pts):
    """Labels point away from the centre, so they do not cover the broker."""
    return ["middle left" if x < -0.05 else "middle right" for x, _ in pts]


def _spread(pts, duplicates, step=0.07):
    """Tokens on the same spot fan out around it, so two never look like one."""
    seen, out = {}, []
    for (x, y), dup in zip(pts, duplicates):
        key = (round(x, 3), round(y, 3))
        k = seen.get(key, 0)
        seen[key] = k + 1
        if k == 0 and not dup:
            out.append((x, y))
            continue
        angle = math.pi / 4 + k * 2.4
        r = step * (1 + k // 6)
        out.append((x + r * math.cos(angle), y + r * math.sin(angle)))
    return out


def _dropped_trace(ctx, t):
    """Messages dropped within the last moment, as crosses where they vanished."""
    window = max(2 * ctx.hop, ctx.flash / 2)
    lost = [m for m in ctx.dropped if m.end <= t < m.end + window]
    pts = [_lerp(ctx.pos.get(m.src, (0.0, 0.0)), (0.0, 0.0), 0.7) for m in lost]
    return go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers+text",
                      name="dropped", showlegend=False, customdata=[m.msg_id for m in lost],
                      text=[f"{m.message} lost" for m in lost], textposition="middle right",
                      textfont={"size": SMALL_FONT, "color": VERMILLION},
                      marker={"symbol": "x", "size": 22, "color": VERMILLION},
                      hovertext=[f"{m.message} #{m.msg_id} dropped by the broker at t={fmt(m.end)}"
                                 for m in lost], hoverinfo="text")


def _count_trace(flying, ctx):
    """Big runs: one bubble per receiver saying how many messages are on their way to it."""
    counts = {}
    for m in flying:
        counts[m.dst] = counts.get(m.dst, 0) + 1
    names = [n for n in ctx.ring if n in counts]
    pts = [_lerp((0.0, 0.0), ctx.pos[n], 0.5) for n in names]
    return go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers+text",
                      name="counts", showlegend=False, customdata=[counts[n] for n in names],
                      text=[str(counts[n]) for n in names], textfont={"size": SMALL_FONT, "color": "white"},
                      marker={"size": [min(30 + 2 * math.sqrt(counts[n]), 56) for n in names],
                              "color": DARK},
                      hovertext=[f"{counts[n]} messages on their way to {n}" for n in names],
                      hoverinfo="text")


# ---------------------------------------------------------------- figures


def _figure(run, ctx, t, title):
    statics = _static_traces(run, ctx.pos, ctx.msgs)
    fig = go.Figure(statics + _dynamic_traces(ctx, t) + _legend_traces(ctx.many))
    base_layout(fig, title, height=640, hovermode="closest")
    fig.update_xaxes(visible=False, range=[-1.75, 1.75])
    ys = [y for _, y in ctx.pos.values()]
    # room for the two lines of name and state: above the top service, below the lowest one
    fig.update_yaxes(visible=False, range=[min(ys) - 0.85, max(ys) + 0.7], scaleanchor="x", scaleratio=1)
    return fig, len(statics)


def _frame_title(t):
    return f"Services and messages at t = {fmt(t)}"


class Topology:
    """A run's service graph built once; :meth:`at_json` is its snapshot at a time.

    The app redraws the graph on every tick of its clock: only the moving traces (nodes, tokens, drops,
    counts) are built anew; the rest (spokes, who talks to whom, broker, legend, layout) is reused as JSON.
    """

    def __init__(self, run: dict):
        self.ctx = _Context(run)
        fig, self.first_dynamic = _figure(run, self.ctx, 0.0, _frame_title(0.0))
        self.json = fig.to_plotly_json()

    def at_json(self, t: float) -> dict:
        """The snapshot at ``t`` as plotly JSON (new lists and dicts; the shared parts are not copied)."""
        data = list(self.json["data"])
        first = self.first_dynamic
        data[first:first + len(DYNAMIC_TRACES)] = [tr.to_plotly_json() for tr in _dynamic_traces(self.ctx, t)]
        layout = dict(self.json["layout"])
        layout["title"] = {**layout["title"], "text": _frame_title(t)}
        return {"data": data, "layout": layout}


def topology_frame(run: dict, t: float) -> go.Figure:
    """The service graph at time ``t``: service states and the tokens of the messages in flight."""
    fig, _ = _figure(run, _Context(run), t, _frame_title(t))     # one snapshot: nothing to reuse
    return fig
