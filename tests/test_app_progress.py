"""A long run in the app shows its progress and can be stopped (issue 14), through AppTest.

AppTest cannot press a button while the script runs, so the press is stood in for as Streamlit does it:
the Stop button's callback (``runs._stop``) and Streamlit's interruption raised at the bar's redraw. The
real round trip, a press in a browser while a run goes on, is ``test_browser_stop.py``.
"""
from __future__ import annotations

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.testing.v1 import AppTest

from helpers import clear_run_cache
from test_app import APP, TIMEOUT, compare_table, errors, ok
from test_explore_view import _explore_page
from ui import runs


@pytest.fixture
def watched(monkeypatch):
    """Every run of the page is watched, with a report every 500 units of work; the reports seen."""
    monkeypatch.setattr(runs, "SHOW_PROGRESS_WORK", 1)
    monkeypatch.setattr("sim.engine.kernel.REPORT_EVERY", 500)
    clear_run_cache()
    seen = []
    real = runs.Watcher.__call__

    def spy(self, where):
        seen.append((self.style, where))
        return real(self, where)
    monkeypatch.setattr(runs.Watcher, "__call__", spy)
    yield seen
    clear_run_cache()


def load_mixed(seed: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(scenario="load-mixed", seed=seed)
    return at.run()


def buttons(at: AppTest) -> set:
    return {b.key for b in at.button}


def test_a_long_run_shows_its_progress_and_leaves_only_its_result(watched):
    at = ok(load_mixed("11"))
    for style in ("choreography", "orchestration"):
        fractions = [runs.Watcher.fraction(w) for s, w in watched if s == style]
        assert len(fractions) >= 3 and fractions == sorted(fractions) and 0 < fractions[0] < fractions[-1] < 1
    assert not {k for k in buttons(at) if k.startswith(("w_stop_", "w_run_again"))}     # the bars are gone
    assert compare_table(at)["Sagas"] == {"choreography": "2,000", "orchestration": "2,000"}
    assert not at.session_state["_stopped_runs"]


@pytest.mark.parametrize("stop_in", ["choreography", "orchestration"])
def test_a_stopped_run_says_when_keeps_nothing_and_runs_again_only_when_asked(watched, monkeypatch, stop_in):
    """The page runs choreography, then orchestration. A press during the first stops it and the second does
    not start; during the second, the first is kept."""
    pressed = []
    spy = runs.Watcher.__call__

    def press_stop_once(self, where):
        spy(self, where)
        if self.style == stop_in and where.work > 5_000 and not pressed:
            pressed.append(where)
            runs._stop(self.key)          # the button's callback (first thing in the script run after the press)
            raise StopException()         # Streamlit interrupts the script at the bar's redraw
        return False
    monkeypatch.setattr(runs.Watcher, "__call__", press_stop_once)
    at = load_mixed("12")
    assert pressed and not at.exception
    at.run()                              # the page after the press
    assert not at.exception and not errors(at)             # notices, not errors
    where = pressed[0]
    said = {e.value.split()[1]: e.value for e in at.info if "stopped" in e.value}
    other = "orchestration" if stop_in == "choreography" else "choreography"
    assert said[stop_in] == (f"The {stop_in} run was stopped by you at t={where.t:g}, {where.started:,} of 2,000 "
                             "sagas started; nothing of this run was kept. Press Run it again to start it over.")
    assert "w_run_again" in buttons(at) and not {k for k in buttons(at) if k.startswith("w_stop_")}
    if stop_in == "choreography":
        assert said[other] == "The orchestration run was not started: you stopped the choreography run."
        assert not [w for s, w in watched if s == other] and not runs._cache
        assert not at.table
    else:
        assert other not in said
        assert compare_table(at)["Sagas"] == {"choreography": "2,000"}
        assert any("Simulated 2,000 sagas with choreography." in c.value for c in at.caption)
        assert [k[2] for k in runs._cache] == ["choreography"]                # the stopped run is not cached
    n = len(watched)
    at.run()                                                                  # it does not start again by itself
    assert len(watched) == n and "w_run_again" in buttons(at)
    at.button(key="w_run_again").click().run()
    ok(at)
    assert len(watched) > n and "w_run_again" not in buttons(at)
    assert compare_table(at)["Sagas"] == {"choreography": "2,000", "orchestration": "2,000"}
    assert not at.session_state["_stopped_runs"]


def test_a_stopped_run_in_the_player_has_one_button_though_the_page_asks_for_it_twice():
    """The player asks for its runs twice (the bar above the stage, the stage): one notice, one button."""
    clear_run_cache()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(scenario="happy-path", style="orchestration")
    entry = next(e for e in runs.library()[0] if e.name == "happy-path")
    key = runs.run_key(entry.text, entry.source, "orchestration", None, ())
    at.session_state["_stopped_runs"] = {runs.situation(key): {"orchestration": "stopped by you at t=1."}}
    at.run()
    assert not at.exception
    assert [b.key for b in at.button if b.key.startswith("w_run_again")] == ["w_run_again"]
    at.button(key="w_run_again").click().run()
    ok(at)
    assert not at.session_state["_stopped_runs"]
    assert "w_run_again" not in buttons(at)


def test_a_stopped_sweep_in_the_explorer_keeps_nothing_and_explores_again_when_asked(monkeypatch):
    """The explorer's Stop: a press at a chunk's progress ends the sweep (its pool's tasks are cancelled),
    nothing is cached, the view says so and sweeps again only on "Explore again"."""
    import sim
    from ui import explore
    explore._cache.clear()
    real, calls = sim.explore, []

    def explore_and_press_stop(*args, progress=None, **kw):
        calls.append(kw.get("workers"))

        def pressed(done, total):
            progress(done, total)
            if done and len(calls) == 1:
                explore._stop(stopped_key())                              # the button's callback
                raise StopException()                                     # Streamlit's interruption
        return real(*args, progress=pressed, **kw)

    def stopped_key():
        entry = next(e for e in runs.library()[0] if e.name == "payment-declined")
        return (runs.text_id(entry.text), entry.source, None)
    monkeypatch.setattr(sim, "explore", explore_and_press_stop)
    at = AppTest.from_function(_explore_page, default_timeout=TIMEOUT)
    at.query_params.update(scenario="payment-declined")
    at.run()
    assert not at.exception and len(calls) == 1 and not explore._cache
    at.run()                                        # the page after the press
    ok(at)
    assert [i.value for i in at.info] == ["Exploring was stopped by you; nothing of it was kept."]
    assert "w_explore_again" in buttons(at) and "w_explore_stop" not in buttons(at) and not at.get("plotly_chart")
    at.run()
    assert len(calls) == 1                          # not again by itself
    at.button(key="w_explore_again").click().run()
    ok(at)
    assert len(calls) == 2 and len(explore._cache) == 1 and len(at.get("plotly_chart")) == 2
    assert "w_explore_stop" not in buttons(at) and not at.get("progress")
    at.run()
    assert len(calls) == 2                          # cached
    explore._cache.clear()


def test_a_press_on_the_button_of_a_run_that_just_ended_stops_the_run_under_way():
    """The race: choreography's button pressed as it ends, while orchestration reports: orchestration stops."""
    from sim.engine import Progress
    at = AppTest.from_function(_press_late, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    stopped = at.session_state["_stopped_runs"]
    assert list(stopped.values()) == [{"orchestration": "The orchestration run was stopped by you at t=7, 3 of 10 "
                                                        "sagas started; nothing of this run was kept. Press Run it "
                                                        "again to start it over."}]
    assert Progress(7.0, 1, 3, 2, 10).stopped_words().startswith("stopped by you at t=7, 3 of 10")


def _press_late():
    import streamlit as st
    from sim.engine import Progress
    from ui import runs
    key = runs.run_key("text", "src", "choreography", 1, ())
    st.session_state["_run_progress"] = (runs.run_key("text", "src", "orchestration", 1, ()),
                                         Progress(7.0, 1, 3, 2, 10))
    runs._stop(key)
