"""Faults (issue 3): each kind's exact outcome, the events that show it, the invariants, and the prefix property."""
import pytest

from sim import Fault, FaultError, SagaInputError, parse_fault, run
from sim.faults import for_scenario

from helpers import kinds, scenario, steps_log

STYLES = ("choreography", "orchestration")
ALL_OK = {"money_conserved": True, "stock_conserved": True, "sagas_atomic": True, "orders_consistent": True}


def result(sc, style, *faults):
    return run(sc, style, faults=faults).to_dict()


# ------------------------------------------------------------------ compensation_fail


@pytest.mark.parametrize("style", STYLES)
def test_compensation_fails_twice_then_succeeds(style):
    r = result(scenario(), style, "inventory:fail", "payment:compensation_fail:times=2")
    assert r["outcomes"] == {"1": "compensated"}
    failed = kinds(r, "compensation_failed")
    assert [(e["service"], e["detail"]["attempt"]) for e in failed] == [("payment", 1), ("payment", 2)]
    ok = [e for e in kinds(r, "compensation_succeeded") if e["service"] == "payment"]
    assert ok[0]["detail"]["attempt"] == 3
    assert r["metrics"]["retries"] == 2
    assert r["invariants"] == ALL_OK
    assert r["final_state"]["balances"]["alice"] == 100


@pytest.mark.parametrize("style", STYLES)
def test_compensation_that_never_succeeds_is_stuck(style):
    r = result(scenario(), style, "inventory:fail", "payment:compensation_fail")
    assert r["outcomes"] == {"1": "stuck"}
    stuck = kinds(r, "saga_stuck")
    assert len(stuck) == 1 and "human" in stuck[0]["detail"]["reason"]
    assert len(kinds(r, "compensation_failed")) == 4          # 1 + max_retries (3)
    # the money is still somewhere: held by the payment service, not lost
    assert r["invariants"]["money_conserved"] and r["final_state"]["payment_held"] == 30
    assert r["final_state"]["orders"] == {"1": "PENDING"}
    assert r["invariants"]["orders_consistent"]


# ------------------------------------------------------------------ crash


@pytest.mark.parametrize("style", STYLES)
def test_participant_crash_messages_wait_in_the_broker(style):
    r = result(scenario(), style, "inventory:crash:at=0.5,recover_after=10")
    assert r["outcomes"] == {"1": "completed"}
    crashed, recovered = kinds(r, "service_crashed"), kinds(r, "service_recovered")
    assert [(e["service"], e["t"]) for e in crashed] == [("inventory", 0.5)]
    assert [(e["service"], e["t"]) for e in recovered] == [("inventory", 10.5)]
    # inventory's work starts only after it is back: its message waited in the broker
    started = [e for e in kinds(r, "step_started") if e["service"] == "inventory"]
    assert started[0]["t"] == 10.5
    assert recovered[0]["detail"]["waiting"] == 1
    assert r["invariants"] == ALL_OK


@pytest.mark.parametrize("style", STYLES)
def test_crash_mid_work_loses_the_work_and_redoes_it(style):
    # payment works from 1.2 (1.6 orchestrated) for 1.0; a crash at 2.0 loses that work
    r = result(scenario(), style, "payment:crash:at=2,recover_after=3")
    assert r["outcomes"] == {"1": "completed"}
    assert kinds(r, "service_crashed")[0]["detail"]["lost_work"] == 1
    pay = [(e["kind"], e["t"]) for e in r["events"] if e["service"] == "payment" and e["kind"].startswith("step_")]
    assert [k for k, _ in pay] == ["step_started", "step_started", "step_succeeded"]
    assert pay[1][1] == 5.0
    assert r["final_state"]["balances"]["alice"] == 70     # charged once
    assert r["invariants"] == ALL_OK


def test_orchestrator_crash_resumes_from_its_saga_log():
    r = result(scenario(), "orchestration", "orchestrator:crash:at=2,recover_after=4")
    assert r["outcomes"] == {"1": "completed"}
    rec = kinds(r, "service_recovered")[0]
    assert rec["service"] == "orchestrator" and rec["t"] == 6
    assert rec["detail"]["replayed_log_records"] == 4 and rec["detail"]["open_sagas"] == 1
    # the reply that arrived while it was down waited in the broker and is handled on recovery
    delivered = [e for e in kinds(r, "message_delivered") if e["dst"] == "orchestrator" and e["t"] == 6]
    assert [e["message"] for e in delivered] == ["PaymentCompleted"]
    # nothing was done twice
    assert len([e for e in kinds(r, "step_succeeded") if e["service"] == "payment"]) == 1
    assert r["invariants"] == ALL_OK


def test_orchestrator_crash_resends_the_outstanding_command_and_participants_dedupe():
    # crash while CreateOrder is being processed; the reply arrives while down and waits
    r = result(scenario(), "orchestration", "orchestrator:crash:at=0.5,recover_after=20")
    assert r["outcomes"] == {"1": "completed"}
    assert r["invariants"] == ALL_OK
    # the log says "executing order", and the reply is handled from the broker on recovery
    assert kinds(r, "service_recovered")[0]["detail"]["open_sagas"] == 1


@pytest.mark.parametrize("style", STYLES)
def test_crash_without_recovery(style):
    r = result(scenario(), style, "payment:crash:at=0.5")
    assert not kinds(r, "service_recovered")
    if style == "choreography":
        # nobody waits for payment's answer: the saga just never ends
        assert r["outcomes"] == {"1": "in_flight"}
    else:
        # the orchestrator times out, retries, gives up, tries to compensate, and must call a human
        assert r["outcomes"] == {"1": "stuck"}
        assert len(kinds(r, "timeout")) == 8
    assert r["invariants"]["money_conserved"] and r["invariants"]["stock_conserved"]


# ------------------------------------------------------------------ slow, timeouts, late replies


def test_slow_service_trips_the_timeout_and_the_late_reply_is_handled():
    r = result(scenario(), "orchestration", "payment:slow:by=15")
    assert r["outcomes"] == {"1": "completed"}
    t = kinds(r, "timeout")
    assert [(e["detail"]["message"], e["t"]) for e in t] == [("ChargePayment", 11.4)]
    # the re-sent command keeps its msg_id, and payment (still working) ignores it
    sent = [e for e in kinds(r, "message_sent") if e["message"] == "ChargePayment"]
    assert len(sent) == 2 and sent[0]["msg_id"] == sent[1]["msg_id"]
    assert [e["detail"]["reason"] for e in kinds(r, "duplicate_ignored")] == ["already in progress"]
    assert r["final_state"]["balances"]["alice"] == 70
    assert r["invariants"] == ALL_OK


def test_orchestrator_gives_up_and_compensates_a_step_whose_effect_is_unknown():
    sc = scenario(timing={"max_retries": 0})
    r = result(sc, "orchestration", "payment:slow:by=15,times=1")
    assert r["outcomes"] == {"1": "compensated"}
    # the refund reached payment while it was still charging: it waits, then refunds
    pay = [(e["kind"], e["t"]) for e in r["events"] if e["service"] == "payment" and "message" not in e
           and e["kind"] != "fault_injected"]
    assert [k for k, _ in pay] == ["step_started", "step_succeeded", "compensation_started",
                                   "compensation_succeeded"]
    # money is never left taken for a rejected order
    assert r["final_state"]["balances"]["alice"] == 100
    assert r["final_state"]["orders"] == {"1": "REJECTED"}
    assert r["invariants"] == ALL_OK


def test_slow_service_in_choreography_just_takes_longer():
    base = result(scenario(), "choreography")
    slow = result(scenario(), "choreography", "payment:slow:by=15")
    assert slow["outcomes"] == {"1": "completed"}
    assert slow["metrics"]["duration"] == base["metrics"]["duration"] + 15
    assert not kinds(slow, "timeout")


# ------------------------------------------------------------------ broker: drop, duplicate, delay


def test_lost_event_stalls_choreography():
    r = result(scenario(), "choreography", "broker:drop:message=PaymentCompleted")
    assert r["outcomes"] == {"1": "in_flight"}
    dropped = kinds(r, "message_dropped")
    assert [(e["message"], e["src"], e["dst"]) for e in dropped] == [("PaymentCompleted", "payment", "inventory")]
    assert r["final_state"]["balances"]["alice"] == 70        # charged, waiting forever
    assert r["invariants"]["money_conserved"]


def test_lost_reply_the_orchestrator_times_out_and_retries():
    r = result(scenario(), "orchestration", "broker:drop:message=PaymentCompleted")
    assert r["outcomes"] == {"1": "completed"}
    assert [e["detail"]["message"] for e in kinds(r, "timeout")] == ["ChargePayment"]
    # payment answers the repeated command with its earlier reply, without charging again
    dup = kinds(r, "duplicate_ignored")
    assert [(e["service"], e["detail"]["message"]) for e in dup] == [("payment", "ChargePayment")]
    assert r["final_state"]["balances"]["alice"] == 70
    assert r["invariants"] == ALL_OK


def test_drop_count_and_saga_filter():
    sc = scenario(orders=[{"customer": "alice", "item": "widget", "price": 10, "at": 0},
                          {"customer": "bob", "item": "widget", "price": 10, "at": 0}])
    r = result(sc, "choreography", "broker:drop:message=OrderCreated,saga=2,count=5")
    assert r["outcomes"] == {"1": "completed", "2": "in_flight"}
    assert [e["saga"] for e in kinds(r, "message_dropped")] == [2]


@pytest.mark.parametrize("style", STYLES)
def test_duplicate_with_idempotent_consumers(style):
    msg = "OrderCreated" if style == "choreography" else "ChargePayment"
    r = result(scenario(), style, f"broker:duplicate:message={msg}")
    assert r["outcomes"] == {"1": "completed"}
    assert len(kinds(r, "message_duplicated")) == 1
    assert [e["detail"]["message"] for e in kinds(r, "duplicate_ignored")] == [msg]
    assert r["final_state"]["balances"]["alice"] == 70
    assert r["invariants"] == ALL_OK


@pytest.mark.parametrize("style", STYLES)
def test_duplicate_without_idempotency_charges_twice(style):
    msg = "OrderCreated" if style == "choreography" else "ChargePayment"
    r = result(scenario(idempotent=False), style, f"broker:duplicate:message={msg}")
    assert not kinds(r, "duplicate_ignored")
    charges = [e for e in kinds(r, "step_succeeded") if e["service"] == "payment"]
    assert len(charges) == 2
    assert r["final_state"]["balances"]["alice"] == 40       # the double charge: the lesson
    assert r["invariants"]["sagas_atomic"] is False
    assert r["invariants"]["money_conserved"] is True          # the money is at payment, not lost


def test_delayed_command_arrives_after_its_compensation_and_is_refused():
    sc = scenario(timing={"max_retries": 0})
    r = result(sc, "orchestration", "broker:delay:message=ChargePayment,by=30")
    assert r["outcomes"] == {"1": "compensated"}
    pay = [e for e in r["events"] if e["service"] == "payment" and e["kind"] != "fault_injected"]
    assert [(e["kind"], e["detail"].get("noop")) for e in pay] == [
        ("compensation_succeeded", True),     # the refund overtook the charge: nothing to undo
        ("step_started", None), ("step_failed", None)]       # the late charge is refused
    assert "refused" in pay[-1]["detail"]["reason"]
    assert r["final_state"]["balances"]["alice"] == 100
    assert r["invariants"] == ALL_OK


def test_delay_in_choreography_only_shifts_time():
    r = result(scenario(), "choreography", "broker:delay:message=PaymentCompleted,by=5")
    assert r["outcomes"] == {"1": "completed"}
    assert r["metrics"]["duration"] == 9.6
    assert r["metrics"]["delayed"] == 1


# ------------------------------------------------------------------ step types


PIVOT = ["order", {"name": "payment", "type": "pivot"}, {"name": "inventory", "type": "retriable"},
         {"name": "shipping", "type": "retriable"}]


@pytest.mark.parametrize("style", STYLES)
def test_retriable_step_is_retried_until_it_succeeds(style):
    r = result(scenario(steps=PIVOT), style, "inventory:fail:times=2")
    assert r["outcomes"] == {"1": "completed"}
    inv = [(e["kind"], e["detail"]["attempt"]) for e in r["events"]
           if e["service"] == "inventory" and e["kind"].startswith("step_")]
    assert inv == [("step_started", 1), ("step_failed", 1), ("step_started", 2), ("step_failed", 2),
                   ("step_started", 3), ("step_succeeded", 3)]
    assert not kinds(r, "compensation_started")            # after the pivot: only forward
    assert r["invariants"] == ALL_OK


@pytest.mark.parametrize("style", STYLES)
def test_retriable_step_past_max_retries_is_stuck(style):
    r = result(scenario(steps=PIVOT), style, "shipping:fail")
    assert r["outcomes"] == {"1": "stuck"}
    assert len([e for e in kinds(r, "step_failed") if e["service"] == "shipping"]) == 4
    assert not kinds(r, "compensation_started")


@pytest.mark.parametrize("style", STYLES)
def test_pivot_failure_compensates_what_came_before(style):
    r = result(scenario(steps=PIVOT), style, "payment:fail")
    assert r["outcomes"] == {"1": "compensated"}
    assert steps_log(r["events"], kinds=("compensation_succeeded",)) == [("compensation_succeeded", "order")]


# ------------------------------------------------------------------ fault_injected, probability


@pytest.mark.parametrize("style", STYLES)
def test_fault_injected_is_recorded_when_it_takes_effect(style):
    r = result(scenario(), style, "payment:fail:at=0")
    inj = kinds(r, "fault_injected")
    assert [(e["service"], e["detail"]["fault"]) for e in inj] == [("payment", "payment:fail")]
    started = [e for e in kinds(r, "step_started") if e["service"] == "payment"][0]
    assert inj[0]["t"] == started["t"]


def test_fault_at_a_later_time_spares_earlier_sagas():
    sc = scenario(orders=[{"customer": "alice", "item": "widget", "price": 10, "at": 0},
                          {"customer": "bob", "item": "widget", "price": 10, "at": 20}])
    r = result(sc, "choreography", "payment:fail:at=10")
    assert r["outcomes"] == {"1": "completed", "2": "compensated"}


def test_probability_is_drawn_from_the_seed():
    sc = scenario(load={"count": 200, "every": 0.5}, orders=None,
                  customers={"alice": 1e6, "bob": 1e6}, stock={"widget": 10**6})
    a = run(sc, "orchestration", seed=1, faults=["payment:fail:probability=0.2"]).outcomes
    b = run(sc, "orchestration", seed=1, faults=["payment:fail:probability=0.2"]).outcomes
    assert a == b
    failed = list(a.values()).count("compensated")
    assert 20 < failed < 60


# ------------------------------------------------------------------ the prefix property


PREFIX_FAULTS = [
    "payment:fail:at={T}", "payment:compensation_fail:at={T}", "payment:crash:at={T},recover_after=3",
    "payment:crash:at={T}", "payment:slow:at={T},by=12", "broker:drop:at={T}", "broker:duplicate:at={T}",
    "broker:delay:at={T},by=4", "inventory:fail:at={T},probability=0.5",
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("spec", PREFIX_FAULTS)
def test_a_fault_at_T_changes_nothing_before_T(style, spec):
    sc = scenario(load={"count": 12, "every": 0.7}, orders=None, timing={"jitter": 0.2},
                  customers={"alice": 100, "bob": 100}, stock={"widget": 4, "gadget": 4})
    base = run(sc, style, seed=3).to_dict()["events"]
    for T in (1.3, 3.0, 5.5):
        specs = [spec.format(T=T)]
        if style == "orchestration":
            specs.append(f"orchestrator:crash:at={T + 0.5},recover_after=2")
        ev = run(sc, style, seed=3, faults=specs).to_dict()["events"]
        before = [e for e in base if e["t"] < T]
        assert ev[:len(before)] == before, (spec, T)
        assert ev != base, f"{spec} at {T} changed nothing at all"


# ------------------------------------------------------------------ the fault language


@pytest.mark.parametrize("spec", [
    "payment:fail", "payment:fail:saga=2,at=3,times=1", "payment:fail:probability=0.25",
    "payment:compensation_fail:times=2", "payment:crash:at=5,recover_after=3", "orchestrator:crash:at=1",
    "payment:slow:by=4", "broker:drop:message=OrderCreated,count=2", "broker:duplicate:message=ChargePayment",
    "broker:delay:message=StockReserved,by=3,saga=1"])
def test_every_contract_fault_parses_and_round_trips(spec):
    f = parse_fault(spec)
    assert parse_fault(f.to_spec()) == f
    assert f.describe()


@pytest.mark.parametrize("spec, words", [
    ("payment", "TARGET:KIND"), ("payment:explode", "kind must be one of"), ("payment:fail:saga=x", "saga"),
    ("payment:fail:saga=0", "saga must be >= 1"), ("broker:fail", "broker cannot"),
    ("payment:drop", "broker fault"), ("payment:slow", "needs by="), ("payment:crash:at=inf", "at"),
    ("payment:fail:times=2,probability=0.5", "not both"), ("payment:fail:colour=red", "colour: 'fail' does not take this option"),
    ("payment:fail:saga", "key=value"), ("broker:drop:count=-1", "count must be >= 1"),
    ("payment:fail:probability=2", "at most 1")])
def test_malformed_faults_are_refused_with_one_clear_line(spec, words):
    with pytest.raises(FaultError) as e:
        parse_fault(spec)
    msg = str(e.value)
    assert words in msg and "\n" not in msg and spec.split(":")[0] in msg


def test_fault_on_an_unknown_service_is_refused():
    with pytest.raises(FaultError, match="not a service of this scenario"):
        run(scenario(), "choreography", faults=["shipping:fail"])


# ------------------------------------------------------------------ regressions found by the scenario work


def test_a_late_copy_of_a_failed_command_is_not_carried_out():
    r = result(scenario(), "orchestration", "broker:delay:message=ReserveStock,by=12", "inventory:fail:times=1")
    assert r["outcomes"] == {"1": "compensated"}
    assert r["final_state"]["stock"]["widget"] == 5
    assert r["invariants"] == ALL_OK
    assert any(e["detail"]["message"] == "ReserveStock" for e in kinds(r, "duplicate_ignored"))


def test_a_saga_stuck_on_timeouts_heals_when_the_late_reply_comes():
    sc = scenario(customers={"alice": 10, "bob": 10})          # payment declines: reject the order
    r = result(sc, "orchestration", "order:crash:at=2.5,recover_after=60")
    assert [e["t"] for e in kinds(r, "saga_stuck")] and kinds(r, "saga_compensated")
    assert kinds(r, "saga_stuck")[0]["t"] < kinds(r, "saga_compensated")[0]["t"]
    assert r["outcomes"] == {"1": "compensated"}
    assert r["invariants"] == ALL_OK


def test_choreography_refuses_a_late_event_visibly():
    # payment and inventory both start on OrderCreated; the copy to payment is late,
    # inventory fails first, and payment is told to undo a step it never ran
    steps = ["order", {"name": "payment", "waits_for": ["OrderCreated"]},
             {"name": "inventory", "waits_for": ["OrderCreated"]}]
    sc = scenario(steps=steps, stock={"widget": 0, "gadget": 0})
    r = result(sc, "choreography", "broker:delay:message=OrderCreated,by=5,count=1")
    pay = [(e["kind"], e["detail"].get("noop")) for e in r["events"] if e["service"] == "payment"
           and e["kind"] in ("compensation_succeeded", "step_started", "step_failed")]
    assert pay == [("compensation_succeeded", True), ("step_started", None), ("step_failed", None)]
    refused = [e for e in kinds(r, "step_failed") if e["service"] == "payment"][0]
    assert "refused" in refused["detail"]["reason"]
    assert r["outcomes"] == {"1": "compensated"} and r["final_state"]["balances"]["alice"] == 100
    assert r["invariants"] == ALL_OK


def test_faults_for_a_scenario_parse_text_once_pass_records_and_name_the_wrong_one():
    sc = scenario()
    record = parse_fault("payment:fail:saga=1")
    got = for_scenario(["inventory:crash:at=2", record], sc.services)
    assert got == (parse_fault("inventory:crash:at=2"), record) and got[1] is record
    for bad, words in ((["nobody:fail"], "fault 'nobody:fail': target 'nobody' is not a service"),
                       ([Fault("nobody", "fail")], "fault 'nobody:fail': target 'nobody'"),
                       (["payment:explode"], "kind must be one of"), ([42], "is not a fault")):
        with pytest.raises(SagaInputError, match=words):
            for_scenario(bad, sc.services)
