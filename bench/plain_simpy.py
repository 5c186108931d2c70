"""The floor: the happy-path saga written as plainly as SimPy allows.

No state, no broker, no trace, no faults: only the timing of the three steps
(order, payment, inventory; service_time 1.0, network_delay 0.2) for orders
arriving every 0.5. ``bench/bench.py`` compares our engine with these models.

- ``choreography(n)``: a chain of ``simpy.Store``s, one process per service
  consuming its store. The customer's request reaches the order service from
  outside (no hop); each later hop (OrderCreated to payment, PaymentCompleted
  to inventory, StockReserved back to the order service, which approves) is a
  network delay, then the service time. Services have unlimited workers, as in
  the engine: the consumer hands each message to a timer instead of waiting.
- ``orchestration(n)``: one process per saga awaiting four replies (create,
  charge, reserve, approve). Each is a command hop (a timeout), the service
  (one process per service consumes its store and answers after the service
  time), and the reply hop (a timeout).

Both give the engine's simulated times: one saga takes 4.6 time units in
choreography and 5.6 in orchestration; ``n`` sagas end at (n-1)*0.5 plus that.
``VARIANTS`` adds two other plain shapes for reference (``python bench/plain_simpy.py``).
"""
from __future__ import annotations

import simpy

SERVICE_TIME = 1.0
NETWORK_DELAY = 0.2
EVERY = 0.5


def _store_chain(n, every, service, approver):
    """Run n sagas through Stores order -> payment -> inventory -> approval.

    ``service(env, inbox, outbox, hop)`` and ``approver(env, inbox, done)`` are the
    consumers (generator functions); the customer's request reaches the order
    service from outside (no hop). Returns (sagas finished, time the last one finished).
    """
    env = simpy.Environment()
    order_in, payment_in, inventory_in, approve_in = (simpy.Store(env) for _ in range(4))
    done = []

    def customers():
        for saga in range(1, n + 1):
            order_in.put(saga)
            yield env.timeout(every)

    env.process(customers())
    env.process(service(env, order_in, payment_in, False))
    env.process(service(env, payment_in, inventory_in, True))
    env.process(service(env, inventory_in, approve_in, True))
    env.process(approver(env, approve_in, done))
    env.run()
    return len(done), max(done, default=0.0)


def choreography(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                 delay: float = NETWORK_DELAY):
    """n sagas through a chain of Stores: order -> payment -> inventory -> order (approve).

    Returns (sagas finished, time the last one finished).
    """
    def service(env, inbox, outbox, hop):
        def forward(ev):
            outbox.put(ev.value)

        def work(ev):                                # the message arrived: the service works
            env.timeout(service_time, ev.value).callbacks.append(forward)

        while True:
            saga = yield inbox.get()
            if hop:
                env.timeout(delay, saga).callbacks.append(work)      # the network delay
            else:
                env.timeout(service_time, saga).callbacks.append(forward)

    def approver(env, inbox, done):
        def approved(ev):
            done.append(env.now)

        def work(ev):
            env.timeout(service_time, ev.value).callbacks.append(approved)

        while True:
            saga = yield inbox.get()
            env.timeout(delay, saga).callbacks.append(work)

    return _store_chain(n, every, service, approver)


def orchestration(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                  delay: float = NETWORK_DELAY):
    """n saga processes, each awaiting four replies: command hop, service, reply hop.

    Returns (sagas finished, time the last one finished).
    """
    env = simpy.Environment()
    inboxes = {name: simpy.Store(env) for name in ("order", "payment", "inventory")}
    done = []

    def server(inbox):
        # one process per service; each command is worked on at once (unlimited workers)
        while True:
            reply = yield inbox.get()
            env.timeout(service_time, reply).callbacks.append(_succeed)

    def saga(saga_id):
        for step in ("order", "payment", "inventory", "order"):   # the last is ApproveOrder
            yield env.timeout(delay)          # the command travels
            reply = env.event()
            inboxes[step].put(reply)
            yield reply                       # the service works and answers
            yield env.timeout(delay)          # the reply travels
        done.append(env.now)

    def customers():
        for saga_id in range(1, n + 1):
            env.process(saga(saga_id))
            yield env.timeout(every)

    for box in inboxes.values():
        env.process(server(box))
    env.process(customers())
    env.run()
    return len(done), max(done, default=0.0)


def _succeed(ev):
    ev.value.succeed()


# ---------------------------------------------------------------- reference shapes
def choreography_one_worker(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                            delay: float = NETWORK_DELAY):
    """The chain of Stores with one worker per service (its process waits out each message).

    Cheaper per event, but a different model: payment (1.2 per message) cannot keep
    up with an order every 0.5, so its store grows and the sagas end much later.
    """
    def service(env, inbox, outbox, hop):
        while True:
            saga = yield inbox.get()
            if hop:
                yield env.timeout(delay)
            yield env.timeout(service_time)
            outbox.put(saga)

    def approver(env, inbox, done):
        while True:
            yield inbox.get()
            yield env.timeout(delay)
            yield env.timeout(service_time)
            done.append(env.now)

    return _store_chain(n, every, service, approver)


def orchestration_timeouts(n: int, every: float = EVERY, service_time: float = SERVICE_TIME,
                           delay: float = NETWORK_DELAY):
    """The barest orchestration: one process per saga yielding 12 timeouts (no services at all)."""
    env = simpy.Environment()
    done = []

    def saga(saga_id):
        for _ in range(4):
            yield env.timeout(delay)          # command
            yield env.timeout(service_time)   # the service works
            yield env.timeout(delay)          # reply
        done.append(env.now)

    def customers():
        for saga_id in range(1, n + 1):
            env.process(saga(saga_id))
            yield env.timeout(every)

    env.process(customers())
    env.run()
    return len(done), max(done, default=0.0)


MODELS = {"choreography": choreography, "orchestration": orchestration}
VARIANTS = {
    "choreography: Stores, unlimited workers (the floor)": choreography,
    "choreography: Stores, one worker per service": choreography_one_worker,
    "orchestration: process per saga, 4 replies (the floor)": orchestration,
    "orchestration: process per saga, 12 timeouts only": orchestration_timeouts,
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
        print(f"{name:<56} {best / n * 1e6:7.2f} µs/saga  ({finished} sagas, last ends at t={end:g})")
