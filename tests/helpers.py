"""Small helpers shared by the model's tests: build scenarios inline, filter traces."""
from __future__ import annotations

from pathlib import Path

import yaml

from sim import parse_scenario, run

ROOT = Path(__file__).resolve().parent.parent
STEP_KINDS = ("step_started", "step_succeeded", "step_failed", "compensation_started",
              "compensation_succeeded", "compensation_failed", "saga_completed", "saga_compensated",
              "saga_stuck", "saga_deadlocked")


def scenario(**fields):
    """A scenario from keyword fields over a one-saga default (alice buys a widget)."""
    base = {
        "name": "t",
        "customers": {"alice": {"balance": 100}, "bob": {"balance": 100}},
        "stock": {"widget": 5, "gadget": 5},
        "orders": [{"customer": "alice", "item": "widget", "qty": 1, "price": 30, "at": 0}],
    }
    base.update(fields)
    return parse_scenario(yaml.safe_dump(base, sort_keys=False), "test")


def events(sc, style, faults=(), **kw):
    return run(sc, style, faults=faults, **kw).to_dict()["events"]


def kinds(run_dict, kind):
    """The events of one kind in a run dict."""
    return [e for e in run_dict["events"] if e["kind"] == kind]


def steps_log(evs, saga=None, kinds=STEP_KINDS):
    """The ordered (kind, service) log of step, compensation and saga events."""
    return [(e["kind"], e["service"]) for e in evs
            if e["kind"] in kinds and (saga is None or e["saga"] == saga)]


def expected_failure_log(steps, k):
    """Steps 1..k-1 succeed, step k fails, then k-1..1 are compensated in reverse order."""
    log = []
    for s in steps[:k - 1]:
        log += [("step_started", s), ("step_succeeded", s)]
    log += [("step_started", steps[k - 1]), ("step_failed", steps[k - 1])]
    for s in reversed(steps[:k - 1]):
        log += [("compensation_started", s), ("compensation_succeeded", s)]
    return log


def clear_run_cache():
    """Empty the app's run cache (``ui.runs``), so the next run of a page simulates again."""
    from ui import runs
    with runs._cache_lock:
        runs._cache.clear()
        runs._cache_bytes = 0
