"""The orchestrator: commands, replies, timeouts, and its write-ahead saga log."""
from __future__ import annotations

from collections import deque

from .kernel import _NO_FIELDS, _RETRY, COMPENSATION, FORWARD, Msg


class _OSaga:
    """The orchestrator's in-memory view of one saga, rebuilt from the saga log after a crash."""

    __slots__ = ("saga", "phase", "step", "done", "undo", "cmd", "sends", "failures", "armed", "because")

    def __init__(self, saga):
        self.saga = saga
        self.phase = "started"   # started | forward | compensating | approving | ended
        self.step = -1           # current forward step index
        self.done = ()           # steps that succeeded, in completion order
        self.undo = ()           # steps still to compensate, next first (a list once compensating)
        # (tuples of ints until needed otherwise: the garbage collector stops tracking them)
        self.cmd = None          # outstanding command: Msg
        self.sends = 0           # sends of the outstanding command (1 + timeouts)
        self.failures = 0        # failed replies for the current command's step (retries)
        self.armed = -1          # epoch whose timer waits for the outstanding reply
        self.because = ""        # why it is being compensated (from the "failed" record)


class Orchestrator:
    """Tells each service what to do; writes every state change to its saga log first."""

    name = "orchestrator"

    def __init__(self, sim):
        self.sim = sim
        self.down = False
        self.epoch = 0
        self.log = []             # the saga log (durable): see write and records
        self.open_log = {}        # saga -> positions of its records in the log, while the saga is open
        self.sagas = {}           # in memory: lost on a crash, rebuilt from the log
        self.waiting = []         # customer requests that came while down
        self.seen_replies = set()
        self.deadlines = deque()  # (deadline, saga view, msg_id, sends, epoch): one timer serves them all
        self.timer_gen = 0        # the generation of the one pending timer (0: none pending)
        self.timer_seq = 0
        self.ticking = False

    # -------------------------------------------------------- the log
    def write(self, saga, state, step=None, cmd=None, extra=None):
        """Write-ahead: the record is durable before the orchestrator acts on it.

        A record is five fields ``(saga, state, step, cmd_id, extra)``; ``extra`` holds the
        rare fields (reason, unknown, retry, awaiting, phase) or is None. They are appended
        to the log one after the other: no tuple per record, which the garbage collector
        would have to walk (``records`` reads them back as tuples). The log keeps the
        command's id, not the message: a command is freed once answered (no object kept
        per command until the end of the run), and recovery rebuilds it (``_rebuild``).
        """
        sim = self.sim
        # recovery reads the records of open sagas only: the log keeps an index of them (an ended
        # saga leaves it), so a recovery costs what is open, not the whole history
        if state == "started":
            self.open_log[saga] = [len(self.log)]
        elif state == "completed" or state == "aborted" or (state == "stuck" and not extra.get("awaiting")):
            self.open_log.pop(saga, None)
        else:
            positions = self.open_log.get(saga)
            if positions is not None:
                positions.append(len(self.log))
        self.log += (saga, state, step, None if cmd is None else cmd.id, extra)
        if sim.keep:
            d = {"state": state}
            if step is not None:
                d["step"] = sim.steps[step].name
            if cmd is not None:
                d["message"] = cmd.name
                d["msg_id"] = cmd.id
            if extra:
                d.update(extra)
            sim.record_log(saga, d)
        # the five states of a saga that succeeds applied here, as _apply does (one call fewer per record;
        # a speed twin: the reference mode always calls _apply, see take_plain_paths)
        if self.plain:
            self._apply(saga, state, step, cmd, extra)
            return
        o = self.sagas.get(saga) if extra is None else None
        if o is not None:
            if state == "succeeded":
                o.done += (step,)
                o.cmd = None
            elif state == "executing":
                o.phase, o.step, o.cmd, o.sends, o.failures = "forward", step, cmd, 0, 0
            elif state == "approving":
                o.phase, o.cmd, o.sends = "approving", cmd, 0
            elif state == "completed":
                o.phase, o.cmd = "ended", None
            else:
                self._apply(saga, state, step, cmd, extra)
        elif state == "started" and extra is None:
            self.sagas[saga] = _OSaga(saga)
        else:
            self._apply(saga, state, step, cmd, extra)

    plain = False          # the reference mode: the plain twin of each inlined hot path

    def take_plain_paths(self):
        """The reference mode: ``write`` folds every record with ``_apply``, ``_next_step`` builds
        its command with ``_command`` (see ``Participant.take_plain_paths``)."""
        self.plain = True

    def records(self):
        """The saga log, a tuple ``(saga, state, step, cmd_id, extra)`` per record."""
        fields = iter(self.log)
        return zip(fields, fields, fields, fields, fields)

    def _rebuild(self, saga, state, step, cmd_id):
        """The command a log record names, as it was sent (same id, same fields).

        A command is determined by its record: ``_next_step`` (executing), ``_command``
        via ``_next_step`` (approving) and ``_next_undo`` (compensating, whose reason is
        the saga's ``because``: the reason of its last "failed" record, read before this one).
        """
        if state == "executing":
            return self._command(saga, step, "do", FORWARD, msg_id=cmd_id)
        if state == "approving":
            return self._command(saga, 0, "approve", FORWARD, msg_id=cmd_id)
        return self._command(saga, step, "undo", COMPENSATION, {"reason": self.sagas[saga].because},  # compensating
                             msg_id=cmd_id)

    def _apply(self, saga, state, step, cmd, f):
        """Fold one record into the in-memory view (when written, and again on recovery)."""
        o = self.sagas.get(saga)
        if o is None:
            o = self.sagas[saga] = _OSaga(saga)
        f = f or _NO_FIELDS
        # the states of a saga that succeeds come first: they are most of the log
        if state == "executing":
            o.phase, o.step, o.cmd, o.sends = "forward", step, cmd, 0
            o.failures = o.failures + 1 if f.get("retry") else 0
        elif state == "succeeded":
            o.done += (step,)
            o.cmd = None
        elif state == "started":
            pass
        elif state == "approving":
            o.phase, o.cmd, o.sends = "approving", cmd, 0
        elif state in ("completed", "aborted"):
            o.phase, o.cmd = "ended", None
        elif state == "failed":
            o.phase, o.cmd, o.because = "compensating", None, f.get("reason", "")
            o.undo = list(reversed(o.done))
            if f.get("unknown"):
                o.undo.insert(0, step)
            o.failures = 0
        elif state == "compensating":
            o.cmd, o.sends = cmd, 0
        elif state == "compensation_failed":
            o.cmd, o.failures = None, o.failures + 1
        elif state == "compensated":
            o.undo.pop(0)
            o.cmd, o.failures = None, 0
        elif state == "stuck":
            o.phase = "stuck"
            if not f.get("awaiting"):
                o.cmd = None          # otherwise a late reply to the outstanding command may heal it
        elif state == "resumed":
            o.phase = f["phase"]

    # -------------------------------------------------------- acting
    def request(self, saga):
        if self.down:
            self.waiting.append(saga)
            return
        self.write(saga, "started")
        self._next_step(self.sagas[saga])

    def _send(self, o, msg):
        """Send a command and arm its timeout.

        Every command waits the same `timing.timeout`, so deadlines come in the order
        the commands were sent: one FIFO and one SimPy timer for its head, instead of
        a timer per command (most are answered long before they would fire).
        """
        sim = self.sim
        o.sends += 1
        o.armed = self.epoch
        slow = sim.step_fault("slow", self.name, o.saga) if sim.faults else None
        sim.broker.send(msg, slow.by if slow else 0.0)
        timeout = sim.timing.timeout
        # the view `o` itself, not the saga id: a crash makes a new view, and a new epoch
        self.deadlines.append((sim.env.now + timeout, o, msg.id, o.sends, self.epoch))
        if not self.timer_gen and not self.ticking:
            self._start_timer(timeout)

    def _tick(self, gen):
        if gen != self.timer_gen or self.down:
            return
        self.timer_gen = 0
        now = self.sim.env.now
        dq = self.deadlines
        self.ticking = True
        # Deadlines come in order (see _send): fire the due ones, drop the stale ones (their reply
        # came), stop at the first live one still to come. The test is inline: one call fewer per command.
        while dq:
            deadline, o, msg_id, sends, epoch = dq[0]
            live = epoch == self.epoch and o.cmd is not None and o.cmd.id == msg_id and o.sends == sends
            if live and deadline > now + 1e-9:
                break
            dq.popleft()
            if live:
                self._on_timeout(o.saga, msg_id, sends, epoch)
        self.ticking = False
        if dq:
            self._start_timer(max(0.0, dq[0][0] - now))

    def _start_timer(self, delay):
        self.timer_seq += 1
        self.timer_gen = self.timer_seq
        self.sim.later(delay, self._tick, self.timer_gen)

    def _command(self, saga, step, op, flow, detail=None, msg_id=None):
        """The command ``op`` of ``step`` for ``saga``; ``msg_id``: a command sent before (recovery)."""
        s = self.sim.steps[step]
        name = s.messages.command if op == "do" else s.messages.undo if op == "undo" else "ApproveOrder"
        dst = s.name if op != "approve" else "order"
        return Msg(self.sim.new_id() if msg_id is None else msg_id, name, saga, self.name, dst, step, op, flow,
                   None, detail)

    def _next_step(self, o, retry=False):
        sim = self.sim
        nxt = o.step + 1 if not retry else o.step
        if nxt < sim.n_steps:
            if self.plain:
                cmd = self._command(o.saga, nxt, "do", FORWARD)
            else:                               # _command's, inlined (a speed twin: see take_plain_paths)
                s = sim.steps[nxt]
                cmd = Msg(sim.new_id(), s.messages.command, o.saga, self.name, s.name, nxt, "do", FORWARD)
            self.write(o.saga, "executing", nxt, cmd, _RETRY if retry else None)
            self._send(o, cmd)
            return
        cmd = self._command(o.saga, 0, "approve", FORWARD)
        self.write(o.saga, "approving", None, cmd)
        self._send(o, cmd)

    def _next_undo(self, o, because):
        sim = self.sim
        if not o.undo:
            self.write(o.saga, "aborted")
            sim.end_saga(o.saga, "compensated", self.name, {"because": because})
            return
        step = o.undo[0]
        cmd = self._command(o.saga, step, "undo", COMPENSATION, {"reason": because})
        self.write(o.saga, "compensating", step, cmd)
        self._send(o, cmd)

    def receive(self, msg):
        sim = self.sim
        if msg.id in self.seen_replies:
            sim.m["duplicates_ignored"] += 1
            sim.emit("duplicate_ignored", msg.saga, self.name,
                     {"message": msg.name, "msg_id": msg.id, "reason": "reply already handled"})
            return
        o = self.sagas.get(msg.saga)
        if o is None or o.cmd is None or msg.reply_to != o.cmd.id:
            sim.m["stale_replies"] += 1
            sim.emit("reply_ignored", msg.saga, self.name,
                     {"message": msg.name, "msg_id": msg.id,
                      "reason": "late reply: the orchestrator has moved on (its saga log says what was decided)"})
            return
        self.seen_replies.add(msg.id)
        if o.phase == "stuck":
            phase = "compensating" if msg.op in ("undone", "undo_failed") else \
                "approving" if msg.op == "approved" else "forward"
            self.write(o.saga, "resumed", extra={"phase": phase, "reason": f"late {msg.name} after giving up"})
        step = msg.step
        op = msg.op
        if op == "done":
            self.write(o.saga, "succeeded", step)
            self._next_step(o)
            return
        because = (msg.detail or _NO_FIELDS).get("reason", "")
        if op == "failed":
            s = sim.steps[step]
            if s.type == "retriable":
                self._retry_or_stuck(o, step, because)
                return
            self.write(o.saga, "failed", step, extra={"reason": because})
            self._next_undo(o, because)
        elif op == "undone":
            self.write(o.saga, "compensated", step)
            self._next_undo(o, self._because(o))
        elif op == "undo_failed":
            self.write(o.saga, "compensation_failed", step, extra={"reason": because})
            if o.failures > sim.timing.max_retries or msg.detail.get("final"):
                self._stuck(o, f"{sim.steps[step].name} could not compensate after {o.failures} attempts "
                               f"({because}); a human must act")
                return
            sim.m["retries"] += 1
            sim.later(sim.timing.backoff, self._resume_undo, o.saga, self.epoch)
        elif op == "approved":
            self.write(o.saga, "completed")
            sim.end_saga(o.saga, "completed", self.name)

    def _because(self, o):
        return o.because

    def _retry_or_stuck(self, o, step, because):
        sim = self.sim
        if o.failures >= sim.timing.max_retries:
            self._stuck(o, f"{sim.steps[step].name} failed {o.failures + 1} times ({because}); a retriable "
                           "step after the pivot cannot be compensated: a human must act")
            return
        sim.m["retries"] += 1
        o.cmd = None
        sim.later(sim.timing.backoff, self._resume_retry, o.saga, self.epoch)

    def _resume_retry(self, saga, epoch):
        if epoch != self.epoch:
            return
        o = self.sagas[saga]
        if o.phase == "forward" and o.cmd is None:
            self._next_step(o, retry=True)

    def _resume_undo(self, saga, epoch):
        if epoch != self.epoch:
            return
        o = self.sagas[saga]
        if o.phase == "compensating" and o.cmd is None:
            self._next_undo(o, self._because(o))

    def _stuck(self, o, reason, awaiting=False):
        self.write(o.saga, "stuck", extra={"reason": reason, "awaiting": True} if awaiting else {"reason": reason})
        self.sim.end_saga(o.saga, "stuck", self.name, {"reason": reason})

    def _on_timeout(self, saga, msg_id, sends, epoch):
        if epoch != self.epoch or self.down:
            return
        o = self.sagas.get(saga)
        if o is None or o.cmd is None or o.cmd.id != msg_id or o.sends != sends:
            return
        sim = self.sim
        sim.m["timeouts"] += 1
        cmd = o.cmd
        sim.emit("timeout", saga, self.name, {"message": cmd.name, "msg_id": cmd.id, "attempt": sends,
                                              "waited": sim.timing.timeout})
        if sends <= sim.timing.max_retries:
            sim.m["retries"] += 1
            self._send(o, cmd)          # the same command, the same msg_id: participants dedupe
            return
        s = sim.steps[cmd.step]
        if cmd.op == "do" and s.type != "retriable":
            reason = (f"no reply from {s.name} after {sends} tries; its effect is unknown, "
                      "so it is compensated too")
            self.write(saga, "failed", cmd.step, extra={"reason": reason, "unknown": True})
            self._next_undo(o, reason)
            return
        self._stuck(o, f"no reply to {cmd.name} after {sends} tries; a human must act "
                       "(a late reply would still be handled)", awaiting=True)

    # -------------------------------------------------------- crash and recovery
    def crash(self):
        self.down = True
        self.epoch += 1
        self.sagas = {}
        self.seen_replies = set()
        self.deadlines.clear()
        self.timer_gen = 0
        self.sim.emit("service_crashed", None, self.name, {"lost": "in-memory saga state and timers"})

    def recover(self):
        if not self.down:
            return
        sim = self.sim
        self.down = False
        replayed = 0
        log = self.log
        for positions in self.open_log.values():    # rebuild every open saga from its records in the saga log
            for k in positions:
                saga, state, step, cmd_id, extra = log[k:k + 5]
                cmd = None if cmd_id is None else self._rebuild(saga, state, step, cmd_id)
                self._apply(saga, state, step, cmd, extra)
                replayed += 1
        sim.work += replayed
        open_ = [o for o in self.sagas.values() if o.phase not in ("ended", "stuck")]
        sim.emit("service_recovered", None, self.name,
                 {"replayed_log_records": replayed, "open_sagas": len(open_),
                  "waiting": len(sim.broker.held.get(self.name, ()))})
        sim.broker.release(self.name)
        for o in open_:
            if o.phase == "ended" or o.armed == self.epoch:
                continue
            if o.cmd is not None:
                o.sends = 0
                self._send(o, o.cmd)              # re-send what the log says is outstanding
            elif o.phase == "compensating":
                self._next_undo(o, self._because(o))
            elif o.phase == "forward" and o.done and o.done[-1] == o.step:
                self._next_step(o)
            elif o.phase == "forward":
                self._next_step(o, retry=True)
            elif o.phase == "started":
                self._next_step(o)
        waiting, self.waiting = self.waiting, []
        for saga in waiting:
            self.request(saga)
