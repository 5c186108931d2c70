"""The instructor's faults: a press on the stage's panel becomes a fault at the time on screen.

The buttons live in the stage (the browser knows the time at the click); this
module turns a press into one fault (a ``sim.Fault``) with ``at`` = that time,
validated once, and keeps the session's fault list (as specs, contract 2). It
also draws the typed fault form and the fault list of the load view. A fault is
appended to the session's fault list; the runs are re-simulated (cached) with
it, and the prefix property keeps everything before that time as it was, so
playback goes on from the same moment.
"""
from __future__ import annotations

import math

import streamlit as st

import sim

from . import runs
from .state import ss
from .safe import md

HOW_OFTEN = {"once": 1, "twice": 2, "every time": None}
KINDS = ("fail", "compensation_fail", "crash", "slow", "drop", "duplicate", "delay")
ORCHESTRATOR = "orchestrator"


def next_step_saga(shown: list, service: str, t: float):
    """The saga whose ``service`` step starts next (at or after t) in any shown run, or None."""
    starts = [(e["t"], e["saga"]) for s in shown if s.run for e in s.run.get("events") or ()
              if e["kind"] == "step_started" and e.get("service") == service and e["t"] >= t]
    return min(starts)[1] if starts else None


def fault_mapping(kind: str, target: str, t: float, shown: list, duration: float = 5.0, how_often: str = "once",
                  message: str | None = None) -> dict:
    """The fault an instructor's button means."""
    data = {"target": target, "kind": kind, "at": at_time(t)}
    if kind == "fail":
        saga = next_step_saga(shown, target, t)
        if saga is not None:
            data["saga"] = saga
    if kind in ("fail", "compensation_fail"):
        times = HOW_OFTEN.get(how_often, 1)
        if times is not None:
            data["times"] = times
    if kind == "crash":
        data["recover_after"] = duration
    if kind in ("slow", "delay"):
        data["by"] = duration
    if kind in ("drop", "duplicate", "delay"):
        data["target"] = "broker"
        data["message"] = message
    return data


def at_time(t: float) -> float:
    """The fault's time: the time on screen, rounded up to 1/100 (a fault never strikes before what is shown)."""
    return math.ceil(round(float(t) * 100, 6)) / 100


def fault_from_press(press, scenario, shown: list) -> sim.Fault:
    """The fault an instructor's button means, checked for this scenario: ``press`` is what the browser sent
    (kind, target, message, duration, how often, and the time on screen). A press that says nothing sensible
    raises ``sim.SagaInputError`` with one line. Pure: the page and the stage's route (``ui.api``) both call
    it, and pass the record on to the runs as it is."""
    services = scenario.services
    if not isinstance(press, dict):
        raise sim.SagaInputError("the new fault: the button sent nothing readable")
    kind, target = press.get("kind"), press.get("target")
    t, duration = press.get("t"), press.get("duration", 5.0)
    if kind not in KINDS:
        raise sim.SagaInputError(f"the new fault: no button makes a fault of kind {kind!r}")
    if target not in (*services, ORCHESTRATOR) and kind not in ("drop", "duplicate", "delay"):
        raise sim.SagaInputError(f"the new fault: {target!r} is not a service of this scenario")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise sim.SagaInputError(f"the new fault: the time on screen must be a number, got {t!r}")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0.1 <= duration <= 1000:
        raise sim.SagaInputError("the new fault: crash for / slow by / delay by must be from 0.1 to 1000")
    if kind in ("drop", "duplicate", "delay") and press.get("message") not in message_names(shown, scenario):
        raise sim.SagaInputError(f"the new fault: {press.get('message')!r} is not a message of this scenario")
    if target == ORCHESTRATOR and kind in ("fail", "compensation_fail"):
        raise sim.SagaInputError("the new fault: the orchestrator can only crash or be slow")
    mapping = fault_mapping(kind, target, float(t), shown, float(duration), press.get("often", "once"),
                            press.get("message"))
    return sim.fault_from_mapping(mapping, "the new fault")      # its target is one of the above: sim.run checks


def from_stage(press, scenario, shown: list) -> None:
    """An instructor's button on the stage, sent through a rerun (when the stage's route could not be
    reached): the fault joins the session's list, or the panel shows why not."""
    ss()._inject_error = None
    try:
        fault = fault_from_press(press, scenario, shown)
    except sim.SagaInputError as e:
        ss()._inject_error = str(e)
    else:
        add(fault.to_spec())


def adopt(faults, scenario) -> None:
    """The fault list the stage's route drew (``ui.api``: the session's list plus the new press): the
    session takes it, each fault checked again here (the browser is not trusted), so the charts, the link
    and a room follow. The whole list travels, so two quick presses whose triggers meet in one rerun lose
    nothing."""
    if not isinstance(faults, list) or len(faults) > 100 or not all(isinstance(f, str) and len(f) <= 300
                                                                     for f in faults):
        ss()._inject_error = "the new fault: the stage sent no readable fault list"
        return
    taken = []
    for spec in faults:
        fault = runs.take_fault(spec, scenario)
        if isinstance(fault, str):
            ss()._inject_error = fault
            return
        spec = fault.to_spec()
        if spec not in taken:
            taken.append(spec)
    ss().faults = taken
    ss()._inject_error = None


def add(spec: str) -> None:
    state = ss()
    if spec not in state.faults:
        state.faults = [*state.faults, spec]
    state._inject_error = None


def _add_typed(scenario) -> None:
    state = ss()
    fault = runs.take_fault((state.get("w_spec") or "").strip(), scenario)
    state._typed_error = fault if isinstance(fault, str) else None
    if not isinstance(fault, str):
        add(fault.to_spec())
        state.w_spec = ""


def remove(spec) -> None:
    ss().faults = [f for f in ss().faults if f != spec]


def reset() -> None:
    ss().faults = []


def message_names(shown: list, scenario) -> list:
    """Message names of the shown runs, in the order they first travel; then the rest of the scenario's."""
    names = []
    for s in shown:
        for e in (s.run or {}).get("events") or ():
            if e["kind"] == "message_sent" and e["message"] not in names:
                names.append(e["message"])
    for step in scenario.steps:
        for name in (step.messages.done, step.messages.failed, step.messages.undone):
            if name not in names:
                names.append(name)
    return names


def panel_data(scenario, shown: list, faults=None, error: str | None = None) -> dict:
    """What the stage's instructor panel shows: the targets, the message names, the faults so far (the
    session's specs, unless ``faults`` is given: the stage's route gives its ``sim.Fault`` records)."""
    if faults is None:
        faults, error = ss().faults, ss().get("_inject_error")
    targets = [*scenario.services]
    if "orchestration" in {s.style for s in shown}:
        targets.append(ORCHESTRATOR)
    struck = effects(shown)
    own = [f.describe() for f in scenario.faults]
    return {"targets": targets, "messages": message_names(shown, scenario),
            "faults": [{"spec": spec, "text": text, "note": no_effect(spec, shown, struck)}
                       for spec, text in map(_spec_and_words, faults)],
            "own": ("From the scenario file: " + "; ".join(own)) if own else "",
            "error": error or ""}


def _spec_and_words(fault) -> tuple:
    """A fault (a record, or a spec) as its spec and its sentence."""
    return (fault, runs.describe(fault)) if isinstance(fault, str) else (fault.to_spec(), fault.describe())


def typed_fault(scenario, example: str) -> None:
    """A text box for any fault in the command-line form (contract 2)."""
    with st.form("typed_fault", border=False):
        c = st.columns([3, 1], vertical_alignment="bottom")
        c[0].text_input("Type a fault (from t = 0 unless you add at=…)", placeholder=example, key="w_spec")
        c[1].form_submit_button("Add", width="stretch", on_click=_add_typed, args=(scenario,))


def show_error() -> None:
    """Why the typed fault was refused (the stage's panel shows its own buttons' errors)."""
    if ss().get("_typed_error"):
        st.error(ss()._typed_error)


def effects(shown: list) -> dict:
    """For each fault spec, the styles in which it struck at least once (a ``fault_injected`` event)."""
    out = {}
    for s in shown:
        for e in (s.run or {}).get("events") or ():
            if e["kind"] == "fault_injected":
                out.setdefault((e.get("detail") or {}).get("fault"), set()).add(s.style)
    return out


def no_effect(spec: str, shown: list, struck: dict) -> str:
    """"" if the fault struck in every shown run, else a short note saying where it did not."""
    styles = [s.style for s in shown if s.run is not None]
    missed = [style for style in styles if style not in struck.get(spec, set())]
    if not missed:
        return ""
    return "no effect in this run" if len(missed) == len(styles) else f"no effect in {' or '.join(missed)}"


def fault_list(scenario, shown: list = ()) -> None:
    """The faults in play: the scenario's own, then the injected ones, each removable."""
    state = ss()
    struck = effects(shown) if shown and any(s.run and s.run.get("events") for s in shown) else None
    own = [f.describe() for f in scenario.faults]
    if own:
        st.caption("From the scenario file: " + "; ".join(own))
    if not state.faults:
        st.caption("No injected faults yet.")
        return
    head = st.columns([5, 1], vertical_alignment="center")
    head[0].markdown(f"**Injected faults ({len(state.faults)})**")
    head[1].button("Reset", key="reset_faults", icon=":material/restart_alt:", on_click=reset, width="stretch",
                   help="Remove every injected fault.")
    for i, spec in enumerate(state.faults):
        row = st.columns([5, 1], vertical_alignment="center")
        note = no_effect(spec, shown, struck) if struck is not None else ""
        row[0].markdown(f"{i + 1}. {md(runs.describe(spec))} &nbsp; `{spec}`" + (f" &nbsp; :gray[({note})]"
                                                                                   if note else ""))
        row[1].button("Remove", key=f"remove_{i}", icon=":material/close:", on_click=remove, args=(spec,),
                      width="stretch")
