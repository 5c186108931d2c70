"""What one run looks like at the clock's time: the saga states, the current event
in one sentence, the service graph, the cards (balances, stock, orders), a
detail figure and the event log up to now.

Each ``*_row`` function draws one row for every shown run, in aligned columns,
so choreography and orchestration sit side by side on one clock.
"""
from __future__ import annotations

import bisect

import streamlit as st
from sim.narrate import narrate_event, saga_context

import viz

from . import figures

STYLE_TITLES = {"choreography": "Choreography", "orchestration": "Orchestration"}
STYLE_LINES = {"choreography": "Each service reacts to the others' events through the broker; nobody "
                               "directs the saga.",
               "orchestration": "One orchestrator sends a command to each service and waits for its reply."}
ENDS = {"saga_completed": "completed", "saga_compensated": "compensated", "saga_stuck": "stuck",
        "saga_deadlocked": "deadlocked"}
STATUS_BADGES = {"waiting": ("gray", ":material/schedule:"), "running": ("blue", ":material/play_arrow:"),
                 "completed": ("green", ":material/check_circle:"), "compensated": ("orange", ":material/undo:"),
                 "stuck": ("violet", ":material/warning:"), "deadlocked": ("red", ":material/block:")}
ORDER_COLOURS = {"PENDING": "blue", "APPROVED": "green", "REJECTED": "orange"}
# which event of a moment tells the story best (lower first)
PRIORITY = {"saga_completed": 0, "saga_compensated": 0, "saga_stuck": 0, "saga_deadlocked": 0,
            "deadlock_detected": 1, "step_failed": 1, "compensation_failed": 1, "service_crashed": 1,
            "timeout": 2, "compensation_started": 2, "service_recovered": 2, "message_dropped": 2,
            "message_duplicated": 2, "duplicate_ignored": 2, "step_started": 3, "compensation_succeeded": 3,
            "step_succeeded": 4, "saga_started": 4, "fault_injected": 5, "message_sent": 6,
            "message_delivered": 7, "saga_log": 8}
TONE = {"step_failed": "red", "compensation_failed": "red", "message_dropped": "red", "service_crashed": "red",
        "saga_stuck": "violet", "saga_deadlocked": "red", "deadlock_detected": "red",
        "compensation_started": "orange", "compensation_succeeded": "orange", "saga_compensated": "orange",
        "saga_completed": "green", "message_sent": "gray", "message_delivered": "gray", "saga_log": "gray",
        "timeout": "violet", "message_duplicated": "violet", "duplicate_ignored": "violet"}
# the box of the current event: a failure is red, a compensation orange, a completion green
NOW_BOXES = {"red": ("error", ":material/bolt:"), "orange": ("warning", ":material/undo:"),
             "violet": ("warning", ":material/warning:"), "green": ("success", ":material/check_circle:"),
             None: ("info", ":material/schedule:")}
LOG_LIMIT = 300
MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-!|~$:"})
PROSE_SPECIAL = str.maketrans({c: "\\" + c for c in "$~:<>|"})


def md(text: str) -> str:
    """Text shown as itself in Markdown (names like compensation_fail keep their underscores)."""
    return str(text).translate(MD_SPECIAL)


def prose(text: str) -> str:
    """An author's text (a scenario's story): its `code` and *emphasis* stay, but no LaTeX ($), no
    strikethrough (~) and no shortcodes (:name:) by accident."""
    return str(text).translate(PROSE_SPECIAL)


def _events(run: dict) -> list:
    return run.get("events") or []


def up_to(run: dict, t: float) -> list:
    """The events that happened at or before ``t``."""
    evs = _events(run)
    return evs[:bisect.bisect_right(evs, t + 1e-9, key=lambda e: e["t"])]   # events are in time order


def saga_status(run: dict, t: float) -> dict:
    """Each saga's status at ``t``: waiting, running, or how it ended."""
    status = {str(s): "waiting" for s in (run.get("outcomes") or {})}
    for e in up_to(run, t):
        if e["kind"] == "saga_started":
            status[str(e["saga"])] = "running"
        elif e["kind"] in ENDS:
            status[str(e["saga"])] = ENDS[e["kind"]]
    return status


def now_events(run: dict, t: float) -> list:
    """The events of the latest moment at or before ``t``, the telling one first."""
    past = up_to(run, t)
    if not past:
        return []
    moment = past[-1]["t"]
    same = [e for e in reversed(past) if e["t"] == moment]
    return sorted(same, key=lambda e: PRIORITY.get(e["kind"], 5))


def sentence(e: dict, ctx: dict) -> str:
    return f"t = {e['t']:g} · {narrate_event(e, ctx)}"


# ---------------------------------------------------------------- rows


def header_row(shown: list, t: float) -> None:
    for col, s in zip(st.columns(len(shown)), shown):
        with col:
            st.subheader(STYLE_TITLES.get(s.style, s.style))
            st.caption(STYLE_LINES.get(s.style, ""))
            if s.run is None:
                st.error(s.error)
                continue
            sagas = saga_status(s.run, t)
            shown_sagas = list(sagas.items())[:12]
            st.markdown(" ".join(f":{STATUS_BADGES[v][0]}-badge[{STATUS_BADGES[v][1]} saga {k} {v}]"
                                 for k, v in shown_sagas) + (" …" if len(sagas) > 12 else ""))


def now_row(shown: list, t: float) -> None:
    """The current event, in one sentence, per run."""
    for col, s in zip(st.columns(len(shown)), shown):
        if s.run is None:
            continue
        events = now_events(s.run, t)
        with col:
            if not events:
                st.info("Nothing has happened yet: press **Play** or **Next**.")
                continue
            ctx = saga_context(_events(s.run))
            more = f" *(+{len(events) - 1} more at this moment, see the log)*" if len(events) > 1 else ""
            box, icon = NOW_BOXES.get(TONE.get(events[0]["kind"]), NOW_BOXES[None])
            getattr(st, box)(f"**{md(sentence(events[0], ctx))}**{more}", icon=icon)


def topology_row(shown: list, t: float, cols=None) -> None:
    for col, s in zip(cols or st.columns(len(shown)), shown):
        if s.run is not None:
            with col:
                fig = figures.topology_at(s.key, s.run, t)
                figures.show(fig, key=f"topology_{s.style}",
                             static=bool(st.session_state.get("playing")))


def cards_row(shown: list, t: float) -> None:
    """Balances, stock and order states at ``t``, with the change since the start."""
    for col, s in zip(st.columns(len(shown)), shown):
        if s.run is None:
            continue
        state = viz.state_at(s.run, t)
        start = (s.run.get("initial_state") or {})
        with col.container(border=True):
            cards = [(name, ":material/account_balance_wallet:", value,
                      value - start.get("balances", {}).get(name, value))
                     for name, value in state["balances"].items()][:4]
            cards += [(name, ":material/inventory_2:", value, value - start.get("stock", {}).get(name, value))
                      for name, value in state["stock"].items()][:3]
            for c, (label, icon, value, change) in zip(st.columns(max(1, len(cards))), cards):
                c.metric(label, f"{value:g}", f"{change:+g}" if change else None, icon=icon)
            orders = state["orders"]
            if orders:
                st.markdown("**Orders** " + " ".join(
                    f":{ORDER_COLOURS.get(v, 'gray')}-badge[order {k} {v}]" for k, v in list(orders.items())[:12]))
            else:
                st.markdown("**Orders** none yet")


def detail_row(shown: list, t: float, which: str, cols=None) -> None:
    for col, s in zip(cols or st.columns(len(shown)), shown):
        if s.run is None:
            continue
        with col:
            if which in figures.detail_keys(s.run):
                fig = figures.detail_at(s.key, s.run, which, t)
                figures.show(fig, key=f"detail_{s.style}")
            else:
                st.caption(f"{figures.DETAIL_LABELS.get(which, which)}: not drawn for this {s.style} run "
                           "(nothing of that kind happened in it).")


def log_row(shown: list, t: float) -> None:
    """The event log up to now, newest first; the events of this moment in bold."""
    for col, s in zip(st.columns(len(shown)), shown):
        if s.run is None:
            continue
        past = up_to(s.run, t)
        ctx = saga_context(_events(s.run))
        with col:
            st.markdown(f"**Event log** ({len(past)} of {len(_events(s.run))} events so far, newest first)")
            with st.container(height=320, border=True):
                if not past:
                    st.caption("Nothing yet.")
                moment = past[-1]["t"] if past else None
                lines = []
                for e in reversed(past[-LOG_LIMIT:]):
                    text = md(sentence(e, ctx))
                    tone = TONE.get(e["kind"])
                    text = f":{tone}[{text}]" if tone else text
                    lines.append(f"**{text}**" if e["t"] == moment else text)
                st.markdown("  \n".join(lines))
