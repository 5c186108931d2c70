"""The saga model: services, one broker, choreography and orchestration, on SimPy.

``Sim(scenario, style, seed, faults, keep_events).run()`` simulates one style on
one scenario; :func:`sim.run.run` wraps it into a :class:`sim.run.Run`. A run is
a pure function of its inputs: one ``random.Random(seed)`` draws all randomness,
and SimPy's event queue breaks ties in a fixed order, so the same inputs give
the same trace.

Everything is a callback on one cheap SimPy event (a message hop, a unit of
work, a timer): no process per message, which keeps a run close to bare SimPy.
The parts: ``Broker`` (delay, faults, messages held for a service that is down),
``Participant`` (a service with its own state, idempotency, crashes),
``Orchestrator`` (commands, replies, timeouts, its write-ahead saga log),
``LockTable`` (semantic locks and their wait-for graph).
"""
from __future__ import annotations

import bisect
import gc
import heapq
import itertools
import random
from collections import deque
from heapq import heappush
from typing import NamedTuple

from . import graphs as nx       # networkx's API; networkx itself is imported only for a cycle to report
import simpy
from simpy.events import NORMAL, URGENT

from .errors import RunLimitError, RunStopped
from .faults import Fault

FORWARD, FAILURE, COMPENSATION, REPLY = "forward", "failure", "compensation", "reply"
_FLOW_DETAIL = {f: {"flow": f} for f in (FORWARD, FAILURE, COMPENSATION, REPLY)}
_NO_FIELDS = {}
_RETRY = {"retry": True}
# The work budget counts everything the engine does: SimPy events scheduled, faults looked at,
# saga-log records replayed on recovery, wait-for edges and cycles. 6 million units take ~15-25 s
# on one core of the project machine (~75 s when four sessions share its two cores) and at most
# ~1.1 GB; estimate() refuses up front what would certainly pass it, the counter stops the rest.
MAX_WORK = 6_000_000
MAX_TRACE = 2_000_000          # events kept in a trace (a summary run keeps none): ~0.6 GB
REPORT_EVERY = 20_000          # units of work between two progress reports (Sim.watch): ~30-60 ms


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
    if work > MAX_WORK:
        raise RunLimitError(f"this {style} run would cost at least {work:,} units of work ({scenario.saga_count:,} "
                            f"sagas x {len(scenario.steps)} steps), more than the limit of {MAX_WORK:,}; "
                            "lower load.count, or use fewer steps or random faults")
    if keep_events and events > MAX_TRACE:
        raise RunLimitError(f"this {style} run would make at least {events:,} trace events, more than the "
                            f"{MAX_TRACE:,} a trace may keep; use --format summary for runs this large")


class Progress(NamedTuple):
    """Where a run stands (Sim.watch): simulated time, units of work done, sagas started and ended, of all."""

    t: float
    work: int
    started: int
    ended: int
    sagas: int

    def stopped_words(self) -> str:
        """What a run stopped here says (RunStopped's message, the app's notice)."""
        return (f"stopped by you at t={self.t:g}, {self.started:,} of {self.sagas:,} sagas started; "
                "nothing of this run was kept")


def _dispatch(timer):
    timer.fn(*timer.args)


_DISPATCH = (_dispatch,)
_new = object.__new__


class _Timer:
    """The cheapest thing SimPy can schedule: an already-triggered event with one callback.

    A message hop, a unit of work or a timer is one of these (no process, no
    generator), pushed on SimPy's event queue as ``Environment.schedule`` does.
    """

    __slots__ = ("callbacks", "fn", "args")
    _ok = True
    _value = None

    def __init__(self, fn, args):
        self.callbacks = _DISPATCH
        self.fn = fn
        self.args = args


class Msg:
    """One message on the broker. A re-sent or duplicated message keeps its id.

    In flight, a message is its own SimPy event (as a ``_Timer`` would be, see
    ``Broker.send``): ``callbacks`` is set while it waits in SimPy's queue, None otherwise.
    """

    __slots__ = ("id", "name", "saga", "src", "dst", "step", "op", "flow", "reply_to", "detail", "callbacks")
    _ok = True
    _value = None

    def __init__(self, id, name, saga, src, dst, step, op, flow, reply_to=None, detail=None):
        self.id = id
        self.name = name
        self.saga = saga
        self.src = src
        self.dst = dst
        self.step = step          # step index the message is about
        self.op = op              # do | undo | approve | done | failed | undone | undo_failed | approved
        self.flow = flow
        self.reply_to = reply_to
        self.detail = detail
        self.callbacks = None


class _FaultState:
    """A fault and what is left of it (counts are per saga for step faults)."""

    __slots__ = ("fault", "spec", "used", "per_saga")

    def __init__(self, fault: Fault):
        self.fault = fault
        self.spec = fault.to_spec()
        self.used = 0
        self.per_saga = {}


class Sim:
    """One run. Holds the SimPy environment, the world's state and the trace."""

    def __init__(self, scenario, style, seed, faults, keep_events=True):
        self.sc = scenario
        self.style = style
        self.seed = seed
        self.rng = random.Random(seed)
        self.env = simpy.Environment()
        self.keep = keep_events
        self.events = []
        self.work = 0
        self.limit = MAX_WORK                  # the hot paths call checkpoint() past it (the budget, Sim.watch)
        self.watcher = None
        # SimPy is pinned (4.1.2): `later` pushes on its event queue as Environment.schedule does,
        # and the engine reads env._now (env.now without a property call)
        self.queue = self.env._queue
        self.next_eid = self.env._eid.__next__
        self.faults = [_FaultState(f) for f in faults]
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

    # ------------------------------------------------------------ plumbing
    def later(self, delay, fn, *args):
        self.work += 1
        if self.work > self.limit:
            self.checkpoint()
        # _Timer(fn, args) without a Python __init__ call, then Environment.schedule inlined: the hottest lines
        timer = _new(_Timer)
        timer.callbacks, timer.fn, timer.args = _DISPATCH, fn, args
        heappush(self.queue, (self.env._now + delay, NORMAL, self.next_eid(), timer))

    def watch(self, report, every: int | None = None):
        """Call ``report(Progress)`` every ``every`` units of work while the run goes on (a page's progress
        bar). A report that returns True stops the run: it raises RunStopped ("stopped by you at t=...").
        The report reads the run and changes nothing in it, so the trace is the same with or without it;
        it costs the hot paths nothing, since they compare the work with ``limit`` anyway (the budget)."""
        every = REPORT_EVERY if every is None else every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a whole number >= 1, got {every!r}")
        self.watcher, self.every = report, every
        self.limit = min(MAX_WORK, self.work + every - 1)
        return self

    def checkpoint(self):
        """The work passed ``limit``: the end of the budget, or the time for a progress report."""
        if self.work > MAX_WORK:
            self.too_much_work()
        if self.watcher is None:
            self.limit = MAX_WORK
            return
        self.limit = min(MAX_WORK, self.work + self.every - 1)    # the next report `every` units after this one
        now = self.env._now
        where = Progress(now, self.work, len(self.started), len(self.outcome), self.sc.saga_count)
        if self.watcher(where):
            raise RunStopped(where.stopped_words(), now)

    def too_much_work(self):
        raise RunLimitError(f"the run did more than {MAX_WORK:,} units of work (SimPy events, faults looked "
                            f"at, saga-log records replayed) before t={self.env._now:g}; shorten "
                            "timing.horizon, lower load.count or use fewer faults")

    def sample(self):
        now = self.env._now
        t, depth, queued = self.series
        t.append(round(now, 6))
        depth.append(self.in_flight)
        queued.append(sum(len(p.queue) for p in self.services.values()))
        self.next_sample = now + self.sample_every

    def vary(self, d):
        if self.jitter and d:
            return d * (1.0 + self.rng.uniform(-self.jitter, self.jitter))
        return d

    def emit(self, kind, saga=None, service=None, detail=None):
        """Record an event (hot paths test ``self.keep`` first and skip the call)."""
        if self.keep:
            events = self.events
            events.append((self.env._now, kind, saga, service, None, None, None, None, detail))
            if len(events) > MAX_TRACE:
                raise RunLimitError(f"the trace passed {MAX_TRACE:,} events at t={self.env._now:g}; "
                                    "use --format summary for runs this large")

    def emit_msg(self, kind, msg, detail=None):
        if self.keep:
            if msg.detail or detail:
                d = {"flow": msg.flow}
                if msg.detail:
                    d.update(msg.detail)
                if detail:
                    d.update(detail)
            else:
                d = _FLOW_DETAIL[msg.flow]      # shared and never mutated: cheap to make and to encode
            self.events.append((self.env._now, kind, msg.saga, None, msg.name, msg.id, msg.src, msg.dst, d))

    def counts(self):
        """The metric counters: ``m`` and the hottest ones, kept by their owners."""
        m = dict(self.m)
        m["messages"], m["sent"] = self.broker.delivered, self.broker.sent
        if self.orchestrator:
            m["saga_log_records"] = len(self.orchestrator.log) // 5     # five fields a record
        return m

    # ------------------------------------------------------------ faults
    def _index_faults(self):
        """Faults indexed by what they strike: a step fault by (kind, service, saga or None), a
        broker fault by (message or None, saga or None). A fault joins its index when its time
        ``at`` comes, and a broker fault whose count is used up leaves it, so a lookup reads only
        the faults that can match (in the order given: the first match wins, as in a plain scan)."""
        self.step_index = {}
        self.broker_index = {}
        future = []
        for idx, fs in enumerate(self.faults):
            if fs.fault.kind != "crash":
                future.append((fs.fault.at, idx, fs))
        future.sort(key=lambda x: (x[0], x[1]))
        self._future = deque(future)
        self._next_at = future[0][0] if future else float("inf")

    def _activate(self, now):
        future = self._future
        while future and future[0][0] <= now:
            _, idx, fs = future.popleft()
            f = fs.fault
            key = (f.message, f.saga) if f.target == "broker" else (f.kind, f.target, f.saga)
            index = self.broker_index if f.target == "broker" else self.step_index
            bisect.insort(index.setdefault(key, []), (idx, fs))
        self._next_at = future[0][0] if future else float("inf")

    def _candidates(self, index, general, specific):
        a, b = index.get(general), index.get(specific)
        if not b:
            if not a:
                return ()
            self.work += len(a)
            return a
        self.work += len(b) + (len(a) if a else 0)
        return heapq.merge(a, b) if a else b

    def step_fault(self, kind, service, saga):
        """The first matching fault of ``kind`` for an attempt starting now, or None."""
        now = self.env._now
        if now >= self._next_at:
            self._activate(now)
        for _, fs in self._candidates(self.step_index, (kind, service, None), (kind, service, saga)):
            f = fs.fault
            if f.times is not None:
                n = fs.per_saga.get(saga, 0)
                if n >= f.times:
                    continue
                fs.per_saga[saga] = n + 1
            elif f.probability is not None and self.rng.random() >= f.probability:
                continue
            fs.used += 1
            self.emit("fault_injected", saga, service, {"fault": fs.spec, "kind": kind})
            return f
        return None

    def broker_fault(self, msg):
        now = self.env._now
        if now >= self._next_at:
            self._activate(now)
        index = self.broker_index
        if not index:
            return None
        lists = [index.get(k) for k in ((None, None), (None, msg.saga), (msg.name, None), (msg.name, msg.saga))]
        lists = [x for x in lists if x]
        if not lists:
            return None
        self.work += sum(len(x) for x in lists)
        for idx, fs in (lists[0] if len(lists) == 1 else list(heapq.merge(*lists))):
            f = fs.fault
            if fs.used >= (f.count or 1):
                continue
            if f.probability is not None and self.rng.random() >= f.probability:
                continue
            fs.used += 1
            if fs.used >= (f.count or 1):          # used up: out of the index
                index[(f.message, f.saga)].remove((idx, fs))
            self.emit("fault_injected", msg.saga, "broker",
                      {"fault": fs.spec, "kind": f.kind, "message": msg.name, "msg_id": msg.id})
            return f
        return None

    def schedule_crashes(self):
        for fs in self.faults:
            f = fs.fault
            if f.kind != "crash":
                continue
            comp = self.orchestrator if f.target == "orchestrator" else self.services.get(f.target)
            if comp is None:
                continue
            self.later(f.at, self._crash, comp, fs)

    def _crash(self, comp, fs):
        if comp.down:
            return
        self.emit("fault_injected", None, comp.name, {"fault": fs.spec, "kind": "crash"})
        self.m["crashes"] += 1
        comp.crash()
        if fs.fault.recover_after is not None:
            self.later(fs.fault.recover_after, comp.recover)

    # ------------------------------------------------------------ sagas
    def start_saga(self, order, retry_of=None):
        saga = order.id
        self.orders[saga] = order
        self.started[saga] = self.env._now
        if self.locks is not None:
            self.age[saga] = self.env._now if retry_of is None else self.age[retry_of]
        self.net[saga] = [0] * self.n_steps
        entry = self.orchestrator if self.orchestrator else self.services["order"]
        if self.keep:
            d = {"customer": order.customer, "items": {i: q for i, q in order.items}, "price": order.price}
            if retry_of is not None:
                d["retry_of"] = retry_of
            self.emit("saga_started", saga, entry.name, d)
        entry.request(saga)

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
        self.ended[saga] = self.env._now
        if self.keep:
            self.emit("saga_" + outcome, saga, service, detail)
        if self.locks:
            self.locks.release_all(saga)
        if saga in self.victims and outcome in ("compensated", "deadlocked"):
            self.later(self.victim_backoff(saga), self._retry_victim, saga)
        return True

    def rollback_done(self, saga, service, because):
        """Choreography: the order service has undone its step. The saga is compensated once
        no step of it is still applied or busy (a branch beside the failed step may still be
        undoing, or be down with its compensation); until then it is still in flight."""
        if self._settled(saga):
            self.end_saga(saga, "compensated", service, {"because": because})
        else:
            self.unsettled[saga] = because

    def _settled(self, saga):
        if any(self.net[saga]):
            return False
        for p in self.services.values():
            st = p.sagas.get(saga)
            if st is not None and (st.status == "working" or st.status == "compensating"
                                   or st.pending_undo is not None):
                return False
        return True

    def settle(self, saga, service):
        """A step of ``saga`` finished something: end the rollback the order service is waiting on."""
        because = self.unsettled.get(saga)
        if because is not None and self._settled(saga):
            del self.unsettled[saga]
            self.end_saga(saga, "compensated", service, {"because": because})

    def victim_backoff(self, saga):
        """Backoff before a deadlock victim's retry: timing.backoff, doubled for each earlier time
        its order was a victim (at most 64 times), so retries that collide again spread out."""
        return self.timing.backoff * (1 << min(6, self.tries.get(saga, 0)))

    def _retry_victim(self, saga):
        old = self.orders[saga]
        new_id = self.next_saga
        self.next_saga += 1
        self.tries[new_id] = self.tries.get(saga, 0) + 1
        order = type(old)(new_id, old.customer, old.items, old.price, self.env._now)
        self.start_saga(order, retry_of=saga)

    # ------------------------------------------------------------ choreography wiring
    def _wire_choreography(self):
        """Who listens to what: the subscriptions nobody can see in one place."""
        subs = {}                      # event name -> [(service, role)]

        def listen(event, service, role):
            if (service, role) not in subs.setdefault(event, []):
                subs[event].append((service, role))

        steps = self.steps
        for s in steps:
            for ev in s.waits_for:
                listen(ev, s.name, "wait")
        # failures travel backwards: each service listens for the failure and the
        # compensation of the step after it
        for i, s in enumerate(steps[:-1]):
            nxt = steps[i + 1].messages
            listen(nxt.failed, s.name, "undo")
            listen(nxt.undone, s.name, "undo")
        # ... and for those of every step that waits for it (the same, on the default chain)
        g = self.sc.waits_graph()
        for s in steps:
            for publisher in g.successors(s.name):
                listen(s.messages.failed, publisher, "undo")
                listen(s.messages.undone, publisher, "undo")
        # steps that run side by side (neither waits, even indirectly, for the other)
        # also listen for each other's failure: nothing else would tell them (a retriable step
        # publishes a failure only as a deadlock's victim, and then its neighbours must hear it)
        for a in steps[1:]:
            for b in steps[1:]:
                if a is not b and not nx.has_path(g, a.name, b.name) and not nx.has_path(g, b.name, a.name):
                    listen(b.messages.failed, a.name, "undo")
        # the order service approves when every last step (one nobody waits for) has succeeded
        waited = {ev for s in steps for ev in s.waits_for}
        sinks = tuple(s.messages.done for s in steps[1:] if s.messages.done not in waited)
        self.sinks = sinks or (steps[-1].messages.done,)
        self.sink_set = frozenset(self.sinks)
        for ev in self.sinks:
            listen(ev, "order", "approve")
        self.subs = subs

    def subscriptions(self):
        if self.style == "choreography":
            out = {s.name: [] for s in self.steps}
            for ev, lst in self.subs.items():
                for svc, _ in lst:
                    if ev not in out[svc]:
                        out[svc].append(ev)
            return out
        out = {s.name: [s.messages.command] + ([s.messages.undo] if s.type != "retriable" else [])
               for s in self.steps}
        out["order"].append("ApproveOrder")
        out["orchestrator"] = sorted({m for s in self.steps for m in
                                      (s.messages.done, s.messages.failed, s.messages.undone,
                                       s.messages.undo_failed)} | {"OrderApproved"})
        return out

    def publish(self, src, saga, step, op, name, flow, detail=None):
        """Choreography: an event on the broker, one copy per subscriber."""
        for dst, _role in self.subs.get(name, ()):
            self.broker.send(Msg(self.new_id(), name, saga, src, dst, step, op, flow, None, detail))

    def check_waits_deadlock(self, saga):
        """Choreography: build the saga's wait-for graph and look for a cycle.

        A service whose step has not started points at the service that would
        publish each event it still waits for. Edges only disappear as events
        are published, so a cycle exists from the saga's first event or never.
        """
        g = nx.DiGraph()
        publisher = self.sc.publishers
        for s in self.steps[1:]:
            p = self.services[s.name].state(saga)
            if p.status is not None:
                continue
            for ev in s.waits_for:
                if ev not in p.seen:
                    src = publisher[ev]
                    if self.services[src].state(saga).status in (None, "working"):
                        g.add_edge(s.name, src)
        self.work += g.number_of_edges() + 1
        try:
            cycle = [u for u, _ in nx.find_cycle(g)]
        except nx.NetworkXNoCycle:
            return
        index = {s.name: s.index for s in self.steps}
        victim = max(cycle, key=index.get)
        k = cycle.index(victim)
        cycle = cycle[k:] + cycle[:k]
        self.m["deadlocks"] += 1
        why = ("a cycle of services each waiting for an event the next one would publish only after "
               f"its own step: {' -> '.join(cycle + [cycle[0]])}; {victim} is the latest step in the "
               "cycle, so it gives up and its failure travels back")
        self.emit("deadlock_detected", saga, victim, {"cycle": cycle, "victim": victim, "reason": why})
        self.end_saga(saga, "deadlocked", victim, {"cycle": cycle})
        svc = self.services[victim]
        svc.state(saga).status = "failed"
        step = svc.step
        reason = f"deadlock: {' -> '.join(cycle + [cycle[0]])}"
        self.emit("step_failed", saga, victim, {"step": step.index + 1, "attempt": 0, "reason": reason})
        self.publish(victim, saga, step.index, "failed", step.messages.failed, FAILURE, {"reason": reason})

    # ------------------------------------------------------------ running
    def _arrive(self, order=None):
        """Start this order's saga and schedule the next arrival: one pending arrival at a
        time keeps SimPy's event queue short (URGENT: before anything else at that instant)."""
        if order is not None:
            self.start_saga(order)
        nxt = next(self._arrivals, None)
        if nxt is not None:
            self.work += 1
            heappush(self.queue, (nxt.at, URGENT, self.next_eid(), _Timer(self._arrive, (nxt,))))

    def run(self):
        check_budget(self.sc, self.style, [fs.fault for fs in self.faults], self.keep)
        self.schedule_crashes()
        self._arrivals = iter(_in_time_order(self.sc))
        self._arrive()
        # A run's objects mostly live until it ends, so a collection during the run finds little
        # garbage but walks them all: collect the young generation once per million new objects
        # (not 700), which also bounds the cyclic garbage that can wait (networkx graphs make some).
        old = gc.get_threshold()
        gc.set_threshold(max(old[0], 1_000_000), old[1], old[2])
        try:
            self.env.run(until=self.sc.horizon)
        finally:
            gc.set_threshold(*old)
        self.sample()
        return self


def _in_time_order(sc):
    """The scenario's orders by start time (ties in the file's order, listed before generated)."""
    listed = sorted(sc.orders, key=lambda o: o.at)
    it = iter(sc.all_orders())
    for _ in sc.orders:
        next(it)
    return heapq.merge(listed, it, key=lambda o: o.at)


class Broker:
    """Carries every message: network delay, faults, and queues for services that are down."""

    def __init__(self, sim):
        self.sim = sim
        self.held = {}         # destination -> deque of messages waiting for it to come back
        self.sent = 0          # the metrics' `sent` and `messages` (delivered), counted here: hot
        self.delivered = 0
        self.hop = (self.deliver,)   # the callbacks of a message in flight: SimPy calls deliver(msg)

    def send(self, msg, extra_delay=0.0):
        sim = self.sim
        self.sent += 1
        now = sim.env._now
        if now >= sim.next_sample:
            sim.sample()
        f = sim.broker_fault(msg) if sim.faults else None
        if sim.keep:
            sim.emit_msg("message_sent", msg)
        delay = (sim.vary(sim.delay) if sim.jitter else sim.delay) + extra_delay
        if f is not None:
            if f.kind == "drop":
                sim.m["dropped"] += 1
                sim.emit_msg("message_dropped", msg, {"fault": f.to_spec()})
                return
            if f.kind == "delay":
                sim.m["delayed"] += 1
                delay += f.by
            elif f.kind == "duplicate":
                sim.m["duplicated"] += 1
                sim.emit_msg("message_duplicated", msg, {"fault": f.to_spec()})
                sim.in_flight += 1
                sim.later(delay + sim.delay, self.deliver, msg)
        sim.in_flight = n = sim.in_flight + 1
        if n > sim.max_in_flight:
            sim.max_in_flight = n
        if msg.callbacks is not None:       # this very message is still in flight (a re-send): a timer
            sim.later(delay, self.deliver, msg)
            return
        # The message itself is the SimPy event: no timer object, no dispatch call (later(), inlined)
        sim.work += 1
        if sim.work > sim.limit:
            sim.checkpoint()
        msg.callbacks = self.hop
        heappush(sim.queue, (now + delay, NORMAL, sim.next_eid(), msg))

    def deliver(self, msg):
        sim = self.sim
        dst = sim.endpoints[msg.dst]
        if dst.down:
            self.held.setdefault(msg.dst, deque()).append(msg)
            return
        sim.in_flight -= 1
        self.delivered += 1
        if sim.keep:
            sim.emit_msg("message_delivered", msg)
        dst.receive(msg)

    def hold(self, msg):
        """Put back a message whose processing was lost in a crash (it was never acked)."""
        self.sim.in_flight += 1
        self.held.setdefault(msg.dst, deque()).appendleft(msg)

    def release(self, name):
        q = self.held.pop(name, None)
        while q:
            self.deliver(q.popleft())


class _SagaAtService:
    """What one service knows of one saga (kept in its own database: survives crashes)."""

    __slots__ = ("status", "seen", "pending_undo", "attempts", "comp_attempts", "because")

    def __init__(self):
        self.status = None        # None | working | done | failed | compensating | compensated | cancelled
        self.seen = ()            # choreography events arrived (for waits_for / approval); a tuple
                                  # of names, which the garbage collector stops tracking (a set it walks)
        self.pending_undo = None  # (msg, because): a compensation asked for while the step was working
        self.attempts = 0
        self.comp_attempts = 0
        self.because = ""


_REFUSED = "refused: this saga was already compensated here (the compensation arrived first)"
_GONE = ("cancelled", "compensated", "compensating")


class Participant:
    """A service (order, payment, inventory or a custom step) with its own state.

    Every piece of work is a job: a broker message, or an internal job (the
    customer's request, a retry after a backoff) with a negative id. Jobs wait
    in ``working`` (arrival order) until done; a crash puts the unfinished ones
    back in the broker (messages) or in ``deferred`` (internal jobs).
    """

    def __init__(self, sim, step):
        self.sim = sim
        self.step = step
        self.name = step.name
        self.capacity = sim.sc.capacity(step.name)
        self.service_time = sim.sc.service_time(step.name)
        self.idempotent = sim.sc.idempotent
        self.busy = 0
        self.queue = deque()
        self.down = False
        self.epoch = 0
        self.working = {}          # job id -> job, queued or in progress (lost on a crash)
        self.done_ids = {}         # msg id -> reply Msg, its id (see _finish) or None (choreography): idempotency
        self.sagas = {}
        self.deferred = []         # timers and jobs that came while down
        self.is_order = step.name == "order"
        self.internal = 0
        self.roles = {}            # choreography: event name -> this service's roles for it
        self.waits_for = frozenset(step.waits_for)

    def state(self, saga):
        st = self.sagas.get(saga)
        if st is None:
            st = self.sagas[saga] = _SagaAtService()
        return st

    def job(self, op, saga, detail=None):
        """An internal job (not a broker message)."""
        self.internal -= 1
        return Msg(self.internal, op, saga, self.name, self.name, self.step.index, op, None, None, detail)

    # -------------------------------------------------------- arrival
    def request(self, saga):
        """The customer's request (choreography): it reaches the order service from outside."""
        self._enqueue(self.job("request", saga))

    def receive(self, msg):
        """A broker message (the broker delivers only while the service is up)."""
        if self.idempotent and (msg.id in self.done_ids or msg.id in self.working):
            return self._duplicate(msg)
        if self.capacity is None:
            # unlimited workers (the common case): the job starts now, as _enqueue then _start
            # would do, two calls fewer per message
            self.working.setdefault(msg.id, msg)
            op = msg.op
            if op == "do":                  # orchestration: a command
                return self._forward(msg.saga, msg)
            if op == "done":                # choreography: an event (a step done)
                return self._on_event(msg)
            if op == "approve":             # orchestration: the last command
                return self._approve(msg.saga, msg)
            return self._start(msg)
        self._enqueue(msg)

    def _duplicate(self, msg):
        """Idempotency: a message seen before is not done again."""
        sim = self.sim
        if msg.id in self.done_ids:
            reply = self.done_ids[msg.id]
            sim.m["duplicates_ignored"] += 1
            sim.emit("duplicate_ignored", msg.saga, self.name,
                     {"message": msg.name, "msg_id": msg.id,
                      "reason": "already done: the earlier reply is sent again" if reply else "already done"})
            if reply is not None:
                sim.broker.send(self._reply_again(msg, reply) if reply.__class__ is int else reply)
            return
        sim.m["duplicates_ignored"] += 1
        sim.emit("duplicate_ignored", msg.saga, self.name,
                 {"message": msg.name, "msg_id": msg.id, "reason": "already in progress"})

    def _enqueue(self, job):
        """A job arrives: it starts now, or waits for a worker if their number is limited."""
        if self.down:
            self.deferred.append((self._enqueue, (job,)))
            return
        self.working.setdefault(job.id, job)
        if self.capacity is not None:       # busy workers are counted only then
            if self.busy >= self.capacity:
                self.queue.append(job)
                return
            self.busy += 1
        self._start(job)

    # -------------------------------------------------------- dispatch
    def _start(self, job):
        """Decide what a job means, then do it."""
        op = job.op
        if op == "do" or op == "request" or op == "retry":
            return self._forward(job.saga, job)
        if op == "undo" or op == "undo_self":
            return self._compensate(job.saga, job, (job.detail or {}).get("reason", ""))
        if op == "approve":
            return self._approve(job.saga, job)
        return self._on_event(job)

    def _finish(self, job, reply, remember=True):
        """The job is done: forget it, remember its id (idempotency), send the reply, free the worker."""
        self.working.pop(job.id, None)
        if remember and self.idempotent and job.id > 0:
            # a reply without detail is remembered by its id alone and rebuilt if the command comes
            # again (_reply_again): no message object kept per command until the end of the run
            self.done_ids[job.id] = reply if reply is None or reply.detail is not None else reply.id
        if reply is not None:
            self.sim.broker.send(reply)
        if self.capacity is not None:
            self._release_worker()

    def _release_worker(self):
        """Only when workers are limited (see _enqueue)."""
        if self.queue and not self.down:
            self._start(self.queue.popleft())     # the worker goes on to the next job
        else:
            self.busy -= 1

    def _reply_again(self, msg, reply_id):
        """The reply without detail once sent to command ``msg`` (see _finish), rebuilt.

        Such a reply is determined by the command: a command done, an approval, or a
        compensation done (the replies that carry detail, failures and no-ops, are kept whole).
        """
        op, messages = msg.op, self.step.messages
        if op == "do":
            return self._reply(msg, "done", messages.done, FORWARD, msg_id=reply_id)
        if op == "approve":
            return self._reply(msg, "approved", "OrderApproved", FORWARD, msg_id=reply_id)
        return self._reply(msg, "undone", messages.undone, COMPENSATION, msg_id=reply_id)

    def _reply(self, msg, op, name, flow, detail=None, msg_id=None):
        """The reply to command ``msg`` (None for a choreography event); ``msg_id``: a reply sent before."""
        if msg.src != "orchestrator":
            return None
        return Msg(self.sim.new_id() if msg_id is None else msg_id, name, msg.saga, self.name, "orchestrator",
                   msg.step, op, flow, msg.id, detail)

    # -------------------------------------------------------- choreography events
    def _on_event(self, msg):
        saga = msg.saga
        st = self.sagas.get(saga)
        if st is None:                     # state(saga), inlined: a saga's first event here
            st = self.sagas[saga] = _SagaAtService()
        name = msg.name
        if name not in st.seen:
            st.seen += (name,)
        roles = self.roles.get(name)
        if roles is None:
            roles = self.roles[name] = frozenset(r for svc, r in self.sim.subs.get(name, ()) if svc == self.name)
        if "wait" in roles and self.waits_for.issubset(st.seen):
            if st.status is None or st.status == "cancelled" or (
                    not self.idempotent and st.status != "compensating"):
                return self._forward(saga, msg)       # a cancelled or compensated saga: refused
        if "undo" in roles:
            reason = (msg.detail or {}).get("reason") or f"{msg.src} reported {name}"
            return self._undo_request(saga, msg, reason)
        if "approve" in roles and self.sim.sink_set.issubset(st.seen) and st.status == "done" \
                and saga not in self.sim.outcome:
            return self._approve(saga, msg)
        self._finish(msg, None)

    def _undo_request(self, saga, msg, because):
        """Choreography: the next step failed or was compensated; undo ours."""
        st = self.state(saga)
        if st.status == "done":
            return self._compensate(saga, msg, because)
        if st.status == "working":
            st.pending_undo = (None, because)
            self._withdraw_lock_wait(saga)
        elif st.status is None or (st.status == "failed" and self.step.type == "retriable"):
            # nothing to undo, but remember: a late request, or a retriable step's pending retry
            # (its failure was never published), must be refused
            st.status = "cancelled"
            self.sim.emit("compensation_succeeded", saga, self.name,
                          {"step": self.step.index + 1, "noop": True,
                           "reason": f"its step never ran, so it only passes the news back ({because})"})
            self._pass_back(saga, because, noop=True)
        self._finish(msg, None)

    def _withdraw_lock_wait(self, saga):
        """A compensation came for a saga whose step waits for a semantic lock: the wait is
        given up (nothing was reserved for it), instead of holding the compensation behind the lock."""
        locks = self.sim.locks
        if locks is not None and saga in locks.blocked and self.name == "inventory":
            locks.abort_waiter(saga, "withdrawn: its saga is being compensated while it waited for the lock on ")

    def _pass_back(self, saga, because, noop=False):
        """Choreography: tell the step before ours that ours is undone (order ends the saga)."""
        sim = self.sim
        if self.is_order:
            sim.rollback_done(saga, self.name, because)
            return
        d = {"reason": because, "noop": True} if noop else {"reason": because}
        sim.publish(self.name, saga, self.step.index, "undone", self.step.messages.undone, COMPENSATION, d)

    # -------------------------------------------------------- forward step
    def _forward(self, saga, job):
        sim = self.sim
        st = self.sagas.get(saga)
        if st is None:                     # state(saga), inlined: a saga's first job here
            st = self.sagas[saga] = _SagaAtService()
        st.attempts += 1
        if st.status not in _GONE:
            st.status = "working"
        fail = slow = None
        if sim.faults:
            fail = sim.step_fault("fail", self.name, saga)
            slow = sim.step_fault("slow", self.name, saga)
        work = (sim.vary(self.service_time) if sim.jitter else self.service_time) + (slow.by if slow else 0.0)
        if sim.keep:
            sim.emit("step_started", saga, self.name, {"step": self.step.index + 1, "attempt": st.attempts})
        if sim.locks is not None and self.name == "inventory" and st.status == "working":
            sim.locks.reserve_items(self, saga, job, fail, work, self.epoch)
            return
        sim.later(work, self._forward_done, saga, job, fail, self.epoch, None)

    def _forward_done(self, saga, job, fail, epoch, reason):
        if epoch != self.epoch:
            return                         # lost in a crash; the job will come again
        sim = self.sim
        st = self.sagas[saga]
        step = self.step
        if reason is None and st.status in _GONE:
            reason = _REFUSED
        if reason is None and fail is not None:
            reason = f"injected fault ({fail.to_spec()})"
        effect = None
        if reason is None:
            effect, reason = self.apply(saga)
        to_broker = job.src != "orchestrator"
        if reason is None:
            sim.net[saga][step.index] += 1
            st.status = "done"
            if sim.keep:
                sim.emit("step_succeeded", saga, self.name,
                         {"step": step.index + 1, "attempt": st.attempts, "effect": effect})
            if to_broker:
                sim.publish(self.name, saga, step.index, "done", step.messages.done, FORWARD)
                if sim.cyclic and self.is_order:
                    sim.check_waits_deadlock(saga)
            # self._reply(job, "done", ...), inlined: a call fewer per step
            reply = None if to_broker else Msg(sim.new_id(), step.messages.done, job.saga, self.name,
                                               "orchestrator", job.step, "done", FORWARD, job.id)
            self._finish(job, reply)
            if st.pending_undo is not None:
                self._run_pending_undo(st, saga)
            return
        sim.m["step_failures"] += 1
        refused = reason is _REFUSED
        if not refused:
            st.status = "failed"
            if self.is_order:
                sim.order_state[saga] = "REJECTED"
        sim.emit("step_failed", saga, self.name, {"step": step.index + 1, "attempt": st.attempts, "reason": reason})
        why = f"{self.name}: {reason}"
        if to_broker and not refused:
            if step.type == "retriable":
                self._retry_forward(saga, reason)
            elif self.is_order:
                sim.rollback_done(saga, self.name, why)
            else:
                sim.publish(self.name, saga, step.index, "failed", step.messages.failed, FAILURE,
                            {"reason": why})
        # a failure is an answer: a late copy of the same message gets it again, never a redo
        self._finish(job, self._reply(job, "failed", step.messages.failed, FAILURE, {"reason": why}))
        if to_broker:
            st.pending_undo = None        # our own failure travels back instead
            if sim.unsettled:
                sim.settle(saga, self.name)
        else:
            self._run_pending_undo(st, saga)

    def _run_pending_undo(self, st, saga):
        if st.pending_undo is None:
            return
        msg, because = st.pending_undo
        st.pending_undo = None
        self._enqueue(msg if msg is not None else self.job("undo_self", saga, {"reason": because}))

    def _retry_forward(self, saga, reason):
        """Choreography: a retriable step retries itself after a backoff."""
        st = self.state(saga)
        self._retry_or_stuck(saga, st.attempts, self.job("retry", saga),
                             f"{self.name} failed {st.attempts} times ({reason}); a retriable step "
                             "after the pivot cannot be compensated: a human must act")

    def _retry_or_stuck(self, saga, attempts, job, stuck_reason):
        """Choreography: nobody else is waiting, so the service tries again itself after a
        backoff; past ``max_retries`` the saga is stuck."""
        sim = self.sim
        if attempts > sim.timing.max_retries:
            sim.end_saga(saga, "stuck", self.name, {"reason": stuck_reason})
            return
        sim.m["retries"] += 1
        self.after(sim.timing.backoff, self._enqueue, job)

    def after(self, delay, fn, *args):
        """A timer of this service; if it fires while the service is down, it waits for recovery."""
        self.sim.later(delay, self._fire, fn, args)

    def _fire(self, fn, args):
        if self.down:
            self.deferred.append((fn, args))
        else:
            fn(*args)

    def apply(self, saga):
        """The local transaction of the forward step. Returns (effect, failure reason)."""
        sim = self.sim
        order = sim.orders[saga]
        name = self.name
        if name == "order":
            sim.order_state[saga] = "PENDING"
            return (f"order {saga} created, PENDING" if sim.keep else None), None
        if name == "payment":
            bal = sim.balances[order.customer]
            if bal < order.price:
                return None, f"{order.customer}'s balance {bal:g} is short of {order.price:g}"
            sim.balances[order.customer] = bal - order.price
            sim.held += order.price
            sim.ledger.append((sim.env._now, saga, order.customer, -order.price, "charge"))
            if not sim.keep:
                return None, None
            return f"charged {order.customer} {order.price:g} (balance {bal - order.price:g})", None
        if name == "inventory":
            for item, qty in order.items:
                if sim.stock[item] < qty:
                    return None, f"stock of {item} is {sim.stock[item]}, needs {qty}"
            got = sim.reserved.setdefault(saga, {})
            for item, qty in order.items:
                sim.stock[item] -= qty
                got[item] = got.get(item, 0) + qty
            if not sim.keep:
                return None, None
            return "reserved " + ", ".join(f"{q} {i}" for i, q in order.items), None
        return f"{name} done", None

    # -------------------------------------------------------- compensation
    def _compensate(self, saga, job, because):
        sim = self.sim
        st = self.state(saga)
        step = self.step
        if job.op == "undo" and st.status != "done" and st.status != "compensating":
            # orchestration: the compensation overtook its request, or the step never took effect
            if st.status == "working":
                st.pending_undo = (job, because)
                if self.capacity is not None:
                    self._release_worker()  # the command waits (still in `working`) without a worker
                self._withdraw_lock_wait(saga)
                return
            if st.status == "compensated":
                self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION))
                return
            if st.status is None:
                st.status = "cancelled"
            if self.is_order:
                sim.order_state[saga] = "REJECTED"      # an order the customer asked for, now refused
            sim.emit("compensation_succeeded", saga, self.name,
                     {"step": step.index + 1, "noop": True,
                      "reason": "the step never took effect here; a late request for it will be refused"})
            self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION, {"noop": True}))
            return
        if st.status == "compensating" and job.op == "undo":
            # one compensation of this saga is already running here: never two at once
            sim.m["duplicates_ignored"] += 1
            sim.emit("duplicate_ignored", saga, self.name,
                     {"message": job.name, "msg_id": job.id,
                      "reason": "a compensation of this saga is already in progress here"})
            self._finish(job, None, remember=False)
            return
        if sim.net[saga][step.index] <= 0:
            return self._nothing_to_undo(saga, job, st, because)
        if step.type != "compensable":
            return self._cannot_undo(saga, job, st)
        st.status = "compensating"
        st.because = because
        st.comp_attempts += 1
        fail = slow = None
        if sim.faults:
            fail = sim.step_fault("compensation_fail", self.name, saga)
            slow = sim.step_fault("slow", self.name, saga)
        work = sim.vary(self.service_time) + (slow.by if slow else 0.0)
        sim.emit("compensation_started", saga, self.name,
                 {"step": step.index + 1, "attempt": st.comp_attempts, "reason": because,
                  "action": self.undo_text(saga)})
        sim.later(work, self._compensate_done, saga, job, fail, self.epoch)

    def _nothing_to_undo(self, saga, job, st, because):
        """A compensation when none of this saga's step is applied here: a no-op, by construction.

        A participant reverts only what it applied (``sim.net`` counts its applications), so a
        second request (a queued retry, a copy, a compensation asked for by two neighbours) can
        never refund, release or reject twice, nor undo a step that never ran.
        """
        sim, step = self.sim, self.step
        told = st.status == "compensated"       # undone before: the news was passed back then
        if not told:
            st.status = "cancelled"              # a late request for the step will be refused
        sim.emit("compensation_succeeded", saga, self.name,
                 {"step": step.index + 1, "noop": True,
                  "reason": "already undone here: nothing left to undo" if told else
                  f"its step is not applied here, so there is nothing to undo ({because})"})
        if job.src == "orchestrator":
            self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION, {"noop": True}))
            return
        if not told:
            self._pass_back(saga, because, noop=True)
        self._finish(job, None)
        if sim.unsettled:
            sim.settle(saga, self.name)

    def _cannot_undo(self, saga, job, st):
        """A pivot or retriable step that succeeded has no compensation: the saga is past its point
        of no return and can only go forward, so rolling it back needs a human."""
        sim, step = self.sim, self.step
        reason = (f"{self.name} is a {step.type} step and has succeeded: it cannot be undone, so the saga "
                  "can be neither rolled back nor finished; a human must act")
        sim.emit("compensation_failed", saga, self.name,
                 {"step": step.index + 1, "attempt": st.comp_attempts, "reason": reason})
        if job.src == "orchestrator":
            self._finish(job, self._reply(job, "undo_failed", step.messages.undo_failed, COMPENSATION,
                                          {"reason": reason, "final": True}))
            return
        sim.end_saga(saga, "stuck", self.name, {"reason": reason})
        self._finish(job, None)

    def undo_text(self, saga):
        order = self.sim.orders[saga]
        if self.name == "order":
            return f"reject order {saga}"
        if self.name == "payment":
            return f"refund {order.customer} {order.price:g}"
        if self.name == "inventory":
            return "release " + ", ".join(f"{q} {i}" for i, q in order.items)
        return f"undo {self.name}"

    def _compensate_done(self, saga, job, fail, epoch):
        if epoch != self.epoch:
            return
        sim = self.sim
        st = self.state(saga)
        step = self.step
        if fail is not None:
            sim.m["compensation_failures"] += 1
            reason = f"injected fault ({fail.to_spec()})"
            # orchestration: the orchestrator decides what next; choreography: our own retry is
            # pending, and no other request may start a second compensation meanwhile
            st.status = "done" if job.src == "orchestrator" else "compensating"
            sim.emit("compensation_failed", saga, self.name,
                     {"step": step.index + 1, "attempt": st.comp_attempts, "reason": reason})
            if job.src == "orchestrator":
                # the reply says it failed; the orchestrator retries after a backoff
                self._finish(job, self._reply(job, "undo_failed", step.messages.undo_failed, COMPENSATION,
                                              {"reason": f"{self.name}: {reason}"}), remember=False)
                return
            self._finish(job, None)
            self._retry_or_stuck(saga, st.comp_attempts, self.job("undo_self", saga, {"reason": st.because}),
                                 f"{self.name} could not compensate after {st.comp_attempts} attempts; "
                                 "a human must act")
            return
        effect = self.revert(saga)
        sim.net[saga][step.index] -= 1
        sim.m["compensations"] += 1
        st.status = "compensated"
        sim.emit("compensation_succeeded", saga, self.name,
                 {"step": step.index + 1, "attempt": st.comp_attempts, "effect": effect})
        if job.src != "orchestrator":
            self._pass_back(saga, st.because)
            if sim.unsettled:
                sim.settle(saga, self.name)
        self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION))

    def revert(self, saga):
        """The compensating transaction: a new entry that gives back, never an erased one."""
        sim = self.sim
        order = sim.orders[saga]
        if self.name == "order":
            sim.order_state[saga] = "REJECTED"
            return f"order {saga} REJECTED"
        if self.name == "payment":
            sim.balances[order.customer] += order.price
            sim.held -= order.price
            sim.ledger.append((sim.env._now, saga, order.customer, order.price, "refund"))
            return (f"refunded {order.customer} {order.price:g} (a new ledger entry; balance "
                    f"{sim.balances[order.customer]:g})")
        if self.name == "inventory":
            got = sim.reserved[saga]            # one application's units (see apply): never more
            for item, qty in order.items:
                sim.stock[item] += qty
                if got[item] == qty:
                    del got[item]
                else:
                    got[item] -= qty
            if not got:
                del sim.reserved[saga]
            return "released " + ", ".join(f"{q} {i}" for i, q in order.items)
        return f"{self.name} undone"

    # -------------------------------------------------------- approval
    def _approve(self, saga, job):
        sim = self.sim
        sim.later(sim.vary(self.service_time) if sim.jitter else self.service_time,
                  self._approve_done, saga, job, self.epoch)

    def _approve_done(self, saga, job, epoch):
        if epoch != self.epoch:
            return
        sim = self.sim
        if sim.order_state.get(saga) == "PENDING":
            sim.order_state[saga] = "APPROVED"
        reply = self._reply(job, "approved", "OrderApproved", FORWARD)
        if reply is None:
            sim.end_saga(saga, "completed", self.name)
        self._finish(job, reply)

    # -------------------------------------------------------- crash and recovery
    def crash(self):
        """Down: unfinished jobs are lost (messages go back to the broker, unacked)."""
        sim = self.sim
        self.down = True
        self.epoch += 1
        lost = list(self.working.values())
        self.working.clear()
        self.queue.clear()
        self.busy = 0
        for job in reversed(lost):
            if job.id > 0:
                sim.broker.hold(job)
            else:
                self.deferred.insert(0, (self._enqueue, (job,)))
        if sim.locks is not None and self.name == "inventory":
            sim.locks.forget_waiters()
        for st in self.sagas.values():
            if st.status == "working":
                st.status = None
            elif st.status == "compensating":
                st.status = "done"
            if st.pending_undo is not None and st.pending_undo[0] is not None:
                st.pending_undo = None          # that command went back to the broker
        sim.emit("service_crashed", None, self.name, {"lost_work": len(lost)})

    def recover(self):
        if not self.down:
            return
        self.down = False
        self.sim.emit("service_recovered", None, self.name,
                      {"waiting": len(self.sim.broker.held.get(self.name, ()))})
        deferred, self.deferred = self.deferred, []
        for fn, args in deferred:
            fn(*args)
        self.sim.broker.release(self.name)


class LockTable:
    """Semantic locks on stock items: a saga marks an item pending until it ends.

    Another saga that needs the item waits. The wait-for graph (sagas) finds
    a cycle the moment it forms; the youngest saga in it, by age, is the victim.
    A saga's age is when its order first started: a victim retried as a new saga
    keeps it, so the oldest order is never the victim again and always finishes
    (the age rule of wait-die and wound-wait), and each retry waits twice as long
    as the one before (``Sim.victim_backoff``).

    A saga may ask for the same lock more than once (a non-idempotent consumer
    runs a duplicated command again): the table keeps one holder per item, a set
    of items per saga, and drops the waiting requests of a saga that has ended.
    """

    def __init__(self, sim):
        self.sim = sim
        self.holder = {}        # item -> saga
        self.waiting = {}       # item -> deque of (saga, resume)
        self.held_by = {}       # saga -> {item: None} (a set that keeps the order of locking)
        self.graph = nx.DiGraph()
        self.blocked = {}       # saga -> item it waits for

    def reserve_items(self, svc, saga, msg, fail, work, epoch):
        """Inventory under semantic locks: lock and reserve each item in turn."""
        items = [i for i, _ in self.sim.orders[saga].items]
        per_item = work / len(items)
        self._next(svc, saga, msg, fail, per_item, epoch, items, 0)

    def _next(self, svc, saga, msg, fail, per_item, epoch, items, k):
        if epoch != svc.epoch:
            return
        if k == len(items):
            svc._forward_done(saga, msg, fail, epoch, None)
            return
        item = items[k]
        h = self.holder.get(item)
        resume = (svc, saga, msg, fail, per_item, epoch, items, k)
        if h is None or h == saga:
            self._acquire(item, saga)
            self.sim.later(per_item, self._next, svc, saga, msg, fail, per_item, epoch, items, k + 1)
            return
        sim = self.sim
        sim.m["lock_waits"] += 1
        sim.emit("lock_waiting", saga, svc.name, {"item": item, "holder": h})
        self.waiting.setdefault(item, deque()).append((saga, resume))
        self.blocked[saga] = item
        self._wait_for(saga, h, svc.name)

    def _wait_for(self, saga, holder, service):
        """Saga ``saga`` waits for ``holder``: add the edge, and break a cycle if it closes one."""
        sim = self.sim
        self.graph.add_edge(saga, holder)
        sim.work += 1
        try:
            cycle = [u for u, _ in nx.find_cycle(self.graph, saga)]
        except nx.NetworkXNoCycle:
            return
        sim.work += len(cycle)
        victim = max(cycle, key=lambda s: (sim.age[s], s))
        k = cycle.index(victim)
        cycle = cycle[k:] + cycle[:k]
        sim.m["deadlocks"] += 1
        names = [f"saga {s}" for s in cycle]
        why = (f"{' -> '.join(names + [names[0]])}: each holds a lock the next one waits for; saga {victim} "
               "is the youngest (by when its order first started), so it is compensated and retried after "
               "a backoff")
        sim.emit("deadlock_detected", victim, service,
                 {"cycle": names, "victim": f"saga {victim}", "reason": why,
                  "items": [self.blocked.get(s) for s in cycle]})
        sim.victims.add(victim)
        self.abort_waiter(victim)

    def abort_waiter(self, saga, why="deadlock victim: gave up waiting for the lock on "):
        item = self.blocked.pop(saga, None)
        q = self.waiting.get(item) or ()
        resume = None
        for j, (s, r) in enumerate(q):
            if s == saga:
                resume = r
                del q[j]
                break
        if self.graph.has_node(saga):
            self.graph.remove_node(saga)
        if resume is None:
            return
        svc, saga, msg, fail, per_item, epoch, items, k = resume
        # undo this step's own partial reservation: a local transaction abort
        for it in items[:k]:
            self.release(it, saga)
        svc._forward_done(saga, msg, fail, epoch, why + item)

    def forget_waiters(self):
        """Inventory crashed: the sagas waiting for a lock were in its memory; their
        messages go back to the broker and will ask again. The locks themselves are
        records in its database and stay."""
        for saga in list(self.blocked):
            if self.graph.has_node(saga):
                self.graph.remove_edges_from(list(self.graph.out_edges(saga)))
        self.blocked.clear()
        self.waiting.clear()

    def _acquire(self, item, saga):
        if self.holder.get(item) == saga:
            return
        self.holder[item] = saga
        self.held_by.setdefault(saga, {})[item] = None       # a set in the order the locks were taken
        self.sim.emit("lock_acquired", saga, "inventory", {"item": item})

    def release(self, item, saga):
        if self.holder.get(item) != saga:
            return
        del self.holder[item]
        self.held_by.get(saga, {}).pop(item, None)
        self.sim.emit("lock_released", saga, "inventory", {"item": item})
        q = self.waiting.get(item)
        if self.graph.has_node(saga):
            for s, _ in list(q or ()):
                if self.graph.has_edge(s, saga):
                    self.graph.remove_edge(s, saga)
        ended = self.sim.outcome
        if q:
            # requests of sagas that have ended are dropped; the lock goes to the oldest waiter
            live = [(s, r) for s, r in q if s not in ended or ended[s] == "stuck"]
            self.sim.work += len(q)
            q.clear()
            if live:
                age = self.sim.age
                first = min(range(len(live)), key=lambda j: (age[live[j][0]], live[j][0], j))
                q.extend(live[:first] + live[first + 1:])
                q.appendleft(live[first])
        while q:
            s, resume = q.popleft()
            if self.blocked.get(s) == item:
                del self.blocked[s]
            self._acquire(item, s)
            svc, s, msg, fail, per_item, epoch, items, k = resume
            self.sim.later(per_item, self._next, svc, s, msg, fail, per_item, epoch, items, k + 1)
            # the others waiting for this item now wait for its new holder
            for w, _ in list(q):
                if w in self.blocked and w != s and self.blocked[w] == item:
                    self._wait_for(w, s, svc.name)
            break

    def release_all(self, saga):
        for item in list(self.held_by.get(saga, ())):
            self.release(item, saga)
        self.held_by.pop(saga, None)
        item = self.blocked.pop(saga, None)
        if item is not None and item in self.waiting:
            self.waiting[item] = deque((s, r) for s, r in self.waiting[item] if s != saga)
        if self.graph.has_node(saga):
            self.graph.remove_node(saga)


class _OSaga:
    """The orchestrator's in-memory view of one saga, rebuilt from the saga log after a crash."""

    __slots__ = ("saga", "phase", "step", "done", "undo", "cmd", "sends", "failures", "armed", "because")

    def __init__(self, saga):
        self.saga = saga
        self.phase = "started"   # started | forward | compensating | approving | ended
        self.step = -1           # current forward step index
        self.done = ()           # steps that succeeded, in completion order
        self.undo = ()           # steps still to compensate, next first (a list once compensating)
        # (tuples of ints until needed otherwise: the garbage collector stops tracking them)
        self.cmd = None          # outstanding command: Msg
        self.sends = 0           # sends of the outstanding command (1 + timeouts)
        self.failures = 0        # failed replies for the current command's step (retries)
        self.armed = -1          # epoch whose timer waits for the outstanding reply
        self.because = ""        # why it is being compensated (from the "failed" record)


class Orchestrator:
    """Tells each service what to do; writes every state change to its saga log first."""

    name = "orchestrator"

    def __init__(self, sim):
        self.sim = sim
        self.down = False
        self.epoch = 0
        self.log = []             # the saga log (durable): see write and records
        self.open_log = {}        # saga -> positions of its records in the log, while the saga is open
        self.sagas = {}           # in memory: lost on a crash, rebuilt from the log
        self.waiting = []         # customer requests that came while down
        self.seen_replies = set()
        self.deadlines = deque()  # (deadline, saga view, msg_id, sends, epoch): one timer serves them all
        self.timer_gen = 0        # the generation of the one pending timer (0: none pending)
        self.timer_seq = 0
        self.ticking = False

    # -------------------------------------------------------- the log
    def write(self, saga, state, step=None, cmd=None, extra=None):
        """Write-ahead: the record is durable before the orchestrator acts on it.

        A record is five fields ``(saga, state, step, cmd_id, extra)``; ``extra`` holds the
        rare fields (reason, unknown, retry, awaiting, phase) or is None. They are appended
        to the log one after the other: no tuple per record, which the garbage collector
        would have to walk (``records`` reads them back as tuples). The log keeps the
        command's id, not the message: a command is freed once answered (no object kept
        per command until the end of the run), and recovery rebuilds it (``_rebuild``).
        """
        sim = self.sim
        # recovery reads the records of open sagas only: the log keeps an index of them (an ended
        # saga leaves it), so a recovery costs what is open, not the whole history
        if state == "started":
            self.open_log[saga] = [len(self.log)]
        elif state == "completed" or state == "aborted" or (state == "stuck" and not extra.get("awaiting")):
            self.open_log.pop(saga, None)
        else:
            positions = self.open_log.get(saga)
            if positions is not None:
                positions.append(len(self.log))
        self.log += (saga, state, step, None if cmd is None else cmd.id, extra)
        if sim.keep:
            d = {"state": state}
            if step is not None:
                d["step"] = sim.steps[step].name
            if cmd is not None:
                d["message"] = cmd.name
                d["msg_id"] = cmd.id
            if extra:
                d.update(extra)
            sim.events.append((sim.env._now, "saga_log", saga, "orchestrator", None, None, None, None, d))
        # the five states of a saga that succeeds applied here, as _apply does (one call fewer per record)
        o = self.sagas.get(saga) if extra is None else None
        if o is not None:
            if state == "succeeded":
                o.done += (step,)
                o.cmd = None
            elif state == "executing":
                o.phase, o.step, o.cmd, o.sends, o.failures = "forward", step, cmd, 0, 0
            elif state == "approving":
                o.phase, o.cmd, o.sends = "approving", cmd, 0
            elif state == "completed":
                o.phase, o.cmd = "ended", None
            else:
                self._apply(saga, state, step, cmd, extra)
        elif state == "started" and extra is None:
            self.sagas[saga] = _OSaga(saga)
        else:
            self._apply(saga, state, step, cmd, extra)

    def records(self):
        """The saga log, a tuple ``(saga, state, step, cmd_id, extra)`` per record."""
        fields = iter(self.log)
        return zip(fields, fields, fields, fields, fields)

    def _rebuild(self, saga, state, step, cmd_id):
        """The command a log record names, as it was sent (same id, same fields).

        A command is determined by its record: ``_next_step`` (executing), ``_command``
        via ``_next_step`` (approving) and ``_next_undo`` (compensating, whose reason is
        the saga's ``because``: the reason of its last "failed" record, read before this one).
        """
        if state == "executing":
            return self._command(saga, step, "do", FORWARD, msg_id=cmd_id)
        if state == "approving":
            return self._command(saga, 0, "approve", FORWARD, msg_id=cmd_id)
        return self._command(saga, step, "undo", COMPENSATION, {"reason": self.sagas[saga].because},  # compensating
                             msg_id=cmd_id)

    def _apply(self, saga, state, step, cmd, f):
        """Fold one record into the in-memory view (when written, and again on recovery)."""
        o = self.sagas.get(saga)
        if o is None:
            o = self.sagas[saga] = _OSaga(saga)
        f = f or _NO_FIELDS
        # the states of a saga that succeeds come first: they are most of the log
        if state == "executing":
            o.phase, o.step, o.cmd, o.sends = "forward", step, cmd, 0
            o.failures = o.failures + 1 if f.get("retry") else 0
        elif state == "succeeded":
            o.done += (step,)
            o.cmd = None
        elif state == "started":
            pass
        elif state == "approving":
            o.phase, o.cmd, o.sends = "approving", cmd, 0
        elif state in ("completed", "aborted"):
            o.phase, o.cmd = "ended", None
        elif state == "failed":
            o.phase, o.cmd, o.because = "compensating", None, f.get("reason", "")
            o.undo = list(reversed(o.done))
            if f.get("unknown"):
                o.undo.insert(0, step)
            o.failures = 0
        elif state == "compensating":
            o.cmd, o.sends = cmd, 0
        elif state == "compensation_failed":
            o.cmd, o.failures = None, o.failures + 1
        elif state == "compensated":
            o.undo.pop(0)
            o.cmd, o.failures = None, 0
        elif state == "stuck":
            o.phase = "stuck"
            if not f.get("awaiting"):
                o.cmd = None          # otherwise a late reply to the outstanding command may heal it
        elif state == "resumed":
            o.phase = f["phase"]

    # -------------------------------------------------------- acting
    def request(self, saga):
        if self.down:
            self.waiting.append(saga)
            return
        self.write(saga, "started")
        self._next_step(self.sagas[saga])

    def _send(self, o, msg):
        """Send a command and arm its timeout.

        Every command waits the same `timing.timeout`, so deadlines come in the order
        the commands were sent: one FIFO and one SimPy timer for its head, instead of
        a timer per command (most are answered long before they would fire).
        """
        sim = self.sim
        o.sends += 1
        o.armed = self.epoch
        slow = sim.step_fault("slow", self.name, o.saga) if sim.faults else None
        sim.broker.send(msg, slow.by if slow else 0.0)
        timeout = sim.timing.timeout
        # the view `o` itself, not the saga id: a crash makes a new view, and a new epoch
        self.deadlines.append((sim.env._now + timeout, o, msg.id, o.sends, self.epoch))
        if not self.timer_gen and not self.ticking:
            self._start_timer(timeout)

    def _tick(self, gen):
        if gen != self.timer_gen or self.down:
            return
        self.timer_gen = 0
        now = self.sim.env._now
        dq = self.deadlines
        self.ticking = True
        # Deadlines come in order (see _send): fire the due ones, drop the stale ones (their reply
        # came), stop at the first live one still to come. The test is inline: one call fewer per command.
        while dq:
            deadline, o, msg_id, sends, epoch = dq[0]
            live = epoch == self.epoch and o.cmd is not None and o.cmd.id == msg_id and o.sends == sends
            if live and deadline > now + 1e-9:
                break
            dq.popleft()
            if live:
                self._on_timeout(o.saga, msg_id, sends, epoch)
        self.ticking = False
        if dq:
            self._start_timer(max(0.0, dq[0][0] - now))

    def _start_timer(self, delay):
        self.timer_seq += 1
        self.timer_gen = self.timer_seq
        self.sim.later(delay, self._tick, self.timer_gen)

    def _command(self, saga, step, op, flow, detail=None, msg_id=None):
        """The command ``op`` of ``step`` for ``saga``; ``msg_id``: a command sent before (recovery)."""
        s = self.sim.steps[step]
        name = s.messages.command if op == "do" else s.messages.undo if op == "undo" else "ApproveOrder"
        dst = s.name if op != "approve" else "order"
        return Msg(self.sim.new_id() if msg_id is None else msg_id, name, saga, self.name, dst, step, op, flow,
                   None, detail)

    def _next_step(self, o, retry=False):
        sim = self.sim
        nxt = o.step + 1 if not retry else o.step
        if nxt < sim.n_steps:
            s = sim.steps[nxt]
            cmd = Msg(sim.new_id(), s.messages.command, o.saga, self.name, s.name, nxt, "do", FORWARD)  # _command's
            self.write(o.saga, "executing", nxt, cmd, _RETRY if retry else None)
            self._send(o, cmd)
            return
        cmd = self._command(o.saga, 0, "approve", FORWARD)
        self.write(o.saga, "approving", None, cmd)
        self._send(o, cmd)

    def _next_undo(self, o, because):
        sim = self.sim
        if not o.undo:
            self.write(o.saga, "aborted")
            sim.end_saga(o.saga, "compensated", self.name, {"because": because})
            return
        step = o.undo[0]
        cmd = self._command(o.saga, step, "undo", COMPENSATION, {"reason": because})
        self.write(o.saga, "compensating", step, cmd)
        self._send(o, cmd)

    def receive(self, msg):
        sim = self.sim
        if msg.id in self.seen_replies:
            sim.m["duplicates_ignored"] += 1
            sim.emit("duplicate_ignored", msg.saga, self.name,
                     {"message": msg.name, "msg_id": msg.id, "reason": "reply already handled"})
            return
        o = self.sagas.get(msg.saga)
        if o is None or o.cmd is None or msg.reply_to != o.cmd.id:
            sim.m["stale_replies"] += 1
            sim.emit("reply_ignored", msg.saga, self.name,
                     {"message": msg.name, "msg_id": msg.id,
                      "reason": "late reply: the orchestrator has moved on (its saga log says what was decided)"})
            return
        self.seen_replies.add(msg.id)
        if o.phase == "stuck":
            phase = "compensating" if msg.op in ("undone", "undo_failed") else \
                "approving" if msg.op == "approved" else "forward"
            self.write(o.saga, "resumed", extra={"phase": phase, "reason": f"late {msg.name} after giving up"})
        step = msg.step
        op = msg.op
        if op == "done":
            self.write(o.saga, "succeeded", step)
            self._next_step(o)
            return
        because = (msg.detail or _NO_FIELDS).get("reason", "")
        if op == "failed":
            s = sim.steps[step]
            if s.type == "retriable":
                self._retry_or_stuck(o, step, because)
                return
            self.write(o.saga, "failed", step, extra={"reason": because})
            self._next_undo(o, because)
        elif op == "undone":
            self.write(o.saga, "compensated", step)
            self._next_undo(o, self._because(o))
        elif op == "undo_failed":
            self.write(o.saga, "compensation_failed", step, extra={"reason": because})
            if o.failures > sim.timing.max_retries or msg.detail.get("final"):
                self._stuck(o, f"{sim.steps[step].name} could not compensate after {o.failures} attempts "
                               f"({because}); a human must act")
                return
            sim.m["retries"] += 1
            sim.later(sim.timing.backoff, self._resume_undo, o.saga, self.epoch)
        elif op == "approved":
            self.write(o.saga, "completed")
            sim.end_saga(o.saga, "completed", self.name)

    def _because(self, o):
        return o.because

    def _retry_or_stuck(self, o, step, because):
        sim = self.sim
        if o.failures >= sim.timing.max_retries:
            self._stuck(o, f"{sim.steps[step].name} failed {o.failures + 1} times ({because}); a retriable "
                           "step after the pivot cannot be compensated: a human must act")
            return
        sim.m["retries"] += 1
        o.cmd = None
        sim.later(sim.timing.backoff, self._resume_retry, o.saga, self.epoch)

    def _resume_retry(self, saga, epoch):
        if epoch != self.epoch:
            return
        o = self.sagas[saga]
        if o.phase == "forward" and o.cmd is None:
            self._next_step(o, retry=True)

    def _resume_undo(self, saga, epoch):
        if epoch != self.epoch:
            return
        o = self.sagas[saga]
        if o.phase == "compensating" and o.cmd is None:
            self._next_undo(o, self._because(o))

    def _stuck(self, o, reason, awaiting=False):
        self.write(o.saga, "stuck", extra={"reason": reason, "awaiting": True} if awaiting else {"reason": reason})
        self.sim.end_saga(o.saga, "stuck", self.name, {"reason": reason})

    def _on_timeout(self, saga, msg_id, sends, epoch):
        if epoch != self.epoch or self.down:
            return
        o = self.sagas.get(saga)
        if o is None or o.cmd is None or o.cmd.id != msg_id or o.sends != sends:
            return
        sim = self.sim
        sim.m["timeouts"] += 1
        cmd = o.cmd
        sim.emit("timeout", saga, self.name, {"message": cmd.name, "msg_id": cmd.id, "attempt": sends,
                                              "waited": sim.timing.timeout})
        if sends <= sim.timing.max_retries:
            sim.m["retries"] += 1
            self._send(o, cmd)          # the same command, the same msg_id: participants dedupe
            return
        s = sim.steps[cmd.step]
        if cmd.op == "do" and s.type != "retriable":
            reason = (f"no reply from {s.name} after {sends} tries; its effect is unknown, "
                      "so it is compensated too")
            self.write(saga, "failed", cmd.step, extra={"reason": reason, "unknown": True})
            self._next_undo(o, reason)
            return
        self._stuck(o, f"no reply to {cmd.name} after {sends} tries; a human must act "
                       "(a late reply would still be handled)", awaiting=True)

    # -------------------------------------------------------- crash and recovery
    def crash(self):
        self.down = True
        self.epoch += 1
        self.sagas = {}
        self.seen_replies = set()
        self.deadlines.clear()
        self.timer_gen = 0
        self.sim.emit("service_crashed", None, self.name, {"lost": "in-memory saga state and timers"})

    def recover(self):
        if not self.down:
            return
        sim = self.sim
        self.down = False
        replayed = 0
        log = self.log
        for positions in self.open_log.values():    # rebuild every open saga from its records in the saga log
            for k in positions:
                saga, state, step, cmd_id, extra = log[k:k + 5]
                cmd = None if cmd_id is None else self._rebuild(saga, state, step, cmd_id)
                self._apply(saga, state, step, cmd, extra)
                replayed += 1
        sim.work += replayed
        open_ = [o for o in self.sagas.values() if o.phase not in ("ended", "stuck")]
        sim.emit("service_recovered", None, self.name,
                 {"replayed_log_records": replayed, "open_sagas": len(open_),
                  "waiting": len(sim.broker.held.get(self.name, ()))})
        sim.broker.release(self.name)
        for o in open_:
            if o.phase == "ended" or o.armed == self.epoch:
                continue
            if o.cmd is not None:
                o.sends = 0
                self._send(o, o.cmd)              # re-send what the log says is outstanding
            elif o.phase == "compensating":
                self._next_undo(o, self._because(o))
            elif o.phase == "forward" and o.done and o.done[-1] == o.step:
                self._next_step(o)
            elif o.phase == "forward":
                self._next_step(o, retry=True)
            elif o.phase == "started":
                self._next_step(o)
        waiting, self.waiting = self.waiting, []
        for saga in waiting:
            self.request(saga)
