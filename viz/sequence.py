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
from .style import (BARS, DUPLICATE_COLOUR, FLOW_COLOURS, FLOW_DASH, FLOW_LABELS, GREY, SMALL_FONT,
                    VERMILLION, add_now, base_layout, fmt, segments)

MAX_LABELS = 120          # more arrows than this: only compensations and failures are labelled


def sequence(run: dict, now: float | None = None) -> go.Figure:
    """The sequence diagram of the run (the first sagas only, for a run of more than 50)."""
    shown = tr.shown_sagas(run)
    msgs = [m for m in tr.messages(run) if tr.keep_saga(m.saga, shown)]
    names = tr.participants(run)
    names += sorted({n for m in msgs for n in (m.src, m.dst)} - set(names))
    x = {n: i for i, n in enumerate(names)}
    end = tr.window_end(run, shown)
    fig = go.Figure(_lifelines(names, end) + _downtime(run, x, end) + _activations(run, x, shown))
    for flow in FLOW_COLOURS:
        fig.add_trace(_arrows([m for m in msgs if m.flow == flow and not m.duplicate], x, end, flow))
    fig.add_trace(_copy_arrows([m for m in msgs if m.duplicate and not m.redelivery], _copy_path(x),
                               "duplicate copy", "2x", DUPLICATE_COLOUR))
    fig.add_trace(_copy_arrows([m for m in msgs if m.redelivery], _held_path(x),
                               "held by the broker, redelivered", "held", GREY))
    fig.add_trace(_lost_marks([m for m in msgs if m.fate != "delivered" and not m.duplicate], x, end))
    fig.add_traces(_orchestrator_marks(run, x, shown))
    title = "Sequence diagram" + ("" if shown is None else f" (first {len(shown)} sagas of "
                                                         f"{len(tr.saga_ids(run))})")
    height = _height(len(msgs), end)
    base_layout(fig, title, height=height, hovermode="closest",
                annotations=_labels([m for m in msgs if not m.duplicate], x, end,
                                    several=len({m.saga for m in msgs}) > 1, height=height))
    fig.update_xaxes(tickvals=list(x.values()), ticktext=[f"<b>{n}</b>" for n in names], side="top",
                     range=[-0.6, len(names) - 0.4], showgrid=False, zeroline=False,
                     tickfont={"size": 16})
    fig.update_yaxes(autorange="reversed", title="time", zeroline=False)
    return add_now(fig, now, axis="y")


def _height(n_messages, end):
    """Tall enough to read the labels: ~24 px per message, up to 100 px per time unit; at most 3000."""
    return int(max(480, min(max(520, 160 + 24 * n_messages), 200 + 100 * end, 3000)))


def _lifelines(names, end):
    xs, ys = segments(((i, 0), (i, end)) for i in range(len(names)))
    return [go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#BBBBBB", "width": 2, "dash": "dot"},
                       hoverinfo="skip", showlegend=False, name="lifelines")]


def _downtime(run, x, end):
    downs = [iv for iv in tr.activity(run) if iv.kind == "down" and iv.service in x and iv.start <= end]
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
                      legendgrouptitle={"text": "messages"},
                      line={"color": FLOW_COLOURS[flow], "width": 2.5, "dash": FLOW_DASH[flow]},
                      marker={"symbol": "arrow", "angleref": "previous", "size": sizes,
                              "color": FLOW_COLOURS[flow]},
                      hovertext=hover, hoverinfo="text")


def _hover(m):
    fate = {"delivered": f"delivered t={fmt(m.end) if m.end is not None else '?'}",
            "dropped": f"LOST (dropped by the broker) t={fmt(m.end) if m.end is not None else '?'}",
            "pending": "never delivered before the run ended"}[m.fate]
    if m.redelivery:
        copy, sent = "redelivery of ", f"held by the broker from t={fmt(m.sent)} (receiver down)"
    else:
        copy, sent = ("duplicate copy of " if m.duplicate else ""), f"sent t={fmt(m.sent)}"
    return (f"<b>{copy}{m.message}</b> #{m.msg_id} (saga {m.saga})<br>{m.src} -> {m.dst}, {m.flow}"
            f"<br>{sent}, {fate}")


def _copy_path(x):
    """A duplicate copy leaves the broker (on the original arrow, past its label) for the receiver."""
    return lambda m: [(0.4 * x.get(m.src, x[m.dst] - 1) + 0.6 * x[m.dst], m.sent), (x[m.dst], _end(m))]


def _held_path(x):
    """A message held while its receiver was down: it waits beside the lifeline, then goes in."""
    return lambda m: [(x[m.dst] - 0.18, m.sent), (x[m.dst] - 0.18, _end(m)), (x[m.dst], _end(m))]


def _end(m):
    return m.end if m.end is not None else m.sent


def _copy_arrows(msgs, path, name, mark, colour):
    """Trips that do not start at a sender: duplicate copies and held messages."""
    xs, ys, text, hover, symbols, sizes = [], [], [], [], [], []
    for m in msgs:
        pts = path(m)
        xs += [p[0] for p in pts] + [None]
        ys += [p[1] for p in pts] + [None]
        text += [mark] + [""] * (len(pts) - 1) + [None]
        hover += [_hover(m)] * len(pts) + [None]
        symbols += ["diamond"] + ["circle"] * (len(pts) - 2) + ["arrow", "circle"]
        sizes += [12] + [0] * (len(pts) - 2) + [12, 0]
    return go.Scatter(x=xs, y=ys, mode="lines+markers+text", name=name, text=text,
                      textposition="top right", textfont={"color": colour, "size": SMALL_FONT},
                      line={"color": colour, "width": 2.5, "dash": "dot"},
                      marker={"symbol": symbols, "angleref": "previous", "size": sizes, "color": colour},
                      hovertext=hover, hoverinfo="text", legendgroup="messages")


def _lost_marks(msgs, x, end):
    pts = [_arrow_end(m, x, end) for m in msgs]
    return go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers",
                      name="lost / never delivered", legendgroup="messages",
                      marker={"symbol": ["x" if m.fate == "dropped" else "circle-open" for m in msgs],
                              "size": 18, "color": VERMILLION, "line": {"width": 2, "color": VERMILLION}},
                      hovertext=[_hover(m) for m in msgs], hoverinfo="text")


def _labels(msgs, x, end, several=False, height=520):
    """Message names on their arrows, on a white ground (all of them, or only the remarkable ones).

    Arrows that coincide (same message, same ends, same times) share one label
    naming all their sagas, e.g. "1,2,5: StockReserved". A label that would sit
    on another one moves down just below it, so messages sent close together stay readable.
    """
    if len(msgs) > MAX_LABELS:
        msgs = [m for m in msgs if m.flow in ("compensation", "failure") or m.fate != "delivered"]
    groups = {}
    for m in msgs:
        x1, y1 = _arrow_end(m, x, end)
        spot = (round((x.get(m.src, 0) + x1) / 2, 3), round((m.sent + y1) / 2, 3), m.message, m.flow, m.fate)
        groups.setdefault(spot, []).append(m)
    labels = [{"x": mx, "y": my, "showarrow": False,
               "text": (",".join(str(m.saga) for m in group) + ": " if several else "") + message
                       + ("" if fate == "delivered" else " (lost)"),
               "font": {"size": SMALL_FONT, "color": FLOW_COLOURS[flow]},
               "bgcolor": "rgba(255,255,255,0.85)", "borderpad": 1}
              for (mx, my, message, flow, fate), group in groups.items()]
    return _apart(labels, per_unit=max(200, height - 250) / max(end, 1e-9), columns=max(len(x), 1))


LABEL_PX = 19            # a label's height on screen (14 px font and its border)
CHAR_PX = 7.5            # the width of one character of it, about
NARROW_PX = 420          # the plot's width in half the page (the app, a 1400 px window), where labels collide first


def _apart(labels, per_unit, columns):
    """Move labels down until none covers another (screen sizes estimated: time axis ``per_unit`` px a
    time unit, ``columns`` lifelines across ``NARROW_PX``)."""
    gap = LABEL_PX / per_unit
    column_px = NARROW_PX / columns
    placed = []
    for label in sorted(labels, key=lambda a: (a["y"], a["x"])):
        half = len(label["text"]) * CHAR_PX / column_px / 2
        y = label["y"]
        while True:
            # 0.999: a label moved to exactly one gap below another must not count as covering it
            over = [p for p in placed if abs(p[1] - y) < 0.999 * gap and abs(p[0] - label["x"]) < half + p[2]]
            if not over:
                break
            y = max(p[1] for p in over) + gap
        placed.append((label["x"], y, half))
        label["y"] = round(y, 3)
    return labels


def _activations(run, x, shown):
    """Activation bars on the lifelines: steps and compensations, coloured as in the timeline."""
    work = [iv for iv in tr.activity(run)
            if iv.kind != "down" and iv.service in x and tr.keep_saga(iv.saga, shown)]
    out = []
    for key, (name, colour, _) in BARS.items():
        mine = [iv for iv in work if (iv.kind, iv.outcome) == key]
        if mine:
            xs, ys = segments(((x[iv.service], iv.start), (x[iv.service], iv.end)) for iv in mine)
            out.append(go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup="activity",
                                  legendgrouptitle={"text": "activity"}, line={"color": colour, "width": 10},
                                  hovertext=[f"saga {iv.saga}: {iv.service} {iv.kind} {name.split()[-1]}"
                                             f" t={fmt(iv.start)}..{fmt(iv.end)}" for iv in mine for _ in "abc"],
                                  hoverinfo="text"))
    return out


def _orchestrator_marks(run, x, shown):
    """Timeouts and ignored repeats, on the lifeline where they happened."""
    marks = {"timeout": ("hourglass", "#000000", "timeout"),
             "duplicate_ignored": ("circle-open", DUPLICATE_COLOUR, "repeat ignored")}
    out = []
    for kind, (symbol, colour, name) in marks.items():
        evs = [e for e in tr.events(run) if e.get("kind") == kind and e.get("service") in x
               and tr.keep_saga(e.get("saga"), shown)]
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
