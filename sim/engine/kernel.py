"""The kernel: the one module that knows SimPy's internals, and the engine's smallest parts.

Everything the engine schedules is a callback on one cheap SimPy event (a ``_Timer``, or a
``Msg`` that is its own event), pushed on SimPy's event queue as ``Environment.schedule``
does; the trace's events are stamped with SimPy's clock read without a property call.
Each line that touches SimPy's internals (``_queue``, ``_eid``, ``_now``, an event's
``_ok``/``_value``/``callbacks``) is marked ``NOTE: inlined from ...`` the way SimPy marks
its own. SimPy is pinned (4.1.2). Also here: the work and trace budgets, the scoped
garbage-collector tuning, and ``Kernel``, the base of ``Sim`` that owns the clock and the trace.
"""
from __future__ import annotations

import contextlib
import gc
import threading
from heapq import heappush

import simpy
from simpy.events import NORMAL, URGENT

from typing import NamedTuple

from ..errors import RunLimitError, RunStopped

FORWARD, FAILURE, COMPENSATION, REPLY = "forward", "failure", "compensation", "reply"
_FLOW_DETAIL = {f: {"flow": f} for f in (FORWARD, FAILURE, COMPENSATION, REPLY)}
_NO_FIELDS = {}
_RETRY = {"retry": True}
# The work budget counts everything the engine does: SimPy events scheduled, faults looked at,
# saga-log records replayed on recovery, wait-for edges and cycles. 6 million units take ~15-25 s
# on one core of the project machine (~75 s when four sessions share its two cores) and at most
# ~1.1 GB; estimate() refuses up front what would certainly pass it, the counter stops the rest.
MAX_WORK = 6_000_000
REPORT_EVERY = 20_000          # units of work between two progress reports (watch): ~30-60 ms
MAX_TRACE = 2_000_000          # events kept in a trace (a summary run keeps none): ~0.6 GB


class Progress(NamedTuple):
    """Where a run stands (Kernel.watch): simulated time, units of work done, sagas started and ended, of all."""

    t: float
    work: int
    started: int
    ended: int
    sagas: int

    def stopped_words(self) -> str:
        """What a run stopped here says (RunStopped's message, the app's notice)."""
        return (f"stopped by you at t={self.t:g}, {self.started:,} of {self.sagas:,} sagas started; "
                "nothing of this run was kept")


_gc_lock = threading.Lock()
_gc_runs = 0                   # runs under way in this process (the app may simulate in several threads)
_gc_saved = None               # the threshold before the first of them


@contextlib.contextmanager
def few_collections():
    """The garbage collector's young generation collected once per million new objects, not 700,
    while at least one run is under way in the process.

    A run's objects mostly live until it ends, so a collection during the run finds little garbage
    but walks them all (a million bounds the cyclic garbage that can wait: networkx graphs make
    some). The threshold is process-wide: the first run to start saves it and the last to end puts
    it back, so runs that overlap in threads never leave it changed.
    """
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], 1_000_000), _gc_saved[1], _gc_saved[2])
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0:
                gc.set_threshold(*_gc_saved)
                _gc_saved = None


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
    # NOTE: the attributes SimPy's Environment.step() reads of a triggered event (Event._ok, Event._value)
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
    # NOTE: the attributes SimPy's Environment.step() reads of a triggered event (Event._ok, Event._value)
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


class Kernel:
    """The clock, the event queue and the trace of one run (the base of ``Sim``)."""

    def __init__(self, keep_events):
        self.env = simpy.Environment()
        self.keep = keep_events
        self.events = []
        self.work = 0
        self.limit = MAX_WORK          # the hot paths call checkpoint() past it: the budget, or a report (watch)
        self.watcher = None
        # NOTE: SimPy's event queue and id counter, read once: `later` and `push` inline Environment.schedule
        self.queue = self.env._queue
        self.next_eid = self.env._eid.__next__

    def later(self, delay, fn, *args):
        self.work += 1
        if self.work > self.limit:
            self.checkpoint()
        # _Timer(fn, args) without a Python __init__ call, then Environment.schedule inlined: the hottest lines
        # NOTE: inlined from Event.__init__() and Environment.schedule() for performance reasons
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
        where = self.progress()
        if self.watcher(where):
            raise RunStopped(where.stopped_words(), where.t)

    def progress(self) -> "Progress":
        """Where the run stands (``Sim`` knows its sagas)."""
        raise NotImplementedError

    def too_much_work(self):
        raise RunLimitError(f"the run did more than {MAX_WORK:,} units of work (SimPy events, faults looked "
                            f"at, saga-log records replayed) before t={self.env._now:g}; shorten "
                            "timing.horizon, lower load.count or use fewer faults")

    def push(self, event, at):
        """Schedule ``event`` (a ``Msg`` whose ``callbacks`` are set) at time ``at``."""
        self.work += 1
        if self.work > self.limit:
            self.checkpoint()
        # NOTE: inlined from Environment.schedule() for performance reasons
        heappush(self.queue, (at, NORMAL, self.next_eid(), event))

    def urgent(self, at, fn, *args):
        """``fn(*args)`` at time ``at``, before anything else at that instant (URGENT)."""
        self.work += 1
        # NOTE: inlined from Environment.schedule() for performance reasons
        heappush(self.queue, (at, URGENT, self.next_eid(), _Timer(fn, args)))

    def emit(self, kind, saga=None, service=None, detail=None):
        """Record an event: a plain tuple in ``sim.trace.TraceEvent``'s layout (hot paths test
        ``self.keep`` first and skip the call)."""
        if self.keep:
            events = self.events
            # NOTE: SimPy's clock read without the property call of Environment.now
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
            # NOTE: SimPy's clock read without the property call of Environment.now
            self.events.append((self.env._now, kind, msg.saga, None, msg.name, msg.id, msg.src, msg.dst, d))

    def record_log(self, saga, detail):
        """A ``saga_log`` event of the orchestrator (its callers test ``self.keep`` first)."""
        # NOTE: SimPy's clock read without the property call of Environment.now
        self.events.append((self.env._now, "saga_log", saga, "orchestrator", None, None, None, None, detail))
