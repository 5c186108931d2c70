"""The classroom (issue 15): rooms a class follows, and questions to predict before watching.

- :mod:`classroom.rooms`: :class:`RoomStore`, rooms and answers in SQLite (WAL), shared by every
  server process; only the instructor's key drives a room or reads the tally.
- :mod:`classroom.questions`: questions about what comes next, generated from the runs ahead of
  the clock (so the right answer is the simulation's), plus a lesson's own ``questions:``.
- :mod:`classroom.qr`: the learners' link as a QR code (SVG).

Plain Python: no Streamlit here; the pages call it.
"""
from .questions import questions
from .rooms import Room, RoomError, RoomStore, data_dir

__all__ = ["Room", "RoomError", "RoomStore", "data_dir", "questions"]
