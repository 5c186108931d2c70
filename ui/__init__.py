"""The browser app's parts: session state and URL, cached runs, the player, the
instructor's panel, side-by-side comparison, the editor and the load view.

``page.py`` wires them together, and ``app.py`` serves the page with ``api``'s
routes; nothing here is imported by ``sim`` or ``viz``. Every module keeps a
session's state in ``st.session_state`` (one browser session), never in module
globals, so an instructor's faults never reach a learner; module globals hold
only caches of pure results (runs, digests, scenario texts by token).
"""
