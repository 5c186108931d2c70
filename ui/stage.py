"""The stage: one Streamlit custom component (v2) that owns the clock and draws every frame in the browser.

Python hands it the runs once (digested by ``viz.stage``), plus the instructor's
panel and, when the server wants to move the clock (a new scenario, a shared
link), a clock command with a new id. The component keeps its element across
reruns (``key="stage"``): new runs after an injection are swapped in without a
remount, and the clock goes on. It talks back only when it matters:

- state ``ui`` (play, pause, scrub, step, speed, the end, the tab, the reveal
  toggle): the server's copy of the clock, for the whole-run charts and the link;
- triggers ``inject``, ``remove``, ``reset`` (the instructor's buttons), each
  with the clock as it was on screen at the click;
- trigger ``injected``: a fault the stage already drew (it asked ``ui.api``'s
  route for the new runs, which answers faster than a rerun): the session adopts
  it, checked again;
- trigger ``room``: a following learner's room moved beyond its clock (the stage
  follows the clock itself, through ``ui.api``'s long poll): the page reruns.

The callbacks only record what was asked; :func:`take_injection` turns a
button into a fault where the script knows the scenario and the runs.
"""
from __future__ import annotations

import math

import streamlit as st

from . import api, inject, room, state
from .state import ss

# The stage's code (ui/component/stage.js and .css, ~50 KB) is loaded once by the browser from the page's own
# route (``ui.api``), not inlined: Streamlit sends a component's js= and css= with every rerun that draws it.
# What is inlined is this loader: it imports the module and links the style sheet (the addresses come in the
# data, with their version), then hands every call to the module. Served without app.py's routes (AppTest,
# a bare ``streamlit run page.py``), nothing loads: the tests that run the page read its data, not its pixels.
LOADER = """
let loaded = null;
function load(urls, parent) {
  if (!parent.querySelector('link[data-stage-css]')) {
    const link = document.createElement('link');
    link.rel = 'stylesheet'; link.href = new URL(urls.css, location.href).href;
    link.setAttribute('data-stage-css', '');
    parent.__stageCss = new Promise((ok) => { link.onload = ok; link.onerror = ok; });
    parent.appendChild(link);
  }
  loaded ||= import(new URL(urls.js, location.href).href);      // this module is a blob: a whole address
  return Promise.all([loaded, parent.__stageCss]).then(([module]) => module);
}
export default function (component) {
  const parent = component.parentElement, urls = (component.data || {}).assets;
  if (!urls) return undefined;
  let cleanup = null, gone = false;
  parent.__stageLatest = component;
  load(urls, parent).then((module) => {
    if (!gone && parent.__stageLatest === component) cleanup = module.default(component);
  });
  return () => { gone = true; if (cleanup) cleanup(); };
}
"""
COMPONENT = st.components.v2.component("saga_stage", js=LOADER)
KEY = "stage"


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


def _on_injected() -> None:
    press = _press("injected")
    if press is not None:
        ss()._stage_adopt = press.get("value")


def _on_room() -> None:
    """A following learner's room moved beyond the clock: this rerun takes it (``room.follow_before_page``)."""
    ss()._full_rerun = True


def take_injection(scenario, shown: list) -> None:
    """Turn the instructor's last press (if any) into a fault, at the time that was on screen; or adopt the
    fault the stage's route already drew."""
    press = ss().pop("_stage_inject", None)
    if press is not None:
        inject.from_stage(press, scenario, shown)
    adopted = ss().pop("_stage_adopt", None)
    if adopted is not None:
        inject.adopt(adopted, scenario)


def pending() -> bool:
    """A press (or a drawn fault) waits to be taken by :func:`take_injection`."""
    return ss().get("_stage_inject") is not None or ss().get("_stage_adopt") is not None


# ---------------------------------------------------------------- what the browser gets


def data(shown: list, panel: dict | None, live: tuple | None = None) -> dict:
    """What the stage gets: the runs, the clock command, the panel; with ``live`` = (scenario text, source)
    for an instructor's panel, how to reach the injection route; for a learner, the room to poll (its clock and
    runs while following; its questions, which the stage shows and answers, always)."""
    session = ss()
    out = {**api.stage_runs(shown),
           "clock": {"id": session.get("clock_id", 0), "t": float(session.t), "playing": bool(session.playing),
                     "speed": float(session.speed)},
           "prefs_id": session.get("prefs_id", 0), "tab": session.get("tab", "sequence"),
           "reveal": bool(session.get("reveal")), "panel": panel, "api": None, "follow": None,
           "assets": api.asset_urls()}
    if panel is not None and live is not None:
        out["api"] = {"url": "/api/stage/inject", "scenario": api.register(*live), "styles": list(state.shown_styles()),
                      "seed": session.seed, "faults": list(session.faults)}
    mine = room.room()
    if mine and mine["role"] == "learner":           # following, or exploring alone (then only the questions)
        out["follow"] = {"url": f"/api/rooms/{mine['code']}/follow", "answer": f"/api/rooms/{mine['code']}/answer",
                         "learner": mine["learner"], "following": bool(mine.get("following")),
                         "version": mine.get("version"), "clock": mine.get("clock")}
    return out


def mount(shown: list, panel: dict | None, live: tuple | None = None) -> None:
    """The stage, kept across reruns under one key; new data is swapped in by its JavaScript."""
    COMPONENT(key=KEY, data=data(shown, panel, live), on_ui_change=_on_ui, on_inject_change=_on_inject,
              on_remove_change=_on_remove, on_reset_change=_on_reset, on_injected_change=_on_injected,
              on_room_change=_on_room)

