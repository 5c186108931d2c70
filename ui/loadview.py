"""The load view: a scenario of thousands of sagas, both styles, measured instead of animated.

Runs keep no events (``keep_events=False``): the figures come from the run's
metrics and outcomes. A line says which style is being simulated (a long run's own bar and Stop
button come with it, ``ui.runs.Watcher``).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from . import compare, figures, inject, runs, state
from .state import ss
from .safe import guard

FIGURES = (("latency", "Latency"), ("outcomes", "Outcomes"), ("in_flight", "Messages in flight"))


def _simulate_all(scenario, text: str, source: str) -> list:
    styles = state.shown_styles()
    # one line saying which style runs (a long run draws its own bar and Stop button below it: one bar)
    line = st.empty()
    shown = []
    for i, style in enumerate(styles):
        line.caption(f":material/hourglass_top: Simulating {scenario.saga_count:,} sagas with {style}"
                     f"{f' ({i + 1} of {len(styles)})' if len(styles) > 1 else ''}…")
        shown += runs.live_runs(text, source, (style,), ss().seed, ss().faults, keep_events=False)
    done = [s.style for s in shown if s.run is not None]
    if done:
        line.caption(f":material/check: Simulated {scenario.saga_count:,} sagas with {' and '.join(done)}.")
    else:
        line.empty()                 # nothing simulated (stopped, too big): the notices below say why
    return shown


def table_rows(shown: list) -> list:
    rows = []
    for label, get in (("Sagas", lambda m: m.get("sagas")),
                       ("Throughput (sagas per time unit)", lambda m: m.get("throughput")),
                       ("Latency p50", lambda m: m["latency"].get("p50")),
                       ("Latency p95", lambda m: m["latency"].get("p95")),
                       ("Latency p99", lambda m: m["latency"].get("p99")),
                       ("Duration", lambda m: m.get("duration")),
                       ("Most sagas in flight at once", lambda m: m.get("max_in_flight")),
                       ("Messages delivered", lambda m: m.get("messages")),
                       ("Compensations", lambda m: m.get("compensations")),
                       ("Retries", lambda m: m.get("retries"))):
        rows.append({"": label, **{s.style: _fmt(get(s.run["metrics"])) for s in shown if s.run}})
    rows.append({"": "Outcomes", **{s.style: runs.outcome_words(s.run["outcomes"]) for s in shown if s.run}})
    rows.append({"": "Invariants", **{s.style: compare.invariant_words(s.run["invariants"]) for s in shown if s.run}})
    return rows


LATENCY = ("p50", "p95", "p99", "throughput")


def _with_latency(run: dict) -> dict:
    """The run with its latency percentiles beside the other metrics, for a grouped bar chart."""
    m = run["metrics"]
    return {**run, "metrics": {**m, **{k: m["latency"].get(k) for k in LATENCY[:3]}}}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else "–"


def view(scenario, text: str, source: str) -> None:
    st.markdown(f"**Load test:** {scenario.saga_count:,} sagas are too many to animate, so this view measures "
                "them: throughput, latency percentiles and outcomes, per style.")
    shown = _simulate_all(scenario, text, source)
    for s in shown:
        if isinstance(s.error, runs.Stopped):
            st.info(s.error, icon=":material/stop_circle:")
        elif s.run is None:
            st.error(f"{s.style}: {s.error}")
    good = [s for s in shown if s.run is not None]
    if good:
        left, right = st.columns([1.2, 1])
        left.table(pd.DataFrame(table_rows(good)).set_index(""))
        with right, guard("The latency comparison"):
            fig = figures.compare(tuple(s.key for s in good) + ("latency",), [_with_latency(s.run) for s in good],
                                  LATENCY)
            fig.update_layout(title_text="Latency percentiles and throughput, per style")
            figures.show(fig, key="load_compare")
        for key, label in FIGURES:
            cols = st.columns(len(good))
            for col, s in zip(cols, good):
                with col, guard(f"{label} ({s.style})"):
                    fig = figures.load_figures(s.key, s.run)[key]
                    fig.update_layout(title_text=f"{fig.layout.title.text} · {s.style}")
                    figures.show(fig, key=f"load_{key}_{s.style}")
    with st.container(border=True):
        st.markdown("**:material/school: Faults for the whole load** "
                    "(e.g. one flaky service: `payment:fail:probability=0.1`)")
        inject.typed_fault(scenario, "payment:fail:probability=0.1   or   inventory:crash:at=100,recover_after=50")
        inject.show_error()
        inject.fault_list(scenario)
    state.sync_url()
