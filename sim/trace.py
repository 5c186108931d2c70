"""Contract 3's trace as a run records it: one ``TraceEvent`` per thing that happened.

A trace is a list of events in the order they happened (``seq`` is the position).
``TraceEvent`` names the fields of each, in the order the engine records them:
the engine appends plain tuples in exactly this layout (half the cost of building
the named record, and a load run makes millions), so every reader goes through
:func:`records` or unpacks ``EVENT_FIELDS`` in this order, never by position.
"""
from __future__ import annotations

from typing import NamedTuple


class TraceEvent(NamedTuple):
    """One event: when, what, of which saga, at which service; a message's name, id and ends
    for the broker's events (None otherwise); and the kind's own detail (a dict, or None)."""

    t: float
    kind: str
    saga: int | None
    service: str | None
    message: str | None
    msg_id: int | None
    src: str | None
    dst: str | None
    detail: dict | None


EVENT_FIELDS = TraceEvent._fields
_make = TraceEvent._make


def records(events):
    """The engine's events (``Sim.events``) as ``TraceEvent`` records, lazily."""
    return map(_make, events)
