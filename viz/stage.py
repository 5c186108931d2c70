"""What the browser's stage needs to animate a run, as plain JSON: no plotting, no Streamlit.

The stage (``ui/component/stage.js``) owns the clock and draws every frame
itself; Python hands it each run once, already digested: the message trips
(sent, delivered or dropped), each service's work and downtime, each saga's
life, the balances/stock/orders after every change, and one narrated sentence
per event. The browser then only looks things up by time (a binary search per
frame), so playing costs the server nothing.

Lists are compact rows (positional arrays) because a run of a few hundred sagas
makes thousands of them; the row layouts are ``FIELDS`` below,
the contract between this module and the JavaScript.
"""
from __future__ import annotations

from sim.narrate import narrate_event, saga_context

from . import trace as tr

FIELDS = {   # the row layout of each list the stage gets (ui/component/stage.js reads them by position)
    "msgs": ("id", "name", "src", "dst", "sent", "end", "fate", "flow", "copy", "saga"),
    "work": ("service", "kind", "start", "end", "outcome", "saga"),
    "sagas": ("id", "start", "end", "outcome"),
    "log": ("t", "tone", "text", "kind"),
    "moments": ("t", "first", "count", "telling"),
    "states": ("t", "balances", "stock", "orders"),
}

FATES = {"delivered": "d", "dropped": "x", "pending": "p"}
UNSENT = "u"     # a message a service committed to and never published (it crashed first: the dual write)
MAX_LOG = 5000           # events narrated for the stage's log (a bigger run's log stops there, and says so)
MAX_MSGS = 6000          # message trips animated

# which event of a moment tells the story best (lower first)
PRIORITY = {"saga_completed": 0, "saga_compensated": 0, "saga_stuck": 0, "saga_deadlocked": 0,
            "deadlock_detected": 1, "publish_lost": 1, "step_failed": 1, "compensation_failed": 1, "service_crashed": 1,
            "timeout": 2, "compensation_started": 2, "service_recovered": 2, "message_dropped": 2,
            "message_duplicated": 2, "duplicate_ignored": 2, "step_started": 3, "compensation_succeeded": 3,
            "step_succeeded": 4, "saga_started": 4, "fault_injected": 5, "message_sent": 6,
            "message_delivered": 7, "saga_log": 8}
# a sentence's tone: a failure is red, a compensation orange, a completion green, plumbing grey
TONE = {"publish_lost": "red", "step_failed": "red", "compensation_failed": "red", "message_dropped": "red", "service_crashed": "red",
        "saga_stuck": "violet", "saga_deadlocked": "red", "deadlock_detected": "red",
        "compensation_started": "orange", "compensation_succeeded": "orange", "saga_compensated": "orange",
        "saga_completed": "green", "message_sent": "gray", "message_delivered": "gray", "saga_log": "gray",
        "timeout": "violet", "message_duplicated": "violet", "duplicate_ignored": "violet",
        "fault_injected": "violet", "service_recovered": "green"}
STYLE_LINES = {"choreography": "Each service reacts to the others' events through the broker; nobody "
                               "directs the saga.",
               "orchestration": "One orchestrator sends each service a command through the broker and "
                                "waits for its reply."}


def _num(x):
    """A time or amount, short in JSON (float noise rounded away); None stays None."""
    if x is None:
        return None
    x = round(float(x), 6)
    return int(x) if x.is_integer() else x


def _flow(m: tr.Message, orchestrated: bool) -> str:
    """forward, failure, compensation, or reply (a service's good news to the orchestrator)."""
    if orchestrated and m.dst == tr.ORCHESTRATOR and m.flow == "forward":
        return "reply"
    return m.flow


def _copy(m: tr.Message) -> int:
    """0 a sent message, 1 the broker's duplicate copy, 2 a redelivery after the receiver crashed."""
    return 2 if m.redelivery else 1 if m.duplicate else 0


def messages(run: dict) -> list:
    orchestrated = run.get("style") == "orchestration"
    trips = sorted(tr.messages(run)[:MAX_MSGS], key=lambda m: m.sent)   # a redelivery is found late
    rows = [[m.msg_id, m.message, m.src, m.dst, _num(m.sent), _num(m.end), FATES[m.fate], _flow(m, orchestrated),
             _copy(m), m.saga] for m in trips]
    # a publish lost before it left (fate "u", no msg_id of its own: a negative id); it goes to the broker
    unsent = [[-(k + 1), (e.get("detail") or {}).get("message", "?"), e.get("service"), "broker", _num(e["t"]),
               _num(e["t"]), UNSENT, "reply" if orchestrated else "forward", 0, e.get("saga")]
              for k, e in enumerate(e for e in tr.events(run) if e.get("kind") == "publish_lost")]
    return sorted(rows + unsent, key=lambda r: r[4]) if unsent else rows


def work(run: dict) -> tuple:
    """(rows, flash): every step, compensation and downtime; how long a failure stays lit."""
    intervals = tr.activity(run)
    rows = []
    for iv in intervals:
        open_down = iv.kind == "down" and iv.outcome == "open"
        rows.append([iv.service, iv.kind[0], _num(iv.start), None if open_down else _num(iv.end), iv.outcome,
                     iv.saga])
    return rows, _num(tr.flash_time(intervals))


def sagas(run: dict) -> list:
    """Each saga's start, end and outcome (end None: still in flight when the run ended)."""
    start, end, outcome = {}, {}, {}
    for e in tr.events(run):
        saga = e.get("saga")
        if e.get("kind") == "saga_started":
            start.setdefault(saga, e["t"])
        elif e.get("kind") in tr.SAGA_ENDS:
            end[saga] = e["t"]
            outcome[saga] = tr.SAGA_ENDS[e["kind"]]
    return [[s, _num(t), _num(end.get(s)), outcome.get(s, "in_flight")] for s, t in start.items()]


def log(run: dict) -> tuple:
    """(sentences, moments): one narrated line per event; per distinct time, where its lines start, how
    many there are, and which one tells the story best."""
    events = tr.events(run)
    ctx = saga_context(events)
    lines, moments = [], []
    for i, e in enumerate(events[:MAX_LOG]):
        lines.append([_num(e["t"]), TONE.get(e["kind"], ""), narrate_event(e, ctx), e["kind"]])
        if moments and moments[-1][0] == lines[-1][0]:
            m = moments[-1]
            m[2] += 1
            if PRIORITY.get(e["kind"], 5) < PRIORITY.get(lines[m[3]][3], 5):
                m[3] = i
        else:
            moments.append([lines[-1][0], i, 1, i])
    return lines, moments


def states(run: dict) -> list:
    """Balances, stock and order states after each change (the first row: the start)."""
    return [[_num(t), {k: _num(v) for k, v in s["balances"].items()}, {k: _num(v) for k, v in s["stock"].items()},
             s["orders"]] for t, s in tr.state_series(run)]


def stage_run(run: dict) -> dict:
    """One run as the stage animates it (see the module's docstring for the row layouts)."""
    rows, flash = work(run)
    lines, moments = log(run)
    msgs = tr.messages(run)
    style = run.get("style", "")
    nodes = [n for n in tr.participants(run) if n != tr.BROKER]
    return {"style": style, "line": STYLE_LINES.get(style, ""), "nodes": nodes,
            "end": _num(tr.end_time(run)), "hop": _num(tr.hop_time(msgs)), "flash": flash,
            "msgs": messages(run), "work": rows, "sagas": sagas(run), "log": lines, "moments": moments,
            "states": states(run), "truncated": len(tr.events(run)) > MAX_LOG or len(msgs) > MAX_MSGS,
            "outcomes": run.get("outcomes") or {}}
