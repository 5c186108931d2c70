"""The dual write and its cure, the transactional outbox (issue 18): a participant's publishing
after its local commit, installed only when a scenario asks for them."""
from __future__ import annotations

import itertools


class Outbox:
    """Publishing through ``emit_out`` (part of ``Participant``)."""

    def hook_publishing(self, outbox):
        """Route this service's publishing through ``emit_out`` (instance attributes: the class's
        plain methods stay the hot path of every run without these options)."""
        self.outbox = {} if outbox else None     # row id -> messages not yet acknowledged by the broker
        self.rows = itertools.count(1).__next__
        self.strike = None                       # a crash_before_publish that struck this commit
        self._finish = self._finish_hooked

    def emit_out(self, msgs, commit):
        """Publish ``msgs`` after a local commit (``commit``: the forward step's success).

        A ``crash_before_publish`` fault strikes here: the commit is done, the messages are not
        sent. Without an outbox they are lost for good (the dual write); with one they were
        written in the same local transaction and the relay publishes them after recovery.
        """
        sim = self.sim
        if commit and self.strike is None and sim.commit_crashes and msgs:
            fs = sim.commit_crash(self.name, msgs[0].saga)
            if fs is not None:
                self.strike = fs
                names = msgs[0].name
                if self.outbox is not None:
                    self.outbox[self.rows()] = msgs
                    sim.emit("outbox_pending", msgs[0].saga, self.name,
                             {"message": names, "reason": "written to the outbox with the local commit; "
                              "the relay publishes it when the service is back"})
                else:
                    sim.emit("publish_lost", msgs[0].saga, self.name,
                             {"message": names, "reason": "committed locally, then crashed before publishing: "
                              "nobody will ever send it"})
                return
        if self.outbox is None:
            for m in msgs:
                sim.broker.send(m)
            return
        row = self.rows()
        self.outbox[row] = msgs
        self._relay(row, msgs)

    def _relay(self, row, msgs):
        """The outbox relay: publish a row, mark it sent when the broker's acknowledgement is back."""
        sim = self.sim
        for m in msgs:
            sim.broker.send(m)
        sim.later(sim.delay, self._acked, row, self.epoch)

    def _acked(self, row, epoch):
        if epoch == self.epoch:                  # a crash before the ack leaves the row unsent
            self.outbox.pop(row, None)

    def _finish_hooked(self, job, reply, remember=True):
        """``_finish`` with the reply sent through ``emit_out``; after a struck commit, the
        service acknowledges the job (its effect is committed) and crashes."""
        self.working.pop(job.id, None)
        if remember and self.idempotent and job.id > 0:
            self.done_ids[job.id] = reply if reply is None or reply.detail is not None else reply.id
        if reply is not None:
            self.emit_out([reply], reply.op == "done")
        if self.capacity is not None:
            self._release_worker()
        fs, self.strike = self.strike, None
        if fs is not None:
            self.sim.crash_after_commit(self, fs)

    def _relay_after_recovery(self):
        rows = list(self.outbox.items()) if self.outbox else ()
        if rows:
            self.sim.emit("outbox_relayed", None, self.name,
                          {"rows": len(rows), "messages": [m.name for _, msgs in rows for m in msgs],
                           "reason": "the relay publishes every outbox row not yet acknowledged"})
        for row, msgs in rows:
            self._relay(row, msgs)
