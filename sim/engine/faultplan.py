"""Fault matching: which fault of the run strikes an attempt or a message now.

A fault joins an index when its time ``at`` comes; a lookup reads only the faults that can
match, in the order given (the first match wins). The ``Sim`` mixes this in.
"""
from __future__ import annotations

import bisect
import heapq
from collections import deque

from ..faults import Fault


class FaultState:
    """A fault and what is left of it (counts are per saga for step faults), and whether it
    strikes: each kind of fault decides for itself, the ``FaultMatching`` index only finds the
    faults that could."""

    __slots__ = ("fault", "spec", "used", "per_saga")

    def __init__(self, fault: Fault):
        self.fault = fault
        self.spec = fault.to_spec()
        self.used = 0
        self.per_saga = {}

    def strikes_attempt(self, saga, rng):
        """A step fault (fail, compensation_fail, slow) of the right kind and service: does it
        strike this attempt of ``saga``? ``times`` counts per saga; ``probability`` draws."""
        f = self.fault
        if f.times is not None:
            n = self.per_saga.get(saga, 0)
            if n >= f.times:
                return False
            self.per_saga[saga] = n + 1
        elif f.probability is not None and rng.random() >= f.probability:
            return False
        self.used += 1
        return True

    def strikes_message(self, rng):
        """A broker fault whose message and saga match: does it strike this copy? Returns
        (strikes, used up)."""
        f = self.fault
        if self.used >= (f.count or 1):
            return False, True
        if f.probability is not None and rng.random() >= f.probability:
            return False, False
        self.used += 1
        return True, self.used >= (f.count or 1)

    def strikes_commit(self, service, saga, now):
        """A crash_before_publish: the first commit of ``service`` (of ``saga`` if the fault
        names one) at or after its ``at``; it strikes once."""
        f = self.fault
        if self.used or f.target != service or f.at > now or (f.saga is not None and f.saga != saga):
            return False
        self.used = 1
        return True


class FaultMatching:
    """The faults of a run: indexed, matched, and the crashes they schedule (part of ``Sim``)."""

    def _index_faults(self):
        """Faults indexed by what they strike: a step fault by (kind, service, saga or None), a
        broker fault by (message or None, saga or None). A fault joins its index when its time
        ``at`` comes, and a broker fault whose count is used up leaves it, so a lookup reads only
        the faults that can match (in the order given: the first match wins, as in a plain scan)."""
        self.step_index = {}
        self.broker_index = {}
        future = []
        for idx, fs in enumerate(self.faults):
            if fs.fault.kind != "crash" and fs.fault.kind != "crash_before_publish":
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
        now = self.env.now
        if now >= self._next_at:
            self._activate(now)
        rng = self.rng
        for _, fs in self._candidates(self.step_index, (kind, service, None), (kind, service, saga)):
            if fs.strikes_attempt(saga, rng):
                self.emit("fault_injected", saga, service, {"fault": fs.spec, "kind": kind})
                return fs.fault
        return None

    def broker_fault(self, msg):
        now = self.env.now
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
        rng = self.rng
        for idx, fs in (lists[0] if len(lists) == 1 else list(heapq.merge(*lists))):
            strikes, used_up = fs.strikes_message(rng)
            if not strikes:
                continue
            f = fs.fault
            if used_up:                             # out of the index
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

    def commit_crash(self, service, saga):
        """A ``crash_before_publish`` fault that strikes now: the first commit of ``service``
        (of ``saga`` if the fault names one) at or after its ``at``; each strikes once."""
        now = self.env.now
        for fs in self.commit_crashes:
            self.work += 1
            if fs.strikes_commit(service, saga, now):
                self.emit("fault_injected", saga, service, {"fault": fs.spec, "kind": fs.fault.kind})
                return fs
        return None

    def crash_after_commit(self, comp, fs):
        """The service committed its local transaction and crashes before publishing."""
        self.m["crashes"] += 1
        comp.crash()
        if fs.fault.recover_after is not None:
            self.later(fs.fault.recover_after, comp.recover)
