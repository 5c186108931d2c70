"""The business rules of the built-in services: each step's local transaction, its revert, and
what the revert will do, in words."""
from __future__ import annotations


class LocalTransactions:
    """What a participant's step does to the world (part of ``Participant``)."""

    def apply(self, saga):
        """The local transaction of the forward step. Returns (effect, failure reason)."""
        sim = self.sim
        order = sim.orders[saga]
        name = self.name
        if name == "order":
            sim.order_state[saga] = "PENDING"
            return (f"order {saga} created, PENDING" if sim.keep else None), None
        if name == "payment":
            bal = sim.balances[order.customer]
            if bal < order.price:
                return None, f"{order.customer}'s balance {bal:g} is short of {order.price:g}"
            sim.balances[order.customer] = bal - order.price
            sim.held += order.price
            sim.ledger.append((sim.env.now, saga, order.customer, -order.price, "charge"))
            if not sim.keep:
                return None, None
            return f"charged {order.customer} {order.price:g} (balance {bal - order.price:g})", None
        if name == "inventory":
            for item, qty in order.items:
                if sim.stock[item] < qty:
                    return None, f"stock of {item} is {sim.stock[item]}, needs {qty}"
            got = sim.reserved.setdefault(saga, {})
            for item, qty in order.items:
                sim.stock[item] -= qty
                got[item] = got.get(item, 0) + qty
            if not sim.keep:
                return None, None
            return "reserved " + ", ".join(f"{q} {i}" for i, q in order.items), None
        return f"{name} done", None

    def undo_text(self, saga):
        order = self.sim.orders[saga]
        if self.name == "order":
            return f"reject order {saga}"
        if self.name == "payment":
            return f"refund {order.customer} {order.price:g}"
        if self.name == "inventory":
            return "release " + ", ".join(f"{q} {i}" for i, q in order.items)
        return f"undo {self.name}"

    def revert(self, saga):
        """The compensating transaction: a new entry that gives back, never an erased one."""
        sim = self.sim
        order = sim.orders[saga]
        if self.name == "order":
            sim.order_state[saga] = "REJECTED"
            return f"order {saga} REJECTED"
        if self.name == "payment":
            sim.balances[order.customer] += order.price
            sim.held -= order.price
            sim.ledger.append((sim.env.now, saga, order.customer, order.price, "refund"))
            return (f"refunded {order.customer} {order.price:g} (a new ledger entry; balance "
                    f"{sim.balances[order.customer]:g})")
        if self.name == "inventory":
            got = sim.reserved[saga]            # one application's units (see apply): never more
            for item, qty in order.items:
                sim.stock[item] += qty
                if got[item] == qty:
                    del got[item]
                else:
                    got[item] -= qty
            if not got:
                del sim.reserved[saga]
            return "released " + ", ".join(f"{q} {i}" for i, q in order.items)
        return f"{self.name} undone"
