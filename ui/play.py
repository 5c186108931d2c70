"""The play view: one fragment that holds everything that moves with the clock.

While playing, the fragment reruns on its own every ``player.TICK`` seconds
(``st.fragment(run_every=...)``), so only this part of the page is redrawn;
the instructor's buttons live inside it too, so an injection redraws only it.
"""
from __future__ import annotations

import math
import os
import sys
import time

import streamlit as st

from . import compare, figures, inject, player, runs, stage, state
from .safe import guard
from .sidebar import HOW_TO

DETAILS = ("sequence", "timeline", "saga_log", "wait_for", "state")
TIMING = bool(os.environ.get("SAGA_APP_TIMING"))   # print how long each redraw of the stage takes (stderr)


def ss():
    return st.session_state


def shown_runs(text: str, source: str, keep_events: bool = True) -> list:
    """The runs on screen: a replayed file's, or the live runs of the scenario with the session's faults."""
    replay = ss().replay
    if replay:
        found = [runs.Shown(("replay", replay["id"], i), r.get("style", "?"), r) for i, r in enumerate(replay["runs"])]
        wanted = [s for s in found if s.style in state.shown_styles()]
        return wanted or found
    return runs.live_runs(text, source, state.shown_styles(), ss().seed, ss().faults, keep_events)


def view(scenario, text: str, source: str) -> None:
    interval = player.TICK if ss().playing else None
    st.fragment(run_every=interval)(_stage)(scenario, text, source)


def _stage(scenario, text: str, source: str) -> None:
    player.rerun_if_needed()
    start = time.perf_counter()
    with guard("The run"):
        _draw(scenario, text, source)
    if TIMING:
        print(f"stage t={ss().t:.2f} playing={ss().playing} {1000 * (time.perf_counter() - start):.0f} ms",
              file=sys.stderr, flush=True)


def _draw(scenario, text: str, source: str) -> None:
    shown = shown_runs(text, source)
    good = [s for s in shown if s.run is not None]
    end = runs.end_time([s.run for s in good])
    player.tick(end)
    t = ss().t
    if ss().replay:
        st.info(f"Replaying **{stage.md(ss().replay['file'])}** (scenario {stage.md(ss().replay['name'])}): a "
                "recorded run, so the instructor's panel is off. Pick a scenario on the left to play live again.",
                icon=":material/history:")
    else:
        st.caption(HOW_TO)
    player.controls(end, runs.event_times([s.run for s in good]))
    injected = ss().pop("_injected", None)
    if injected:
        note = inject.no_effect(injected, shown, inject.effects(shown))
        st.toast(f"Injected at t = {t:.2f}: {runs.describe(injected)}"
                 + (f". It has {note}: nothing it can strike happens after now." if note else ""),
                 icon=":material/info:" if note else ":material/bolt:")
    stage.header_row(shown, t)
    stage.now_row(shown, t)
    # The places are laid out top to bottom, but the instructor's panel is filled before the figures: the
    # browser shows elements in the order they arrive, so after an injection the new fault is listed at
    # once instead of after the figures have been redrawn.
    if len(shown) == 1:            # one style: the service graph and the second view side by side
        left, right = st.columns(2, gap="medium")
        panel = st.container()
        with panel:
            _panel(scenario, shown, t)
        stage.topology_row(shown, t, [left])
        with right:
            _detail(shown, good, t, [right])
        stage.cards_row(shown, t)
    else:
        graphs, panel = st.container(), st.container()
        with panel:
            _panel(scenario, shown, t)
        with graphs:
            stage.topology_row(shown, t)
        stage.cards_row(shown, t)
        _detail(shown, good, t)
    stage.log_row(shown, t)
    compare.section(shown)
    if not ss().replay:
        state.sync_url()


def _panel(scenario, shown: list, t: float) -> None:
    if not ss().replay:
        inject.panel(scenario, shown, t)


def _detail(shown: list, good: list, t: float, cols=None) -> None:
    """The second view (sequence diagram, timeline, ...), chosen by the learner, with its "now" line."""
    available = [k for k in DETAILS if any(k in figures.detail_keys(s.run) for s in good)]
    if ss().get("w_detail") not in available:
        ss().w_detail = available[0] if available else None
    st.segmented_control("A second view of the same run", available, key="w_detail", required=True,
                         format_func=lambda k: figures.DETAIL_LABELS.get(k, k))
    if ss().w_detail:
        # while playing, the "now" line moves in half time units: a plotly chart is rebuilt in the browser
        # whenever its figure changes, and the service graph already moves on every frame
        stage.detail_row(shown, math.floor(t * 2) / 2 if ss().playing else t, ss().w_detail, cols)
