"""One run: ``Sim(scenario, style, seed, faults, keep_events).run()`` simulates one style.

The ``Sim`` holds the world's state (balances, stock, orders), the sagas' starts and
endings, and its parts: the kernel (clock, event queue, trace), fault matching,
choreography's wiring, the broker, the participants, the orchestrator, the locks.
"""
from __future__ import annotations

import heapq
import itertools
import random

from ..errors import RunLimitError
from . import kernel
from .broker import Broker
from .choreography import Choreography
from .faultplan import FaultMatching, FaultState
from .kernel import Kernel, Progress, few_collections
from .locks import LockTable
from .orchestrator import Orchestrator
from .participant import Participant


def estimate(scenario, style, faults=()):
    """(work, trace events) a run will at least cost: the happy path's per-saga cost (measured:
    choreography 2n+2 units and 4n+2 events for n steps, orchestration 3n+4 and 8n+9), plus one
    look per saga at each random fault of a step (each draws), times the number of sagas."""
    n, sagas = len(scenario.steps), scenario.saga_count
    if style == "choreography":
        work, events = 2 * n + 2, 4 * n + 2
    else:
        work, events = 3 * n + 4, 8 * n + 9
    work += sum(1 for f in faults if f.target != "broker" and f.probability is not None and f.saga is None)
    return work * sagas, events * sagas


def check_budget(scenario, style, faults=(), keep_events=True):
    """Refuse, before anything runs, a run that would certainly pass the limits (one line)."""
    work, events = estimate(scenario, style, faults)
    if work > kernel.MAX_WORK:
        raise RunLimitError(f"this {style} run would cost at least {work:,} units of work ({scenario.saga_count:,} "
                            f"sagas x {len(scenario.steps)} steps), more than the limit of {kernel.MAX_WORK:,}; "
                            "lower load.count, or use fewer steps or random faults")
    if keep_events and events > kernel.MAX_TRACE:
        raise RunLimitError(f"this {style} run would make at least {events:,} trace events, more than the "
                            f"{kernel.MAX_TRACE:,} a trace may keep; use --format summary for runs this large")


class Sim(Kernel, FaultMatching, Choreography):
    """One run. Holds the SimPy environment, the world's state and the trace."""

    def __init__(self, scenario, style, seed, faults, keep_events=True, reference=False):
        self.sc = scenario
        self.style = style
        self.seed = seed
        self.rng = random.Random(seed)
        Kernel.__init__(self, keep_events)
        self.faults = [FaultState(f) for f in faults]
        self._index_faults()
        self.timing = t = scenario.timing
        self.jitter = t.jitter
        self.delay = t.network_delay
        self.steps = scenario.steps
        self.n_steps = len(self.steps)
        self.new_id = itertools.count(1).__next__     # message ids 1, 2, 3... (a C call)
        # the world
        self.balances = {c: b for c, b in scenario.customers}
        self.stock = {i: n for i, n in scenario.stock}
        self.held = 0.0                        # money the payment service holds
        self.ledger = []                       # (t, saga, customer, amount, entry)
        self.reserved = {}                     # saga -> {item: qty}
        self.order_state = {}                  # saga -> PENDING | APPROVED | REJECTED
        self.orders = {}                       # saga -> Order
        self.net = {}                          # saga -> [net applications per step]
        self.outcome = {}                      # saga -> outcome once ended
        self.started = {}                      # saga -> start time
        self.ended = {}                        # saga -> end time
        self.victims = set()                   # sagas chosen as deadlock victims
        self.age = {}                          # saga -> when its order first started (a retry keeps it)
        self.tries = {}                        # saga -> how many times its order was a victim before
        self.rolled_back = set()               # deadlocked sagas whose rollback has finished
        self.unsettled = {}                    # choreography: saga -> why, order undone, a branch not yet
        self.next_saga = scenario.saga_count + 1
        # metrics
        self.m = dict(messages=0, sent=0, dropped=0, duplicated=0, delayed=0, duplicates_ignored=0,
                      compensations=0, compensation_failures=0, retries=0, timeouts=0, saga_log_records=0,
                      step_failures=0, deadlocks=0, crashes=0, stale_replies=0, lock_waits=0)
        self.in_flight = 0
        self.max_in_flight = 0
        # broker depth over time, sampled (a summary run keeps no events to derive it from)
        self.sample_every = scenario.horizon / 400.0
        self.next_sample = 0.0
        self.series = ([], [], [])           # t, messages in the broker, jobs waiting for a worker
        # the components
        self.services = {s.name: Participant(self, s) for s in self.steps}
        self.broker = Broker(self)
        self.orchestrator = Orchestrator(self) if style == "orchestration" else None
        self.endpoints = dict(self.services)
        if self.orchestrator:
            self.endpoints["orchestrator"] = self.orchestrator
        self.locks = LockTable(self) if scenario.isolation == "semantic_lock" else None
        self.cyclic = bool(scenario.subscription_cycles()) if style == "choreography" else False
        if style == "choreography":
            self._wire_choreography()
        # the dual write and its cure (issue 18): only installed when a scenario asks for them,
        # so the hot path of every other run is untouched
        self.commit_crashes = [fs for fs in self.faults if fs.fault.kind == "crash_before_publish"]
        if scenario.outbox or self.commit_crashes:
            self.publish = self._publish_hooked
            for p in self.services.values():
                p.hook_publishing(scenario.outbox)
        self.reference = reference
        if reference:
            for part in self.endpoints.values():
                part.take_plain_paths()

    # ------------------------------------------------------------ plumbing

    # ------------------------------------------------------------ plumbing
    def sample(self):
        now = self.env.now
        t, depth, queued = self.series
        t.append(round(now, 6))
        depth.append(self.in_flight)
        queued.append(sum(len(p.queue) for p in self.services.values()))
        self.next_sample = now + self.sample_every

    def vary(self, d):
        if self.jitter and d:
            return d * (1.0 + self.rng.uniform(-self.jitter, self.jitter))
        return d

    def counts(self):
        """The metric counters: ``m`` and the hottest ones, kept by their owners."""
        m = dict(self.m)
        m["messages"], m["sent"] = self.broker.delivered, self.broker.sent
        if self.orchestrator:
            m["saga_log_records"] = len(self.orchestrator.log) // 5     # five fields a record
        return m

    # ------------------------------------------------------------ sagas
    def start_saga(self, order, retry_of=None):
        saga = order.id
        self.orders[saga] = order
        self.started[saga] = self.env.now
        if self.locks is not None:
            self.age[saga] = self.env.now if retry_of is None else self.age[retry_of]
        self.net[saga] = [0] * self.n_steps
        entry = self.orchestrator if self.orchestrator else self.services["order"]
        if self.keep:
            d = {"customer": order.customer, "items": {i: q for i, q in order.items}, "price": order.price}
            if retry_of is not None:
                d["retry_of"] = retry_of
            self.emit("saga_started", saga, entry.name, d)
        entry.request(saga)

    def progress(self) -> Progress:
        """Where the run stands, for ``watch``'s report (every few thousand units of work)."""
        return Progress(self.env.now, self.work, len(self.started), len(self.outcome), self.sc.saga_count)

    def end_saga(self, saga, outcome, service, detail=None):
        """Record how a saga ended. The first ending stands, except ``stuck``: a saga a
        human was called for may still heal (a late reply), and then ends for real."""
        before = self.outcome.get(saga)
        if before is not None:
            if before == "deadlocked" and outcome == "compensated":
                self.rolled_back.add(saga)
            # stuck may heal into an ending (orchestration: a late reply to the command it gave up on;
            # in choreography nothing comes back for a stuck saga, so what ends it later is only a
            # part of it); a deadlocked saga whose rollback fails is stuck
            healed = before == "stuck" and outcome != "stuck" and self.orchestrator is not None
            if not (healed or (before in ("deadlocked", "compensated") and outcome == "stuck")):
                return False
        self.outcome[saga] = outcome
        self.ended[saga] = self.env.now
        if self.keep:
            self.emit("saga_" + outcome, saga, service, detail)
        if self.locks:
            self.locks.release_all(saga)
        if saga in self.victims and outcome in ("compensated", "deadlocked"):
            self.later(self.victim_backoff(saga), self._retry_victim, saga)
        return True

    def victim_backoff(self, saga):
        """Backoff before a deadlock victim's retry: timing.backoff, doubled for each earlier time
        its order was a victim (at most 64 times), so retries that collide again spread out."""
        return self.timing.backoff * (1 << min(6, self.tries.get(saga, 0)))

    def _retry_victim(self, saga):
        old = self.orders[saga]
        new_id = self.next_saga
        self.next_saga += 1
        self.tries[new_id] = self.tries.get(saga, 0) + 1
        order = type(old)(new_id, old.customer, old.items, old.price, self.env.now)
        self.start_saga(order, retry_of=saga)

    # ------------------------------------------------------------ running
    def _arrive(self, order=None):
        """Start this order's saga and schedule the next arrival: one pending arrival at a
        time keeps SimPy's event queue short (URGENT: before anything else at that instant)."""
        if order is not None:
            self.start_saga(order)
        nxt = next(self._arrivals, None)
        if nxt is not None:
            self.urgent(nxt.at, self._arrive, nxt)

    def run(self):
        check_budget(self.sc, self.style, [fs.fault for fs in self.faults], self.keep)
        self.schedule_crashes()
        self._arrivals = iter(_in_time_order(self.sc))
        self._arrive()
        with few_collections():
            self.env.run(until=self.sc.horizon)
        self.sample()
        return self


def _in_time_order(sc):
    """The scenario's orders by start time (ties in the file's order, listed before generated)."""
    listed = sorted(sc.orders, key=lambda o: o.at)
    it = iter(sc.all_orders())
    for _ in sc.orders:
        next(it)
    return heapq.merge(listed, it, key=lambda o: o.at)
