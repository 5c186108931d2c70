"""The simulation core (issue 2): ordered logs, message vocabularies, invariants, determinism, goldens."""
import json
import os

import pytest

from sim import load_scenario, run
from sim.scenario import step_messages

from helpers import ROOT, events, expected_failure_log, scenario, steps_log

STYLES = ("choreography", "orchestration")
STEPS_4 = ["order", "payment", "inventory", "shipping"]


@pytest.mark.parametrize("style", STYLES)
def test_happy_path_ordered_log(style):
    evs = events(scenario(), style)
    assert steps_log(evs) == [
        ("step_started", "order"), ("step_succeeded", "order"),
        ("step_started", "payment"), ("step_succeeded", "payment"),
        ("step_started", "inventory"), ("step_succeeded", "inventory"),
        ("saga_completed", "order" if style == "choreography" else "orchestrator"),
    ]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("steps", [["order", "payment", "inventory"], STEPS_4,
                                   ["order", "inventory", "payment", "shipping", "billing"]])
def test_failure_at_each_step_compensates_in_reverse(style, steps):
    for k in range(1, len(steps) + 1):
        sc = scenario(steps=steps, faults=[{"target": steps[k - 1], "kind": "fail"}])
        r = run(sc, style).to_dict()
        end = "order" if style == "choreography" else "orchestrator"
        assert steps_log(r["events"]) == expected_failure_log(steps, k) + [("saga_compensated", end)], (k, steps)
        assert r["outcomes"] == {"1": "compensated"}
        assert r["final_state"]["orders"] == {"1": "REJECTED"}
        assert r["final_state"]["balances"] == {"alice": 100, "bob": 100}
        assert r["final_state"]["stock"] == {"widget": 5, "gadget": 5}
        assert all(r["invariants"].values()), r["invariants"]


@pytest.mark.parametrize("style", STYLES)
def test_business_failures_come_from_state(style):
    short_money = scenario(customers={"alice": {"balance": 10}})
    r = run(short_money, style).to_dict()
    failed = [e for e in r["events"] if e["kind"] == "step_failed"]
    assert [(e["service"], e["detail"]["reason"]) for e in failed] == [
        ("payment", "alice's balance 10 is short of 30")]
    no_stock = scenario(stock={"widget": 0})
    r = run(no_stock, style).to_dict()
    assert [e["service"] for e in r["events"] if e["kind"] == "step_failed"] == ["inventory"]
    # the refund is a new ledger entry that gives the money back
    assert r["final_state"]["ledger_entries"] == 2
    assert r["final_state"]["balances"]["alice"] == 100


def test_choreography_carries_events_and_keeps_no_log():
    sc = scenario(steps=STEPS_4, faults=[{"target": "shipping", "kind": "fail"}])
    evs = events(sc, "choreography")
    names = {e["message"] for e in evs if e["kind"] == "message_sent"}
    event_names = {getattr(step_messages(s), f) for s in STEPS_4 for f in ("done", "failed", "undone")}
    assert names and names <= event_names
    assert not any(e["kind"] == "saga_log" for e in evs)
    assert "orchestrator" not in {e.get("src") for e in evs} | {e.get("dst") for e in evs}


def test_orchestration_carries_commands_and_replies_and_logs_every_change():
    sc = scenario(steps=STEPS_4, faults=[{"target": "shipping", "kind": "fail"}])
    evs = events(sc, "orchestration")
    sent = [e for e in evs if e["kind"] == "message_sent"]
    commands = [e["message"] for e in sent if e["src"] == "orchestrator"]
    assert commands == ["CreateOrder", "ChargePayment", "ReserveStock", "DoShipping",
                        "ReleaseStock", "RefundPayment", "RejectOrder"]
    replies = [e["message"] for e in sent if e["dst"] == "orchestrator"]
    assert replies == ["OrderCreated", "PaymentCompleted", "StockReserved", "ShippingFailed",
                       "StockReleased", "PaymentRefunded", "OrderRejected"]
    log = [(e["detail"]["state"], e["detail"].get("step")) for e in evs if e["kind"] == "saga_log"]
    assert log == [("started", None),
                   ("executing", "order"), ("succeeded", "order"),
                   ("executing", "payment"), ("succeeded", "payment"),
                   ("executing", "inventory"), ("succeeded", "inventory"),
                   ("executing", "shipping"), ("failed", "shipping"),
                   ("compensating", "inventory"), ("compensated", "inventory"),
                   ("compensating", "payment"), ("compensated", "payment"),
                   ("compensating", "order"), ("compensated", "order"), ("aborted", None)]
    # every log record is written before the command it announces is sent
    for e in evs:
        if e["kind"] == "message_sent" and e["src"] == "orchestrator":
            logged = [x for x in evs if x["kind"] == "saga_log" and x["detail"].get("msg_id") == e["msg_id"]]
            assert logged and logged[0]["seq"] < e["seq"]


@pytest.mark.parametrize("style", STYLES)
def test_seq_and_time_are_ordered(style):
    sc = load_scenario(ROOT / "scenarios" / "out-of-stock.yaml")
    evs = events(sc, style)
    assert [e["seq"] for e in evs] == list(range(len(evs)))
    assert all(a["t"] <= b["t"] for a, b in zip(evs, evs[1:]))


@pytest.mark.parametrize("style", STYLES)
def test_same_inputs_same_output_byte_for_byte(style):
    sc = scenario(timing={"jitter": 0.3}, faults=[{"target": "payment", "kind": "fail", "probability": 0.5}],
                  load={"count": 30, "every": 0.3})
    a = json.dumps(run(sc, style, seed=7).to_dict())
    b = json.dumps(run(sc, style, seed=7).to_dict())
    c = json.dumps(run(sc, style, seed=8).to_dict())
    assert a == b
    assert a != c   # the seed matters when something is random


@pytest.mark.parametrize("style", STYLES)
def test_every_run_reports_invariants_and_metrics(style):
    r = run(scenario(), style).to_dict()
    assert set(r["invariants"]) == {"money_conserved", "stock_conserved", "sagas_atomic", "orders_consistent"}
    for key in ("messages", "duration", "compensations", "retries", "subscriptions", "saga_state_lives"):
        assert key in r["metrics"]
    assert r["metrics"]["messages"] == (3 if style == "choreography" else 8)
    assert r["metrics"]["duration"] == (4.6 if style == "choreography" else 5.6)


def test_subscriptions_show_who_listens_to_what():
    sc = scenario()
    chor = run(sc, "choreography").to_dict()["subscriptions"]
    assert {k: sorted(v) for k, v in chor.items()} == {
        "order": ["PaymentFailed", "PaymentRefunded", "StockReserved"],
        "payment": ["OrderCreated", "StockFailed", "StockReleased"],
        "inventory": ["PaymentCompleted"]}
    orch = run(sc, "orchestration").to_dict()["subscriptions"]
    assert orch["payment"] == ["ChargePayment", "RefundPayment"]


@pytest.mark.parametrize("style", STYLES)
def test_concurrent_load_sagas(style):
    sc = scenario(customers={"alice": {"balance": 1000}, "bob": {"balance": 1000}},
                  stock={"widget": 3, "gadget": 3}, orders=None,
                  load={"count": 10, "every": 0.1, "qty": 1, "price": 10})
    r = run(sc, style).to_dict()
    outcomes = r["outcomes"]
    assert len(outcomes) == 10
    assert list(outcomes.values()).count("completed") == 6     # 3 widgets + 3 gadgets
    assert list(outcomes.values()).count("compensated") == 4
    assert all(r["invariants"].values())
    assert r["final_state"]["stock"] == {"widget": 0, "gadget": 0}


GOLDEN = ROOT / "tests" / "golden"


@pytest.mark.parametrize("name", ["happy-path", "payment-declined", "out-of-stock"])
@pytest.mark.parametrize("style", STYLES)
def test_golden_traces(name, style):
    """The starter scenarios' traces, pinned. Regenerate with UPDATE_GOLDEN=1 after a deliberate change."""
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in events(sc, style))
    path = GOLDEN / f"{name}.{style}.jsonl"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 pytest tests/test_core.py"
    assert text == path.read_text()
