"""The browser app's parts: session state and URL, cached runs, the player, the
instructor's panel, side-by-side comparison, the editor and the load view.

``app.py`` wires them together; nothing here is imported by ``sim`` or ``viz``.
Every module keeps its state in ``st.session_state`` (one browser session),
never in module globals, so an instructor's faults never reach a learner.
"""
