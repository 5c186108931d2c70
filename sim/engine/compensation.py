"""A participant's compensation: the semantic revert of its step, never a rollback."""
from __future__ import annotations

from .kernel import COMPENSATION


class Compensation:
    """How a participant compensates its step (part of ``Participant``)."""

    def _compensate(self, saga, job, because):
        sim = self.sim
        st = self.state(saga)
        step = self.step
        if job.op == "undo" and st.status != "done" and st.status != "compensating":
            # orchestration: the compensation overtook its request, or the step never took effect
            if st.status == "working":
                st.pending_undo = (job, because)
                if self.capacity is not None:
                    self._release_worker()  # the command waits (still in `working`) without a worker
                self._withdraw_lock_wait(saga)
                return
            if st.status == "compensated":
                self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION))
                return
            if st.status is None:
                st.status = "cancelled"
            if self.is_order:
                sim.order_state[saga] = "REJECTED"      # an order the customer asked for, now refused
            sim.emit("compensation_succeeded", saga, self.name,
                     {"step": step.index + 1, "noop": True,
                      "reason": "the step never took effect here; a late request for it will be refused"})
            self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION, {"noop": True}))
            return
        if st.status == "compensating" and job.op == "undo":
            # one compensation of this saga is already running here: never two at once
            sim.m["duplicates_ignored"] += 1
            sim.emit("duplicate_ignored", saga, self.name,
                     {"message": job.name, "msg_id": job.id,
                      "reason": "a compensation of this saga is already in progress here"})
            self._finish(job, None, remember=False)
            return
        if sim.net[saga][step.index] <= 0:
            return self._nothing_to_undo(saga, job, st, because)
        if step.type != "compensable":
            return self._cannot_undo(saga, job, st)
        st.status = "compensating"
        st.because = because
        st.comp_attempts += 1
        fail = slow = None
        if sim.faults:
            fail = sim.step_fault("compensation_fail", self.name, saga)
            slow = sim.step_fault("slow", self.name, saga)
        work = sim.vary(self.service_time) + (slow.by if slow else 0.0)
        sim.emit("compensation_started", saga, self.name,
                 {"step": step.index + 1, "attempt": st.comp_attempts, "reason": because,
                  "action": self.service.undo_text(sim, saga)})
        sim.later(work, self._compensate_done, saga, job, fail, self.epoch)

    def _nothing_to_undo(self, saga, job, st, because):
        """A compensation when none of this saga's step is applied here: a no-op, by construction.

        A participant reverts only what it applied (``sim.net`` counts its applications), so a
        second request (a queued retry, a copy, a compensation asked for by two neighbours) can
        never refund, release or reject twice, nor undo a step that never ran.
        """
        sim, step = self.sim, self.step
        told = st.status == "compensated"       # undone before: the news was passed back then
        if not told:
            st.status = "cancelled"              # a late request for the step will be refused
        sim.emit("compensation_succeeded", saga, self.name,
                 {"step": step.index + 1, "noop": True,
                  "reason": "already undone here: nothing left to undo" if told else
                  f"its step is not applied here, so there is nothing to undo ({because})"})
        if job.src == "orchestrator":
            self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION, {"noop": True}))
            return
        if not told:
            self._pass_back(saga, because, noop=True)
        self._finish(job, None)
        if sim.unsettled:
            sim.settle(saga, self.name)

    def _cannot_undo(self, saga, job, st):
        """A pivot or retriable step that succeeded has no compensation: the saga is past its point
        of no return and can only go forward, so rolling it back needs a human."""
        sim, step = self.sim, self.step
        reason = (f"{self.name} is a {step.type} step and has succeeded: it cannot be undone, so the saga "
                  "can be neither rolled back nor finished; a human must act")
        sim.emit("compensation_failed", saga, self.name,
                 {"step": step.index + 1, "attempt": st.comp_attempts, "reason": reason})
        if job.src == "orchestrator":
            self._finish(job, self._reply(job, "undo_failed", step.messages.undo_failed, COMPENSATION,
                                          {"reason": reason, "final": True}))
            return
        sim.end_saga(saga, "stuck", self.name, {"reason": reason})
        self._finish(job, None)

    def _compensate_done(self, saga, job, fail, epoch):
        if epoch != self.epoch:
            return
        sim = self.sim
        st = self.state(saga)
        step = self.step
        if fail is not None:
            sim.m["compensation_failures"] += 1
            reason = f"injected fault ({fail.to_spec()})"
            # orchestration: the orchestrator decides what next; choreography: our own retry is
            # pending, and no other request may start a second compensation meanwhile
            st.status = "done" if job.src == "orchestrator" else "compensating"
            sim.emit("compensation_failed", saga, self.name,
                     {"step": step.index + 1, "attempt": st.comp_attempts, "reason": reason})
            if job.src == "orchestrator":
                # the reply says it failed; the orchestrator retries after a backoff
                self._finish(job, self._reply(job, "undo_failed", step.messages.undo_failed, COMPENSATION,
                                              {"reason": f"{self.name}: {reason}"}), remember=False)
                return
            self._finish(job, None)
            self._retry_or_stuck(saga, st.comp_attempts, self.job("undo_self", saga, {"reason": st.because}),
                                 f"{self.name} could not compensate after {st.comp_attempts} attempts; "
                                 "a human must act")
            return
        effect = self.service.revert(sim, saga)
        sim.net[saga][step.index] -= 1
        sim.m["compensations"] += 1
        st.status = "compensated"
        sim.emit("compensation_succeeded", saga, self.name,
                 {"step": step.index + 1, "attempt": st.comp_attempts, "effect": effect})
        if job.src != "orchestrator":
            self._pass_back(saga, st.because)
            if sim.unsettled:
                sim.settle(saga, self.name)
        self._finish(job, self._reply(job, "undone", step.messages.undone, COMPENSATION))
