"""The broker: carries every message, with its delay, its faults, and queues for a service that is down."""
from __future__ import annotations

from collections import deque


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
        now = sim.env.now
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
        # The message itself is the SimPy event: no timer object, no dispatch call
        msg.callbacks = self.hop
        sim.push(msg, now + delay)

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
