"""One browser session's state, and the link that reproduces it.

Everything a session can change lives in ``st.session_state`` under the keys
below (never in a module global): the scenario, the style, the seed, the
injected faults, the clock. ``init`` fills it once per session, from the URL
when the link carries a situation; ``sync_url`` writes the situation back, so
the address bar is always a link to exactly what is on screen.
"""
from __future__ import annotations

import streamlit as st

from sim.scenario import MAX_SEED

from . import runs

CUSTOM = "custom"                     # the scenario name while an edited or uploaded scenario is shown
STYLES = {"both": "Side by side", "choreography": "Choreography", "orchestration": "Orchestration"}
URL_STYLES = {"both": "both", "side-by-side": "both", "choreography": "choreography",
              "orchestration": "orchestration"}
DEFAULTS = {"view": "play", "style": "both", "seed": None, "faults": [], "t": 0.0, "playing": False,
            "speed": 1.0, "custom": None, "replay": None, "notices": [], "tab": "sequence", "reveal": False,
            "chart": "timeline", "clock_id": 1, "prefs_id": 1}
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
TABS = ("sequence", "log")
CHARTS = ("timeline", "saga_log", "state", "wait_for")


def ss():
    """The session's state (Streamlit's ``session_state``), for every ui module that reads or sets it."""
    return st.session_state


def init(entries) -> None:
    """Fill the session's state once: defaults, then whatever the URL asks for."""
    state = ss()
    if state.get("ready"):
        return
    for key, value in DEFAULTS.items():
        state.setdefault(key, list(value) if isinstance(value, list) else value)
    state.scenario = runs.default_name(entries)
    _read_url(entries)
    state.ready = True


def _read_url(entries) -> None:
    """The link's situation. Its values are anyone's text: a notice quotes them as code spans
    (``runs.literal``), so no link, image or Markdown from a link reaches the page."""
    state, params, notices = ss(), st.query_params, ss().notices
    lit = runs.literal
    names = {e.name for e in entries}
    wanted = params.get("scenario")
    if wanted == CUSTOM:
        notices.append("The link was made with an edited scenario, which a link cannot carry (share the file: "
                       f"Edit, Download). Showing {lit(state.scenario)} instead, without the link's faults.")
        return
    if wanted:
        if wanted in names:
            state.scenario = wanted
        else:
            notices.append(f"The link asks for scenario {lit(wanted)}, which is not in the library; "
                           f"showing {lit(state.scenario)} instead.")
    style = params.get("style")
    if style:
        if style in URL_STYLES:
            state.style = URL_STYLES[style]
        else:
            notices.append(f"The link asks for style {lit(style)}; styles are choreography, orchestration "
                           "or both. Showing both side by side.")
    seed = params.get("seed")
    if seed:
        try:
            value = int(seed)
        except ValueError:
            notices.append(f"The link's seed {lit(seed)} is not a whole number; using the scenario's seed.")
        else:
            if 0 <= value <= MAX_SEED:
                state.seed = value
            else:
                notices.append(f"The link's seed {lit(seed)} is outside 0 to {MAX_SEED} (what the seed box "
                               "takes); using the scenario's seed.")
    _read_moment(params, notices)
    specs = params.get_all("fault")
    scenario = current_scenario(entries)
    for spec in specs:
        if not isinstance(scenario, str):         # (a scenario that does not load says so itself)
            fault = runs.take_fault(spec, scenario)
            if isinstance(fault, str):
                notices.append(f"Left out a fault from the link: {fault}")
                continue
            spec = fault.to_spec()                # its one spelling: the link, the list and the runs agree
        if spec not in state.faults:
            state.faults.append(spec)


def _read_moment(params, notices) -> None:
    """The moment a link shares: its time (it opens paused there), speed, the stage's tab and the chart."""
    state = ss()
    t = params.get("t")
    if t:
        try:
            value = float(t)
            if not 0 <= value < 1e9:
                raise ValueError
            state.t = value
        except ValueError:
            notices.append(f"The link's time {runs.literal(t)} is not a time (a number from 0 on); starting at t = 0.")
    speed = params.get("speed")
    if speed:
        try:
            if float(speed) not in SPEEDS:
                raise ValueError
            state.speed = float(speed)
        except ValueError:
            notices.append(f"The link's speed {runs.literal(speed)} is not one of 0.25, 0.5, 1, 2, 4; playing at 1×.")
    for param, key, allowed in (("view", "tab", TABS), ("chart", "chart", CHARTS)):
        wanted = params.get(param)
        if wanted in allowed:
            state[key] = wanted
        elif wanted:
            notices.append(f"The link asks for {param} {runs.literal(wanted)}; it may be {', '.join(allowed)}.")


def scenario_text(entries) -> tuple:
    """(text, source) of the scenario on screen."""
    state = ss()
    if state.scenario == CUSTOM and state.custom:
        return state.custom["text"], state.custom["source"]
    for e in entries:
        if e.name == state.scenario:
            return e.text, e.source
    return "", "<no scenario>"


def current_scenario(entries):
    """The Scenario on screen, or a one-line message saying why there is none."""
    text, source = scenario_text(entries)
    if not text:
        return "The scenario library is empty: add a scenario file to scenarios/ or write one in Edit."
    return runs.parse(text, source)


def choose_scenario(name: str) -> None:
    """Switch to another library scenario: a fresh start (its own seed, no faults, t = 0)."""
    state = ss()
    state.scenario = name
    restart()


def use_custom(text: str, source: str) -> None:
    """Show an edited or uploaded scenario instead of the library's."""
    state = ss()
    state.custom = {"text": text, "source": source}
    state.scenario = CUSTOM
    restart()


def restart() -> None:
    """Back to t = 0 with no injected faults and the scenario's own seed."""
    state = ss()
    state.faults = []
    state.seed = None
    state.replay = None
    move_clock(0.0)


def move_clock(t: float, playing: bool = False, speed: float | None = None) -> None:
    """The server moves the stage's clock (a new scenario, a replay, a classroom room): to ``t``, paused
    unless ``playing``, with a new command id so the browser takes it (the stage's own reports never bump it)."""
    state = ss()
    state.t = float(t)
    state.playing = playing
    if speed is not None:
        state.speed = float(speed)
    state.clock_id = state.get("clock_id", 0) + 1


def shown_styles() -> tuple:
    style = ss().style
    return ("choreography", "orchestration") if style == "both" else (style,)


def url_params() -> dict:
    """The situation on screen as query parameters (scenario, style, seed, faults), and the moment: the
    time the stage last reported (a paused clock), its speed, tab and the chart below it. None in a replay:
    a recorded run is not in the library, so no link can reproduce it."""
    state = ss()
    if state.replay:
        return {}
    params = {"style": state.style, "scenario": state.scenario}
    if state.seed is not None:
        params["seed"] = str(state.seed)
    if state.faults:
        params["fault"] = list(state.faults)
    if state.t:
        params["t"] = f"{state.t:g}"
    if state.speed != 1.0:
        params["speed"] = f"{state.speed:g}"
    if state.tab != "sequence":
        params["view"] = state.tab
    if state.chart != "timeline":
        params["chart"] = state.chart
    return params


def sync_url(extra: dict | None = None) -> None:
    """Write the situation (and ``extra``: a classroom room's part) to the address bar, only when it changed,
    so the URL does not flicker."""
    wanted = {**(extra or {}), **url_params()}
    current = {k: (st.query_params.get_all(k) if k == "fault" else st.query_params.get(k))
               for k in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)
