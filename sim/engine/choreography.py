"""Choreography: who listens to what, publishing, the rollback's end, and deadlocks of waits.

No one holds the whole saga: each service subscribes to the events it waits for and to the
failures and compensations of the steps after it. The ``Sim`` mixes this in.
"""
from __future__ import annotations

from .. import graphs as nx       # networkx's API; networkx itself is imported only for a cycle to report
from .kernel import FAILURE, Msg


class Choreography:
    """The wiring of a choreography and what only it needs (part of ``Sim``)."""

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

    def _publish_hooked(self, src, saga, step, op, name, flow, detail=None):
        """``publish`` when a participant may crash between its commit and its publish, or
        publishes through a transactional outbox: the copies go through the source's ``emit_out``."""
        msgs = [Msg(self.new_id(), name, saga, src, dst, step, op, flow, None, detail)
                for dst, _role in self.subs.get(name, ())]
        self.services[src].emit_out(msgs, op == "done")

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
