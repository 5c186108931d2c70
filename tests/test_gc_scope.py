"""Issue 17: a run's garbage-collector tuning never leaks out of it.

``Sim.run`` raises the young generation's threshold while it runs (see
``sim.engine.few_collections``). The threshold is process-wide and the app may
simulate in several threads at once: whatever the overlap, once no run is under
way the threshold is the one found before the first started.
"""
from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

import pytest

import sim
from helpers import ROOT
from sim.engine import few_collections


@pytest.fixture
def threshold():
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_overlapping_runs_restore_the_threshold_when_the_last_ends(threshold):
    a, b = few_collections(), few_collections()
    a.__enter__()
    assert gc.get_threshold()[0] >= 1_000_000
    b.__enter__()
    a.__exit__(None, None, None)                 # the first ends while the second still runs...
    assert gc.get_threshold()[0] >= 1_000_000    # ...which keeps its few collections
    b.__exit__(None, None, None)
    assert gc.get_threshold() == threshold


def test_a_run_that_fails_restores_it(threshold):
    with pytest.raises(ZeroDivisionError):
        with few_collections():
            1 / 0
    assert gc.get_threshold() == threshold


def test_runs_in_threads_leave_it_as_found(threshold):
    sc = sim.load_scenario(ROOT / "scenarios" / "payment-declined.yaml")
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda k: sim.run(sc, sim.STYLES[k % 2]), range(16)))
    assert all(r.outcomes for r in runs)
    assert gc.get_threshold() == threshold
