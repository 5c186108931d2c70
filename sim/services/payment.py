"""The payment service: charges the customer (fails if the balance is short); its compensation
refunds, a new ledger entry that gives the money back. Its invariant: money is conserved."""
from __future__ import annotations

from .base import Step


class Payment(Step):
    messages = ("PaymentCompleted", "PaymentFailed", "PaymentRefunded", "RefundFailed",
                "ChargePayment", "RefundPayment")
    narration = ("charges {customer} {price}", "refunds {customer} {price}")

    def apply(self, world, saga):
        order = world.orders[saga]
        bal = world.balances[order.customer]
        if bal < order.price:
            return None, f"{order.customer}'s balance {bal:g} is short of {order.price:g}"
        world.balances[order.customer] = bal - order.price
        world.held += order.price
        world.ledger.append((world.env.now, saga, order.customer, -order.price, "charge"))
        if not world.keep:
            return None, None
        return f"charged {order.customer} {order.price:g} (balance {bal - order.price:g})", None

    def revert(self, world, saga):
        order = world.orders[saga]
        world.balances[order.customer] += order.price
        world.held -= order.price
        world.ledger.append((world.env.now, saga, order.customer, order.price, "refund"))
        return (f"refunded {order.customer} {order.price:g} (a new ledger entry; balance "
                f"{world.balances[order.customer]:g})")

    def undo_text(self, world, saga):
        order = world.orders[saga]
        return f"refund {order.customer} {order.price:g}"

    def effect(self, state, info, saga, sign):
        if info.get("customer") is None:
            return False
        amount = float(info.get("amount", info.get("price", 0.0)) or 0.0)
        balances = state["balances"]
        balances[info["customer"]] = balances.get(info["customer"], 0.0) - sign * amount
        return True

    @staticmethod
    def conserved(start_money, balances, held) -> bool:
        """Money conserved, and nobody holds less than nothing: a refund of money never charged
        would keep the sum while the payment service went negative."""
        money = sum(balances.values()) + held
        return (abs(money - start_money) <= 1e-6 * max(1.0, abs(start_money))
                and held >= -1e-6 * max(1.0, abs(start_money)))
