"""Issue 17: the built-in services as objects (sim/services), and a new one is a module plus a
line in the registry: the engine, the scenario's messages, the narration and the views all
ask the service, never test its name."""
from __future__ import annotations

import pytest

import sim
import sim.services as services
from sim.narrate import narrate
from sim.scenario import step_messages
from sim.services import REGISTRY, Inventory, Order, Payment, Step, service
from viz.trace import state_at


def test_the_registry_names_the_built_in_services():
    assert REGISTRY == {"order": Order, "payment": Payment, "inventory": Inventory}
    assert type(service("payment")) is Payment and service("payment") is service("payment")
    assert type(service("shipping")) is Step                   # a custom step: no resource
    assert step_messages("payment").done == "PaymentCompleted"
    assert step_messages("shipping").done == "ShippingDone"


class Points(Step):
    """A loyalty-points service, as a newcomer would add one: a point per unit of price."""
    messages = ("PointsAwarded", "PointsFailed", "PointsRevoked", "RevokeFailed", "AwardPoints", "RevokePoints")
    narration = ("awards {customer} points for {price}", "revokes {customer}'s points for {price}")

    def apply(self, world, saga):
        order = world.orders[saga]
        points = world.__dict__.setdefault("points", {})
        points[order.customer] = points.get(order.customer, 0) + order.price
        return f"{order.customer} has {points[order.customer]:g} points", None

    def revert(self, world, saga):
        order = world.orders[saga]
        world.points[order.customer] -= order.price
        return f"{order.customer} has {world.points[order.customer]:g} points"


@pytest.fixture
def points(monkeypatch):
    monkeypatch.setitem(REGISTRY, "points", Points)            # the one line a new service adds
    monkeypatch.setattr(services, "_made", {})


@pytest.mark.parametrize("style", sim.STYLES)
def test_a_new_service_is_a_module_and_a_line_in_the_registry(points, style):
    text = ("name: points\ncustomers: {alice: 100}\nstock: {widget: 5}\n"
            "steps: [order, points, payment]\norders: [{customer: alice, item: widget, price: 30}]\n")
    sc = sim.parse_scenario(text, "<points>")
    assert sc.steps[1].messages.done == "PointsAwarded"
    run = sim.run(sc, style)
    assert run.outcomes == {1: "completed"}
    assert run.sim.points == {"alice": 30}
    d = run.to_dict()
    assert any(e["kind"] == "message_sent" and e["message"] == ("PointsAwarded" if style == "choreography"
                                                                  else "AwardPoints") for e in d["events"])
    assert "points awards alice points for 30" in "\n".join(narrate(d))
    # declined payment: the points are revoked, in words too
    poor = sim.run(sim.parse_scenario(text.replace("alice: 100", "alice: 10"), "<points>"), style)
    assert poor.outcomes == {1: "compensated"} and poor.sim.points == {"alice": 0}
    assert "points revokes alice's points for 30" in "\n".join(narrate(poor.to_dict()))


def test_the_views_take_a_steps_effect_from_its_service():
    run = sim.run(sim.load_scenario(sim.SCENARIO_DIR / "payment-declined.yaml"), "orchestration").to_dict()
    end = state_at(run, 1e9)
    assert end["orders"] == {k: "REJECTED" for k in run["outcomes"]}
    assert end["balances"] == {k: float(v) for k, v in run["final_state"]["balances"].items()}
