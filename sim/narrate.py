"""Tell a trace in words: one sentence per event, and a Mermaid sequence diagram.

Works on the exported run object (contract 4), so a downloaded run narrates the
same as a fresh one. Used by ``python -m sim run --format text|mermaid`` and by
the app's event log.
"""
from __future__ import annotations

from .services import service


def saga_context(events):
    """Per saga: customer, items, price (from ``saga_started``)."""
    ctx = {}
    for ev in events:
        if ev["kind"] == "saga_started":
            ctx[ev["saga"]] = ev.get("detail", {})
    return ctx


def _items(d):
    return ", ".join(f"{q} {i}" for i, q in (d.get("items") or {}).items()) or "its items"


def _num(x):
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def _action(name, c, saga, undo=False):
    """What a service does for a saga: ``payment refunds alice 30`` (its narration, sim/services)."""
    templates = service(name).narration
    if templates is None:
        return f"undoes {name}" if undo else f"does {name}"
    return templates[undo].format(saga=saga, customer=c.get("customer", "the customer"),
                                  price=_num(c.get("price", "")), items=_items(c))


def narrate_event(ev, ctx=None) -> str:
    """One plain sentence for one event (without its time)."""
    ctx = ctx or {}
    kind = ev["kind"]
    d = ev.get("detail") or {}
    saga = ev.get("saga")
    svc = ev.get("service")
    c = ctx.get(saga, {})
    s = f"saga {saga}"
    if kind == "saga_started":
        again = f" (a retry of saga {d['retry_of']})" if "retry_of" in d else ""
        return f"{s} starts: {d.get('customer')} orders {_items(d)} for {_num(d.get('price'))}{again}"
    if kind == "saga_completed":
        return f"{s} completed: every step succeeded and the order is APPROVED"
    if kind == "saga_compensated":
        because = f" ({d['because']})" if d.get("because") else ""
        return f"{s} compensated: every step that succeeded was reverted, the order is REJECTED{because}"
    if kind == "saga_stuck":
        return f"{s} is STUCK: {d.get('reason', 'a compensation could not be done')}"
    if kind == "saga_deadlocked":
        return f"{s} is DEADLOCKED: {' -> '.join(d.get('cycle', []))} wait for each other"
    if kind == "step_started":
        again = f" (attempt {d['attempt']})" if d.get("attempt", 1) > 1 else ""
        return f"{svc} {_action(svc, c, saga)}: step {d.get('step')} of {s}{again}"
    if kind == "step_succeeded":
        return f"{svc} succeeds: {d.get('effect', 'done')} ({s})"
    if kind == "step_failed":
        return f"{svc} FAILS step {d.get('step')} of {s}: {d.get('reason', '')}"
    if kind == "compensation_started":
        why = d.get("reason") or "a later step failed"
        return f"{svc} {_action(svc, c, saga, undo=True)}: compensation of step {d.get('step')}, because {why}"
    if kind == "compensation_succeeded":
        if d.get("noop"):
            return f"{svc} has nothing to undo for {s}: {d.get('reason', 'its step never ran')}"
        return f"{svc} compensated step {d.get('step')} of {s}: {d.get('effect', '')}"
    if kind == "compensation_failed":
        return f"{svc} FAILS to compensate step {d.get('step')} of {s} (attempt {d.get('attempt')}): " \
               f"{d.get('reason', '')}"
    if kind == "message_sent":
        return f"{ev['src']} sends {ev['message']} to {ev['dst']} through the broker ({s})"
    if kind == "message_delivered":
        return f"{ev['dst']} receives {ev['message']} from {ev['src']} ({s})"
    if kind == "message_dropped":
        return f"the broker LOSES {ev['message']} from {ev['src']} to {ev['dst']} ({s})"
    if kind == "message_duplicated":
        return f"the broker will deliver {ev['message']} to {ev['dst']} TWICE ({s})"
    if kind == "duplicate_ignored":
        return f"{svc} ignores a repeated {d.get('message')} (message {d.get('msg_id')}): {d.get('reason', '')}"
    if kind == "reply_ignored":
        return f"{svc} ignores {d.get('message')} for {s}: {d.get('reason', '')}"
    if kind == "timeout":
        return (f"orchestrator: no reply to {d.get('message')} for {s} after waiting {_num(d.get('waited'))} "
                f"(try {d.get('attempt')})")
    if kind == "saga_log":
        step = f" {d['step']}" if d.get("step") else ""
        return f"orchestrator writes to its saga log: {s} {d.get('state')}{step}"
    if kind == "service_crashed":
        return f"{svc} CRASHES" + (f", losing {d['lost_work']} job(s) in progress" if d.get("lost_work") else "")
    if kind == "service_recovered":
        if "replayed_log_records" in d:
            return (f"{svc} is back: it replays {d['replayed_log_records']} saga log records and resumes "
                    f"{d.get('open_sagas', 0)} open saga(s)")
        waiting = d.get("waiting", 0)
        return f"{svc} is back" + (f"; {waiting} message(s) waited for it in the broker" if waiting else "")
    if kind == "publish_lost":
        return f"{svc} committed {s} but crashed before publishing {d.get('message')}: that message is lost for good"
    if kind == "outbox_pending":
        return f"{svc} crashed before publishing {d.get('message')} ({s}); it waits in {svc}'s outbox"
    if kind == "outbox_relayed":
        msgs = d.get("messages") or []
        return (f"{svc}'s outbox relay publishes {d.get('rows', 0)} row(s) not yet acknowledged: "
                f"{', '.join(msgs)}")
    if kind == "deadlock_detected":
        return f"DEADLOCK detected: {d.get('reason', ' -> '.join(d.get('cycle', [])))}"
    if kind == "fault_injected":
        return f"fault takes effect: {_fault_words(d.get('fault'))}"
    if kind == "lock_waiting":
        return f"{svc}: {s} waits for the lock on {d.get('item')} (held by saga {d.get('holder')})"
    if kind == "lock_acquired":
        return f"{svc}: {s} locks {d.get('item')} (pending until the saga ends)"
    if kind == "lock_released":
        return f"{svc}: {s} releases its lock on {d.get('item')}"
    return f"{kind} {s}"


def narrate(run: dict, include_messages: bool = True):
    """The narrated log of a run, one line per event: ``t=3.2 payment refunds alice 30 ...``."""
    events = run.get("events", [])
    ctx = saga_context(events)
    lines = []
    for ev in events:
        if not include_messages and ev["kind"] in ("message_sent", "message_delivered"):
            continue
        lines.append(f"t={ev['t']:<7g} {narrate_event(ev, ctx)}")
    return lines


def _safe(text):
    return str(text).replace(";", ",").replace("#", "").replace(":", " -").replace("\n", " ")


def mermaid(run: dict) -> str:
    """A Mermaid ``sequenceDiagram`` of the run's messages and what they caused."""
    participants = (["orchestrator"] if run.get("style") == "orchestration" else []) + list(run.get("services", []))
    lines = ["sequenceDiagram", f"    title {run.get('style', '')} (seed {run.get('seed', '')})"]
    for p in participants:
        lines.append(f"    participant {p}")
    for ev in run.get("events", []):
        kind = ev["kind"]
        d = ev.get("detail") or {}
        saga = ev.get("saga")
        if kind == "message_sent":
            arrow = "-->>" if d.get("flow") == "compensation" else "->>"
            lines.append(f"    {ev['src']}{arrow}{ev['dst']}: {ev['message']} (saga {saga})")
        elif kind == "message_dropped":
            lines.append(f"    {ev['src']}-x{ev['dst']}: {ev['message']} LOST (saga {saga})")
        elif kind == "message_duplicated":
            lines.append(f"    Note over {ev['dst']}: {ev['message']} will arrive twice")
        elif kind == "step_failed":
            lines.append(f"    Note over {ev['service']}: step failed (saga {saga}) - {_safe(d.get('reason', ''))}")
        elif kind == "compensation_failed":
            lines.append(f"    Note over {ev['service']}: compensation failed (saga {saga})")
        elif kind in ("service_crashed", "service_recovered"):
            word = "CRASHED" if kind == "service_crashed" else "recovered"
            lines.append(f"    Note over {ev['service']}: {word} at t={ev['t']:g}")
        elif kind == "timeout":
            lines.append(f"    Note over orchestrator: timeout waiting for a reply to {d.get('message')} (saga {saga})")
        elif kind == "deadlock_detected":
            lines.append(f"    Note over {ev['service']}: DEADLOCK {_safe(' -> '.join(d.get('cycle', [])))}")
        elif kind in ("saga_completed", "saga_compensated", "saga_stuck", "saga_deadlocked"):
            where = ev.get("service") or participants[0]
            lines.append(f"    Note over {where}: saga {saga} {kind[5:]}")
    return "\n".join(lines) + "\n"


def _fault_words(spec) -> str:
    """A fault spec in words ("payment crashes at t=1.5, back after 5"), or the spec as it is."""
    from .errors import SagaInputError
    from .faults import parse_fault
    try:
        return parse_fault(str(spec)).describe()
    except SagaInputError:
        return str(spec)
