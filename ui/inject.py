"""The instructor's panel: inject a fault at the current time, list the faults, remove them.

A press appends one fault spec (contract 2) with ``at`` = the clock's time to
the session's fault list; the runs are re-simulated (cached) with it, and the
prefix property keeps everything before that time as it was, so playback goes
on from the same moment.
"""
from __future__ import annotations

import streamlit as st

import sim

from . import runs
from .stage import md

SERVICE_ACTIONS = (("fail", "Fail its next step", ":material/error:"),
                   ("compensation_fail", "Fail its compensation", ":material/undo:"),
                   ("crash", "Crash it for {d:g}", ":material/power_off:"),
                   ("slow", "Slow it by {d:g}", ":material/hourglass_bottom:"))
BROKER_ACTIONS = (("drop", "Drop it", ":material/delete:"), ("duplicate", "Duplicate it", ":material/content_copy:"),
                  ("delay", "Delay it by {d:g}", ":material/schedule:"))
HOW_OFTEN = {"once": 1, "twice": 2, "every time": None}
ORCHESTRATOR = "orchestrator"


def ss():
    return st.session_state


def next_step_saga(shown: list, service: str, t: float):
    """The saga whose ``service`` step starts next (at or after t) in any shown run, or None."""
    starts = [(e["t"], e["saga"]) for s in shown if s.run for e in s.run.get("events") or ()
              if e["kind"] == "step_started" and e.get("service") == service and e["t"] >= t]
    return min(starts)[1] if starts else None


def fault_mapping(kind: str, target: str, t: float, shown: list) -> dict:
    """The fault a button means, from the panel's widgets."""
    state = ss()
    data = {"target": target, "kind": kind, "at": round(t, 2)}
    duration = float(state.get("w_duration") or 5)
    if kind == "fail":
        saga = next_step_saga(shown, target, t)
        if saga is not None:
            data["saga"] = saga
    if kind in ("fail", "compensation_fail"):
        times = HOW_OFTEN.get(state.get("w_how_often", "once"))
        if times is not None:
            data["times"] = times
    if kind == "crash":
        data["recover_after"] = duration
    if kind in ("slow", "delay"):
        data["by"] = duration
    if kind in ("drop", "duplicate", "delay"):
        data["target"] = "broker"
        data["message"] = state.get("w_message")
    return data


def _inject(kind: str, shown: list, services: tuple) -> None:
    """A button's callback. It reads the time from the session, not from when the button was drawn: a press
    that Streamlit replays after an interrupted rerun then makes the same fault again, which ``add`` ignores."""
    state = ss()
    target = state.get("w_target") or ""
    try:
        fault = sim.fault_from_mapping(fault_mapping(kind, target, float(state.t), shown), "the new fault")
        sim.faults.check_fault_targets(fault, services, "the new fault")
    except sim.SagaInputError as e:
        state._inject_error = str(e)
    else:
        add(fault.to_spec())
    state._hold = True


def add(spec: str) -> None:
    state = ss()
    if spec not in state.faults:
        state.faults = [*state.faults, spec]
    state._injected = spec
    state._inject_error = None


def _add_typed(scenario) -> None:
    state = ss()
    spec = (state.get("w_spec") or "").strip()
    problem = runs.check_fault(spec, scenario)
    if problem:
        state._inject_error = problem
    else:
        add(sim.parse_fault(spec).to_spec())
        state.w_spec = ""
    state._hold = True


def _remove(spec: str) -> None:
    ss().faults = [f for f in ss().faults if f != spec]
    ss()._hold = True


def _reset() -> None:
    ss().faults = []
    ss()._hold = True


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


def panel(scenario, shown: list, t: float) -> None:
    """Buttons that inject a fault now: a service half and a broker half, and the faults so far."""
    state = ss()
    services = scenario.services
    duration = float(state.get("w_duration") or 5.0)
    with st.container(border=True):
        head = st.columns([5, 1], vertical_alignment="center")
        head[0].markdown(f"**:material/school: Instructor: inject a failure now, at t = {t:.2f}** &nbsp; "
                         ":gray[the run is replayed with it; nothing before now changes]")
        with head[1].popover("Settings", icon=":material/tune:", width="stretch"):
            st.number_input("Crash for / slow by / delay by (time units)", min_value=0.1, max_value=1000.0,
                            value=5.0, step=1.0, key="w_duration")
            st.segmented_control("Fail how often (per saga)", list(HOW_OFTEN), key="w_how_often",
                                 default="once", required=True,
                                 help="For the two fail buttons. A compensation that fails every time "
                                      "leaves its saga stuck after the last retry.")
            typed_fault(scenario, "payment:fail:saga=2")
        left, right = st.columns(2, gap="medium")
        with left:
            targets = [*services, ORCHESTRATOR] if "orchestration" in {s.style for s in shown} else list(services)
            if state.get("w_target") not in targets:
                state.w_target = "payment" if "payment" in targets else targets[0]
            st.segmented_control("A service", targets, key="w_target", required=True, width="stretch")
            _buttons(SERVICE_ACTIONS, shown, services, duration,
                     off=lambda kind: state.w_target == ORCHESTRATOR and kind in ("fail", "compensation_fail"))
        with right:
            st.selectbox("The broker: next message of the kind", message_names(shown, scenario), key="w_message",
                         help="Which message the broker loses, repeats or holds back: the next one sent from now.")
            _buttons(BROKER_ACTIONS, shown, services, duration, off=lambda kind: False)
        show_error()
        fault_list(scenario, shown)


def _buttons(actions, shown, services, duration, off) -> None:
    """The action buttons, two to a row."""
    for i in range(0, len(actions), 2):
        cols = st.columns(2)
        for col, (kind, label, icon) in zip(cols, actions[i:i + 2]):
            disabled = off(kind)
            col.button(label.format(d=duration), key=f"inject_{kind}", icon=icon, width="stretch",
                       disabled=disabled, on_click=_inject, args=(kind, shown, services),
                       help=_HELP[kind] + (" (The orchestrator can only crash or be slow.)" if disabled else ""))


def typed_fault(scenario, example: str) -> None:
    """A text box for any fault in the command-line form (contract 2)."""
    with st.form("typed_fault", border=False):
        c = st.columns([3, 1], vertical_alignment="bottom")
        c[0].text_input("Type a fault (from t = 0 unless you add at=…)", placeholder=example, key="w_spec")
        c[1].form_submit_button("Add", width="stretch", on_click=_add_typed, args=(scenario,))


def show_error() -> None:
    if ss().get("_inject_error"):
        st.error(ss()._inject_error)


_HELP = {
    "fail": "The chosen service fails its step for the next saga that reaches it (a business failure): "
            "the saga compensates what it did so far.",
    "compensation_fail": "The chosen service's next compensations fail and are retried after a backoff.",
    "crash": "The chosen service goes down now and comes back after the time set on the right; "
             "messages to it wait in the broker.",
    "slow": "Every step of the chosen service takes longer from now on (enough delay trips the "
            "orchestrator's timeout).",
    "drop": "The broker loses the next message of the chosen kind.",
    "duplicate": "The broker delivers the next message of the chosen kind twice.",
    "delay": "The broker holds the next message of the chosen kind back for the time set on the right.",
}


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
    head[1].button("Reset", key="reset_faults", icon=":material/restart_alt:", on_click=_reset, width="stretch",
                   help="Remove every injected fault.")
    for i, spec in enumerate(state.faults):
        row = st.columns([5, 1], vertical_alignment="center")
        note = no_effect(spec, shown, struck) if struck is not None else ""
        row[0].markdown(f"{i + 1}. {md(runs.describe(spec))} &nbsp; `{spec}`" + (f" &nbsp; :gray[({note})]"
                                                                                   if note else ""))
        row[1].button("Remove", key=f"remove_{i}", icon=":material/close:", on_click=_remove, args=(spec,),
                      width="stretch")
