"""Predict, then watch: questions about what comes next, answered by the simulation itself.

``questions(runs, t, scenario=None)`` reads the runs (contract 4 run objects with
their events, one per style) and returns the questions whose answer is still in the
future of simulation time ``t``, so an instructor who pauses at ``t`` can ask them:

- ``outcome``: how a saga ends, per style;
- ``compensation``: which services undo their step for a saga, in what order;
- ``balance``: a customer's balance when the run ends, per style;
- ``first``: which style finishes first (needs both styles; a tie is an answer);
- ``deadlock``: who waits for whom in a deadlock (the trace's ``deadlock_detected``
  ``detail.cycle``), and who gives up;
- ``lesson``: the scenario file's own ``questions:`` (kept in the author's order of
  choices; asked at any time, or up to their ``at``).

Each question is ``{"id", "text", "choices", "answer", "explain", "kind", "style", "due"}``:
``id`` a short hash of its content (the same question gets the same id), ``choices``
3 to 5 texts in an order shuffled by the id (lesson questions: 2 to 5, as written),
``answer`` one of them, ``explain`` one sentence from the trace, ``style`` the run it is
about ("" for both), ``due`` the simulation time from which the answer shows on screen
(None for lesson questions). Lesson questions come first, then the others by ``due``.
"""
from __future__ import annotations

import hashlib
import json
import random

ENDINGS = ("saga_completed", "saga_compensated", "saga_stuck", "saga_deadlocked")
OUTCOME_CHOICES = {
    "completed": "completed (order APPROVED)",
    "compensated": "compensated (undone, order REJECTED)",
    "stuck": "stuck (a person must finish it)",
    "deadlocked": "deadlocked (order REJECTED)",
    "in_flight": "still unfinished when the run ends",
}
MAX_SAGAS_ASKED = 3          # outcome and compensation questions per run (a load run has thousands of sagas)
MAX_CUSTOMERS_ASKED = 3
MAX_DEADLOCKS_ASKED = 2
MAX_CHOICE_CHARS = 200       # what a room accepts (classroom.rooms)
NONE_UNDONE = "none: nothing is undone"
TIE = "both at the same time"
NEITHER = "neither: a saga is still unfinished at the end"


def questions(runs: list[dict], t: float, scenario=None) -> list[dict]:
    """Questions whose answer lies after simulation time ``t`` (see the module docstring).

    Args:
        runs: contract 4 run objects with ``events`` (``sim.run(...).to_dict()``), one per style.
        t: the time on screen; only questions decided later than ``t`` are returned.
        scenario: the :class:`sim.Scenario`, for its own ``questions`` (optional).
    """
    out = []
    name = getattr(scenario, "name", "")
    if scenario is not None:
        for q in getattr(scenario, "questions", ()):
            if q.at is None or t <= q.at:
                out.append(_question("lesson", "", None, q.ask, list(q.choices), q.answer,
                                     q.explain or "", shuffle=False, salt=name))
    generated = []
    # the same question about another scenario or another run gets another id (a room keeps answers by id)
    salt = json.dumps([name] + [[r.get("style"), r.get("seed"), r.get("faults")] for r in runs])
    stories = [_Story(r, salt) for r in runs if r.get("events") is not None]   # a summary run tells no story
    for st in stories:
        generated += st.outcome_questions(t)
        generated += st.compensation_questions(t)
        generated += st.balance_questions(t)
        generated += st.deadlock_questions(t)
    generated += _first_questions(stories, t)
    kinds = ("outcome", "compensation", "deadlock", "balance", "first")
    generated.sort(key=lambda q: (q["due"], kinds.index(q["kind"]), q["style"], q["text"]))
    seen = {q["id"] for q in out}
    for q in generated:
        if max(map(len, q["choices"])) > MAX_CHOICE_CHARS:
            continue                        # e.g. a lock cycle of many sagas: too long to read as a choice
        if q["id"] not in seen:
            seen.add(q["id"])
            out.append(q)
    return out


# ---------------------------------------------------------------- one run's story, read once

class _Story:
    """What a question needs from one run: per saga its customer, endings, steps done and undone."""

    def __init__(self, run: dict, salt: str = ""):
        self.run = run
        self.salt = salt
        self.style = run["style"]
        self.label = self.style.capitalize()
        self.outcomes = {int(k): v for k, v in run["outcomes"].items()}
        self.end = float(run.get("metrics", {}).get("end_time") or run.get("horizon") or 0.0)
        self.customer, self.price, self.ending = {}, {}, {}
        self.done, self.failed, self.undone, self.money = {}, {}, {}, {}
        self.deadlocks = []
        for ev in run.get("events", ()):
            kind, saga, d = ev["kind"], ev.get("saga"), ev.get("detail") or {}
            if kind == "saga_started":
                self.customer[saga] = d.get("customer")
                self.price[saga] = d.get("price", 0.0)
            elif kind in ENDINGS:
                self.ending[saga] = ev                                  # the last ending stands
            elif kind == "step_succeeded":
                self.done.setdefault(saga, []).append(ev["service"])
                if ev["service"] == "payment":
                    self.money.setdefault(saga, []).append(ev)
            elif kind == "step_failed":
                self.failed.setdefault(saga, ev)
            elif kind == "compensation_started":
                self.undone.setdefault(saga, {}).setdefault(ev["service"], ev)   # first start per service
            elif kind == "compensation_succeeded" and ev["service"] == "payment" and not d.get("noop"):
                self.money.setdefault(saga, []).append(ev)
            elif kind == "deadlock_detected" and d.get("cycle"):
                self.deadlocks.append(ev)

    def decided(self, saga) -> float:
        """When the saga's outcome shows: its last ending, or the end of the run if it never ends."""
        ev = self.ending.get(saga)
        return self.end if ev is None or self.outcomes.get(saga) == "in_flight" else ev["t"]

    def asked_sagas(self, t, sagas):
        return [s for s in sorted(sagas) if self.decided(s) > t][:MAX_SAGAS_ASKED]

    def whose(self, saga):
        who = self.customer.get(saga)
        return f"saga {saga} ({who}'s order)" if who else f"saga {saga}"

    # -- how each saga ends
    def outcome_questions(self, t):
        out = []
        for saga in self.asked_sagas(t, self.outcomes):
            outcome = self.outcomes[saga]
            keys = ["completed", "compensated", "stuck"]
            keys.append(outcome if outcome not in keys else ("deadlocked" if self.deadlocks else "in_flight"))
            choices = [OUTCOME_CHOICES[k] for k in dict.fromkeys(keys)]
            out.append(_question("outcome", self.style, self.decided(saga),
                                 f"{self.label}: how will {self.whose(saga)} end?",
                                 choices, OUTCOME_CHOICES[outcome], self.explain_outcome(saga), salt=self.salt))
        return out

    def explain_outcome(self, saga):
        ev = self.ending.get(saga)
        outcome = self.outcomes[saga]
        if outcome == "in_flight" or ev is None:
            return (f"The trace ends at t={_num(self.end)} with {self.whose(saga)} still open: "
                    f"its last event is {self.last_event(saga)}.")
        d = ev.get("detail") or {}
        why = d.get("because") or d.get("reason")
        if outcome == "completed":
            steps = ", ".join(dict.fromkeys(self.done.get(saga, [])))
            return f"Every step succeeded ({steps}) and the trace records saga_completed at t={_num(ev['t'])}."
        return f"The trace records {ev['kind']} at t={_num(ev['t'])}" + (f", because {why}." if why else ".")

    def last_event(self, saga):
        for ev in reversed(self.run.get("events", ())):
            if ev.get("saga") == saga:
                what = ev.get("message") or ev.get("service") or ""
                return f"{ev['kind']} ({what}) at t={_num(ev['t'])}" if what else f"{ev['kind']} at t={_num(ev['t'])}"
        return "none"

    # -- which services undo their step, in what order
    def compensation_questions(self, t):
        out = []
        with_undo = [s for s, starts in self.undone.items() if max(e["t"] for e in starts.values()) > t]
        for saga in sorted(with_undo)[:MAX_SAGAS_ASKED]:
            starts = self.undone[saga]
            order = list(starts)
            answer = " → ".join(order)
            done = list(dict.fromkeys(s for s in self.done.get(saga, []) if s not in ("orchestrator",)))
            failed = self.failed.get(saga, {}).get("service")
            candidates = [answer, " → ".join(reversed(done)), " → ".join(done), " → ".join(reversed(order))]
            if failed and failed not in order:
                candidates.append(" → ".join([failed] + order))
            candidates.append(NONE_UNDONE)
            choices = [c for c in dict.fromkeys(candidates) if c][:5]
            when = ", ".join(f"{svc} at t={_num(ev['t'])}" for svc, ev in starts.items())
            why = (f" after {failed} failed" if failed else "")
            out.append(_question(
                "compensation", self.style, max(e["t"] for e in starts.values()),
                f"{self.label}: which services undo their step for {self.whose(saga)}, and in what order?",
                choices, answer,
                f"The trace's compensation_started events{why}: {when} (the reverse order of the steps "
                f"that succeeded; a failed step has nothing to undo).", salt=self.salt))
        return out

    # -- a customer's balance at the end
    def balance_questions(self, t):
        final = self.run.get("final_state", {}).get("balances", {})
        start = self.run.get("initial_state", {}).get("balances", {})
        sagas_of = {}
        for saga, who in self.customer.items():
            sagas_of.setdefault(who, []).append(saga)
        out = []
        asked = 0
        for who, sagas in sagas_of.items():
            if who not in final or who not in start or asked >= MAX_CUSTOMERS_ASKED:
                continue
            due = max(self.decided(s) for s in sagas)
            if due <= t:
                continue
            asked += 1
            b0, answer = float(start[who]), float(final[who])
            total = sum(float(self.price.get(s) or 0.0) for s in sagas)
            price = float(self.price.get(sagas[0]) or 0.0)
            candidates = [answer, b0, b0 - total, b0 - price, b0 - 2 * total, b0 + total]
            choices = [c for c in dict.fromkeys(candidates) if c >= 0 or c == answer]
            if len(choices) < 3:
                choices += [c for c in dict.fromkeys(candidates) if c not in choices]
            texts = list(dict.fromkeys(_num(c) for c in choices))[:5]
            moves = [f"{(ev.get('detail') or {}).get('effect', ev['kind'])} at t={_num(ev['t'])}"
                     for s in sorted(sagas) for ev in self.money.get(s, [])]
            story = "; then ".join(moves) if moves else "no charge or refund in the trace"
            out.append(_question(
                "balance", self.style, due,
                f"{self.label}: what will {who}'s balance be when the run ends? (it starts at {_num(b0)})",
                texts, _num(answer), f"{who} starts with {_num(b0)}: {story}.", salt=self.salt))
        return out

    # -- deadlocks: who waits for whom, and who gives up
    def deadlock_questions(self, t):
        out = []
        for ev in [e for e in self.deadlocks if e["t"] > t][:MAX_DEADLOCKS_ASKED]:
            d = ev["detail"]
            cycle = [str(c) for c in d["cycle"]]
            answer = _waits(cycle)
            candidates = [answer]
            if len(cycle) > 2:
                candidates.append(_waits(cycle[::-1]))
            for k in range(len(cycle)):
                a, b = cycle[k], cycle[(k + 1) % len(cycle)]
                candidates.append(f"only {a} waits for {b}; {b} waits for nothing")
            outsider = next((s for s in self.run.get("services", ()) if s not in cycle), None)
            if outsider and not cycle[0].startswith("saga "):
                candidates.append(_waits([cycle[0], outsider]))
            choices = list(dict.fromkeys(candidates))[:4] + ["nobody waits: the saga goes on"]
            arrow = " -> ".join(cycle + cycle[:1])
            saga = ev.get("saga")
            what = f"saga {saga}" if not cycle[0].startswith("saga ") else " and ".join(cycle)
            out.append(_question(
                "deadlock", self.style, ev["t"],
                f"{self.label}: {what} will deadlock. Who waits for whom?",
                choices, answer,
                f"The trace's deadlock_detected event at t={_num(ev['t'])} names the wait-for cycle {arrow}.",
                salt=self.salt))
            victim = d.get("victim")
            if victim in cycle:
                out.append(_question(
                    "deadlock", self.style, ev["t"],
                    f"{self.label}: {_waits(cycle)}. What happens next?",
                    [f"{c} gives up" for c in cycle] + ["nothing: they wait until the run ends"],
                    f"{victim} gives up",
                    f"At t={_num(ev['t'])} the trace names {victim} as the one that gives up: "
                    f"{str(d.get('reason', '')).split(';')[-1].strip() or 'it breaks the cycle'}.", salt=self.salt))
        return out


def _first_questions(stories, t):
    salt = stories[0].salt if stories else ""
    by_style = {}
    for st in stories:
        by_style.setdefault(st.style, st)
    if set(by_style) != {"choreography", "orchestration"} or len(stories) != 2:
        return []
    finish = {}
    for style, st in by_style.items():
        unfinished = any(o == "in_flight" for o in st.outcomes.values()) or not st.outcomes
        finish[style] = None if unfinished else max(st.decided(s) for s in st.outcomes)
    c, o = finish["choreography"], finish["orchestration"]
    if c is None and o is None:
        answer, due = NEITHER, max(st.end for st in by_style.values())
    elif c is None or (o is not None and o < c - 1e-9):
        answer, due = "orchestration", o
    elif o is None or c < o - 1e-9:
        answer, due = "choreography", c
    else:
        answer, due = TIE, c
    if due <= t:
        return []

    def said(style):
        x = finish[style]
        return f"{style}'s last saga ends at t={_num(x)}" if x is not None else f"{style} leaves a saga unfinished"
    return [_question("first", "", due, "Which style finishes all its sagas first?",
                      ["choreography", "orchestration", TIE, NEITHER], answer,
                      f"In the trace {said('choreography')} and {said('orchestration')}.", salt=salt)]


# ---------------------------------------------------------------- helpers

def _waits(cycle):
    pairs = [f"{a} waits for {cycle[(k + 1) % len(cycle)]}" for k, a in enumerate(cycle)]
    return ", ".join(pairs[:-1]) + " and " + pairs[-1]


def _num(x):
    x = round(float(x), 6)
    return str(int(x)) if x == int(x) else f"{x:g}"


def _question(kind, style, due, text, choices, answer, explain, *, shuffle=True, salt=""):
    choices = list(dict.fromkeys(choices))
    if answer not in choices:
        choices[-1:] = [answer]
    content = json.dumps([kind, style, salt, text, sorted(choices), answer], ensure_ascii=False)
    qid = "q" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:10]
    if shuffle:
        random.Random(int(qid[1:], 16)).shuffle(choices)
    return {"id": qid, "text": text, "choices": choices, "answer": answer, "explain": explain,
            "kind": kind, "style": style, "due": due}
