"""The lesson picker and the style (top of the page), the sidebar (seed, sharing) and the lesson's story."""
from __future__ import annotations

import streamlit as st

from sim.scenario import MAX_SEED

from . import state
from .state import ss
from .safe import md, prose

HOW_TO = ("**How to use:** press **Play** and watch the messages travel through the broker; **Back** and "
          "**Next** step one moment, the slider jumps anywhere. Instructors: inject a failure with the panel under "
          "the stage while it plays, and watch the compensations travel back.")


def _pick() -> None:
    state.choose_scenario(ss().w_scenario)


def _style() -> None:
    ss().style = ss().w_style


def _seed() -> None:
    ss().seed = int(ss().w_seed)


def picker(entries, cols, locked: bool = False) -> None:
    """The lesson picker and the style, at the top of the page (the first thing a newcomer reads); ``locked``
    while a learner follows the instructor (the room chooses)."""
    options = [e.name for e in entries] + ([state.CUSTOM] if ss().custom else [])
    titles = {e.name: f"Lesson {i} · {e.title}" for i, e in enumerate(entries, 1)}   # curriculum order
    if entries:
        titles[entries[0].name] += " (start here)"
    titles[state.CUSTOM] = "Your edited scenario (from Edit)"
    ss().w_scenario = ss().scenario if ss().scenario in options else (options[0] if options else None)
    cols[0].selectbox(f"Lesson ({len(entries)} in the library)", options, key="w_scenario",
                      format_func=lambda n: titles.get(n, n), on_change=_pick, label_visibility="collapsed",
                      disabled=locked,
                      help="Each lesson tells a short story; its story and learning goal show under the stage.")
    ss().w_style = ss().style
    cols[1].segmented_control("Style", list(state.STYLES), key="w_style", format_func=state.STYLES.get,
                              required=True, on_change=_style, width="stretch", label_visibility="collapsed",
                              disabled=locked,
                              help="Choreography: services react to each other's events. Orchestration: "
                                   "one orchestrator commands each service. Side by side: both on one clock.")


def render(broken, scenario) -> None:
    """The sidebar (folded at first): what a saga is, how to use the page, the seed, sharing."""
    with st.sidebar:
        st.markdown("## :material/sync_alt: Saga simulator")
        st.caption("A saga keeps data consistent across services without a global transaction: each step "
                   "is a local transaction, and a failure is undone by compensations.")
        st.caption(HOW_TO)
        default_seed = getattr(scenario, "seed", 1)
        shown_seed = ss().seed if ss().seed is not None else default_seed
        if not 0 <= shown_seed <= MAX_SEED:        # a file may hold a seed past the box's range: say so
            st.caption(f"This scenario's seed is {shown_seed}; the box takes 0 to {MAX_SEED}.")
            shown_seed = min(max(shown_seed, 0), MAX_SEED)
        ss().w_seed = shown_seed
        st.number_input("Seed", min_value=0, max_value=MAX_SEED, step=1, key="w_seed", on_change=_seed,
                        disabled=bool(ss().replay),
                        help="Only matters with timing jitter or faults that strike with a probability."
                             + (" A replayed run keeps the seed it was recorded with." if ss().replay else ""))
        st.caption(":material/link: **Share:** the address bar holds the lesson, style, seed and faults on "
                   "screen, and the moment the clock was paused; copy it to hand out this exact situation.")
        for problem in broken:
            st.warning(f"Not in the library: {problem}")


def story(scenario) -> None:
    """The scenario's story, its learning goal and what to watch, in a panel the learner can fold."""
    parts = [(":material/menu_book: The story", scenario.summary + (f" ({scenario.source})" if scenario.source
                                                                     else "")),
             (":material/flag: Learning goal", scenario.learning_goal),
             (":material/visibility: What to watch", scenario.watch)]
    parts = [p for p in parts if p[1]]
    if parts:
        with st.expander("The story, the learning goal and what to watch", expanded=True, icon=":material/school:"):
            for col, (label, text) in zip(st.columns(len(parts)), parts):
                col.markdown(f"**{label}:** {prose(text)}")
