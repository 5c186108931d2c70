"""Predict, then watch (issue 15): every generated answer is what the run shows, asked only before it shows.

Answers are checked against the run object itself (its outcomes, events and final state),
never against hard-coded values; the lesson's own `questions:` are validated like every field.
"""
from __future__ import annotations

import functools
import json
import re

import pytest

from classroom.questions import NEITHER, OUTCOME_CHOICES, TIE, questions
from classroom.rooms import MAX_QUESTION_BYTES, RoomStore, _check_question
from sim import STYLES, ScenarioError, list_scenarios, load_scenario, parse_scenario, run
from test_scenarios import SCENARIO_DIR

CORE = ["happy-path", "out-of-stock", "payment-declined", "refund-stuck", "orchestrator-crash", "lost-message",
        "cyclic-wait", "duplicate-idempotent"]
ENDINGS = ("saga_completed", "saga_compensated", "saga_stuck", "saga_deadlocked")


@functools.lru_cache(maxsize=None)
def scenario(name):
    return load_scenario(SCENARIO_DIR / f"{name}.yaml")


@functools.lru_cache(maxsize=None)
def runs_of(name, faults=()):
    sc = scenario(name)
    return tuple(run(sc, style, faults=list(faults)).to_dict() for style in STYLES)


def _saga(q):
    return int(re.search(r"saga (\d+)", q["text"]).group(1))


def _finish(r):
    """When the run's last saga ends (None if one never does), read from the events."""
    if any(o == "in_flight" for o in r["outcomes"].values()):
        return None
    return max(e["t"] for e in r["events"] if e["kind"] in ENDINGS)


def check_against_run(q, runs):
    """The question's answer, worked out again from the run(s) alone."""
    by_style = {r["style"]: r for r in runs}
    r = by_style.get(q["style"])
    if q["kind"] == "outcome":
        return OUTCOME_CHOICES[r["outcomes"][str(_saga(q))]]
    if q["kind"] == "compensation":
        saga = _saga(q)
        order = [e["service"] for e in r["events"] if e["kind"] == "compensation_started" and e["saga"] == saga]
        return " → ".join(dict.fromkeys(order))
    if q["kind"] == "balance":
        who = re.search(r"what will (\w+)'s balance", q["text"]).group(1)
        b = r["final_state"]["balances"][who]
        return str(int(b)) if b == int(b) else f"{b:g}"
    if q["kind"] == "first":
        c, o = _finish(by_style["choreography"]), _finish(by_style["orchestration"])
        if c is None and o is None:
            return NEITHER
        if c is None or (o is not None and o < c):
            return "orchestration"
        if o is None or c < o:
            return "choreography"
        return TIE
    if q["kind"] == "deadlock":
        cycles = [e["detail"] for e in r["events"] if e["kind"] == "deadlock_detected"]
        if "gives up" in q["answer"]:
            victims = {d["victim"] for d in cycles}
            return next(f"{v} gives up" for v in victims if f"{v} gives up" == q["answer"])
        for d in cycles:
            c = d["cycle"]
            said = " and ".join([", ".join(f"{a} waits for {c[(k + 1) % len(c)]}" for k, a in enumerate(c[:-1])),
                                 f"{c[-1]} waits for {c[0]}"])
            if said == q["answer"]:
                return said
        return "(no such cycle in the trace)"
    raise AssertionError(f"unexpected kind {q['kind']}")


STAGED = [p.stem for p in sorted(SCENARIO_DIR.glob("*.yaml")) if not p.stem.startswith("load-")]


@pytest.mark.parametrize("name", STAGED)
def test_every_answer_is_the_runs(name):
    """Every lesson of the library but the load runs (they are not played on the stage)."""
    sc = scenario(name)
    assert sc.load is None
    runs = runs_of(name)
    qs = questions(list(runs), 0.0, sc)
    kinds = {q["kind"] for q in qs}
    assert {"outcome", "first"} <= kinds, f"{name}: {kinds}"
    assert len({q["id"] for q in qs}) == len(qs), "ids are unique"
    for q in qs:
        assert q["answer"] in q["choices"] and len(set(q["choices"])) == len(q["choices"])
        assert "\n" not in q["explain"] and q["explain"].endswith(".")
        assert re.fullmatch(r"q[0-9a-f]{10}", q["id"])
        assert _check_question(q) and len(json.dumps(q)) < MAX_QUESTION_BYTES, "a room can ask it"
        if q["kind"] == "lesson":
            assert 2 <= len(q["choices"]) <= 5
            continue
        assert 3 <= len(q["choices"]) <= 5, q
        assert q["due"] > 0.0
        assert q["answer"] == check_against_run(q, runs), q


def test_the_questions_cover_the_issue():
    kinds = {}
    for name in ("out-of-stock", "cyclic-wait"):
        for q in questions(list(runs_of(name)), 0.0, scenario(name)):
            kinds.setdefault(q["kind"], q)
    assert set(kinds) == {"lesson", "outcome", "compensation", "balance", "first", "deadlock"}
    deadlock = next(q for q in questions(list(runs_of("cyclic-wait")), 0.0) if "whom" in q["text"])
    assert deadlock["answer"] == "inventory waits for payment and payment waits for inventory"
    assert "nobody waits: the saga goes on" in deadlock["choices"]


def test_only_the_future_of_t():
    runs = list(runs_of("out-of-stock"))
    sc = scenario("out-of-stock")
    at_zero = {q["id"]: q for q in questions(runs, 0.0, sc)}
    for t in (1.0, 4.0, 5.2, 6.3, 7.0, 100.0):
        later = questions(runs, t, sc)
        for q in later:
            assert q["id"] in at_zero, "a question later on is one that was open at 0"
            assert q["kind"] == "lesson" or q["due"] > t
        missing = [q for q in at_zero.values() if q["kind"] != "lesson" and q["due"] > t
                   and q["id"] not in {x["id"] for x in later}]
        assert not missing
    late = questions(runs, 1000.0, sc)
    assert late and all(q["kind"] == "lesson" for q in late), "past the end only the lesson's own remain"
    # the lesson question with `at` goes once its moment has passed
    crash = scenario("orchestrator-crash")
    asked = lambda t: [q["text"] for q in questions(list(runs_of("orchestrator-crash")), t, crash)  # noqa: E731
                       if q["kind"] == "lesson"]
    assert len(asked(2.0)) == 2 and len(asked(2.1)) == 1


def test_ids_and_order_are_stable():
    runs = list(runs_of("refund-stuck"))
    a = questions(runs, 0.0, scenario("refund-stuck"))
    b = questions([dict(r) for r in runs], 0.0, scenario("refund-stuck"))
    assert a == b
    shuffled = [q for q in a if q["kind"] == "outcome"]
    assert len({tuple(q["choices"]) for q in shuffled}) >= 1
    dues = [q["due"] for q in a if q["kind"] != "lesson"]
    assert dues == sorted(dues)


def test_a_fault_changes_the_questions():
    plain = questions(list(runs_of("happy-path")), 0.0)
    faulty_runs = runs_of("happy-path", ("inventory:fail:saga=1",))
    faulty = questions(list(faulty_runs), 0.0)
    outcome = lambda qs: {q["style"]: q["answer"] for q in qs if q["kind"] == "outcome"}  # noqa: E731
    assert set(outcome(plain).values()) == {OUTCOME_CHOICES["completed"]}
    assert set(outcome(faulty).values()) == {OUTCOME_CHOICES["compensated"]}
    assert not any(q["kind"] == "compensation" for q in plain)
    assert any(q["kind"] == "compensation" for q in faulty)
    assert not {q["id"] for q in plain} & {q["id"] for q in faulty}
    for q in faulty:
        assert q["answer"] == check_against_run(q, faulty_runs)


def test_one_style_has_no_race_question():
    runs = [runs_of("out-of-stock")[0]]
    qs = questions(runs, 0.0)
    assert qs and not any(q["kind"] == "first" for q in qs)


def test_a_generated_question_can_be_asked_in_a_room(tmp_path):
    store = RoomStore(tmp_path)
    code, key = store.create({"scenario": "out-of-stock"})
    q = questions(list(runs_of("out-of-stock")), 0.0)[0]
    store.drive(code, key, question=q)
    store.answer(code, q["id"], "ann", q["answer"])
    assert store.tally(code, key, q["id"])[q["answer"]] == 1


# ---------------------------------------------------------------- the scenario file's `questions:`

BASE = """name: quiz
customers: {alice: {balance: 100}}
stock: {widget: 5}
orders: [{customer: alice, item: widget, qty: 1, price: 30, at: 0}]
"""


def test_lesson_questions_parse():
    sc = parse_scenario(BASE + """questions:
  - ask: "What is charged?"
    choices: ["30", "0"]
    answer: "30"
    explain: "One widget costs 30."
    at: 1.5
  - {ask: "Who approves?", choices: [order, payment, inventory], answer: order}
""", "quiz.yaml")
    assert [q.ask for q in sc.questions] == ["What is charged?", "Who approves?"]
    assert sc.questions[0].at == 1.5 and sc.questions[1].at is None and sc.questions[1].explain == ""
    hash(sc)
    qs = questions([run(sc, "orchestration").to_dict()], 0.0, sc)
    assert [q["choices"] for q in qs[:2]] == [["30", "0"], ["order", "payment", "inventory"]]
    assert parse_scenario(BASE, "quiz.yaml").questions == ()


@pytest.mark.parametrize("field, problem", [
    ("questions: {ask: x}", "questions: must be a list"),
    ("questions: [x]", "questions[0]: must be a mapping"),
    ("questions: [{choices: [a, b], answer: a}]", "questions[0].ask: is required"),
    ("questions: [{ask: q, answer: a}]", "questions[0].choices: is required"),
    ("questions: [{ask: q, choices: [a, b]}]", "questions[0].answer: is required"),
    ("questions: [{ask: q, choices: [a], answer: a}]", "questions[0].choices: must be a list of 2 to 5"),
    ("questions: [{ask: q, choices: [a, b, c, d, e, f], answer: a}]", "questions[0].choices: must be a list of 2"),
    ("questions: [{ask: q, choices: [a, a], answer: a}]", "questions[0].choices: lists the same choice twice"),
    ("questions: [{ask: q, choices: [a, b], answer: c}]", "questions[0].answer: 'c' is not one of the choices"),
    ("questions: [{ask: q, choices: [a, b], answer: a, at: -1}]", "questions[0].at: must be >= 0"),
    ("questions: [{ask: q, choices: [a, b], answer: a, hint: x}]", "questions[0].hint: unknown field"),
    ("questions: [{ask: '', choices: [a, b], answer: a}]", "questions[0].ask: must be a question"),
    ("questions: [{ask: q, choices: [a, [b]], answer: a}]", "questions[0].choices[1]: must be text"),
])
def test_bad_lesson_questions_refused_in_one_line(field, problem):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(BASE + field + "\n", "quiz.yaml")
    msg = str(e.value)
    assert msg.startswith("quiz.yaml: ") and problem in msg and "\n" not in msg, msg


def test_too_many_lesson_questions():
    many = "questions:\n" + "".join(f"  - {{ask: q{i}, choices: [a, b], answer: a}}\n" for i in range(21))
    with pytest.raises(ScenarioError, match="questions: has 21 questions; at most 20"):
        parse_scenario(BASE + many, "quiz.yaml")


def test_the_library_loads_and_core_lessons_ask():
    loaded = list_scenarios()
    assert loaded and all(not isinstance(sc, Exception) for _, sc in loaded)
    for name in CORE:
        qs = scenario(name).questions
        assert 1 <= len(qs) <= 2, name
        for q in qs:
            assert q.ask.endswith("?") and q.explain, name


def test_a_run_without_events_asks_nothing_generated():
    sc = scenario("out-of-stock")
    summary = [run(sc, style).to_dict(events=False) for style in STYLES]
    qs = questions(summary, 0.0, sc)
    assert qs and all(q["kind"] == "lesson" for q in qs)


def test_a_long_lock_cycle_is_not_offered_as_unreadable_choices():
    cycle = [f"saga {i}" for i in range(1, 16)]
    fake = {"style": "orchestration", "outcomes": {"1": "compensated"}, "horizon": 50,
            "metrics": {"end_time": 50}, "initial_state": {"balances": {}}, "final_state": {"balances": {}},
            "events": [{"seq": 0, "t": 0, "kind": "saga_started", "saga": 1, "service": "order",
                        "detail": {"customer": "ann", "price": 10}},
                       {"seq": 1, "t": 3, "kind": "deadlock_detected", "saga": 1, "service": "inventory",
                        "detail": {"cycle": cycle, "victim": "saga 1", "reason": "a long cycle; saga 1 gives up"}},
                       {"seq": 2, "t": 5, "kind": "saga_compensated", "saga": 1, "service": "orchestrator"}]}
    qs = questions([fake], 0.0)
    assert qs and all(len(c) <= 200 for q in qs for c in q["choices"])
    assert any(q["kind"] == "outcome" for q in qs)
