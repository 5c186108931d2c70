"""One run's result: outcomes, final state, the four invariants, metrics and the trace.

``run(scenario, style, seed, faults)`` is the public entry point; a
:class:`Run` turns into the run object of contract 4 with :meth:`Run.to_dict`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from .engine import Sim
from .errors import SagaInputError
from .export import clean, jsonl_lines
from .faults import for_scenario
from .scenario import STYLES, Scenario
from .services import Inventory, Payment
from .trace import records

_UNFINISHED = {"in_flight": "still in flight", "stuck": "stuck (a human must act)"}
STATE_LIVES = {
    "choreography": "spread over the services: each keeps its part, nobody holds the whole saga",
    "orchestration": "in the orchestrator's saga log (one place to look, one more thing to keep alive)",
}


def run(scenario: Scenario, style: str, seed: int | None = None, faults=(), keep_events: bool = True,
        extra_faults_only: bool = False, reference: bool = False, progress=None) -> "Run":
    """Simulate one style on one scenario.

    Args:
        seed: the run's seed; None takes the scenario's.
        faults: faults (Fault objects or command-line specs) added to the scenario's own.
        keep_events: False keeps no trace (a ``summary`` run of many sagas).
        extra_faults_only: True ignores the scenario's own faults.
        reference: True takes the engine's plain paths instead of their inlined speed twins
            (the same trace, byte for byte, only slower: tests/test_twins.py checks it).
        progress: called with a ``sim.engine.Progress`` every few thousand units of work while the run
            goes on; returning True stops the run (``RunStopped``). It never changes the trace.
    """
    if style not in STYLES:
        raise SagaInputError(f"must be choreography or orchestration, got {style!r}", None, "style")
    seed = scenario.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SagaInputError(f"must be a whole number, got {seed!r}", None, "seed")
    added = for_scenario(faults, scenario.services)
    all_faults = added if extra_faults_only else tuple(scenario.faults) + added
    sim = Sim(scenario, style, seed, all_faults, keep_events, reference)
    if progress is not None:
        sim.watch(progress)
    sim.run()
    return Run(scenario, style, seed, all_faults, sim)


@dataclass
class Run:
    scenario: Scenario
    style: str
    seed: int
    faults: tuple
    sim: Sim

    # ---------------------------------------------------------------- results
    @cached_property
    def outcomes(self) -> dict:
        """saga -> outcome; the run is over, so this is computed once (metrics and invariants use it)."""
        sim = self.sim
        out = {}
        for saga in sorted(sim.started):
            out[saga] = sim.outcome.get(saga, "in_flight")
        return out

    @cached_property
    def reserved(self) -> dict:
        """item -> quantity reserved by all sagas (final state and invariants use it)."""
        sim = self.sim
        out = {i: 0 for i in sim.stock}
        for r in sim.reserved.values():
            for i, q in r.items():
                out[i] += q
        return out

    @property
    def final_state(self) -> dict:
        sim = self.sim
        orders = sim.order_state
        return {
            "balances": {c: clean(b) for c, b in sim.balances.items()},
            "stock": dict(sim.stock),
            "orders": {str(s): orders[s] for s in sorted(orders)},
            "payment_held": clean(sim.held),
            "reserved": dict(self.reserved),
            "ledger_entries": len(sim.ledger),
        }

    @property
    def invariants(self) -> dict:
        sim, sc = self.sim, self.scenario
        start_money = sum(b for _, b in sc.customers)
        reserved = self.reserved
        start_stock = dict(sc.stock)
        outcomes = self.outcomes
        atomic = True
        consistent = True
        every_step_once, none = [1] * sim.n_steps, [0] * sim.n_steps       # net applications per step
        for saga, outcome in outcomes.items():
            if outcome in _UNFINISHED or (outcome == "deadlocked" and saga not in sim.rolled_back):
                continue            # not ended (a deadlocked one: its rollback is still under way): see unfinished
            net = sim.net[saga]
            if outcome == "completed" and net != every_step_once:
                atomic = False
            elif outcome in ("compensated", "deadlocked") and net != none:
                atomic = False
            state = sim.order_state.get(saga)
            if (state == "APPROVED") != (outcome == "completed"):
                consistent = False
            if (state == "REJECTED") != (outcome in ("compensated", "deadlocked")):
                consistent = False
        return {
            # each built-in service's share (sim/services), then the sagas' own
            "money_conserved": Payment.conserved(start_money, sim.balances, sim.held),
            "stock_conserved": Inventory.conserved(start_stock, sim.stock, reserved),
            "sagas_atomic": atomic,
            "orders_consistent": consistent,
        }

    @cached_property
    def unfinished(self) -> dict:
        """Sagas that have not ended (in flight, stuck, a deadlock's rollback under way) whose order
        already looks final: ``{"3": "still in flight: order already APPROVED"}``.

        The invariants judge ended sagas only (an order is APPROVED iff its saga completed,
        REJECTED iff it was compensated or deadlocked); a saga that has not ended may hold either
        state on its way (every OrderApproved reply lost: the order is APPROVED, the saga stuck), so
        it is said here in plain words instead of counting as a broken invariant.
        """
        sim = self.sim
        out = {}
        for saga, outcome in self.outcomes.items():
            state = sim.order_state.get(saga)
            if state not in ("APPROVED", "REJECTED"):
                continue
            if outcome == "deadlocked" and saga not in sim.rolled_back:
                out[str(saga)] = f"deadlocked, its rollback still under way: order already {state}"
            elif outcome in _UNFINISHED:
                out[str(saga)] = f"{_UNFINISHED[outcome]}: order already {state}"
        return out

    @property
    def metrics(self) -> dict:
        sim = self.sim
        m = sim.counts()
        ends = [sim.ended[s] for s in sim.outcome if s in sim.ended]
        first = min(sim.started.values(), default=0.0)
        m["duration"] = clean(max(ends) - first) if ends else 0.0
        outcomes = self.outcomes
        counts = {k: 0 for k in ("completed", "compensated", "stuck", "deadlocked", "in_flight")}
        for o in outcomes.values():
            counts[o] += 1
        m["sagas"] = len(outcomes)
        m["outcome_counts"] = counts
        lat = sorted(sim.ended[s] - sim.started[s] for s in sim.outcome)
        m["latency"] = {"p50": _pct(lat, 50), "p95": _pct(lat, 95), "p99": _pct(lat, 99),
                        "mean": clean(sum(lat) / len(lat)) if lat else 0.0,
                        "max": clean(lat[-1]) if lat else 0.0}
        m["throughput"] = clean(len(lat) / m["duration"]) if m["duration"] else 0.0
        m["max_in_flight"] = sim.max_in_flight
        t, depth, queued = sim.series
        m["series"] = {"t": t, "in_broker": depth, "waiting_for_worker": queued}
        subs = sim.subscriptions()
        m["subscriptions"] = {k: len(v) for k, v in subs.items()}
        m["saga_state_lives"] = STATE_LIVES[self.style]
        m["components"] = len(sim.services) + 1 + (1 if self.style == "orchestration" else 0)
        m["events"] = len(sim.events)
        m["simpy_events"] = sim.work
        m["end_time"] = clean(sim.env.now)
        return m

    # ---------------------------------------------------------------- export
    def records(self):
        """The trace as ``TraceEvent`` records (sim/trace.py), in order."""
        return records(self.sim.events)

    def events(self):
        """The trace as flat dicts, ordered by seq (contract 3)."""
        out = []
        # a TraceEvent's fields (sim/trace.py's EVENT_FIELDS), unpacked: no record object per event
        for seq, (t, kind, saga, service, message, msg_id, src, dst, detail) in enumerate(self.sim.events):
            ev = {"seq": seq, "t": clean(t), "kind": kind, "saga": saga, "service": service}
            if message is not None:
                ev["message"] = message
                ev["msg_id"] = msg_id
                ev["src"] = src
                ev["dst"] = dst
            if detail:
                ev["detail"] = detail
            out.append(ev)
        return out

    def to_dict(self, events: bool = True) -> dict:
        sc = self.scenario
        d = {
            "style": self.style,
            "seed": self.seed,
            "faults": [f.to_spec() for f in self.faults],
            "outcomes": {str(k): v for k, v in self.outcomes.items()},
            "final_state": self.final_state,
            "invariants": self.invariants,
            "unfinished": self.unfinished,
            "metrics": self.metrics,
            "services": list(sc.services),
            "steps": [{"name": s.name, "type": s.type, "waits_for": list(s.waits_for)} for s in sc.steps],
            "subscriptions": self.sim.subscriptions(),
            "initial_state": {"balances": dict(sc.customers), "stock": dict(sc.stock)},
            "horizon": sc.horizon,
        }
        if events:
            d["events"] = self.events()
        return d


def _pct(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return clean(sorted_values[k])


def write_json(out, scenario_name: str, results, events: bool = True) -> None:
    """Contract 4's object for ``results`` (Runs), written to ``out`` as ``json.dump`` with compact
    separators would write it, byte for byte, but fast: the events are encoded straight from the
    engine's tuples as ``--format jsonl`` does (no dict per event, no pure-Python encoder), so
    ``--format json`` costs about what jsonl does per event."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode       # one shot: the C encoder
    out.write('{"scenario":' + dumps(scenario_name) + ',"runs":[')
    for k, result in enumerate(results):
        head = dumps(result.to_dict(events=False))
        if not events:
            out.write(("," if k else "") + head)
            continue
        out.write(("," if k else "") + head[:-1] + ',"events":[')
        skip = len('{"style":"%s",' % result.style)
        first = True
        for line in jsonl_lines(result.sim.events, result.style):
            out.write(("{" if first else ",{") + line[skip:-1])
            first = False
        out.write("]}")
    out.write("]}\n")
