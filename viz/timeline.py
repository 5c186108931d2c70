"""Lane charts over time: what each service did (``timeline``), and the saga log (``saga_log``).

Timeline: a lane per participant with a bar per forward step (blue, or
vermillion if it failed) and per compensation (orange, dashed), grey downtime,
and markers for retries, timeouts and injected faults; the saga id is written
on each bar. Saga log: a lane per saga with the orchestrator's log records as
markers (a symbol and colour per state) joined by bars in the state's colour.
"""
from __future__ import annotations

import plotly.graph_objects as go

from . import trace as tr
from .style import (BARS, BLUE, DARK, GREEN, GREY, ORANGE, PURPLE, SKY, SMALL_FONT, VERMILLION, YELLOW,
                    add_now, base_layout, fmt, note_figure, segments)

LOG_STATES = {  # saga-log state -> colour, symbol
    "started": (GREY, "circle"), "executing": (BLUE, "triangle-right"),
    "succeeded": (GREEN, "circle"), "failed": (VERMILLION, "x"),
    "compensating": (ORANGE, "triangle-left"), "compensated": (ORANGE, "square"),
    "approving": (SKY, "triangle-up"), "compensation_failed": (VERMILLION, "triangle-left-open"),
    "completed": (GREEN, "star"), "aborted": (VERMILLION, "square-x"), "stuck": (PURPLE, "diamond-x"),
}
MAX_SLOTS = 12           # rows per lane for overlapping work; more than that share rows
LANE_PX = 110            # a lane's height in pixels, at least
ROW_PX = 28


# ---------------------------------------------------------------- timeline


def _lanes(run):
    names = list(tr.participants(run))
    seen = [e.get("service") for e in tr.events(run)] + [_fault_target(e) for e in tr.events(run)]
    names += sorted({n for n in seen if n and n not in names} - {tr.BROKER})
    if tr.BROKER in seen:
        names.append(tr.BROKER)
    return names


def _fault_target(e):
    if e.get("kind") != "fault_injected":
        return None
    return e.get("service") or str(tr.detail(e).get("fault", "")).split(":")[0] or None


def _slots(intervals):
    """Give overlapping intervals of one lane different rows (first free row wins)."""
    free_at, out = {}, []
    for iv in intervals:
        lane_free = free_at.setdefault(iv.service, [])
        slot = next((i for i, t in enumerate(lane_free) if t <= iv.start), len(lane_free))
        if slot == len(lane_free):
            lane_free.append(iv.end)
        lane_free[slot] = max(iv.end, iv.start + 1e-9)
        out.append(slot % MAX_SLOTS)
    return out


def timeline(run: dict, now: float | None = None) -> go.Figure:
    """What each service did over time, saga by saga (the first sagas only of a big run)."""
    if not tr.events(run):
        return note_figure("Timeline", "This run has no events (a summary run).")
    lanes = _lanes(run)
    y = {n: i for i, n in enumerate(lanes)}
    shown = tr.shown_sagas(run)
    end = tr.window_end(run, shown)
    work = [iv for iv in tr.activity(run) if iv.service in y and iv.kind != "down"
            and tr.keep_saga(iv.saga, shown) and iv.start <= end]
    slots = _slots(work)
    rows = max(slots, default=0) + 1
    downs = [iv for iv in tr.activity(run) if iv.kind == "down" and iv.service in y and iv.start <= end]
    fig = go.Figure(_downtime(downs, y, _lane_px(rows)))
    for key in BARS:
        fig.add_traces(_bars([(iv, s) for iv, s in zip(work, slots) if (iv.kind, iv.outcome) == key],
                             y, rows, key))
    fig.add_traces(_interval_marks(work, slots, y, rows) + _event_marks(run, y, shown, end))
    height = 150 + _lane_px(rows) * len(lanes)
    title = "Timeline: what each service did" + ("" if shown is None else f" (first {len(shown)} sagas)")
    base_layout(fig, title, height=height, hovermode="closest")
    fig.update_yaxes(tickvals=list(y.values()), ticktext=[f"<b>{n}</b>" for n in lanes],
                     range=[len(lanes) - 0.5, -0.5], showgrid=False, zeroline=False)
    fig.update_xaxes(title="time", range=[0, end * 1.03 + 0.1])
    return add_now(fig, now)


def _row_y(y, iv, slot, rows):
    return y[iv.service] - 0.4 + 0.8 * (slot + 0.5) / rows


def _lane_px(rows):
    return max(LANE_PX, ROW_PX * rows / 0.8)


def _bar_width(rows):
    return max(6, min(24, 0.8 * _lane_px(rows) / rows - 6))


def _bars(items, y, rows, key):
    if not items:
        return []
    name, colour, text_colour = BARS[key]
    xs, ys = segments(((iv.start, _row_y(y, iv, s, rows)), (iv.end, _row_y(y, iv, s, rows)))
                      for iv, s in items)
    hover = [_interval_hover(iv) for iv, _ in items for _ in range(3)]
    bars = go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup=name, hovertext=hover,
                      hoverinfo="text", line={"color": colour, "width": _bar_width(rows)})
    ids = go.Scatter(x=[(iv.start + iv.end) / 2 for iv, _ in items],
                     y=[_row_y(y, iv, s, rows) for iv, s in items], mode="text", legendgroup=name,
                     text=[_bar_text(iv) for iv, _ in items], showlegend=False, hoverinfo="skip",
                     textfont={"size": SMALL_FONT, "color": text_colour}, name=f"{name} saga ids")
    return [bars, ids]


def _bar_text(iv):
    return f"undo {iv.saga}" if iv.kind == "compensation" else str(iv.saga)


def _interval_hover(iv):
    what = "step" if iv.kind == "step" else "compensation of step"
    attempt = f", attempt {iv.attempt}" if iv.attempt not in (None, 1) else ""
    why = f"<br>{iv.reason}" if iv.reason else ""
    return (f"<b>saga {iv.saga}</b>: {iv.service} {what} {iv.step or ''}{attempt}<br>"
            f"t={fmt(iv.start)}..{fmt(iv.end)}, {iv.outcome}{why}")


def _downtime(downs, y, lane_px):
    if not downs:
        return []
    xs, ys = segments(((iv.start, y[iv.service]), (iv.end, y[iv.service])) for iv in downs)
    return [go.Scatter(x=xs, y=ys, mode="lines", name="service down", opacity=0.45,
                       line={"color": GREY, "width": lane_px * 0.85}, hoverinfo="text",
                       hovertext=[f"{iv.service} down t={fmt(iv.start)}..{fmt(iv.end)}"
                                  + (" (never recovered)" if iv.outcome == "open" else "")
                                  for iv in downs for _ in range(3)])]


def _interval_marks(work, slots, y, rows):
    """A ring where a retry starts, a cross where a step or compensation failed."""
    kinds = (("retry (attempt > 1)", lambda iv: isinstance(iv.attempt, int) and iv.attempt > 1,
              lambda iv: iv.start, {"symbol": "circle-open", "color": DARK}),
             ("failure", lambda iv: iv.outcome == "failed", lambda iv: iv.end,
              {"symbol": "x", "color": VERMILLION}))
    out = []
    for name, wanted, at, marker in kinds:
        items = [(iv, s) for iv, s in zip(work, slots) if wanted(iv)]
        if items:
            out.append(go.Scatter(
                x=[at(iv) for iv, _ in items], y=[_row_y(y, iv, s, rows) for iv, s in items],
                mode="markers", name=name, hovertext=[_interval_hover(iv) for iv, _ in items],
                hoverinfo="text", marker={"size": 20, "line": {"width": 2, "color": DARK}, **marker}))
    return out


_MARKS = {  # event kind -> legend name, symbol, colour, lane offset
    "timeout": ("timeout", "hourglass", DARK, 0.0),
    "fault_injected": ("fault injected", "star", YELLOW, -0.42),
    "service_crashed": ("crash", "x-thin", DARK, 0.0),
    "deadlock_detected": ("deadlock detected", "hexagram", VERMILLION, 0.0),
}


def _event_marks(run, y, shown, end):
    out = []
    for kind, (name, symbol, colour, dy) in _MARKS.items():
        evs = [e for e in tr.events(run) if e.get("kind") == kind
               and (_fault_target(e) or e.get("service")) in y
               and tr.keep_saga(e.get("saga"), shown) and float(e["t"]) <= end]
        if not evs:
            continue
        out.append(go.Scatter(
            x=[e["t"] for e in evs], y=[y[_fault_target(e) or e["service"]] + dy for e in evs],
            mode="markers", name=name,
            marker={"symbol": symbol, "size": 20, "color": colour, "line": {"width": 2, "color": DARK}},
            hovertext=[_mark_hover(e) for e in evs], hoverinfo="text"))
    return out


def _mark_hover(e):
    d = tr.detail(e)
    extra = d.get("fault") or d.get("message") or d.get("cycle") or ""
    saga = f" saga {e['saga']}" if e.get("saga") is not None else ""
    return f"{e['kind'].replace('_', ' ')}{saga} at t={fmt(float(e['t']))}<br>{extra}"


# ---------------------------------------------------------------- saga log


def saga_log(run: dict, now: float | None = None) -> go.Figure:
    """The orchestrator's saga log: a lane per saga, a bar per phase, a marker per record."""
    shown = tr.shown_sagas(run)
    records = [e for e in tr.events(run) if e.get("kind") == "saga_log" and tr.keep_saga(e.get("saga"), shown)]
    if not records:
        return note_figure("Saga log", "No saga-log records (the log belongs to orchestration runs).")
    sagas = sorted({r.get("saga") for r in records}, key=lambda s: (isinstance(s, str), s))
    y = {s: i for i, s in enumerate(sagas)}
    end = max(float(r["t"]) for r in records)
    fig = go.Figure(_log_phases(records, y, end) + _log_marks(records, y))
    title = "Saga log of the orchestrator" + ("" if shown is None else f" (first {len(shown)} sagas)")
    base_layout(fig, title, height=max(420, 200 + 60 * len(sagas)), hovermode="closest")
    fig.update_yaxes(tickvals=list(y.values()), ticktext=[f"<b>saga {s}</b>" for s in sagas],
                     range=[len(sagas) - 0.5, -0.5], showgrid=False, zeroline=False)
    fig.update_xaxes(title="time", range=[0, end * 1.12 + 0.5])
    return add_now(fig, now)


def _log_state(r):
    return str(tr.detail(r).get("state", "?"))


def _log_label(r):
    step = tr.detail(r).get("step")
    return _log_state(r) + (f" {step}" if step is not None else "")


def _log_phases(records, y, end, px_per_char=8.5, plot_px=900):
    """Between a record and the next one of its saga, a bar in the record's colour, labelled if it fits."""
    by_state = {}
    for saga in y:
        mine = [r for r in records if r.get("saga") == saga]
        for a, b in zip(mine, mine[1:] + [None]):
            t1 = float(b["t"]) if b is not None else None
            by_state.setdefault(_log_state(a), []).append((a, float(a["t"]), t1))
    scale = plot_px / max(end * 1.12 + 0.5, 1e-9)
    out = []
    for state, phases in by_state.items():
        colour = LOG_STATES.get(state, (DARK,))[0]
        last = [(a, t0, t0) for a, t0, t1 in phases if t1 is None]
        phases = [p for p in phases if p[2] is not None]
        xs, ys = segments(((t0, y[a.get("saga")]), (t1, y[a.get("saga")])) for a, t0, t1 in phases)
        out.append(go.Scatter(x=xs, y=ys, mode="lines", legendgroup=state, showlegend=False,
                              line={"color": colour, "width": 22}, opacity=0.55, hoverinfo="skip",
                              name=f"{state} (phase)"))
        fits = [(a, t0, t1) for a, t0, t1 in phases if (t1 - t0) * scale > len(_log_label(a)) * px_per_char]
        out.append(go.Scatter(
            x=[(t0 + t1) / 2 for _, t0, t1 in fits] + [t0 for _, t0, _ in last],
            y=[y[a.get("saga")] for a, _, _ in fits + last], mode="text", legendgroup=state,
            text=[_log_label(a) for a, _, _ in fits] + ["   " + _log_label(a) for a, _, _ in last],
            textposition=["middle center"] * len(fits) + ["middle right"] * len(last),
            textfont={"size": SMALL_FONT, "color": DARK}, showlegend=False, hoverinfo="skip",
            name=f"{state} (label)"))
    return out


def _log_marks(records, y):
    out = []
    for state in dict.fromkeys(_log_state(r) for r in records):
        mine = [r for r in records if _log_state(r) == state]
        colour, symbol = LOG_STATES.get(state, (DARK, "circle-open"))
        out.append(go.Scatter(
            x=[r["t"] for r in mine], y=[y[r.get("saga")] for r in mine], mode="markers", name=state,
            legendgroup=state,
            marker={"symbol": symbol, "size": 16, "color": colour, "line": {"width": 1.5, "color": DARK}},
            hovertext=[f"saga {r.get('saga')} t={fmt(float(r['t']))}: {_log_label(r)}" for r in mine],
            hoverinfo="text"))
    return out
