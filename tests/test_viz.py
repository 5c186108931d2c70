"""Tests of viz/: every figure for every scenario in both styles, and the facts they must show.

Expected values are computed here from the raw events, independently of viz's
own helpers, so that a wrong pairing or a missing arrow makes a test fail.
"""
from __future__ import annotations

import copy
import functools
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import sim
import viz
from viz import trace as tr

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(ROOT.glob("scenarios/*.yaml"))
CASES = [(p.stem, style) for p in SCENARIOS for style in sim.STYLES]
LIMIT_BYTES = 3_000_000


@functools.lru_cache(maxsize=None)
def _run_json(name: str, style: str, faults: tuple = ()) -> str:
    scenario = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    return json.dumps(sim.run(scenario, style, faults=list(faults)).to_dict())


def real_run(name, style, faults=()):
    """A fresh copy of a real run (tests may not share mutable state)."""
    return json.loads(_run_json(name, style, tuple(faults)))


@functools.lru_cache(maxsize=None)
def figures_of(name, style):
    """The figures of a real run, built once (the tests only read them)."""
    return viz.figures(real_run(name, style))


@functools.lru_cache(maxsize=None)
def _text_run_json(text: str, style: str) -> str:
    return json.dumps(sim.run(sim.parse_scenario(text, "<test>"), style).to_dict())


def text_run(text, style):
    return json.loads(_text_run_json(text, style))


def labelled_sagas(text):
    """How many sagas a sequence label names: "1,2: RefundPayment" -> 2, "RefundPayment" -> 1."""
    return len(text.split(": ")[0].split(",")) if ": " in text else 1


def trace_named(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, f"expected one trace {name!r}, found {len(found)}"
    return found[0]


def arrow_count(trace):
    """Arrows drawn as [x0, x1, None, ...]: one per None."""
    return sum(1 for x in (trace.x or ()) if x is None)


def trips(run):
    """(msg_id, start, end) of every message trip, from the raw events.

    Sends and broker copies open a trip; a delivery or drop closes the oldest
    open trip of its (msg_id, dst). A delivery with none open is a redelivery
    after the receiver crashed: that message waited in the broker from the crash.
    """
    opened, out, crashed = {}, [], {}
    for e in run["events"]:
        key = (e.get("msg_id"), e.get("dst"))
        if e["kind"] == "service_crashed":
            crashed[e["service"]] = e["t"]
        elif e["kind"] in ("message_sent", "message_duplicated"):
            opened.setdefault(key, []).append(e["t"])
        elif e["kind"] in ("message_delivered", "message_dropped"):
            start = opened[key].pop(0) if opened.get(key) else crashed.get(e["dst"], e["t"])
            out.append((e["msg_id"], start, e["t"]))
    out += [(key[0], start, math.inf) for key, starts in opened.items() for start in starts]
    return out


def ids_at(flights, t):
    """Msg ids under way at t (a Counter: a message and its copy count twice)."""
    return Counter(msg_id for msg_id, start, end in flights if start <= t < end)


def counter_of(flights):
    """t -> how many trips are under way at t (fast, for big runs)."""
    starts = np.sort([s for _, s, _ in flights])
    ends = np.sort([e for _, _, e in flights])
    return lambda t: int(np.searchsorted(starts, t, "right") - np.searchsorted(ends, t, "right"))


def expected_on_screen(flights, count, t, big):
    return count(t) if big else ids_at(flights, t)


def drawn_tokens(fig_or_traces):
    data = fig_or_traces.data if isinstance(fig_or_traces, go.Figure) else fig_or_traces
    tokens = [t for t in data if t.name == "tokens"]
    assert len(tokens) == 1
    return Counter(tokens[0].customdata or ())


def is_big(run):
    return len(run["outcomes"]) > 50


def shown(run, e):
    """Detailed figures of a big run draw only its first 20 sagas (ids 1 to 20)."""
    return e.get("saga") is None or not is_big(run) or int(e["saga"]) <= 20


def drawn_in_flight(data, big):
    """Msg ids on screen; a big run shows counts per receiver instead, so: the total."""
    if big:
        return sum(next(t for t in data if t.name == "counts").customdata or ())
    return drawn_tokens(data)


def sample_times(run, n=25):
    """Times where things happen: just after sends, half-way through transits, and the ends."""
    times = sorted({e["t"] for e in run["events"]})
    times += [t + 0.05 for t in times] + [-1.0, tr.end_time(run) + 1]
    step = max(1, len(times) // n)
    return sorted(set(times))[::step]


# ---------------------------------------------------------------- every scenario, both styles


def test_the_library_is_there():
    assert len(CASES) >= 12, "expected the scenario library in scenarios/*.yaml"


@pytest.mark.parametrize("name,style", CASES)
def test_every_figure_builds(name, style):
    run = real_run(name, style)
    figs = figures_of(name, style)
    deadlock = any(e["kind"] == "deadlock_detected" for e in run["events"])
    expected = {"topology", "sequence", "timeline", "state"}
    expected |= {"saga_log"} if style == "orchestration" else set()
    expected |= {"wait_for"} if deadlock else set()
    expected |= {"latency", "outcomes", "in_flight"} if is_big(run) else set()
    assert set(figs) == expected
    for key, fig in figs.items():
        assert isinstance(fig, go.Figure), key
        assert fig.layout.title.text, key
        assert fig.layout.font.size >= 14, key
        json.loads(fig.to_json())


@pytest.mark.parametrize("name,style", CASES)
def test_compensation_arrows_equal_compensation_messages(name, style):
    run = real_run(name, style)
    sent = sum(1 for e in run["events"] if e["kind"] == "message_sent" and shown(run, e)
               and (e.get("detail") or {}).get("flow") == "compensation")
    fig = figures_of(name, style)["sequence"]
    arrows = trace_named(fig, "compensation message")
    assert arrow_count(arrows) == sent
    assert arrows.line.dash == "dash" and arrows.line.color == "#E69F00"
    labels = [a.text for a in fig.layout.annotations if a.font.color == "#E69F00"]
    assert sum(labelled_sagas(text) for text in labels) == sent


@pytest.mark.parametrize("name,style", CASES)
def test_every_sent_message_is_one_arrow(name, style):
    run = real_run(name, style)
    fig = figures_of(name, style)["sequence"]
    sent = Counter((e.get("detail") or {}).get("flow", "forward") for e in run["events"]
                   if e["kind"] == "message_sent" and shown(run, e))
    labels = {"forward": "forward message", "failure": "failure message",
              "compensation": "compensation message", "reply": "reply"}
    for flow, label in labels.items():
        assert arrow_count(trace_named(fig, label)) == sent.get(flow, 0), flow
    copies = sum(1 for e in run["events"] if e["kind"] == "message_duplicated" and shown(run, e))
    assert arrow_count(trace_named(fig, "duplicate copy")) == copies
    dropped = sum(1 for e in run["events"] if e["kind"] == "message_dropped" and shown(run, e))
    lost = trace_named(fig, "lost / never delivered")
    assert list(lost.marker.symbol).count("x") == dropped


@pytest.mark.parametrize("name,style", CASES)
def test_tokens_drawn_are_the_messages_in_flight(name, style):
    run = real_run(name, style)
    flights, big = trips(run), is_big(run)
    count = counter_of(flights)
    for t in sample_times(run, n=3 if big else 25):
        assert Counter(m["msg_id"] for m in viz.in_flight_at(run, t)) == ids_at(flights, t), t
        drawn = drawn_in_flight(viz.topology_frame(run, t).data, big)
        assert drawn == expected_on_screen(flights, count, t, big), t


@pytest.mark.parametrize("name,style", CASES)
def test_wait_for_draws_the_detected_cycle(name, style):
    run = real_run(name, style)
    found = [e for e in run["events"] if e["kind"] == "deadlock_detected"]
    if not found:
        pytest.skip("no deadlock in this run")
    fig = figures_of(name, style)["wait_for"]
    cycles = [t for t in fig.data if t.legendgroup == "cycle"]
    assert [list(t.customdata) for t in cycles] == [e["detail"]["cycle"] + e["detail"]["cycle"][:1]
                                                   for e in found]
    nodes = trace_named(fig, "nodes")
    where = {(round(x, 6), round(y, 6)) for x, y in zip(nodes.x, nodes.y)}
    for trace in cycles:
        assert {(round(x, 6), round(y, 6)) for x, y in zip(trace.x, trace.y)} <= where
    red_arrows = [a for a in fig.layout.annotations if a.arrowcolor == "#D55E00"]
    cycles = [e["detail"]["cycle"] for e in found]
    cycle_edges = {(c[i], c[(i + 1) % len(c)]) for c in cycles for i in range(len(c))}
    assert len(red_arrows) == len(cycle_edges)


@pytest.mark.parametrize("name,style", CASES)
def test_state_at_the_end_is_the_final_state(name, style):
    run = real_run(name, style)
    state = viz.state_at(run, math.inf)
    for key in ("balances", "stock", "orders"):
        assert state[key] == run["final_state"][key], key
    assert viz.state_at(run, -1)["balances"] == run["initial_state"]["balances"]


@pytest.mark.parametrize("name,style", CASES)
def test_state_figure_ends_at_the_final_state(name, style):
    run = real_run(name, style)
    fig = figures_of(name, style)["state"]
    for customer, balance in run["final_state"]["balances"].items():
        assert trace_named(fig, customer).y[-1] == pytest.approx(balance)
    orders = Counter(run["final_state"]["orders"].values())
    for state, n in orders.items():
        assert trace_named(fig, state).y[-1] == n


# ---------------------------------------------------------------- particular pictures


def test_a_dropped_message_becomes_a_cross_for_a_moment():
    run = real_run("lost-message", "choreography")
    drop = next(e for e in run["events"] if e["kind"] == "message_dropped")
    crosses = trace_named(viz.topology_frame(run, drop["t"]), "dropped")
    assert list(crosses.customdata) == [drop["msg_id"]]
    assert trace_named(viz.topology_frame(run, drop["t"] - 0.01), "dropped").customdata in (None, ())
    assert drop["msg_id"] not in drawn_tokens(viz.topology_frame(run, drop["t"]))


def test_a_duplicate_is_a_second_token():
    run = real_run("duplicate-idempotent", "choreography")
    dup = next(e for e in run["events"] if e["kind"] == "message_duplicated")
    frame = viz.topology_frame(run, dup["t"])
    assert drawn_tokens(frame)[dup["msg_id"]] >= 2 - sum(
        1 for e in run["events"] if e["kind"] == "message_delivered" and e["msg_id"] == dup["msg_id"]
        and e["t"] <= dup["t"])
    tokens = trace_named(frame, "tokens")
    assert "diamond" in list(tokens.marker.symbol)


def test_a_crashed_service_is_grey_until_it_recovers():
    run = real_run("payment-crash", "orchestration")
    crash = next(e for e in run["events"] if e["kind"] == "service_crashed")
    back = next((e for e in run["events"] if e["kind"] == "service_recovered"
                 and e["service"] == crash["service"]), None)
    assert viz.statuses_at(run, crash["t"])[crash["service"]] == "crashed"
    assert viz.statuses_at(run, crash["t"] - 1e-6)[crash["service"]] != "crashed"
    if back:
        assert viz.statuses_at(run, back["t"])[crash["service"]] != "crashed"
    nodes = trace_named(viz.topology_frame(run, crash["t"]), "nodes")
    i = [t.startswith(f"<b>{crash['service']}</b>") for t in nodes.text].index(True)
    assert nodes.marker.color[i] == "#999999"


def test_saga_log_shows_every_record():
    run = real_run("orchestrator-crash", "orchestration")
    fig = viz.figures(run)["saga_log"]
    marks = [t for t in fig.data if t.mode == "markers"]
    records = [e for e in run["events"] if e["kind"] == "saga_log"]
    assert sum(len(t.x) for t in marks) == len(records)
    assert {t.name for t in marks} == {e["detail"]["state"] for e in records}


def test_timeline_has_a_bar_per_step_and_compensation():
    run = real_run("refund-retried", "orchestration")
    fig = viz.figures(run)["timeline"]
    bars = [t for t in fig.data if t.mode == "lines" and t.name != "service down"]
    starts = sum(1 for e in run["events"] if e["kind"] in ("step_started", "compensation_started"))
    assert sum(arrow_count(t) for t in bars) == starts
    faults = sum(1 for e in run["events"] if e["kind"] == "fault_injected")
    assert len(trace_named(fig, "fault injected").x) == faults


def test_now_lines():
    run = real_run("payment-declined", "orchestration")
    for key, axis in (("sequence", "y"), ("timeline", "x"), ("saga_log", "x")):
        fig = viz.figure_at(run, key, 2.5)
        lines = [s for s in fig.layout.shapes if s.type == "line" and s[f"{axis}0"] == 2.5]
        assert len(lines) == 1, key
    assert len([s for s in viz.figure_at(run, "state", 2.5).layout.shapes if s.x0 == 2.5]) == 3
    assert not viz.figure_at(run, "topology", 2.5).frames


def test_ten_sagas_stay_under_the_size_limit():
    orders = "\n".join(f"  - {{customer: c{i % 3}, item: widget, qty: 1, price: 10, at: {i * 0.7}}}"
                       for i in range(10))
    text = f"""
name: ten-sagas
customers: {{c0: {{balance: 100}}, c1: {{balance: 100}}, c2: {{balance: 15}}}}
stock: {{widget: 8}}
orders:
{orders}
faults:
  - {{target: payment, kind: compensation_fail, times: 1}}
  - {{target: broker, kind: duplicate, message: OrderCreated}}
  - {{target: inventory, kind: crash, at: 3, recover_after: 4}}
"""
    for style in sim.STYLES:
        run = text_run(text, style)
        assert len(run["outcomes"]) == 10
        figs = viz.figures(run)
        assert sum(len(f.to_json()) for f in figs.values()) < LIMIT_BYTES


LOAD = """
name: load-test
customers: {a: {balance: 1000000}, b: {balance: 1000000}}
stock: {widget: 100000}
orders: []
load: {count: 400, start: 0, every: 0.3, qty: 1, price: 10}
faults:
  - {target: payment, kind: fail, probability: 0.1}
"""


@pytest.mark.parametrize("style", sim.STYLES)
def test_a_load_run_draws_aggregates(style):
    run = text_run(LOAD, style)
    figs = viz.figures(run)
    assert {"latency", "outcomes", "in_flight"} <= set(figs)
    assert sum(len(f.to_json()) for f in figs.values()) < LIMIT_BYTES
    flights = trips(run)
    mid = flights[len(flights) // 2][1] + 0.01
    assert not drawn_tokens(viz.topology_frame(run, mid))            # no token per message...
    counts = trace_named(viz.topology_frame(run, mid), "counts")     # ...but how many per receiver
    assert sum(counts.customdata) == counter_of(flights)(mid) > 0
    seq = figs["sequence"]
    first = sum(1 for e in run["events"] if e["kind"] == "message_sent" and shown(run, e))
    assert sum(arrow_count(t) for t in seq.data if t.legendgroup == "messages"
               and t.name != "duplicate copy") == first < len(flights)
    outcomes = figs["outcomes"].data[0]
    assert sum(outcomes.y) == len(run["outcomes"])
    assert sum(sum(bars.y) for bars in figs["latency"].data) == sum(
        1 for o in run["outcomes"].values() if o != "in_flight")


@pytest.mark.parametrize("style", sim.STYLES)
def test_in_flight_series_counts_the_messages_in_flight(style):
    run = text_run(LOAD, style)
    count = counter_of(trips(run))
    times, counts = viz.in_flight_series(run, limit=None)
    assert len(times) > 200
    assert list(counts) == [count(t) for t in times]
    assert max(counts) <= run["metrics"]["max_in_flight"]
    few_times, few_counts = viz.in_flight_series(run, limit=200)
    assert len(few_times) <= 200 and max(few_counts) == max(counts)


@pytest.mark.parametrize("style", sim.STYLES)
def test_a_summary_runs_in_flight_series_ends_with_the_run_not_its_horizon(style):
    """Nothing is in flight after the last event: the engine's sample at the horizon counts from there."""
    text = (Path(sim.SCENARIO_DIR) / "load-mixed.yaml").read_text(encoding="utf-8")
    run = sim.run(sim.parse_scenario(text, "load-mixed"), style, seed=None, faults=[],
                  keep_events=False).to_dict(events=False)
    times, counts = viz.in_flight_series(run, limit=None)
    assert counts[-1] == 0 and times[-1] == run["metrics"]["duration"] < run["metrics"]["series"]["t"][-1]
    assert times[:-1] == run["metrics"]["series"]["t"][:-1]


def test_a_summary_run_without_events():
    run = real_run("payment-declined", "orchestration")
    del run["events"]
    figs = viz.figures(run)
    assert set(figs) >= {"topology", "sequence", "timeline", "state"}
    latency = viz.load_figures(run)["latency"]
    assert list(latency.data[0].x) == ["p50", "p95", "p99"]
    assert sum(viz.load_figures(run)["outcomes"].data[0].y) == 1


def test_compare_shows_each_runs_metrics():
    runs = [real_run("refund-retried", s) for s in sim.STYLES]
    fig = viz.compare(runs)
    metrics = ["duration", "messages", "compensations", "retries"]
    assert [t.meta for t in fig.data] == [m for m in metrics for _ in runs]     # one panel per metric
    for trace in fig.data:
        run = runs[list(sim.STYLES).index(trace.name)]
        assert list(trace.y) == [run["metrics"][trace.meta]]
    assert len({t.yaxis for t in fig.data}) == len(metrics)    # a duration and a count never share an axis
    assert [t.name for t in fig.data if t.showlegend] == list(sim.STYLES)


def _font_sizes(node):
    """Every font size set anywhere in a figure's JSON."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("font") and isinstance(value, dict) and "size" in value:
                yield from (value["size"] if isinstance(value["size"], list) else [value["size"]])
            yield from _font_sizes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _font_sizes(item)


@pytest.mark.parametrize("name", ["payment-crash", "lock-deadlock", "load-mixed"])
def test_text_is_big_enough_for_a_projector(name):
    for style in sim.STYLES:
        figs = figures_of(name, style)
        for key, fig in figs.items():
            sizes = list(_font_sizes(fig.to_plotly_json()))
            assert sizes and min(sizes) >= 14, key


def test_the_scenario_title_goes_on_every_figure():
    run = real_run("happy-path", "choreography")
    figs = viz.figures(run, {"name": "happy-path", "title": "Everything works"})
    assert all("Everything works" in f.layout.title.text for f in figs.values())


def test_figures_are_pure():
    run = real_run("slow-payment", "orchestration")
    before = copy.deepcopy(run)
    first = {k: f.to_json() for k, f in viz.figures(run).items()}
    second = {k: f.to_json() for k, f in viz.figures(run).items()}
    assert first == second
    assert run == before


def test_viz_never_imports_streamlit():
    for path in (ROOT / "viz").glob("*.py"):
        assert "streamlit" not in path.read_text(), path


# ---------------------------------------------------------------- a hand-made trace


def _ev(seq, t, kind, **kw):
    return {"seq": seq, "t": t, "kind": kind, "saga": kw.pop("saga", 1), "service": kw.pop("service", None),
            **kw}


def _msg(seq, t, kind, msg_id, dst, flow="forward", **kw):
    return _ev(seq, t, kind, message=kw.pop("message", "ChargePayment"), msg_id=msg_id,
               src=kw.pop("src", "orchestrator"), dst=dst, detail={"flow": flow}, **kw)


HAND_MADE = {
    "style": "orchestration", "seed": 1, "faults": [], "outcomes": {"1": "in_flight"},
    "services": ["order", "payment", "inventory"], "subscriptions": {},
    "initial_state": {"balances": {"al": 50.0}, "stock": {"w": 3}},
    "final_state": {}, "invariants": {}, "metrics": {},
    "events": [
        _ev(0, 0.0, "saga_started", service="orchestrator",
            detail={"customer": "al", "items": {"w": 1}, "price": 20.0}),
        _msg(1, 0.0, "message_sent", 7, "payment"),
        _msg(2, 0.0, "message_duplicated", 7, "payment"),
        _ev(3, 0.1, "a_kind_nobody_knows"),                       # ignored
        _msg(4, 0.2, "message_delivered", 7, "payment"),
        _ev(5, 0.2, "step_started", service="payment"),           # no detail at all
        _msg(6, 0.3, "message_delivered", 7, "payment"),
        _ev(7, 0.3, "duplicate_ignored", service="payment", detail={"msg_id": 7}),
        _ev(8, 1.2, "step_succeeded", service="payment", detail={"step": 2}),
        _msg(9, 10.0, "message_sent", 7, "payment"),              # a re-send keeps its msg_id
        _msg(10, 10.0, "message_sent", 8, "inventory", message="ReserveStock"),
        _ev(11, 10.5, "service_crashed", service="inventory", saga=None),
        _msg(12, 10.6, "message_dropped", 7, "payment"),
        _msg(13, 11.0, "message_sent", 9, "order", flow="compensation", message="RejectOrder"),
        _msg(14, 11.2, "message_delivered", 9, "order", flow="compensation", message="RejectOrder"),
    ],
}


def test_hand_made_trace_pairs_messages_first_in_first_out():
    ids = lambda t: sorted(m["msg_id"] for m in viz.in_flight_at(HAND_MADE, t))  # noqa: E731
    assert ids(0.0) == [7, 7]          # the message and its copy
    assert ids(0.25) == [7]            # the first delivery took the original
    assert ids(0.3) == []
    assert ids(10.0) == [7, 8]         # the re-send, and ReserveStock waiting for a dead inventory
    assert ids(10.7) == [8]            # the re-send was dropped
    assert ids(1e9) == [8]             # inventory never came back: still in the broker
    copy_ = [m for m in viz.in_flight_at(HAND_MADE, 0.0) if m["duplicate"]]
    assert len(copy_) == 1


def test_hand_made_trace_statuses_and_state():
    assert viz.statuses_at(HAND_MADE, 0.5)["payment"] == "working"
    assert viz.statuses_at(HAND_MADE, 20.0)["inventory"] == "crashed"
    assert viz.statuses_at(HAND_MADE, 20.0)["payment"] == "idle"
    assert viz.state_at(HAND_MADE, 1.0)["balances"] == {"al": 50.0}
    assert viz.state_at(HAND_MADE, 1.2)["balances"] == {"al": 30.0}


def test_hand_made_trace_draws_every_figure():
    figs = viz.figures(HAND_MADE)
    assert set(figs) == {"topology", "sequence", "timeline", "saga_log", "state"}
    seq = figs["sequence"]
    assert arrow_count(trace_named(seq, "forward message")) == 3
    assert arrow_count(trace_named(seq, "compensation message")) == 1
    assert arrow_count(trace_named(seq, "duplicate copy")) == 1
    assert drawn_tokens(viz.topology_frame(HAND_MADE, 0.0)) == Counter({7: 2})


@pytest.mark.parametrize("name", ["out-of-stock", "lost-message", "duplicate-idempotent", "payment-crash"])
def test_a_snapshot_reusing_the_still_parts_is_the_figure_built_from_scratch(name):
    """``Topology.at_json`` only rebuilds the moving traces; it must draw exactly what a whole new figure draws,
    and be valid plotly (it skips validation when the app draws it)."""
    for style in sim.STYLES:
        run = real_run(name, style)
        graph = viz.Topology(run)
        for t in sorted({0.0, *(e["t"] for e in run["events"][::7]), tr.end_time(run)}):
            fast = graph.at_json(t)
            whole = viz.topology_frame(run, t)
            assert json.loads(go.Figure(fast).to_json()) == json.loads(whole.to_json()), (style, t)


def test_sequence_labels_that_would_cover_each_other_move_apart():
    from viz import sequence
    labels = [{"x": 1.5, "y": 0.5, "text": f"{k}: OrderCreated"} for k in range(40)]   # one spot, 40 labels
    labels.append({"x": 3.0, "y": 0.5, "text": "far away"})
    placed = sequence._apart(labels, per_unit=100.0, columns=4)
    same = sorted(a["y"] for a in placed if a["x"] == 1.5)
    gap = sequence.LABEL_PX / 100.0
    assert all(b - a >= 0.99 * gap for a, b in zip(same, same[1:]))     # stacked, none on another
    assert same[0] == 0.5 and [a["y"] for a in placed if a["x"] == 3.0] == [0.5]   # the first and a far one stay


def test_a_runs_derived_series_are_worked_out_once_and_shared(monkeypatch):
    """Issue 17: one Trace per run the views share; each derived series is computed on first use only."""
    import viz.trace as tr
    monkeypatch.setattr(tr, "_traces", type(tr._traces)())
    run = real_run("out-of-stock", "orchestration")
    calls = []
    real = tr._messages
    monkeypatch.setattr(tr, "_messages", lambda r: calls.append(1) or real(r))
    first = tr.messages(run)
    viz.figures(run)                                        # every figure reads the trips again
    assert tr.messages(run) is first and len(calls) == 1 and tr.of(run) is tr.of(run)
    assert first == real(run)                               # the same trips as computed afresh
    other = real_run("out-of-stock", "choreography")
    assert tr.of(other) is not tr.of(run)
    for _ in range(tr.TRACES + 2):                          # a bounded number of runs is kept
        tr.of(dict(run))
    assert len(tr._traces) == tr.TRACES and tr.of(run).run is run
