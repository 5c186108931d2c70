"""Choreography against orchestration on the same scenario and faults: a table and a chart."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from . import figures, runs

ROWS = (("Duration (time units)", "duration"), ("Messages delivered", "messages"),
        ("Compensations", "compensations"), ("Retries", "retries"), ("Timeouts", "timeouts"))


def _subscriptions(metrics: dict) -> str:
    subs = metrics.get("subscriptions") or {}
    return ", ".join(f"{name} {n}" for name, n in subs.items())


def table_rows(shown: list) -> list:
    """One row per metric, one column per style: what a learner compares."""
    done = [s for s in shown if s.run is not None]
    rows = []
    for label, key in ROWS:
        rows.append({"": label, **{s.style: _duration(s.run) if key == "duration" else _fmt(s.run["metrics"].get(key))
                                   for s in done}})
    rows.append({"": "Outcomes", **{s.style: runs.outcome_words(s.run["outcomes"]) for s in done}})
    rows.append({"": "Invariants", **{s.style: invariant_words(s.run["invariants"]) for s in done}})
    if any(s.run.get("unfinished") for s in done):       # sagas that never ended, and what their order shows
        rows.append({"": "Not ended", **{s.style: "; ".join(f"saga {k}: {v}" for k, v in
                                                            (s.run.get("unfinished") or {}).items()) or "–"
                                         for s in done}})
    rows.append({"": "Where saga state lives", **{s.style: s.run["metrics"].get("saga_state_lives", "")
                                                 for s in done}})
    rows.append({"": "Subscriptions per component", **{s.style: _subscriptions(s.run["metrics"]) for s in done}})
    return rows


def _duration(run: dict) -> str:
    """The run's duration, or why it has none: a saga that never ended has no end to measure to."""
    unfinished = sum(1 for o in run["outcomes"].values() if o == "in_flight")
    if not unfinished:
        return _fmt(run["metrics"].get("duration"))
    return f"not over: {unfinished} saga{'s' if unfinished > 1 else ''} still in flight"


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def invariant_words(inv: dict) -> str:
    broken = [k.replace("_", " ") for k, ok in inv.items() if not ok]
    return "all hold" if not broken else "BROKEN: " + ", ".join(broken)


def section(shown: list) -> None:
    """The comparison of the whole runs (not just up to now)."""
    done = [s for s in shown if s.run is not None]
    if len(done) < 2:
        return
    st.subheader("How the two styles compare (whole run)")
    left, right = st.columns([1.1, 1])
    with left:
        st.table(pd.DataFrame(table_rows(done)).set_index(""))
    with right:
        figures.show(figures.compare(tuple(s.key for s in done), [s.run for s in done]), key="compare_chart")
