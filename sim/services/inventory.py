"""The inventory service: reserves stock (fails if stock is short); its compensation releases
it. Its invariant: stock is conserved (available plus reserved is what there was)."""
from __future__ import annotations

from .base import Step


class Inventory(Step):
    messages = ("StockReserved", "StockFailed", "StockReleased", "ReleaseFailed", "ReserveStock", "ReleaseStock")
    narration = ("reserves {items}", "releases {items}")
    locks_items = True

    def apply(self, world, saga):
        order = world.orders[saga]
        stock = world.stock
        for item, qty in order.items:
            if stock[item] < qty:
                return None, f"stock of {item} is {stock[item]}, needs {qty}"
        got = world.reserved.setdefault(saga, {})
        for item, qty in order.items:
            stock[item] -= qty
            got[item] = got.get(item, 0) + qty
        if not world.keep:
            return None, None
        return "reserved " + ", ".join(f"{q} {i}" for i, q in order.items), None

    def revert(self, world, saga):
        order = world.orders[saga]
        got = world.reserved[saga]            # one application's units (see apply): never more
        for item, qty in order.items:
            world.stock[item] += qty
            if got[item] == qty:
                del got[item]
            else:
                got[item] -= qty
        if not got:
            del world.reserved[saga]
        return "released " + ", ".join(f"{q} {i}" for i, q in order.items)

    def undo_text(self, world, saga):
        return "release " + ", ".join(f"{q} {i}" for i, q in world.orders[saga].items)

    def effect(self, state, info, saga, sign):
        items = _items(info)
        for item, qty in items:
            state["stock"][item] = state["stock"].get(item, 0) - sign * qty
        return bool(items)

    @staticmethod
    def conserved(start_stock, stock, reserved) -> bool:
        return all(stock[i] + reserved[i] == n for i, n in start_stock.items())


def _items(info: dict) -> list:
    """Items of an order as (item, qty) pairs, whatever shape the detail uses."""
    items = info.get("items")
    if isinstance(items, dict):
        return [(k, float(v)) for k, v in items.items()]
    if isinstance(items, list):
        return [(i.get("item"), float(i.get("qty", 1))) if isinstance(i, dict) else (i[0], float(i[1]))
                for i in items]
    if info.get("item") is not None:
        return [(info["item"], float(info.get("qty", 1)))]
    return []
