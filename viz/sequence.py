"""The sequence diagram: a lifeline per participant, time running down, an arrow per message.

Each sent message is one arrow from its sender (at the send time) to its
receiver (at the delivery time), so the slope shows how long it travelled and
the broker stays implicit. Compensations are orange and dashed and always
labelled; a dropped message ends in a cross half-way; the broker's duplicate
copy is a purple dotted arrow marked "2x"; a service's downtime is a grey band.
"""
from __future__ import annotations

import plotly.graph_objects as go

from . import trace as tr
from .style import (DUPLICATE_COLOUR, FLOW_COLOURS, FLOW_DASH, FLOW_LABELS, GREY, SMALL_FONT,
                    VERMILLION, add_now, base_layout, fmt, segments)

MAX_SAGAS_SHOWN = 20      # bigger runs show the first sagas only
MAX_LABELS = 120          # more arrows than this: only compensations and failures are labelled


def shown_sagas(run: dict, limit: int = MAX_SAGAS_SHOWN) -> set | None:
    """The sagas a detailed figure draws: all, or the first ``limit`` of a big run."""
    ids = tr.saga_ids(run)
    return None if len(ids) <= 50 else {str(s) for s in ids[:limit]}


def _keep(saga, shown):
    return shown is None or saga is None or str(saga) in shown


def sequence(run: dict, now: float | None = None) -> go.Figure:
    """The sequence diagram of the run (the first sagas only, for a run of more than 50)."""
    shown = shown_sagas(run)
    msgs = [m for m in tr.messages(run) if _keep(m.saga, shown)]
    names = tr.participants(run)
    names += sorted({n for m in msgs for n in (m.src, m.dst)} - set(names))
    x = {n: i for i, n in enumerate(names)}
    end = tr.end_time(run)
    fig = go.Figure(_lifelines(names, end) + _downtime(run, x))
    for flow in FLOW_COLOURS:
        fig.add_trace(_arrows([m for m in msgs if m.flow == flow and not m.duplicate], x, end, flow))
    fig.add_trace(_duplicate_arrows([m for m in msgs if m.duplicate], x))
    fig.add_trace(_lost_marks([m for m in msgs if m.fate != "delivered" and not m.duplicate], x, end))
    fig.add_trace(_labels([m for m in msgs if not m.duplicate], x, end))
    fig.add_traces(_orchestrator_marks(run, x, shown))
    title = "Sequence diagram" + ("" if shown is None else f" (first {len(shown)} sagas of "
                                                         f"{len(tr.saga_ids(run))})")
    base_layout(fig, title, height=_height(len(msgs), end), hovermode="closest")
    fig.update_xaxes(tickvals=list(x.values()), ticktext=[f"<b>{n}</b>" for n in names], side="top",
                     range=[-0.6, len(names) - 0.4], showgrid=False, zeroline=False,
                     tickfont={"size": 16})
    fig.update_yaxes(autorange="reversed", title="time", zeroline=False)
    return add_now(fig, now, axis="y")


def _height(n_messages, end):
    return int(min(max(520, 160 + 14 * n_messages, 60 * end), 2600))


def _lifelines(names, end):
    xs, ys = segments(((i, 0), (i, end)) for i in range(len(names)))
    return [go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#BBBBBB", "width": 2, "dash": "dot"},
                       hoverinfo="skip", showlegend=False, name="lifelines")]


def _downtime(run, x):
    downs = [iv for iv in tr.activity(run) if iv.kind == "down" and iv.service in x]
    if not downs:
        return []
    xs, ys = segments(((x[iv.service], iv.start), (x[iv.service], iv.end)) for iv in downs)
    return [go.Scatter(x=xs, y=ys, mode="lines", name="service down", opacity=0.6,
                       line={"color": GREY, "width": 18}, hoverinfo="text",
                       hovertext=[f"{iv.service} down t={fmt(iv.start)}..{fmt(iv.end)}"
                                  for iv in downs for _ in range(3)])]


def _arrow_end(m, x, end):
    """Where the arrow stops: at the receiver, or half-way (lost, or never delivered)."""
    if m.fate == "delivered":
        return x[m.dst], m.end
    return (x[m.src] + x[m.dst]) / 2, (m.end if m.end is not None else end)


def _arrows(msgs, x, end, flow):
    """One arrow per sent message of one flow; the arrowhead only where it arrived."""
    xs, ys, sizes, hover = [], [], [], []
    for m in msgs:
        x1, y1 = _arrow_end(m, x, end)
        xs += [x.get(m.src, 0), x1, None]
        ys += [m.sent, y1, None]
        sizes += [0, 14 if m.fate == "delivered" else 0, 0]
        hover += [_hover(m)] * 2 + [None]
    return go.Scatter(x=xs, y=ys, mode="lines+markers", name=FLOW_LABELS[flow], legendgroup="messages",
                      line={"color": FLOW_COLOURS[flow], "width": 2.5, "dash": FLOW_DASH[flow]},
                      marker={"symbol": "arrow", "angleref": "previous", "size": sizes,
                              "color": FLOW_COLOURS[flow]},
                      hovertext=hover, hoverinfo="text")


def _hover(m):
    fate = {"delivered": f"delivered t={fmt(m.end) if m.end is not None else '?'}",
            "dropped": f"LOST (dropped by the broker) t={fmt(m.end) if m.end is not None else '?'}",
            "pending": "never delivered before the run ended"}[m.fate]
    copy = "duplicate copy of " if m.duplicate else ""
    return (f"<b>{copy}{m.message}</b> #{m.msg_id} (saga {m.saga})<br>{m.src} -> {m.dst}, {m.flow}"
            f"<br>sent t={fmt(m.sent)}, {fate}")


def _duplicate_arrows(msgs, x):
    xs, ys, text, hover = [], [], [], []
    for m in msgs:
        end = m.end if m.end is not None else m.sent
        xs += [(x[m.dst] + x.get(m.src, x[m.dst] - 1)) / 2, x[m.dst], None]
        ys += [m.sent, end, None]
        text += ["2x", "", None]
        hover += [_hover(m)] * 2 + [None]
    return go.Scatter(x=xs, y=ys, mode="lines+markers+text", name="duplicate copy", text=text,
                      textposition="middle left", textfont={"color": DUPLICATE_COLOUR, "size": SMALL_FONT},
                      line={"color": DUPLICATE_COLOUR, "width": 2.5, "dash": "dot"},
                      marker={"symbol": ["diamond", "arrow", "circle"] * len(msgs), "angleref": "previous",
                              "size": 12, "color": DUPLICATE_COLOUR},
                      hovertext=hover, hoverinfo="text", legendgroup="messages")


def _lost_marks(msgs, x, end):
    pts = [_arrow_end(m, x, end) for m in msgs]
    return go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers",
                      name="lost / never delivered", legendgroup="messages",
                      marker={"symbol": ["x" if m.fate == "dropped" else "circle-open" for m in msgs],
                              "size": 18, "color": VERMILLION, "line": {"width": 2, "color": VERMILLION}},
                      hovertext=[_hover(m) for m in msgs], hoverinfo="text")


def _labels(msgs, x, end):
    """Message names at the middle of their arrows (all of them, or only the remarkable ones)."""
    if len(msgs) > MAX_LABELS:
        msgs = [m for m in msgs if m.flow in ("compensation", "failure") or m.fate != "delivered"]
    pts = [((x.get(m.src, 0) + _arrow_end(m, x, end)[0]) / 2, (m.sent + _arrow_end(m, x, end)[1]) / 2)
           for m in msgs]
    return go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="text", name="labels",
                      text=[m.message + ("" if m.fate == "delivered" else " (lost)") for m in msgs],
                      textposition="top center", showlegend=False, hoverinfo="skip",
                      textfont={"size": SMALL_FONT,
                                "color": [FLOW_COLOURS[m.flow] for m in msgs]})


def _orchestrator_marks(run, x, shown):
    """Timeouts and ignored repeats, on the lifeline where they happened."""
    marks = {"timeout": ("hourglass", "#000000", "timeout"),
             "duplicate_ignored": ("circle-open", DUPLICATE_COLOUR, "repeat ignored")}
    out = []
    for kind, (symbol, colour, name) in marks.items():
        evs = [e for e in tr.events(run) if e.get("kind") == kind and e.get("service") in x
               and _keep(e.get("saga"), shown)]
        if evs:
            out.append(go.Scatter(
                x=[x[e["service"]] for e in evs], y=[e["t"] for e in evs], mode="markers", name=name,
                marker={"symbol": symbol, "size": 16, "color": colour, "line": {"width": 2, "color": colour}},
                hovertext=[_event_hover(e) for e in evs], hoverinfo="text"))
    return out


def _event_hover(e):
    d = tr.detail(e)
    what = d.get("message") or e.get("message") or ""
    ident = d.get("msg_id", e.get("msg_id"))
    return (f"{e['kind'].replace('_', ' ')} at {e.get('service')}, t={fmt(float(e['t']))}<br>"
            f"saga {e.get('saga')} {what} #{ident}")
