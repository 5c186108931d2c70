"""Semantic locks on stock items and their wait-for graph (isolation: semantic_lock)."""
from __future__ import annotations

from collections import deque

from .. import graphs as nx       # networkx's API; networkx itself is imported only for a cycle to report

LOCKING_SERVICE = "inventory"     # the service whose step locks items (its service's locks_items)


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
        self.sim.emit("lock_acquired", saga, LOCKING_SERVICE, {"item": item})

    def release(self, item, saga):
        if self.holder.get(item) != saga:
            return
        del self.holder[item]
        self.held_by.get(saga, {}).pop(item, None)
        self.sim.emit("lock_released", saga, LOCKING_SERVICE, {"item": item})
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
