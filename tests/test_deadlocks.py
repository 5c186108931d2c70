"""Deadlocks and concurrent sagas (issue 4): cyclic waits_for, semantic locks, an isolation anomaly."""
import subprocess
import sys

import pytest

from sim import run

from helpers import ROOT, kinds, scenario

CYCLE_2 = ["order", {"name": "payment", "waits_for": ["StockReserved"]},
           {"name": "inventory", "waits_for": ["PaymentCompleted"]}]
CYCLE_3 = ["order", {"name": "payment", "waits_for": ["ShippingDone"]},
           {"name": "inventory", "waits_for": ["PaymentCompleted"]},
           {"name": "shipping", "waits_for": ["StockReserved"]}]
# payment runs first and charges; then inventory and shipping wait for each other
CYCLE_AFTER_CHARGE = ["order", "payment", {"name": "inventory", "waits_for": ["ShippingDone"]},
                      {"name": "shipping", "waits_for": ["StockReserved"]}]


@pytest.mark.parametrize("steps, cycle", [(CYCLE_2, ["inventory", "payment"]),
                                          (CYCLE_3, ["shipping", "inventory", "payment"]),
                                          (CYCLE_AFTER_CHARGE, ["shipping", "inventory"])])
def test_cyclic_waits_deadlock_choreography_and_are_found_early(steps, cycle):
    sc = scenario(steps=steps)
    r = run(sc, "choreography").to_dict()
    assert r["outcomes"] == {"1": "deadlocked"}
    found = kinds(r, "deadlock_detected")
    assert len(found) == 1 and found[0]["detail"]["cycle"] == cycle
    assert found[0]["t"] < 5 < sc.horizon        # as soon as the saga's first event is out
    assert kinds(r, "saga_deadlocked")[0]["t"] == found[0]["t"]
    # nothing charged or reserved is left dangling, and the order is rejected
    assert r["final_state"]["balances"] == {"alice": 100, "bob": 100}
    assert r["final_state"]["stock"] == {"widget": 5, "gadget": 5}
    assert r["final_state"]["orders"] == {"1": "REJECTED"}
    assert all(r["invariants"].values()), r["invariants"]


@pytest.mark.parametrize("steps", [CYCLE_2, CYCLE_3, CYCLE_AFTER_CHARGE])
def test_the_same_saga_completes_under_orchestration(steps):
    r = run(scenario(steps=steps), "orchestration").to_dict()
    assert r["outcomes"] == {"1": "completed"}
    assert not kinds(r, "deadlock_detected")


def test_check_warns_about_a_cycle_without_refusing_the_file(tmp_path):
    f = tmp_path / "cyclic.yaml"
    f.write_text("name: cyclic\ncustomers: {alice: 100}\nstock: {widget: 1}\n"
                 "orders: [{customer: alice, price: 10}]\n"
                 "steps: [order, {name: payment, waits_for: [StockReserved]}, "
                 "{name: inventory, waits_for: [PaymentCompleted]}]\n")
    p = subprocess.run([sys.executable, "-m", "sim", "check", str(f)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0
    assert "inventory -> payment -> inventory" in p.stderr and "warning" in p.stderr
    assert p.stdout.startswith("ok:")


LOCK_ORDERS = [{"customer": "alice", "items": {"widget": 1, "gadget": 1}, "price": 30, "at": 0},
               {"customer": "bob", "items": {"gadget": 1, "widget": 1}, "price": 30, "at": 0}]


@pytest.mark.parametrize("style", ["choreography", "orchestration"])
def test_semantic_locks_in_opposite_order_deadlock_and_the_younger_saga_is_retried(style):
    r = run(scenario(isolation="semantic_lock", orders=LOCK_ORDERS), style).to_dict()
    found = kinds(r, "deadlock_detected")
    assert len(found) == 1
    d = found[0]["detail"]
    assert sorted(d["cycle"]) == ["saga 1", "saga 2"] and d["victim"] == "saga 2"
    assert "youngest" in d["reason"]
    # saga 2 is compensated, then tried again as saga 3, which completes
    assert r["outcomes"] == {"1": "completed", "2": "compensated", "3": "completed"}
    retry = [e for e in kinds(r, "saga_started") if e["saga"] == 3][0]
    assert retry["detail"]["retry_of"] == 2
    assert r["final_state"]["balances"] == {"alice": 70, "bob": 70}
    assert all(r["invariants"].values())


@pytest.mark.parametrize("style", ["choreography", "orchestration"])
def test_without_locks_the_same_orders_do_not_deadlock(style):
    r = run(scenario(orders=LOCK_ORDERS), style).to_dict()
    assert r["outcomes"] == {"1": "completed", "2": "completed"}
    assert not kinds(r, "deadlock_detected")


DIRTY = dict(steps=["order", "inventory", "payment"], stock={"widget": 1},
             customers={"alice": {"balance": 10}, "bob": {"balance": 100}},
             orders=[{"customer": "alice", "item": "widget", "price": 30, "at": 0},
                     {"customer": "bob", "item": "widget", "price": 30, "at": 0.5}])


@pytest.mark.parametrize("style", ["choreography", "orchestration"])
def test_dirty_read_turns_bob_away_and_a_semantic_lock_makes_him_wait(style):
    # alice reserves the only widget, then her payment fails and the widget is released;
    # bob read the stock while alice's reservation was there: turned away
    plain = run(scenario(**DIRTY), style).to_dict()
    assert plain["outcomes"] == {"1": "compensated", "2": "compensated"}
    assert plain["final_state"]["stock"] == {"widget": 1}     # the widget was there all along
    # with a semantic lock bob waits for alice's saga to end, then gets the widget
    locked = run(scenario(isolation="semantic_lock", **DIRTY), style).to_dict()
    assert locked["outcomes"] == {"1": "compensated", "2": "completed"}
    waits = kinds(locked, "lock_waiting")
    assert [(e["saga"], e["detail"]["holder"]) for e in waits] == [(2, 1)]
    assert all(locked["invariants"].values())


@pytest.mark.parametrize("style", ["choreography", "orchestration"])
def test_lock_waiters_are_forgotten_when_inventory_crashes(style):
    sc = scenario(isolation="semantic_lock", **DIRTY)
    r = run(sc, style, faults=["inventory:crash:at=2.2,recover_after=4.8"]).to_dict()
    assert r["outcomes"] == {"1": "compensated", "2": "completed"}
    assert all(r["invariants"].values())
