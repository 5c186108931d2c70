"""Read a run (one element of ``runs`` in contract 4) into the facts figures need.

Pure functions of the run dict, no plotting: message lifetimes (sent, then
delivered or dropped, matched FIFO by ``(msg_id, dst)``), what each service was
doing when, and balances, stock and order states at any time. Unknown event
kinds are ignored.

The derived series a page asks for again and again (the message trips, the
work intervals, the books after every change, the latencies) are worked out
once per run: :func:`of` gives the run's :class:`Trace`, which keeps them, and
``messages(run)``, ``activity(run)``, ``state_series(run)``, ``latencies(run)``
read them from there. Callers treat what they get as read-only.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict, defaultdict, deque
from dataclasses import asdict, dataclass, replace
from functools import cached_property

import numpy as np

from sim.services import service as service_of

FLOWS = ("forward", "failure", "compensation", "reply")
BROKER = "broker"
ORCHESTRATOR = "orchestrator"
SAGA_ENDS = {"saga_completed": "completed", "saga_compensated": "compensated",
             "saga_stuck": "stuck", "saga_deadlocked": "deadlocked"}


class Trace:
    """One run's trace and the series the views derive from it, each worked out once (on first use)."""

    def __init__(self, run: dict):
        self.run = run

    @cached_property
    def messages(self) -> list:
        return _messages(self.run)

    @cached_property
    def activity(self) -> list:
        return _activity(self.run)

    @cached_property
    def state_series(self) -> list:
        return _state_series(self.run)

    @cached_property
    def latencies(self) -> list:
        return _latencies(self.run)


TRACES = 4                        # runs whose Trace is kept (the runs on a page)
KEEP_EVENTS = 100_000             # a bigger run's Trace is not kept (it would hold the run's memory on)
_traces: OrderedDict = OrderedDict()   # id(run) -> Trace (which holds the run: its id is not reused meanwhile)
_traces_lock = threading.Lock()


def of(run: dict) -> Trace:
    """The run's Trace, the same one for the same run dict while it is among the last ``TRACES`` asked for
    (a run of more than ``KEEP_EVENTS`` events gets a Trace of its own each time: nothing holds it on)."""
    key = id(run)
    if len(events(run)) > KEEP_EVENTS:
        return Trace(run)
    with _traces_lock:
        found = _traces.get(key)
        if found is not None and found.run is run:
            _traces.move_to_end(key)
            return found
        found = _traces[key] = Trace(run)
        while len(_traces) > TRACES:
            _traces.popitem(last=False)
    return found


def events(run: dict) -> list:
    """The run's events (a summary run has none)."""
    return run.get("events") or []


def detail(event: dict) -> dict:
    return event.get("detail") or {}


def end_time(run: dict) -> float:
    """When the picture ends: the last event, or the run's duration without events."""
    evs = events(run)
    if evs:
        return max(float(e.get("t", 0.0)) for e in evs)
    return float((run.get("metrics") or {}).get("duration") or 0.0)


def saga_ids(run: dict) -> list:
    """Saga ids as ints where possible, sorted."""
    ids = set(run.get("outcomes") or {})
    ids.update(e["saga"] for e in events(run) if e.get("saga") is not None)
    return sorted({_int(s) for s in ids}, key=lambda s: (isinstance(s, str), s))


BIG_RUN = 50            # sagas; a bigger run's detailed figures show only its first ones
SHOWN_SAGAS = 20


def shown_sagas(run: dict, limit: int = SHOWN_SAGAS) -> set | None:
    """The sagas a detailed figure draws: None (all of them), or the first ``limit`` of a big run."""
    ids = saga_ids(run)
    return None if len(ids) <= BIG_RUN else {str(s) for s in ids[:limit]}


def keep_saga(saga, shown) -> bool:
    """Whether an event or message of ``saga`` is drawn (events of no saga always are)."""
    return shown is None or saga is None or str(saga) in shown


def window_end(run: dict, shown) -> float:
    """The end of the picture: the run's end, or the last event of the shown sagas."""
    if shown is None:
        return end_time(run)
    return max((float(e["t"]) for e in events(run) if e.get("saga") is not None and str(e["saga"]) in shown),
               default=0.0)


def participants(run: dict) -> list:
    """Who takes part, left to right: customer and orchestrator, the services, then anyone else."""
    core = [ORCHESTRATOR] if run.get("style") == "orchestration" else []
    core += [s for s in run.get("services") or [] if s not in core]
    extra = []
    for e in events(run):
        for name in (e.get("src"), e.get("dst")):
            if name and name not in core + extra and name != BROKER:
                extra.append(name)
    first = [n for n in extra if n == "customer"]
    return first + core + [n for n in extra if n not in first]


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class Message:
    """One trip through the broker: a sent message, or the broker's duplicate copy."""

    msg_id: object
    message: str
    src: str
    dst: str
    saga: object
    flow: str
    sent: float
    end: float | None        # delivered or dropped; None: still under way when the run ended
    fate: str                # delivered | dropped | pending
    duplicate: bool = False  # not a send: the broker's copy, or a redelivery; starts at the broker
    redelivery: bool = False  # delivered again after the receiver crashed (it waited in the broker)

    def in_flight(self, t: float) -> bool:
        return self.sent <= t and (self.end is None or t < self.end)

    def as_dict(self) -> dict:
        return asdict(self)


def message_flow(event: dict) -> str:
    flow = detail(event).get("flow")
    return flow if flow in FLOWS else "forward"


def messages(run: dict) -> list:
    """Every message trip, in the order it started (worked out once per run: see :func:`of`)."""
    return of(run).messages


def _messages(run: dict) -> list:
    """Every message trip, in the order it started.

    A delivery that matches no trip under way is a redelivery: the receiver
    crashed with the message unacknowledged, so it waited in the broker from the
    crash on.
    """
    out, queues, crashed = [], defaultdict(deque), {}
    for e in events(run):
        kind = e.get("kind")
        if kind == "service_crashed":
            crashed[e.get("service")] = float(e["t"])
        elif kind == "message_sent":
            _open_trip(out, queues, e, duplicate=False)
        elif kind == "message_duplicated":
            _open_trip(out, queues, e, duplicate=True)
        elif kind in ("message_delivered", "message_dropped"):
            _close_trip(out, queues, e, "delivered" if kind == "message_delivered" else "dropped", crashed)
    return out


def _trip_key(e):
    return (e.get("msg_id"), e.get("dst"))


def _open_trip(out, queues, e, duplicate):
    src = e.get("src") or e.get("service") or BROKER
    if duplicate and (e.get("dst") is None or e.get("src") is None):   # copy what the original said
        earlier = [m for m in out if m.msg_id == e.get("msg_id")]
        if earlier:
            e = {**e, "src": e.get("src") or earlier[-1].src, "dst": e.get("dst") or earlier[-1].dst}
            src = e["src"]
    out.append(Message(e.get("msg_id"), e.get("message") or "?", src,
                       e.get("dst") or BROKER, e.get("saga"), message_flow(e), float(e["t"]),
                       None, "pending", duplicate))
    queues[_trip_key(e)].append(len(out) - 1)


def _close_trip(out, queues, e, fate, crashed):
    queue = queues.get(_trip_key(e))
    t = float(e["t"])
    if queue:
        i = queue.popleft()
        out[i] = replace(out[i], end=t, fate=fate)
    else:
        since = crashed.get(e.get("dst"), t)
        out.append(Message(e.get("msg_id"), e.get("message") or "?", e.get("src") or BROKER,
                           e.get("dst") or BROKER, e.get("saga"), message_flow(e), since, t, fate,
                           duplicate=True, redelivery=True))


def in_flight_at(run: dict, t: float) -> list:
    """Messages under way at ``t`` (sent or copied at or before t, not yet delivered or dropped)."""
    return [m.as_dict() for m in messages(run) if m.in_flight(t)]


def hop_time(msgs: list) -> float:
    """How long a token takes for one leg (service to broker): half the typical transit."""
    transits = sorted(m.end - m.sent for m in msgs
                      if m.fate == "delivered" and not m.duplicate and m.end > m.sent)
    if not transits:
        return 0.1
    return transits[len(transits) // 2] / 2


# ---------------------------------------------------------------- activity


@dataclass(frozen=True)
class Interval:
    """A stretch of one service's time: a step, a compensation, or downtime."""

    service: str
    kind: str                # step | compensation | down
    saga: object
    start: float
    end: float
    outcome: str             # succeeded | failed | lost (in a crash) | open | recovered
    step: object = None
    attempt: object = None
    reason: str = ""


_STARTS = {"step_started": "step", "compensation_started": "compensation"}
_ENDS = {"step_succeeded": ("step", "succeeded"), "step_failed": ("step", "failed"),
         "compensation_succeeded": ("compensation", "succeeded"),
         "compensation_failed": ("compensation", "failed")}


def activity(run: dict) -> list:
    """Steps, compensations and downtime as intervals, in order of their start (once per run: :func:`of`)."""
    return of(run).activity


def _activity(run: dict) -> list:
    """Steps, compensations and downtime as intervals, in order of their start.

    A crash ends the crashed service's work in progress (outcome ``lost``);
    work that never ended otherwise stays ``open`` until the run's end.
    """
    open_work, open_down, done = defaultdict(deque), {}, []
    for e in events(run):
        kind, svc = e.get("kind"), e.get("service")
        if kind in _STARTS:
            open_work[(_STARTS[kind], svc, e.get("saga"))].append(e)
        elif kind in _ENDS:
            done.append(_close_work(open_work, e, *_ENDS[kind]))
        elif kind == "service_crashed":
            open_down.setdefault(svc, e)
            done += _lose_work(open_work, svc, float(e["t"]))
        elif kind == "service_recovered" and svc in open_down:
            start = open_down.pop(svc)
            done.append(Interval(svc, "down", None, float(start["t"]), float(e["t"]), "recovered"))
    horizon = end_time(run)
    done += [Interval(s, "down", None, float(e["t"]), horizon, "open") for s, e in open_down.items()]
    for (kind, svc, saga), queue in open_work.items():
        done += [_interval(kind, start, horizon, "open") for start in queue]
    return sorted(done, key=lambda iv: (iv.start, iv.end))


def _interval(kind, start, end_t, outcome, end=None):
    d = {**detail(start), **detail(end or {})}
    return Interval(start.get("service"), kind, start.get("saga"), float(start["t"]), end_t, outcome,
                    d.get("step"), d.get("attempt"), str(d.get("reason") or d.get("effect") or ""))


def _close_work(open_work, e, kind, outcome):
    queue = open_work.get((kind, e.get("service"), e.get("saga")))
    start = queue.popleft() if queue else e
    return _interval(kind, start, float(e["t"]), outcome, e)


def _lose_work(open_work, service, t):
    lost = []
    for (kind, svc, _saga), queue in open_work.items():
        while svc == service and queue:
            lost.append(_interval(kind, queue.popleft(), t, "lost"))
    return lost


def flash_time(intervals: list) -> float:
    """How long a failure stays visible: a typical step's duration."""
    spans = sorted(iv.end - iv.start for iv in intervals if iv.kind != "down" and iv.end > iv.start)
    return spans[len(spans) // 2] if spans else 1.0


class Statuses:
    """What each service is doing at any time, from its intervals (fast enough to redraw on every tick)."""

    def __init__(self, intervals: list):
        self.flash = flash_time(intervals)
        self.by_service = {}
        for service in dict.fromkeys(iv.service for iv in intervals):
            mine = [iv for iv in intervals if iv.service == service]
            self.by_service[service] = {
                "start": np.array([iv.start for iv in mine]),
                "end": np.array([math.inf if iv.kind == "down" and iv.outcome == "open" else iv.end
                                 for iv in mine]),
                "kind": np.array([iv.kind for iv in mine]),
                "failed": np.array([iv.outcome == "failed" for iv in mine])}

    def busy(self, service: str, t: float) -> int:
        """How many steps and compensations the service is working on at t."""
        a = self.by_service.get(service)
        if a is None:
            return 0
        return int(((a["start"] <= t) & (t < a["end"]) & (a["kind"] != "down")).sum())

    def at(self, service: str, t: float) -> str:
        """crashed, failed (just now), compensating, working or idle."""
        a = self.by_service.get(service)
        if a is None:
            return "idle"
        during = (a["start"] <= t) & (t < a["end"])
        if (during & (a["kind"] == "down")).any():
            return "crashed"
        if (a["failed"] & (a["end"] <= t) & (t < a["end"] + self.flash)).any():
            return "failed"
        for kind, status in (("compensation", "compensating"), ("step", "working")):
            if (during & (a["kind"] == kind)).any():
                return status
        return "idle"


def statuses_at(run: dict, t: float) -> dict:
    """Each participant's status at ``t``: crashed, failed (just now), compensating, working or idle."""
    statuses = Statuses(activity(run))
    return {s: statuses.at(s, t) for s in participants(run)}


# ---------------------------------------------------------------- state


def initial_state(run: dict) -> dict:
    init = run.get("initial_state") or {}
    return {"balances": dict(init.get("balances") or {}), "stock": dict(init.get("stock") or {}),
            "orders": {}}


def apply_event(state: dict, sagas: dict, e: dict) -> bool:
    """Apply one event's effect on balances, stock and orders; True if something changed."""
    kind, d, saga = e.get("kind"), detail(e), e.get("saga")
    if kind == "saga_started":
        sagas[saga] = d
        return False
    if kind == "step_succeeded":
        return _effect(state, e.get("service"), {**sagas.get(saga, {}), **d}, saga, +1)
    if kind == "compensation_succeeded" and not d.get("noop"):
        return _effect(state, e.get("service"), {**sagas.get(saga, {}), **d}, saga, -1)
    if kind == "saga_completed":
        return _set_order(state, saga, "APPROVED")
    if kind == "saga_compensated" and str(saga) in state["orders"]:
        return _set_order(state, saga, "REJECTED")
    return False


def _effect(state, name, info, saga, sign):
    """A step's effect on the state, as its service says (sim/services); a trace from elsewhere
    may name no service."""
    return service_of(name).effect(state, info, saga, sign) if name else False


def _set_order(state, saga, value):
    state["orders"][str(saga)] = value
    return True


def state_at(run: dict, t: float) -> dict:
    """Balances, stock and order states after every event at or before ``t``."""
    state, sagas = initial_state(run), {}
    for e in events(run):
        if float(e["t"]) > t:
            break
        apply_event(state, sagas, e)
    return state


def state_series(run: dict) -> list:
    """(t, state) after each change, starting with the initial state at time 0 (once per run: :func:`of`)."""
    return of(run).state_series


def _state_series(run: dict) -> list:
    """(t, state) after each change, starting with the initial state at time 0."""
    state, sagas = initial_state(run), {}
    out = [(0.0, _copy(state))]
    for e in events(run):
        if apply_event(state, sagas, e):
            out.append((float(e["t"]), _copy(state)))
    return out


def _copy(state):
    return {k: dict(v) for k, v in state.items()}


def latencies(run: dict) -> list:
    """Per finished saga: (saga, outcome, end time - start time) (once per run: :func:`of`)."""
    return of(run).latencies


def _latencies(run: dict) -> list:
    """Per finished saga: (saga, outcome, end time - start time)."""
    start, out = {}, []
    for e in events(run):
        kind = e.get("kind", "")
        if kind == "saga_started" and not detail(e).get("retry_of"):
            start.setdefault(e.get("saga"), float(e["t"]))
        elif kind in SAGA_ENDS and e.get("saga") in start:
            out.append((e["saga"], SAGA_ENDS[kind], float(e["t"]) - start.pop(e["saga"])))
    return out


def percentile(values: list, q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; nan for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)
