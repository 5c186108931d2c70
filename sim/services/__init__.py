"""The built-in services as objects: each is one module, and a line in ``REGISTRY``.

A service knows its business: its forward action and its revert (on the run's world:
balances, stock, orders), what its revert will do in words, its narration, its message
names, its effect on the state the views draw, and its share of the invariants. The
engine's participants, the scenario's loader, the narration and the views ask a service
here instead of testing its name. A step with no built-in service (``shipping``) is a
:class:`Step`: it moves no money or stock and fails only by fault.

To add a built-in service: a module beside ``payment.py`` with a subclass of ``Step``,
and its line below.
"""
from __future__ import annotations

from .base import Step
from .inventory import Inventory
from .order import Order
from .payment import Payment

REGISTRY = {
    "order": Order,
    "payment": Payment,
    "inventory": Inventory,
}

_made = {}


def service(name: str) -> Step:
    """The service of step ``name`` (a built-in one, or a plain ``Step``); one object per name."""
    s = _made.get(name)
    if s is None:
        s = _made[name] = REGISTRY.get(name, Step)(name)
    return s


__all__ = ["Inventory", "Order", "Payment", "REGISTRY", "Step", "service"]
