"""Writing lessons (issue 18), without the app: YAML errors in plain words, fields located,
did-you-mean, `sim check` comparing a lesson's expect:, and the dual write and the
transactional outbox simulated in both styles."""
from __future__ import annotations

import glob
import subprocess
import sys

import pytest

import sim
from sim import parse_scenario, run
from sim.errors import FaultError, ScenarioError
from sim.faults import parse_fault
from sim.pointing import distance, excerpt, locate, suggest

from helpers import ROOT, scenario

BASE = """\
name: x
customers: {alice: {balance: 100}}
stock: {widget: 5}
orders:
  - {customer: alice, item: widget, qty: 1, price: 30, at: 0}
timing:
  timeout: 8
  backoff: 1
"""


def refusal(text):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, "f.yaml")
    return e.value


# ---------------------------------------------------------------- YAML in plain words

@pytest.mark.parametrize("text, line, words", [
    (BASE.replace("  backoff: 1", "    backoff: 1"), 8, "this line is indented more than the one above it"),
    (BASE.replace("timing:\n  timeout: 8\n  backoff: 1", "timing:\n    timeout: 8\n  backoff: 1"), 8,
     "lines up with no line above it"),
    (BASE.replace("  timeout: 8", "\ttimeout: 8"), 7, "indented with a tab"),
    (BASE + "summary: Note: this breaks\n", 9, "colon followed by a space; put the whole value in quotes"),
    (BASE.replace("stock: {widget: 5}", "stock: {widget: 5"), 3, "the { on this line is never closed"),
    (BASE + "summary: \"never closed\n", 9, "the closing quote is missing"),
    (BASE + "title\n", 9, "this line has no colon"),
    (BASE + "title: *star\n", 9, "cannot start with *"),
])
def test_yaml_errors_speak_plain_words(text, line, words):
    e = refusal(text)
    assert f"line {line}: " in str(e) and words in str(e), str(e)
    assert e.line == line
    for jargon in ("<block end>", "expected key", "token", "stream"):
        assert jargon not in str(e)


def test_field_errors_know_their_line_and_column():
    e = refusal(BASE.replace("customer: alice", "customer: alcie"))
    assert "did you mean 'alice'?" in str(e) and (e.line, e.column) == (5, 16)
    shown = excerpt(BASE.replace("alice, item", "alcie, item"), e.line, e.column)
    marked = shown.split("\n")
    k = next(i for i, x in enumerate(marked) if x.startswith(">"))
    assert marked[k + 1].index("^") == marked[k].index("alcie")
    assert locate(BASE, "timing.backoff") == (8, 12)
    assert locate(BASE, "orders[0]") == (5, 5)
    assert locate(BASE, "nowhere.at.all") is None and locate("a: [", "a") is None


# ---------------------------------------------------------------- did you mean

def test_distance_and_suggest():
    assert distance("paymnet", "payment") == 1            # two letters swapped
    assert distance("paymt", "payment") == 2
    assert suggest("paymnet", ["order", "payment", "inventory"]) == "payment"
    assert suggest("shipping", ["order", "payment", "inventory"]) is None
    assert suggest("ordr", ["order"]) == "order"
    assert suggest("bob", ["rob"]) == "rob" and suggest("bo", ["rob"]) is None


def test_a_typoed_step_is_a_custom_step_with_a_warning():
    sc = scenario(steps=["order", "paymnet", "inventory"])
    assert sc.services == ("order", "paymnet", "inventory")          # custom steps stay allowed
    (fld, words), = sc.warnings
    assert fld == "steps[1]" and "did you mean 'payment'?" in words
    assert not scenario(steps=["order", "payment", "inventory", "shipping"]).warnings


def test_typos_in_names_are_refused_with_a_suggestion():
    assert "did you mean 'widget'?" in str(refusal(BASE.replace("item: widget", "item: widgte")))
    assert "did you mean 'timing'?" in str(refusal(BASE.replace("timing:", "timming:")))
    e = refusal(BASE + "faults:\n  - {target: paymnt, kind: fail}\n")
    assert "did you mean 'payment'?" in str(e) and e.line == 10
    with pytest.raises(FaultError, match="did you mean 'crash'"):
        parse_fault("payment:crahs")
    sc = parse_scenario(BASE + "faults:\n  - {target: broker, kind: drop, message: PaymentComplete}\n")
    assert "did you mean 'PaymentCompleted'?" in sc.warnings[0][1]


# ---------------------------------------------------------------- sim check runs the expectations

def check(*files):
    return subprocess.run([sys.executable, "-m", "sim", "check", *map(str, files)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_sim_check_passes_the_whole_library():
    files = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml")))
    proc = check(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("expectations hold") == len(files)
    assert "expectation failed" not in proc.stderr


def test_sim_check_reports_a_lesson_that_no_longer_teaches_what_it_says(tmp_path):
    text = (ROOT / "scenarios" / "payment-declined.yaml").read_text().replace("price: 30", "price: 10")
    f = tmp_path / "lesson.yaml"
    f.write_text(text)
    proc = check(f)
    assert proc.returncode == 1
    lines = proc.stderr.strip().split("\n")
    assert f"expectation failed: {f}: choreography: saga 1: expected compensated, got completed" in lines
    assert f"expectation failed: {f}: orchestration: metrics.compensations: expected 1, got 0" in lines
    assert "ok:" not in proc.stdout and "Traceback" not in proc.stderr
    # a bad file still exits 2, before any run
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n  stock: 1\n")
    proc = check(f, bad)
    assert proc.returncode == 2 and "line 2: this line is indented more" in proc.stderr


def test_sim_check_prints_did_you_mean_warnings(tmp_path):
    f = tmp_path / "typo.yaml"
    f.write_text(BASE.replace("timing:", "steps: [order, paymnet, inventory]\ntiming:"))
    proc = check(f)
    assert proc.returncode == 0
    assert f"warning: {f}: steps[1]: 'paymnet' is not a built-in step" in proc.stderr
    assert "did you mean 'payment'?" in proc.stderr


# ---------------------------------------------------------------- the dual write and the outbox

TWO = BASE.replace("customers: {alice: {balance: 100}}", "customers: {alice: {balance: 100}, bob: {balance: 100}}") \
    .replace("price: 30, at: 0}", "price: 30, at: 0}\n  - {customer: bob, item: widget, qty: 1, price: 20, at: 0.1}")
STRIKE = "payment:crash_before_publish:saga=2,recover_after=5"


def kinds(r, kind):
    return [e for e in r["events"] if e["kind"] == kind]


@pytest.mark.parametrize("style", sim.STYLES)
def test_the_dual_write_loses_the_event(style):
    sc = parse_scenario(TWO)
    r = run(sc, style, faults=[STRIKE]).to_dict()
    (lost,) = kinds(r, "publish_lost")
    assert lost["saga"] == 2 and lost["service"] == "payment" and lost["detail"]["message"] == "PaymentCompleted"
    crash = kinds(r, "service_crashed")[0]
    assert crash["t"] == lost["t"] and not kinds(r, "outbox_relayed")
    assert r["final_state"]["balances"]["bob"] == 80                  # the charge is committed
    if style == "choreography":                                       # nobody ever hears of it
        assert r["outcomes"] == {"1": "completed", "2": "in_flight"}
        assert r["final_state"]["orders"]["2"] == "PENDING" and r["final_state"]["stock"]["widget"] == 4
    else:                                                             # the timeout asks again
        assert r["outcomes"] == {"1": "completed", "2": "completed"} and r["metrics"]["timeouts"] >= 1
        assert any(e["saga"] == 2 for e in kinds(r, "duplicate_ignored"))
    assert all(r["invariants"].values())


@pytest.mark.parametrize("style", sim.STYLES)
def test_the_outbox_relays_after_recovery_at_least_once(style):
    sc = parse_scenario("outbox: true\n" + TWO)
    assert sc.outbox
    r = run(sc, style, faults=[STRIKE]).to_dict()
    assert not kinds(r, "publish_lost") and kinds(r, "outbox_pending")[0]["saga"] == 2
    (relay,) = kinds(r, "outbox_relayed")
    assert relay["detail"]["rows"] == 2                  # bob's row, and alice's, sent but not acknowledged
    assert r["outcomes"] == {"1": "completed", "2": "completed"}
    assert r["final_state"]["ledger_entries"] == 2 and all(r["invariants"].values())
    copies = [e for e in kinds(r, "duplicate_ignored") if e["detail"]["message"] == "PaymentCompleted"]
    assert len(copies) == 1 and copies[0]["saga"] == 1   # delivered twice, ignored once
    # consumers that forget message ids pay the price of at-least-once (the orchestrator always
    # remembers the replies it handled; choreography's inventory does it again)
    r2 = run(parse_scenario("outbox: true\nidempotent: false\n" + TWO), style, faults=[STRIKE]).to_dict()
    assert r2["invariants"]["sagas_atomic"] is (style == "orchestration")


def test_outbox_without_a_crash_changes_nothing_but_is_deterministic():
    plain, boxed = parse_scenario(TWO), parse_scenario("outbox: true\n" + TWO)
    for style in sim.STYLES:
        a, b = run(plain, style).to_dict(), run(boxed, style).to_dict()
        assert a["events"] == b["events"] and a["outcomes"] == b["outcomes"]
        assert run(boxed, style, faults=[STRIKE]).to_dict() == run(boxed, style, faults=[STRIKE]).to_dict()


def test_the_hot_path_is_untouched_without_the_option():
    from sim.engine import Participant, Sim
    s = Sim(parse_scenario(TWO), "choreography", 1, [])
    assert "publish" not in vars(s) and all("_finish" not in vars(p) for p in s.services.values())
    s = Sim(parse_scenario(TWO), "orchestration", 1, [parse_fault(STRIKE)])
    assert vars(s)["publish"] == s._publish_hooked and vars(s.services["payment"])["_finish"]
    assert Participant._finish is not Participant._finish_hooked


def test_the_new_fault_and_option_are_validated():
    f = parse_fault(STRIKE)
    assert parse_fault(f.to_spec()) == f and "before publishing" in f.describe()
    with pytest.raises(FaultError):
        parse_fault("orchestrator:crash_before_publish")
    with pytest.raises(FaultError):
        parse_fault("payment:crash_before_publish:by=2")
    assert "must be true or false" in str(refusal("outbox: yes please\n" + BASE))


def test_the_two_lessons_play_as_their_stories_say():
    dual = sim.load_scenario(ROOT / "scenarios" / "dual-write.yaml")
    box = sim.load_scenario(ROOT / "scenarios" / "transactional-outbox.yaml")
    assert not dual.outbox and box.outbox
    assert {f.kind for f in dual.faults} == {"crash_before_publish"} == {f.kind for f in box.faults}
    c = run(dual, "choreography").to_dict()
    assert c["outcomes"] == {"1": "in_flight"} and kinds(c, "publish_lost")
    o = run(dual, "orchestration").to_dict()
    assert o["outcomes"] == {"1": "completed"} and o["metrics"]["timeouts"] == 1
    for style in sim.STYLES:
        r = run(box, style).to_dict()
        assert set(r["outcomes"].values()) == {"completed"} and kinds(r, "outbox_relayed")
        assert r["metrics"]["duplicates_ignored"] == 1
