"""The order service: creates the order (PENDING); its compensation rejects it (REJECTED)."""
from __future__ import annotations

from .base import Step


class Order(Step):
    messages = ("OrderCreated", "OrderFailed", "OrderRejected", "RejectFailed", "CreateOrder", "RejectOrder")
    narration = ("creates order {saga}", "rejects order {saga}")

    def apply(self, world, saga):
        world.order_state[saga] = "PENDING"
        return (f"order {saga} created, PENDING" if world.keep else None), None

    def revert(self, world, saga):
        world.order_state[saga] = "REJECTED"
        return f"order {saga} REJECTED"

    def undo_text(self, world, saga):
        return f"reject order {saga}"

    def effect(self, state, info, saga, sign):
        state["orders"][str(saga)] = "PENDING" if sign > 0 else "REJECTED"
        return True
