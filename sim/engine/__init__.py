"""The saga model: services, one broker, choreography and orchestration, on SimPy.

``Sim(scenario, style, seed, faults, keep_events).run()`` simulates one style on
one scenario; :func:`sim.run.run` wraps it into a :class:`sim.run.Run`. A run is
a pure function of its inputs: one ``random.Random(seed)`` draws all randomness,
and SimPy's event queue breaks ties in a fixed order, so the same inputs give
the same trace.

Everything is a callback on one cheap SimPy event (a message hop, a unit of
work, a timer): no process per message, which keeps a run close to bare SimPy.
The package, along its seams (read them in this order):

- ``kernel``: the clock, the event queue, the trace, the budgets; the one module
  that touches SimPy's internals (each such line marked ``NOTE: inlined from``).
- ``simulation``: ``Sim``, one run: the world's state, the sagas' starts and endings.
- ``faultplan``: which fault strikes an attempt or a message, and the crashes.
- ``broker``: delay, faults, messages held for a service that is down.
- ``participant``: a service with its own state, idempotency, crashes; its
  ``compensation`` and its ``outbox``; its business is its service's (``sim/services``).
- ``choreography``: who listens to what, and deadlocks of waits.
- ``orchestrator``: commands, replies, timeouts, its write-ahead saga log.
- ``locks``: semantic locks and their wait-for graph.

The budgets live in ``kernel`` (``sim.engine.kernel.MAX_WORK``): set them there.
"""
from .broker import Broker
from .kernel import (COMPENSATION, FAILURE, FORWARD, MAX_TRACE, MAX_WORK, REPLY, REPORT_EVERY, Kernel, Msg,
                     Progress, few_collections)
from .locks import LockTable
from .orchestrator import Orchestrator
from .participant import Participant
from .simulation import Sim, _in_time_order, check_budget, estimate

__all__ = ["Broker", "COMPENSATION", "FAILURE", "FORWARD", "Kernel", "LockTable", "MAX_TRACE", "MAX_WORK", "Msg",
           "Orchestrator", "Participant", "Progress", "REPLY", "REPORT_EVERY", "Sim", "check_budget", "estimate", "few_collections"]
