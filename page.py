"""The page: pick a scenario, play it, inject failures, compare the styles (served by app.py).

    streamlit run app.py      (app.py serves this script and the stage's routes)

Thin on purpose: widgets -> session state -> cached runs -> figures. The parts
live in ``ui/``; the model in ``sim/``; the figures in ``viz/``.
"""
import streamlit as st

from ui import author, explore, loadview, play, room, runs, sidebar, state
from ui.safe import guard

# the sidebar starts folded: on a 1024x768 projector the stage of both styles needs the whole width
st.set_page_config(page_title="Saga simulator", page_icon="🔁", layout="wide",
                   initial_sidebar_state="collapsed")

# less empty space above the title (still below the 3.75rem header, which takes the clicks), so the stage,
# Play and the instructor's buttons fit on a 1024x768 projector's first screen
st.html("<style>.stMainBlockContainer {padding: 3.9rem 2rem 2rem 2rem;}</style>")

# "Watch", not "Play": the stage's transport has the Play button
VIEWS = {"play": ":material/movie: Watch", "explore": ":material/grid_on: Explore",
         "author": ":material/edit_document: Edit"}

entries, broken = runs.library()
state.init(entries)
room.init()                     # a classroom link: create a room, drive it, or follow it
room.follow_before_page()
for notice in st.session_state.notices:
    st.warning(notice)
st.session_state.notices = []
scenario = state.current_scenario(entries)
text, source = state.scenario_text(entries)
sidebar.render(broken, scenario)

head = st.columns([2.6, 3.4, 2.6], vertical_alignment="top")
sidebar.picker(entries, head, locked=room.is_following())
st.session_state.w_view = st.session_state.view
head[2].segmented_control("View", list(VIEWS), key="w_view", format_func=VIEWS.get, required=True,
                          label_visibility="collapsed", width="stretch",
                          on_change=lambda: st.session_state.update(view=st.session_state.w_view, playing=False))

if st.session_state.view == "author":
    with guard("The editor"):
        summary = not isinstance(scenario, str) and runs.is_load(scenario)    # the load view's runs: no events
        author.view(scenario, text, source, play.shown_runs(text, source, keep_events=not summary))
elif st.session_state.view == "explore":
    with guard("The explorer"):
        if isinstance(scenario, str):
            st.error(scenario)
        else:
            explore.view(scenario, text, source)
elif st.session_state.replay:
    st.markdown(f"### Replay: {sidebar.md(st.session_state.replay['name'])}")
    with guard("The replay"):
        play.view(scenario, text, source)
elif isinstance(scenario, str):
    st.error(scenario)
else:
    with guard("The run"):
        if runs.is_load(scenario):
            sidebar.story(scenario)
            loadview.view(scenario, text, source)
        else:
            play.view(scenario, text, source, story=lambda: sidebar.story(scenario))
room.push_after_page()          # the instructor's page: what changed goes to the room (the stage pushes too)
