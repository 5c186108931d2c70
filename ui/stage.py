"""The stage: one Streamlit custom component (v2) that owns the clock and draws every frame in the browser.

Python hands it the runs once (digested by ``viz.stage``), plus the instructor's
panel and, when the server wants to move the clock (a new scenario, a shared
link), a clock command with a new id. The component keeps its element across
reruns (``key="stage"``): new runs after an injection are swapped in without a
remount, and the clock goes on. It talks back only when it matters:

- state ``ui`` (play, pause, scrub, step, speed, the end, the tab, the reveal
  toggle): the server's copy of the clock, for the whole-run charts and the link;
- triggers ``inject``, ``remove``, ``reset`` (the instructor's buttons), each
  with the clock as it was on screen at the click.

The callbacks only record what was asked; :func:`take_injection` turns a
button into a fault where the script knows the scenario and the runs.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import streamlit as st

import viz.stage

from . import inject, runs, state

ASSETS = Path(__file__).resolve().parent / "component"
COMPONENT = st.components.v2.component(
    "saga_stage", css=(ASSETS / "stage.css").read_text(encoding="utf-8"),
    js=(ASSETS / "stage.js").read_text(encoding="utf-8"))
KEY = "stage"


def ss():
    return st.session_state


# ---------------------------------------------------------------- what the browser says


def _value(name: str):
    """The component's state or trigger value ``name`` (None if it has none)."""
    result = ss().get(KEY)
    try:
        return result[name]
    except (KeyError, TypeError, IndexError):
        return getattr(result, name, None)


def take_clock(ui) -> None:
    """The clock as the stage had it (the time on screen, playing or not, the speed, the tab, the reveal)."""
    if not isinstance(ui, dict):
        return
    session = ss()
    t = ui.get("t")
    if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
        session.t = max(0.0, float(t))
    session.playing = ui.get("playing") is True
    if ui.get("speed") in state.SPEEDS:
        session.speed = float(ui["speed"])
    if ui.get("tab") in state.TABS:
        session.tab = ui["tab"]
    if isinstance(ui.get("reveal"), bool):
        session.reveal = ui["reveal"]


# what the charts below the stage depend on: a report of one of these redraws the whole page
REDRAWS_PAGE = ("pause", "scrub", "seek", "back", "next", "restart", "end", "reveal")


def _on_ui() -> None:
    ui = _value("ui")
    take_clock(ui)
    if isinstance(ui, dict) and ui.get("why") in REDRAWS_PAGE:
        ss()._full_rerun = True


def _press(name: str):
    """A trigger's value, with the clock it was pressed at taken; while the clock plays only the stage's
    fragment reruns (the charts show the last pause), else the whole page does."""
    press = _value(name)
    if not isinstance(press, dict):
        return None
    take_clock(press.get("ui"))
    if not ss().get("playing") or ss().get("reveal"):
        ss()._full_rerun = True
    return press


def _on_inject() -> None:
    press = _press("inject")
    if press is not None:
        ss()._stage_inject = press.get("value")


def _on_remove() -> None:
    press = _press("remove")
    if press is not None:
        inject.remove(press.get("value"))


def _on_reset() -> None:
    if _press("reset") is not None:
        inject.reset()


def take_injection(scenario, shown: list) -> None:
    """Turn the instructor's last press (if any) into a fault, at the time that was on screen."""
    press = ss().pop("_stage_inject", None)
    if press is not None:
        inject.from_stage(press, scenario, shown)


# ---------------------------------------------------------------- what the browser gets


@st.cache_data(show_spinner=False, max_entries=64)
def _stage_run(run_key: tuple, _run: dict) -> dict:
    return viz.stage.stage_run(_run)


def runs_id(shown: list) -> str:
    """Names the runs on screen: changes exactly when they do (the stage swaps runs when it changes)."""
    return hashlib.sha1(repr([s.key for s in shown]).encode()).hexdigest()[:12]


def data(shown: list, panel: dict | None) -> dict:
    session = ss()
    good = [s for s in shown if s.run is not None]
    return {"runs_id": runs_id(shown), "runs": [_stage_run(s.key, s.run) for s in good],
            "errors": [{"style": s.style, "error": s.error} for s in shown if s.run is None],
            "clock": {"id": session.get("clock_id", 0), "t": float(session.t), "playing": bool(session.playing),
                      "speed": float(session.speed)},
            "prefs_id": session.get("prefs_id", 0), "tab": session.get("tab", "sequence"),
            "reveal": bool(session.get("reveal")), "panel": panel}


def mount(shown: list, panel: dict | None) -> None:
    """The stage, kept across reruns under one key; new data is swapped in by its JavaScript."""
    COMPONENT(key=KEY, data=data(shown, panel), on_ui_change=_on_ui, on_inject_change=_on_inject,
              on_remove_change=_on_remove, on_reset_change=_on_reset)

