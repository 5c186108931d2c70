"""What the browser's stage is handed (``viz.stage``): the digest of a run it animates frame by frame.

The stage only looks things up by time, so these pin that the digest tells the
same story as the trace: every message trip with its fate and flow, the books
after every change, one sentence per event, the telling event of each moment,
and the prefix property (a fault at T leaves every row before T as it was, so
new runs swap in without a jump).
"""
from __future__ import annotations

import json

import pytest

import sim
import viz
import viz.stage as vs
from helpers import ROOT

LIBRARY = [name for name in ("happy-path", "out-of-stock", "lost-message", "duplicate-idempotent", "payment-crash",
                             "orchestrator-crash", "refund-stuck", "cyclic-wait", "slow-payment")]


def digest(name: str, style: str, faults=()) -> tuple:
    run = sim.run(sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml"), style, faults=list(faults)).to_dict()
    return run, vs.stage_run(run)


def rows(data: dict, key: str) -> list:
    return [dict(zip(vs.FIELDS[key], r)) for r in data[key]]


@pytest.mark.parametrize("style", sim.STYLES)
@pytest.mark.parametrize("name", LIBRARY)
def test_every_sent_message_is_one_trip_in_time_order(name, style):
    run, data = digest(name, style)
    msgs = rows(data, "msgs")
    sent = [e for e in run["events"] if e["kind"] == "message_sent"]
    assert len([m for m in msgs if m["copy"] == 0]) == len(sent)
    assert [m["sent"] for m in msgs] == sorted(m["sent"] for m in msgs)
    delivered = sum(e["kind"] == "message_delivered" for e in run["events"])
    dropped = sum(e["kind"] == "message_dropped" for e in run["events"])
    assert sum(m["fate"] == "d" for m in msgs) == delivered
    assert sum(m["fate"] == "x" for m in msgs) == dropped
    for m in msgs:
        assert m["fate"] in "dxp" and (m["end"] is None) == (m["fate"] == "p")
        assert m["end"] is None or m["end"] >= m["sent"]
        assert m["flow"] in ("forward", "failure", "compensation", "reply")
        assert m["flow"] != "reply" or (style == "orchestration" and m["dst"] == "orchestrator")
    json.dumps(data)                                          # plain JSON, as the component needs it


def test_a_lost_message_is_marked_lost_and_a_copy_is_a_second_trip():
    _, lost = digest("lost-message", "choreography")
    assert [m["name"] for m in rows(lost, "msgs") if m["fate"] == "x"] == ["PaymentCompleted"]
    _, dup = digest("duplicate-idempotent", "orchestration")
    copies = [m for m in rows(dup, "msgs") if m["copy"] == 1]
    assert {m["name"] for m in copies} == {"ChargePayment", "OrderCreated"}
    for c in copies:                                          # the copy has the original's id: one message, twice
        assert any(m["id"] == c["id"] and m["copy"] == 0 for m in rows(dup, "msgs"))


@pytest.mark.parametrize("style", sim.STYLES)
def test_a_publish_lost_to_a_crash_is_a_message_never_sent(style):
    """The dual write: payment commits, crashes before publishing; the stage gets one row of fate "u" from
    payment at that moment (no msg_id: a negative id), and no trip of PaymentCompleted otherwise."""
    run, data = digest("dual-write", style)
    lost = [e for e in run["events"] if e["kind"] == "publish_lost"]
    unsent = [m for m in rows(data, "msgs") if m["fate"] == "u"]
    assert len(lost) == 1 and [(m["name"], m["src"], m["sent"], m["end"]) for m in unsent] == \
        [(lost[0]["detail"]["message"], "payment", lost[0]["t"], lost[0]["t"])]
    assert unsent[0]["id"] < 0 and unsent[0]["flow"] == ("reply" if style == "orchestration" else "forward")
    msgs = rows(data, "msgs")
    assert [m["sent"] for m in msgs] == sorted(m["sent"] for m in msgs)
    _, plain = digest("happy-path", style)
    assert all(m["fate"] != "u" for m in rows(plain, "msgs"))


def test_compensations_travel_back_and_replies_go_to_the_orchestrator():
    _, chor = digest("out-of-stock", "choreography")
    back = [(m["name"], m["src"], m["dst"]) for m in rows(chor, "msgs") if m["flow"] == "compensation"]
    assert back == [("PaymentRefunded", "payment", "order")]  # the refund's news goes back one hop
    _, orch = digest("out-of-stock", "orchestration")
    replies = {m["name"] for m in rows(orch, "msgs") if m["flow"] == "reply"}
    assert {"OrderCreated", "PaymentCompleted", "StockReserved"} <= replies
    assert {m["name"] for m in rows(orch, "msgs") if m["flow"] == "compensation"} >= {"RefundPayment",
                                                                                      "PaymentRefunded"}


@pytest.mark.parametrize("style", sim.STYLES)
def test_the_books_after_every_change_match_the_trace(style):
    run, data = digest("out-of-stock", style)
    states = rows(data, "states")
    assert states[0]["t"] == 0 and states[0]["balances"] == {"alice": 100, "bob": 100}
    for s in states:
        at = viz.state_at(run, s["t"])
        assert s["balances"] == at["balances"] and s["stock"] == at["stock"] and s["orders"] == at["orders"]
    last = states[-1]
    assert last["balances"] == {"alice": 70, "bob": 100}      # bob refunded: a new ledger entry back to 100
    assert last["orders"] == {"1": "APPROVED", "2": "REJECTED"}


@pytest.mark.parametrize("style", sim.STYLES)
def test_one_sentence_per_event_and_the_telling_one_per_moment(style):
    run, data = digest("out-of-stock", style)
    log, moments = rows(data, "log"), rows(data, "moments")
    assert len(log) == len(run["events"]) and [r["t"] for r in log] == [e["t"] for e in run["events"]]
    assert sum(m["count"] for m in moments) == len(log)
    assert [m["t"] for m in moments] == sorted({r["t"] for r in log})
    for m in moments:
        kinds = [log[i]["kind"] for i in range(m["first"], m["first"] + m["count"])]
        best = min(vs.PRIORITY.get(k, 5) for k in kinds)
        assert vs.PRIORITY.get(log[m["telling"]]["kind"], 5) == best
    ends = [r for r in log if r["kind"] in ("saga_completed", "saga_compensated")]
    assert {r["tone"] for r in ends} == {"green", "orange"}
    assert any("refunds bob 30" in r["text"] for r in log)


@pytest.mark.parametrize("style", sim.STYLES)
def test_work_and_sagas_say_who_was_busy_down_and_done(style):
    _, data = digest("payment-crash", style)
    work = rows(data, "work")
    down = [w for w in work if w["kind"] == "d"]
    assert [w["service"] for w in down] == ["payment"] and down[0]["end"] > down[0]["start"]   # down, then back
    assert all(w["end"] is None or w["end"] >= w["start"] for w in work)
    sagas = rows(data, "sagas")
    assert {s["id"] for s in sagas} == {1, 2} and all(s["outcome"] == "completed" for s in sagas)
    assert data["nodes"][0] == ("orchestrator" if style == "orchestration" else "order")


@pytest.mark.parametrize("style", sim.STYLES)
@pytest.mark.parametrize("fault, at", [("payment:fail:at=2.5,times=1", 2.5), ("inventory:crash:at=1.3,recover_after=5", 1.3),
                                       ("broker:drop:at=1,message=PaymentCompleted", 1.0)])
def test_a_fault_at_t_leaves_everything_before_t_as_it_was(style, fault, at):
    """The prefix property, as the stage sees it: new runs swap in without changing what was on screen."""
    _, before = digest("out-of-stock", style)
    _, after = digest("out-of-stock", style, [fault])
    for key, t in (("msgs", lambda r: r[4]), ("log", lambda r: r[0]), ("states", lambda r: r[0])):
        old = [r for r in before[key] if t(r) < at]
        new = [r for r in after[key] if t(r) < at]
        if key == "msgs":                                     # a trip under way at T may end otherwise now
            old, new = [r[:5] for r in old], [r[:5] for r in new]
        assert old == new, key
    assert before["nodes"] == after["nodes"]                  # the same places: nothing jumps


def test_a_big_run_is_cut_to_what_the_stage_can_draw():
    run, data = digest("out-of-stock", "orchestration")
    assert not data["truncated"]
    huge = {**run, "events": [dict(e, seq=i) for i, e in enumerate(run["events"] * (vs.MAX_LOG // 40 + 1))]}
    cut = vs.stage_run(huge)
    assert cut["truncated"] and len(cut["log"]) == vs.MAX_LOG
