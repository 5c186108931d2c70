"""The playback clock and its controls: play/pause, step, restart, speed, time scrubber.

The clock is session state (``t``, ``playing``, ``speed``). While playing, the
stage fragment reruns every ``TICK`` seconds and calls :func:`tick`, which moves
``t`` on by ``speed`` times the wall time since the last frame; the runs
themselves are cached, so a tick only redraws. Every control sets ``_hold`` so that the rerun it causes
redraws without moving the clock.
"""
from __future__ import annotations

import time

import streamlit as st

TICK = 0.25                                   # seconds of wall time between frames while playing
SPEEDS = (0.5, 1.0, 2.0, 4.0)                 # simulated time units per second of wall time
MAX_STEP = 1.0                                # a longer gap (a hidden tab, a slow frame) counts as one tick


def ss():
    return st.session_state


def _hold() -> None:
    ss()._hold = True


def _set_playing(playing: bool, end: float) -> None:
    """Play or pause. A setter, not a toggle, and Play and Pause are two buttons (two keys): a press that
    Streamlit hands to a callback twice (a click racing the clock's rerun) cannot undo itself."""
    state = ss()
    if playing and not state.playing and state.t >= end:
        state.t = 0.0
    if state.playing != playing:
        state.playing = playing
        state._app_rerun = True               # the fragment's timer is set by a full run
    _hold()


def _go(t: float) -> None:
    """Jump to ``t`` and pause (the step buttons: the target is fixed when the button is drawn)."""
    ss().t = t
    _pause()


def _pause() -> None:
    state = ss()
    if state.playing:
        state.playing = False
        state._app_rerun = True
    _hold()


def _scrub() -> None:
    ss().t = float(ss().w_t)
    _hold()


def _speed() -> None:
    ss().speed = float(ss().w_speed or 1.0)
    _hold()


def rerun_if_needed() -> None:
    """After Play or Pause: a full run, so the stage fragment's timer starts or stops."""
    if ss().pop("_app_rerun", False):
        st.rerun(scope="app")


def tick(end: float) -> None:
    """Move the clock on by the wall time since the last frame (times the speed) while playing; stop at the end.

    Wall time, not a fixed step, so the playback keeps its speed when a frame takes longer to draw.
    """
    state = ss()
    now = time.monotonic()
    elapsed = now - state.get("_last_tick", now)
    state._last_tick = now
    state.t = min(max(0.0, float(state.t)), end)
    if state.pop("_hold", False) or not state.playing:
        return
    step = elapsed if 0 < elapsed <= MAX_STEP else TICK
    state.t = round(min(end, state.t + state.speed * step), 6)
    if state.t >= end:
        state.playing = False
        st.rerun(scope="app")


def controls(end: float, times: list) -> None:
    """The transport bar: a big Play/Pause, step back/forward, restart, speed, and the time scrubber."""
    state = ss()
    cols = st.columns([1.4, 1, 1, 1, 2.2], vertical_alignment="bottom")
    if state.playing:
        cols[0].button("Pause", key="pause", icon=":material/pause:", type="primary", width="stretch",
                       on_click=_set_playing, args=(False, end), help="Stop the clock here.")
    else:
        again = state.t >= end
        cols[0].button("Play again" if again else "Play", key="play", type="primary", width="stretch",
                       icon=":material/replay:" if again else ":material/play_arrow:", on_click=_set_playing,
                       args=(True, end), help="Start the clock. Everything below follows it.")
    t = state.t
    before = [x for x in times if x < t - 1e-9]
    after = [x for x in times if x > t + 1e-9]
    cols[1].button("Back", key="step_back", icon=":material/skip_previous:", width="stretch", on_click=_go,
                   args=(before[-1] if before else 0.0,), help="Go back to the previous moment something happened.")
    cols[2].button("Next", key="step_forward", icon=":material/skip_next:", width="stretch", on_click=_go,
                   args=(after[0] if after else t,), help="Go on to the next moment something happens.")
    cols[3].button("Restart", key="restart", icon=":material/first_page:", width="stretch", on_click=_go,
                   args=(0.0,), help="Back to t = 0 (the injected faults stay).")
    state.w_speed = state.speed
    cols[4].segmented_control("Speed (time units per second)", SPEEDS, key="w_speed", required=True,
                              format_func=lambda s: f"{s:g}×", on_change=_speed, width="stretch")
    label = f"Time: t = {state.t:.2f} of {end:g}"
    top = max(end, 0.01)
    if state.playing:
        # while the clock runs, the scrubber only shows the time: a draggable one would race the clock
        st.slider(label, min_value=0.0, max_value=top, value=min(state.t, top), format="%.2f", disabled=True,
                  help="Pause to drag the time.")
    else:
        state.w_t = min(round(state.t, 2), top)
        st.slider(label, min_value=0.0, max_value=top, step=0.01, key="w_t", on_change=_scrub, format="%.2f",
                  help="Drag to any moment; everything below shows the run at that time.")
