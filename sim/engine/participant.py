"""A participant: one service (order, payment, inventory or a custom step) with its own state.

Its forward step and dispatch are here; its compensation in ``compensation.py``, the dual
write and the transactional outbox in ``outbox.py``; what its step does to the world, the
business rules of its service, in ``sim/services``.
"""
from __future__ import annotations

from collections import deque

from ..services import service
from .compensation import Compensation
from .kernel import COMPENSATION, FAILURE, FORWARD, Msg
from .outbox import Outbox


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


class Participant(Compensation, Outbox):
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
        self.service = service(step.name)     # its business: forward action, revert (sim/services)
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
        """A broker message (the broker delivers only while the service is up).

        A speed twin of ``_receive_plain`` (the reference mode takes that one, see ``take_plain_paths``)."""
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

    def _receive_plain(self, msg):
        """``receive`` the plain way: every message goes through ``_enqueue`` and ``_start``."""
        if self.idempotent and (msg.id in self.done_ids or msg.id in self.working):
            return self._duplicate(msg)
        self._enqueue(msg)

    plain = False          # the reference mode: the plain twin of each inlined hot path

    def take_plain_paths(self):
        """The reference mode (PEP 399's pure-Python twin): the plain paths instead of their
        inlined twins, which must give the same trace byte for byte (tests/test_twins.py)."""
        self.plain = True
        self.receive = self._receive_plain

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
        if locks is not None and saga in locks.blocked and self.service.locks_items:
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
        if sim.locks is not None and self.service.locks_items and st.status == "working":
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
            effect, reason = self.service.apply(sim, saga)
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
            # self._reply(job, "done", ...), inlined: a call fewer per step (a speed twin: see take_plain_paths)
            if self.plain:
                reply = self._reply(job, "done", step.messages.done, FORWARD)
            else:
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
        if sim.locks is not None and self.service.locks_items:
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
        if getattr(self, "outbox", None):
            self._relay_after_recovery()
        self.sim.broker.release(self.name)
