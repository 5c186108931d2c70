"""A step as a service: what every service does, and what a custom step (``shipping``) does."""
from __future__ import annotations


class Step:
    """A step with no resource: it succeeds unless a fault strikes it, and its revert changes nothing.

    A built-in service overrides what it does differently. ``world`` is the run's state
    (``sim.engine.Sim``: ``orders``, ``balances``, ``stock``, ``reserved``, ``order_state``,
    ``ledger``, ``keep``); the methods change it and return what the trace says.
    """

    messages = None      # (done, failed, undone, undo_failed, command, undo); None: from the step's name
    narration = None     # (forward, compensation) in the third person, from {saga} {customer} {price} {items}
    locks_items = False  # under isolation: semantic_lock, its step locks each item of the order first

    def __init__(self, name: str):
        self.name = name

    def apply(self, world, saga):
        """The local transaction of the forward step. Returns (effect, failure reason)."""
        return f"{self.name} done", None

    def revert(self, world, saga):
        """The compensating transaction: a new entry that gives back, never an erased one."""
        return f"{self.name} undone"

    def undo_text(self, world, saga):
        """What the compensation is about to do, in words."""
        return f"undo {self.name}"

    def effect(self, state, info, saga, sign):
        """A succeeded step (``sign`` +1) or compensation (-1) on the state a view draws
        (``balances``, ``stock``, ``orders``), from the saga's detail ``info``; True if it changed."""
        return False
