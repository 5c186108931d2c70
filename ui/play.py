"""The play view: the stage (clock, animation, instructor's buttons: all in the browser), then the charts
of the whole run and the comparison of the styles, which follow the time the stage last reported.

Playing costs the server nothing: the stage draws every frame itself and tells
Python its time only on a pause, a scrub, a step, the end or an injection.
Below it, what does not animate (timeline, saga log, balances over time, the
wait-for graph, the comparison) is drawn by plotly at that time, and by default
what lies ahead of it is hidden, so a class can be asked what happens next.
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from . import compare, figures, inject, room, runs, stage, state
from .state import ss
from . import lessoncheck
from .safe import md

CHART_LABELS = {"timeline": "Timeline", "saga_log": "Saga log", "state": "Balances and stock over time",
                "wait_for": "Wait-for graph"}
NOT_DRAWN = {"saga_log": "Choreography keeps no saga log: each service knows only its own part of the saga, "
                         "so there is no one place to read where a saga stands.",
             "wait_for": "No deadlock in this run: nothing to draw."}


def shown_runs(text: str, source: str, keep_events: bool = True) -> list:
    """The runs on screen: a replayed file's, or the live runs of the scenario with the session's faults."""
    replay = ss().replay
    if replay:
        found = [runs.Shown(("replay", replay["id"], i), r.get("style", "?"), r) for i, r in enumerate(replay["runs"])]
        wanted = [s for s in found if s.style in state.shown_styles()]
        return wanted or found
    return runs.live_runs(text, source, state.shown_styles(), ss().seed, ss().faults, keep_events)


def view(scenario, text: str, source: str, story=None) -> None:
    """The stage (a fragment of its own), then (``story``) the scenario's story, then the charts and the
    comparison at the time the clock was last paused."""
    replay = ss().replay
    learner = room.is_learner()
    room.bar(shown_runs(text, source), scenario)
    lessoncheck.badge(scenario, text, source)       # issue 18: a lesson whose own expect: fails says so
    if replay:
        st.info(f"Replaying **{md(replay['file'])}** (scenario {md(replay['name'])}): a recorded run, so the "
                "instructor's panel is off. Pick a lesson above to play live again.",
                icon=":material/history:")
    if learner:
        _stage(scenario, text, source)     # no presses; its one trigger ("room") reruns the whole page anyway
    else:
        st.fragment(_stage)(scenario, text, source)
    if story:
        story()
    if not replay and not learner:
        with st.expander("Type any fault (the command-line form)", icon=":material/keyboard:"):
            inject.typed_fault(scenario, "payment:fail:saga=2")
            inject.show_error()
    good = [s for s in shown_runs(text, source) if s.run is not None]
    if good:
        end = runs.end_time([s.run for s in good])
        t = min(float(ss().t), end)
        ahead = not ss().get("reveal") and t < end - 1e-9
        charts(good, t, end, ahead)
        if len(good) > 1:
            if ahead:
                st.caption(":material/visibility_off: How the two styles compare shows when the clock reaches the "
                           "end, or with **Show the whole run** ticked: first, ask the class which style will "
                           "finish first.")
            else:
                compare.section(good)


def _in_fragment_run() -> bool:
    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def _stage(scenario, text: str, source: str) -> None:
    """The stage and what its presses change. While the clock plays, a press reruns only this fragment (the
    charts below stay as they were at the last pause: nothing is plotted again, so the new runs reach the
    stage at once); a pause, a scrub or the end reruns the whole page, so the charts follow."""
    if _in_fragment_run() and ss().pop("_full_rerun", False):
        st.rerun(scope="app")
    ss().pop("_full_rerun", None)
    replay = ss().replay
    learner = room.is_learner()
    shown = shown_runs(text, source)
    if not replay and not learner and stage.pending():
        stage.take_injection(scenario, shown)          # an instructor's press, at the time that was on screen
        shown = shown_runs(text, source)
    live = None if replay or learner else (text, source)
    stage.mount(shown, None if live is None else inject.panel_data(scenario, shown), live)
    state.sync_url(room.link_params())
    room.push_after_page()


def _deadlock_time(run: dict):
    return next((e["t"] for e in run.get("events") or () if e["kind"] == "deadlock_detected"), None)


def charts(good: list, t: float, end: float, ahead: bool) -> None:
    """The whole-run charts at the time the stage last reported, the future hidden while ``ahead``."""
    available = [k for k in state.CHARTS if any(k in figures.detail_keys(s.run) for s in good)]
    if ss().get("chart") not in available:
        ss().chart = available[0]
    ss().w_chart = ss().chart
    st.segmented_control(f"Charts of the run, at t = {t:.2f} (the time the clock was paused)", available,
                         key="w_chart", required=True, format_func=CHART_LABELS.get,
                         on_change=lambda: ss().update(chart=ss().w_chart))
    which = ss().chart
    for col, s in zip(st.columns(len(good)), good):
        with col:
            title = "Choreography" if s.style == "choreography" else "Orchestration"
            if which not in figures.detail_keys(s.run):
                st.caption(f"**{title}:** {NOT_DRAWN.get(which, 'nothing of that kind in this run.')}")
                continue
            if which == "wait_for" and ahead and (_deadlock_time(s.run) or 0) > t:
                st.caption(f"**{title}:** no deadlock yet at t = {t:.2f}. Will there be one?")
                continue
            figures.show(figures.detail_at(s.key, s.run, which, t, end=end, hide_after=ahead),
                         key=f"chart_{s.style}")
