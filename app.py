"""The saga simulator in the browser: pick a scenario, play it, inject failures, compare the styles.

    streamlit run app.py

Two parts in one server: the page (``page.py``, a Streamlit script) and a few
HTTP routes under ``/api`` (``ui/api.py``) that the stage calls from the browser
without a rerun: an instructor's injection, and a learner following a classroom
room. ``streamlit run`` finds ``app`` below and serves both.
"""
import streamlit as st

from ui import api

app = st.App("page.py", routes=api.routes())
