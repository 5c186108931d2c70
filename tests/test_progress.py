"""The engine's progress report and cooperative stop (issue 14: a long run in the app shows progress and can
be stopped). A report reads the run and changes nothing: the trace is the same byte for byte with reports
after every unit of work as without any; a report that returns True ends the run with RunStopped, which
says when; the work budget still holds while a watcher is on."""
from __future__ import annotations

import json

import pytest

import sim
from sim.engine import REPORT_EVERY, Progress, Sim
from sim.errors import RunLimitError, RunStopped

LOAD = "scenarios/load-mixed.yaml"
SAGAS = 6000


def big():
    """load-mixed with 6,000 orders: ~90,000 units of work in orchestration, a few reports."""
    with open(LOAD, encoding="utf-8") as f:
        text = f.read()
    assert "count: 2000" in text
    return sim.parse_scenario(text.replace("count: 2000", f"count: {SAGAS}"), "big.yaml")


CASES = [("happy-path.yaml", ()), ("orchestrator-crash.yaml", ()), ("refund-stuck.yaml", ()),
         ("cyclic-wait.yaml", ()), ("dirty-read-semantic-lock.yaml", ()),
         ("payment-declined.yaml", ("broker:duplicate:message=OrderCreated", "payment:slow:by=4")),
         ("load-flaky-courier.yaml", ())]


def _json(result) -> str:
    return json.dumps(result.to_dict(), sort_keys=True)


@pytest.mark.parametrize("style", sim.STYLES)
@pytest.mark.parametrize("name,faults", CASES)
def test_reports_after_every_unit_of_work_leave_the_trace_as_it_was(name, faults, style):
    scenario = sim.load_scenario(f"scenarios/{name}")
    plain = sim.run(scenario, style, faults=list(faults))
    reports = []
    watched = Sim(scenario, style, scenario.seed, tuple(scenario.faults) + tuple(map(sim.parse_fault, faults)))
    watched.watch(reports.append, every=1).run()
    assert watched.events == plain.sim.events
    assert _json(sim.Run(scenario, style, scenario.seed, plain.faults, watched)) == _json(plain)
    assert reports, "a run of at least one unit of work reports"
    assert all(isinstance(r, Progress) for r in reports)
    assert [r.work for r in reports] == sorted(r.work for r in reports)
    assert [r.t for r in reports] == sorted(r.t for r in reports)
    assert all(0 <= r.ended <= r.started <= r.sagas == scenario.saga_count for r in reports)


def test_the_default_report_comes_every_few_thousand_units_and_the_json_is_unchanged():
    scenario = big()
    reports = []
    watched = sim.run(scenario, "orchestration", progress=reports.append)
    assert _json(watched) == _json(sim.run(scenario, "orchestration"))
    work = watched.sim.work
    assert len(reports) >= 3 and len(reports) in (work // REPORT_EVERY, work // REPORT_EVERY - 1)
    first = reports[0].work
    assert REPORT_EVERY <= first <= REPORT_EVERY + 5           # a few units come before the watch starts
    assert [r.work for r in reports] == [first + k * REPORT_EVERY for k in range(len(reports))]


def test_a_report_that_says_stop_ends_the_run_and_says_when():
    scenario = big()
    seen = []

    def stop_at_the_third(p):
        seen.append(p)
        return len(seen) == 3

    with pytest.raises(RunStopped) as e:
        sim.run(scenario, "orchestration", progress=stop_at_the_third)
    assert len(seen) == 3
    assert e.value.t == seen[-1].t < sim.run(scenario, "orchestration", keep_events=False).sim.env.now
    message = str(e.value)
    assert message.startswith(f"stopped by you at t={seen[-1].t:g}")
    assert f"{seen[-1].started:,} of {SAGAS:,} sagas started" in message and "\n" not in message
    assert not isinstance(e.value, RunLimitError)        # a stopped run was not too big


def test_an_exception_from_the_report_goes_through_the_run_untouched():
    """The app's report calls Streamlit, which may raise its rerun exception (a BaseException) inside it."""
    class Rerun(BaseException):
        pass

    def rerun(p):
        raise Rerun

    with pytest.raises(Rerun):
        sim.run(big(), "choreography", progress=rerun)
    assert sim.run(sim.load_scenario(LOAD), "choreography").outcomes       # nothing left behind


def test_the_work_budget_holds_while_a_watcher_is_on(monkeypatch):
    monkeypatch.setattr("sim.engine.kernel.MAX_WORK", 2_000)
    monkeypatch.setattr("sim.engine.simulation.check_budget", lambda *a: None)      # the counter, not the estimate
    scenario = sim.load_scenario(LOAD)
    reports = []
    with pytest.raises(RunLimitError) as e:
        Sim(scenario, "orchestration", 1, scenario.faults, keep_events=False).watch(reports.append, every=500).run()
    assert str(e.value).startswith("the run did more than 2,000 units of work")
    assert [r.work - reports[0].work for r in reports] == [0, 500, 1000]
    assert reports[0].work <= 500 + 5              # the first after 500 units (a few come before the watch)


@pytest.mark.parametrize("every", [0, -3, 1.5, True, "10"])
def test_a_bad_interval_is_refused(every):
    scenario = sim.load_scenario("scenarios/happy-path.yaml")
    with pytest.raises(ValueError):
        Sim(scenario, "choreography", 1, ()).watch(print, every=every)
