"""The scenario library (issue 7): every lesson loads, runs in both styles and shows what it promises.

Each file's `expect` is checked against a real run: outcomes (saga ids, or `all`),
invariants, and any `final_state` or `metrics` keys it gives (a nested mapping
matches when every key it names matches; numbers compare as numbers). Then the
library as a whole must cover every fault kind of contract 2 and the concepts
of issues 3 and 4.
"""
from __future__ import annotations

import functools
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim import load_scenario, run
from sim.faults import KINDS
from sim.scenario import INVARIANTS, STYLES

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
FILES = sorted(SCENARIO_DIR.glob("*.yaml"))
NAMES = [p.stem for p in FILES]
TEACHING_FIELDS = ("title", "summary", "learning_goal", "watch", "source")


@functools.lru_cache(maxsize=None)
def scenario(name):
    return load_scenario(SCENARIO_DIR / f"{name}.yaml")


@functools.lru_cache(maxsize=None)
def result(name, style):
    """One run of a library scenario as the run object of contract 4 (without events for load runs)."""
    sc = scenario(name)
    r = run(sc, style, keep_events=sc.load is None)
    return r.to_dict(events=sc.load is None)


def _matches(expected, actual, path, problems):
    """Record in `problems` every place where `actual` differs from what `expected` names."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            problems.append(f"{path}: expected a mapping {expected!r}, got {actual!r}")
            return
        for key, want in expected.items():
            k = str(key) if str(key) in actual else key
            if k not in actual:
                problems.append(f"{path}.{key}: missing from the run (has {sorted(map(str, actual))})")
                continue
            _matches(want, actual[k], f"{path}.{key}", problems)
    elif isinstance(expected, bool) or isinstance(actual, bool):
        if expected is not actual:
            problems.append(f"{path}: expected {expected!r}, got {actual!r}")
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if not math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-6):
            problems.append(f"{path}: expected {expected!r}, got {actual!r}")
    elif expected != actual:
        problems.append(f"{path}: expected {expected!r}, got {actual!r}")


def _check_outcomes(expected, outcomes):
    problems = []
    listed = {str(k) for k in expected if k != "all"}
    for key, want in expected.items():
        if key == "all":
            others = {s: o for s, o in outcomes.items() if s not in listed}
            wrong = {s: o for s, o in others.items() if o != want}
            if not others:
                problems.append("outcomes.all: the run has no sagas")
            if wrong:
                few = dict(list(wrong.items())[:5])
                problems.append(f"outcomes.all: expected every saga {want}, but {len(wrong)} are not: {few}")
        elif outcomes.get(str(key)) != want:
            problems.append(f"outcomes.{key}: expected {want}, got {outcomes.get(str(key), 'no such saga')}")
    return problems


# ---------------------------------------------------------------- every file, one by one

def test_library_is_big_enough():
    assert len(FILES) >= 14, f"the curriculum needs at least 14 scenarios, has {len(FILES)}"


@pytest.mark.parametrize("name", NAMES)
def test_scenario_is_a_lesson(name):
    """Name = file name, and the fields a learner reads first are there."""
    sc = scenario(name)
    assert sc.name == name, f"{name}.yaml says name: {sc.name}"
    for f in TEACHING_FIELDS:
        assert getattr(sc, f).strip(), f"{name}: {f} is empty"
    sentences = len(re.findall(r"[.!?](?=\s|$)", sc.summary))
    assert 1 <= sentences <= 3, f"{name}: the summary is a short story of 1 to 3 sentences, has {sentences}"
    assert sc.style == "both", f"{name}: every lesson compares the two styles"
    expect = sc.expect or {}
    for style in STYLES:
        assert style in expect, f"{name}: expect.{style} is missing"
        exp = expect[style]
        assert exp.get("outcomes") or sc.load is not None, f"{name}: expect.{style}.outcomes is missing"
        if sc.load is None:
            listed = {str(k) for k in exp["outcomes"]}
            assert "all" in listed or listed >= {str(o.id) for o in sc.orders}, \
                f"{name}: expect.{style}.outcomes must name every saga (or use all)"
        assert set(exp.get("invariants", {})) == set(INVARIANTS), \
            f"{name}: expect.{style}.invariants must state all four invariants"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", NAMES)
def test_scenario_runs_as_expected(name, style):
    sc = scenario(name)
    exp = sc.expect[style]
    r = result(name, style)
    problems = _check_outcomes(exp.get("outcomes", {}), r["outcomes"])
    named = {str(k) for k in exp.get("outcomes", {})}
    if sc.load is None and "all" not in named and set(r["outcomes"]) != named:
        problems.append(f"outcomes: the run has sagas {sorted(r['outcomes'])}, expect names {sorted(named)}")
    _matches(exp.get("invariants", {}), r["invariants"], "invariants", problems)
    _matches(exp.get("final_state", {}), r["final_state"], "final_state", problems)
    _matches(exp.get("metrics", {}), r["metrics"], "metrics", problems)
    assert not problems, f"{name} ({style}) does not teach what it promises:\n  " + "\n  ".join(problems)


def test_sim_check_accepts_the_library():
    proc = subprocess.run([sys.executable, "-m", "sim", "check", *map(str, FILES)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok: ") == len(FILES)


def test_sim_list_shows_every_lesson():
    proc = subprocess.run([sys.executable, "-m", "sim", "list"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "INVALID" not in proc.stdout
    for name in NAMES:
        assert name in proc.stdout


def test_names_and_titles_are_unique():
    titles = [scenario(n).title for n in NAMES]
    assert len(set(titles)) == len(titles)


# ---------------------------------------------------------------- the library as a whole

def _all():
    return [scenario(n) for n in NAMES]


def test_every_fault_kind_is_taught():
    used = {f.kind for sc in _all() for f in sc.faults}
    assert used >= set(KINDS), f"no scenario uses {sorted(set(KINDS) - used)}"
    targets = {(f.target, f.kind) for sc in _all() for f in sc.faults}
    assert ("orchestrator", "crash") in targets, "no scenario crashes the orchestrator"
    assert any(f.kind == "crash" and f.target not in ("orchestrator", "broker")
               for sc in _all() for f in sc.faults), "no scenario crashes a participant"
    assert any(f.probability is not None for sc in _all() for f in sc.faults), "no random faults"


def test_cyclic_waits_of_two_and_three_services():
    cycles = [c for sc in _all() for c in sc.subscription_cycles()]
    lengths = {len(c) for c in cycles}
    assert 2 in lengths, "no two-service cycle"
    assert any(len(c) >= 3 for c in cycles), "no cycle of three or more services"
    builtin = {"order", "payment", "inventory"}
    assert any(set(c) - builtin for c in cycles), "no cycle through a custom step"
    for sc in _all():
        if sc.subscription_cycles():
            assert sc.expect["choreography"]["outcomes"] and \
                set(sc.expect["choreography"]["outcomes"].values()) == {"deadlocked"}
            assert set(sc.expect["orchestration"]["outcomes"].values()) == {"completed"}


def test_step_types_isolation_and_idempotency():
    types = {s.type for sc in _all() for s in sc.steps}
    assert {"compensable", "pivot", "retriable"} <= types
    assert any(sc.isolation == "semantic_lock" for sc in _all()), "no semantic lock"
    assert any(not sc.idempotent for sc in _all()), "no non-idempotent consumers"
    assert any(any(len(o.items) > 1 for o in sc.orders) for sc in _all()), "no multi-item order"
    custom = {s.name for sc in _all() for s in sc.steps} - {"order", "payment", "inventory"}
    assert "shipping" in custom


def test_isolation_anomaly_ends_differently_with_a_semantic_lock():
    """A pair of scenarios, the same but for `isolation`, whose sagas end differently (issue 4)."""
    pairs = []
    for a in _all():
        for b in _all():
            if a.isolation == "none" and b.isolation == "semantic_lock" and (
                    a.steps, a.customers, a.stock, a.orders, a.faults) == (b.steps, b.customers, b.stock, b.orders,
                                                                          b.faults):
                pairs.append((a.name, b.name))
    assert pairs, "no scenario is repeated with isolation: semantic_lock"
    for a, b in pairs:
        for style in STYLES:
            assert result(a, style)["outcomes"] != result(b, style)["outcomes"], (a, b, style)


def test_concurrent_sagas_and_load():
    """Some scenario runs sagas that overlap in time, and one is a load of many sagas."""
    overlapping = []
    for name in NAMES:
        sc = scenario(name)
        if sc.load is not None or sc.saga_count < 2:
            continue
        evs = result(name, "orchestration")["events"]
        start = {e["saga"]: e["t"] for e in evs if e["kind"] == "saga_started"}
        end = {e["saga"]: e["t"] for e in evs if e["kind"].startswith("saga_") and e["kind"] != "saga_started"}
        spans = sorted((start[s], end.get(s, math.inf)) for s in start)
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
            overlapping.append(name)
    assert overlapping, "no scenario has concurrent sagas"
    loads = [sc for sc in _all() if sc.load is not None]
    assert loads, "no load scenario"
    assert max(sc.saga_count for sc in loads) >= 1000
    assert any(f.probability is not None for sc in loads for f in sc.faults), "no random failures under load"


def test_every_outcome_and_broken_invariant_is_shown():
    """The curriculum shows each outcome somewhere, and at least one broken invariant (the lesson)."""
    outcomes = set()
    broken = set()
    for sc in _all():
        for style in STYLES:
            exp = sc.expect[style]
            outcomes |= set(exp.get("outcomes", {}).values())
            broken |= {k for k, v in exp.get("invariants", {}).items() if v is False}
    assert outcomes >= {"completed", "compensated", "stuck", "deadlocked", "in_flight"}
    assert "sagas_atomic" in broken


def test_breaking_an_invariant_is_always_the_lesson():
    """With idempotent consumers every invariant holds; only idempotent: false may break one."""
    for sc in _all():
        for style in STYLES:
            inv = sc.expect[style]["invariants"]
            if sc.idempotent:
                assert all(inv.values()), f"{sc.name} ({style}) expects a broken invariant with idempotent consumers"
