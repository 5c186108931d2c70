"""The floor: the happy-path saga written as plainly as SimPy allows.

No state, no broker, no trace, no faults: just the timing of the three steps
(order, payment, inventory; service_time 1.0, network_delay 0.2) for orders
arriving every 0.5. The bench compares our engine against these two models.

- ``choreography(n)``: a chain of ``simpy.Store``s, one process per service
  consuming its store. Each hop is a network delay then the service's time.
  The customer's request reaches the order service from outside (no hop);
  StockReserved goes back to the order service, which approves.
- ``orchestration(n)``: one process per saga that, for each of the three steps
  and then the approval, sends a command into the service's store and awaits
  the reply: command hop, service time, reply hop. One process per service
  serves its store.

Both are run to completion and return the number of sagas that finished and
the simulation time of the last one's end (the engine gives 3.6 time units for
one choreography saga and 5.6 for one orchestration saga on this timing).
"""
from __future__ import annotations

import simpy

SERVICE_TIME = 1.0
NETWORK_DELAY = 0.2
EVERY = 0.5


def choreography(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                 delay: float = NETWORK_DELAY):
    """n sagas through a chain of Stores: order -> payment -> inventory -> order (approve)."""
    env = simpy.Environment()
    order_in, payment_in, inventory_in, approve_in = (simpy.Store(env) for _ in range(4))
    done = []

    def customers():
        for saga in range(1, n + 1):
            order_in.put(saga)              # the request reaches the order service from outside
            yield env.timeout(every)

    def service(inbox, outbox, hop):
        while True:
            saga = yield inbox.get()
            if hop:
                yield env.timeout(delay)    # the event travels over the network
            yield env.timeout(service_time)
            outbox.put(saga)

    def approver():
        while True:
            saga = yield approve_in.get()
            yield env.timeout(delay)
            yield env.timeout(service_time)
            done.append((saga, env.now))

    env.process(customers())
    env.process(service(order_in, payment_in, hop=False))
    env.process(service(payment_in, inventory_in, hop=True))
    env.process(service(inventory_in, approve_in, hop=True))
    env.process(approver())
    env.run()
    return len(done), env.now


def choreography_concurrent(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                            delay: float = NETWORK_DELAY):
    """The same chain, but each service starts every message at once (unlimited workers, as the engine).

    The consumer hands each message to a timer callback instead of waiting for it,
    so nothing queues; this gives the same simulated times as the engine.
    """
    env = simpy.Environment()
    order_in, payment_in, inventory_in, approve_in = (simpy.Store(env) for _ in range(4))
    done = []

    def customers():
        for saga in range(1, n + 1):
            order_in.put(saga)
            yield env.timeout(every)

    def service(inbox, outbox, hop):
        work = service_time + (delay if hop else 0.0)
        while True:
            saga = yield inbox.get()
            env.timeout(work, saga).callbacks.append(lambda ev: outbox.put(ev.value))

    def approver():
        while True:
            saga = yield approve_in.get()
            env.timeout(delay + service_time, saga).callbacks.append(lambda ev: done.append((ev.value, env.now)))

    env.process(customers())
    env.process(service(order_in, payment_in, hop=False))
    env.process(service(payment_in, inventory_in, hop=True))
    env.process(service(inventory_in, approve_in, hop=True))
    env.process(approver())
    env.run()
    return len(done), env.now


def orchestration(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                  delay: float = NETWORK_DELAY):
    """n saga processes, each awaiting four replies: create, charge, reserve, approve."""
    env = simpy.Environment()
    inboxes = {name: simpy.Store(env) for name in ("order", "payment", "inventory")}
    done = []

    def server(inbox):
        # one process per service; each command is handled at once (unlimited workers)
        while True:
            reply = yield inbox.get()
            # command hop + service time + reply hop, then the reply arrives
            env.timeout(delay + service_time + delay).callbacks.append(lambda _ev, r=reply: r.succeed())

    def saga(saga_id):
        for step in ("order", "payment", "inventory", "order"):   # the last is ApproveOrder
            reply = env.event()
            inboxes[step].put(reply)
            yield reply
        done.append((saga_id, env.now))

    def customers():
        for saga_id in range(1, n + 1):
            env.process(saga(saga_id))
            yield env.timeout(every)

    for box in inboxes.values():
        env.process(server(box))
    env.process(customers())
    env.run()
    return len(done), env.now


def orchestration_timeouts(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                           delay: float = NETWORK_DELAY):
    """The barest orchestration: one process per saga yielding three timeouts per reply (no stores)."""
    env = simpy.Environment()
    done = []

    def saga(saga_id):
        for _ in range(4):
            yield env.timeout(delay)          # command
            yield env.timeout(service_time)   # the service works
            yield env.timeout(delay)          # reply
        done.append((saga_id, env.now))

    def customers():
        for saga_id in range(1, n + 1):
            env.process(saga(saga_id))
            yield env.timeout(every)

    env.process(customers())
    env.run()
    return len(done), env.now


MODELS = {
    "choreography": choreography,
    "orchestration": orchestration,
}
VARIANTS = {
    "choreography (Stores, one worker per service)": choreography,
    "choreography (Stores, timers: unlimited workers)": choreography_concurrent,
    "orchestration (process per saga, reply events)": orchestration,
    "orchestration (process per saga, 12 timeouts)": orchestration_timeouts,
}

if __name__ == "__main__":
    import sys
    import time

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    for name, fn in VARIANTS.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            finished, end = fn(n)
            best = min(best, time.perf_counter() - t0)
        print(f"{name:<52} {best / n * 1e6:7.2f} µs/saga  ({finished} sagas, end t={end:g})")
