"""The browser app through Streamlit's AppTest: every control, without a browser.

AppTest runs the whole script on each ``run()`` (fragments included, their
``run_every`` timer never fires), so "one tick" of the playback clock is one
``run()`` while playing.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import sim
from ui import replay, runs

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60

HAPPY = """\
name: tiny
title: A tiny shop
summary: Alice buys one widget.
customers: {alice: {balance: 100}}
stock: {widget: 5}
orders:
  - {customer: alice, item: widget, qty: 1, price: 30, at: 0}
"""


def app(**query) -> AppTest:
    """The app after its first run, opened with ``query`` in the URL."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return ok(at.run())


NARRATION = ":material/bolt:"      # the icon of the red box that tells a failure in the run (not an app error)


def errors(at: AppTest) -> list:
    """The app's error messages (not the red box that narrates a failure in the run)."""
    return [e.value for e in at.error if e.icon != NARRATION]


def ok(at: AppTest) -> AppTest:
    """No exception and no error box (every user path shows one line, never a traceback)."""
    assert not at.exception, [e.value for e in at.exception]
    assert not errors(at), errors(at)
    return at


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def log_count(at: AppTest) -> list:
    """Per shown style, how many events the log shows so far."""
    return [int(n) for n in re.findall(r"\*\*Event log\*\* \((\d+) of", texts(at))]


def compare_table(at: AppTest) -> dict:
    """The comparison table as {row label: {style: value}}."""
    frame = at.table[0].value
    return {label: dict(row) for label, row in frame.iterrows()}


def outcomes(at: AppTest) -> dict:
    return compare_table(at)["Outcomes"]


def click(at: AppTest, key: str) -> AppTest:
    return ok(at.button(key=key).click().run())


# ---------------------------------------------------------------- first screen and picking


def test_first_screen_shows_both_styles_ready_to_play():
    at = app()
    subheaders = [s.value for s in at.subheader]
    assert "Choreography" in subheaders and "Orchestration" in subheaders
    assert at.button(key="play").label == "Play"
    assert "How to use" in texts(at)
    assert len(at.get("plotly_chart")) >= 4          # topology and a detail figure per style, the comparison
    assert at.session_state.t == 0 and not at.session_state.playing
    assert at.query_params["style"] == "both"


def test_pick_another_scenario_shows_its_story_and_starts_fresh():
    at = app()
    at.button(key="inject_fail").click().run()
    assert at.session_state.faults
    ok(at.radio(key="w_scenario").set_value("happy-path").run())
    assert "The happy path" in texts(at)
    assert at.session_state.faults == [] and at.session_state.t == 0
    assert at.query_params["scenario"] == "happy-path"


def test_single_style_shows_one_column_and_no_comparison():
    at = app(scenario="happy-path")
    ok(at.segmented_control(key="w_style").set_value("orchestration").run())
    subheaders = [s.value for s in at.subheader]
    assert "Orchestration" in subheaders and "Choreography" not in subheaders
    assert not at.table
    assert at.query_params["style"] == "orchestration"


# ---------------------------------------------------------------- play, step, scrub


def test_play_advances_the_clock_and_the_log():
    at = app(scenario="happy-path")
    before = log_count(at)
    click(at, "play")
    assert at.session_state.playing and at.button(key="pause").label == "Pause"
    for _ in range(3):
        ok(at.run())                                  # one clock tick each
    assert at.session_state.t > 0
    assert log_count(at)[0] >= before[0]
    click(at, "pause")                                # pause
    t = at.session_state.t
    ok(at.run())
    assert not at.session_state.playing and at.session_state.t == t


def test_step_forward_and_back_move_to_event_times():
    at = app(scenario="happy-path")
    click(at, "step_forward")
    first = at.session_state.t
    assert first > 0
    count = log_count(at)
    click(at, "step_forward")
    assert at.session_state.t > first
    assert log_count(at) > count
    click(at, "step_back")
    assert at.session_state.t == first
    click(at, "restart")
    assert at.session_state.t == 0


def test_playing_to_the_end_stops_and_offers_play_again():
    at = app(scenario="happy-path")
    end = at.slider(key="w_t").max
    ok(at.slider(key="w_t").set_value(end).run())
    assert at.session_state.t == end
    assert end > 0 and at.button(key="play").label == "Play again"
    click(at, "play")
    assert at.session_state.t == 0 and at.session_state.playing


def test_scrubber_sets_the_time_and_the_cards_follow():
    at = app(scenario="happy-path")
    ok(at.slider(key="w_t").set_value(3.0).run())
    assert at.session_state.t == 3.0
    balances = [m for m in at.metric if m.label == "alice"]
    assert balances and all(m.value == "70" for m in balances)   # charged 30 by t = 3 in both styles


def test_speed_changes_the_clock_rate():
    at = app(scenario="happy-path")
    ok(at.segmented_control(key="w_speed").set_value(4.0).run())
    assert at.session_state.speed == 4.0


# ---------------------------------------------------------------- the instructor's panel


def test_fail_payment_makes_the_happy_path_compensate():
    at = app(scenario="happy-path")
    assert outcomes(at) == {"choreography": "saga 1 completed", "orchestration": "saga 1 completed"}
    click(at, "inject_fail")
    assert at.session_state.faults == ["payment:fail:saga=1,times=1"]
    assert outcomes(at) == {"choreography": "saga 1 compensated", "orchestration": "saga 1 compensated"}


def test_injection_keeps_the_time_and_the_past():
    at = app(scenario="happy-path")
    ok(at.slider(key="w_t").set_value(1.5).run())
    log_before = log_count(at)
    click(at, "inject_fail")
    assert at.session_state.t == 1.5
    assert at.session_state.faults == ["payment:fail:saga=1,at=1.5,times=1"]
    assert log_count(at) == log_before                # nothing before now changed


def test_fail_compensation_every_time_leaves_a_saga_stuck():
    at = app(scenario="out-of-stock")
    at.segmented_control(key="w_how_often").set_value("every time")
    click(at, "inject_compensation_fail")
    assert at.session_state.faults == ["payment:compensation_fail"]
    assert all("saga 2 stuck" in o for o in outcomes(at).values())


def test_crash_a_service_for_a_while_delays_the_saga():
    at = app(scenario="happy-path")
    before = float(compare_table(at)["Duration (time units)"]["choreography"])
    click(at, "inject_crash")
    assert at.session_state.faults == ["payment:crash:recover_after=5"]
    after = float(compare_table(at)["Duration (time units)"]["choreography"])
    assert after > before
    assert outcomes(at)["choreography"] == "saga 1 completed"


def test_crash_the_orchestrator_only_offers_crash_and_slow():
    at = app(scenario="happy-path")
    ok(at.segmented_control(key="w_target").set_value("orchestrator").run())
    assert at.button(key="inject_fail").disabled and at.button(key="inject_compensation_fail").disabled
    click(at, "inject_crash")
    assert at.session_state.faults == ["orchestrator:crash:recover_after=5"]


def test_slow_a_service_past_the_timeout():
    at = app(scenario="happy-path")
    at.number_input(key="w_duration").set_value(15.0)
    click(at, "inject_slow")
    assert at.session_state.faults == ["payment:slow:by=15"]
    assert int(compare_table(at)["Timeouts"]["orchestration"]) > 0


def test_drop_duplicate_and_delay_the_next_message():
    at = app(scenario="happy-path")
    at.selectbox(key="w_message").set_value("PaymentCompleted")
    click(at, "inject_drop")
    assert at.session_state.faults == ["broker:drop:message=PaymentCompleted"]
    assert outcomes(at)["choreography"] == "saga 1 in_flight"     # nobody waits for a lost event
    click(at, "reset_faults")
    at.selectbox(key="w_message").set_value("OrderCreated")
    click(at, "inject_duplicate")
    assert at.session_state.faults == ["broker:duplicate:message=OrderCreated"]
    assert outcomes(at)["choreography"] == "saga 1 completed"     # idempotent consumers
    click(at, "reset_faults")
    before = float(compare_table(at)["Duration (time units)"]["choreography"])
    at.selectbox(key="w_message").set_value("OrderCreated")
    click(at, "inject_delay")
    assert at.session_state.faults == ["broker:delay:by=5,message=OrderCreated"]
    assert float(compare_table(at)["Duration (time units)"]["choreography"]) == before + 5


def test_typed_fault_is_validated_inline():
    at = app(scenario="happy-path")
    at.text_input(key="w_spec").input("payment:explode")
    at.button(key="FormSubmitter:typed_fault-Add").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and "kind must be one of" in at.error[0].value
    assert at.session_state.faults == []
    at.text_input(key="w_spec").input("inventory:fail:saga=1")
    ok(at.button(key="FormSubmitter:typed_fault-Add").click().run())
    assert at.session_state.faults == ["inventory:fail:saga=1"]


def test_remove_one_fault_and_reset_all():
    at = app(scenario="happy-path")
    click(at, "inject_fail")
    click(at, "inject_crash")
    assert len(at.session_state.faults) == 2
    assert len(at.query_params["fault"]) == 2
    click(at, "remove_0")
    assert at.session_state.faults == ["payment:crash:recover_after=5"]
    click(at, "reset_faults")
    assert at.session_state.faults == []
    assert "fault" not in at.query_params
    assert outcomes(at)["orchestration"] == "saga 1 completed"


# ---------------------------------------------------------------- side by side


def test_side_by_side_compares_the_styles():
    at = app(scenario="out-of-stock")
    table = compare_table(at)
    for row in ("Duration (time units)", "Messages delivered", "Compensations", "Retries", "Outcomes",
                "Where saga state lives", "Subscriptions per component"):
        assert set(table[row]) == {"choreography", "orchestration"}
    assert "orchestrator's saga log" in table["Where saga state lives"]["orchestration"]
    assert int(table["Messages delivered"]["orchestration"]) > int(table["Messages delivered"]["choreography"])
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any("compared" in (s["layout"].get("title") or {}).get("text", "") for s in specs)


def test_detail_figure_switches_and_marks_now():
    at = app(scenario="happy-path")
    ok(at.slider(key="w_t").set_value(2.0).run())
    for which in ("timeline", "saga_log", "state", "sequence"):
        ok(at.segmented_control(key="w_detail").set_value(which).run())
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    nows = [a["text"] for s in specs for a in s["layout"].get("annotations", []) if "now" in str(a.get("text"))]
    assert "now t=2" in nows


# ---------------------------------------------------------------- author: edit, upload, download, replay


def author(at: AppTest) -> AppTest:
    return ok(at.segmented_control(key="w_view").set_value("author").run())


def test_editor_shows_a_bad_yaml_error_inline():
    at = author(app())
    at.text_area(key="w_yaml").input("name: [unclosed\n")
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "edited scenario" in at.error[0].value and "YAML" in at.error[0].value
    assert "Traceback" not in at.error[0].value
    assert at.button(key="run_edit").disabled


def test_editor_names_the_bad_field():
    at = author(app())
    at.text_area(key="w_yaml").input(HAPPY.replace("customer: alice", "customer: zoe"))
    at.run()
    assert not at.exception
    assert "orders[0].customer" in at.error[0].value and "zoe" in at.error[0].value


def test_a_valid_edit_runs():
    at = author(app())
    at.text_area(key="w_yaml").input(HAPPY)
    ok(at.run())
    click(at, "run_edit")
    assert at.session_state.view == "play" and at.session_state.scenario == "custom"
    assert "A tiny shop" in texts(at)
    assert outcomes(at) == {"choreography": "saga 1 completed", "orchestration": "saga 1 completed"}
    assert at.query_params["scenario"] == "custom"     # an edited scenario cannot go in a link, only its mark
    opened = app(**at.query_params)
    assert "edited scenario" in " ".join(w.value for w in opened.warning)


def test_upload_a_scenario_and_refuse_bad_ones():
    at = author(app())
    ok(at.file_uploader(key="w_upload").upload("tiny.yaml", HAPPY.encode(), "text/yaml").run())
    assert at.text_area(key="w_yaml").value == HAPPY
    bad = b"name: tiny\ncustomers: 3\nstock: {w: 1}\n"
    at.file_uploader(key="w_upload").set_value(("bad.yaml", bad, "text/yaml")).run()
    assert not at.exception and "bad.yaml" in at.error[0].value and "customers" in at.error[0].value
    at.file_uploader(key="w_upload").set_value(("big.yaml", b"#" * 1_100_000, "text/yaml")).run()
    assert not at.exception and "at most" in at.error[0].value
    at.file_uploader(key="w_upload").set_value(("bin.yaml", b"\xff\xfe\x00", "text/yaml")).run()
    assert not at.exception and "UTF-8" in at.error[0].value


def test_downloads_are_offered():
    at = author(app())
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Download", "Run as JSON", "Mermaid"} <= labels


def _run_file() -> bytes:
    """What "Download the run" writes for the happy path with payment failing."""
    sc = sim.parse_scenario(HAPPY, "tiny.yaml")
    found = [runs.Shown(("x", s), s, sim.run(sc, s, faults=["payment:fail:saga=1"]).to_dict())
             for s in sim.STYLES]
    return replay.export(sc.name, HAPPY, found).encode()


def test_replay_a_downloaded_run():
    at = author(app())
    ok(at.file_uploader(key="w_run_file").upload("run.json", _run_file(), "application/json").run())
    assert at.session_state.view == "play" and at.session_state.replay
    assert any("Replaying" in i.value for i in at.info)
    assert not at.get("button") or not any(b.key == "inject_fail" for b in at.button)
    assert outcomes(at)["orchestration"] == "saga 1 compensated"
    click(at, "step_forward")
    assert at.session_state.t > 0


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "not valid JSON"),
    (b'{"runs": []}', "runs is empty"),
    (b'{"runs": [{"style": "jazz", "events": []}]}', "style"),
    (b'[1, 2, 3]', "not a saga run file"),
    (b'{"runs": [{"style": "choreography", "events": [{"kind": "x", "t": "soon"}], "outcomes": {}, '
     b'"metrics": {}, "initial_state": {}, "services": []}]}', "events[0].t"),
])
def test_a_bad_run_file_gets_one_clear_message(content, problem):
    at = author(app())
    at.file_uploader(key="w_run_file").upload("bad.json", content, "application/json").run()
    assert not at.exception
    assert len(at.error) == 1 and problem in at.error[0].value and "\n" not in at.error[0].value
    assert not at.session_state.replay


# ---------------------------------------------------------------- load view


def test_load_view_measures_instead_of_animating():
    text = HAPPY.replace("orders:\n  - {customer: alice, item: widget, qty: 1, price: 30, at: 0}\n",
                         "load: {count: 1000, every: 0.5, price: 1}\n").replace("widget: 5", "widget: 5000")
    text = text.replace("balance: 100", "balance: 100000")
    at = author(app())
    at.text_area(key="w_yaml").input(text)
    ok(at.run())
    click(at, "run_edit")
    table = compare_table(at)
    assert table["Sagas"] == {"choreography": "1,000", "orchestration": "1,000"}
    for row in ("Throughput (sagas per time unit)", "Latency p50", "Latency p95", "Latency p99", "Outcomes"):
        assert row in table
    assert at.get("progress")
    assert not any(b.key == "play" for b in at.button)


# ---------------------------------------------------------------- sharing and sessions


def test_url_round_trip():
    at = app(scenario="happy-path", style="orchestration", seed="3", fault="payment:fail:saga=1")
    assert at.session_state.scenario == "happy-path" and at.session_state.style == "orchestration"
    assert at.session_state.seed == 3 and at.session_state.faults == ["payment:fail:saga=1"]
    assert outcomes(at) if at.table else True
    click(at, "inject_crash")
    assert at.query_params["scenario"] == "happy-path"
    assert at.query_params["style"] == "orchestration" and at.query_params["seed"] == "3"
    assert at.query_params["fault"] == ["payment:fail:saga=1", "payment:crash:recover_after=5"]


def test_a_bad_link_is_explained_not_fatal():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"scenario": "no-such", "style": "jazz", "seed": "x", "fault": "payment:explode"})
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "no-such" in warnings and "jazz" in warnings and "seed" in warnings and "payment:explode" in warnings
    assert at.session_state.faults == []


def test_two_sessions_do_not_share_faults():
    instructor = app(scenario="happy-path")
    learner = app(scenario="happy-path")
    click(instructor, "inject_fail")
    ok(learner.run())
    assert instructor.session_state.faults and learner.session_state.faults == []
    assert outcomes(learner)["choreography"] == "saga 1 completed"
    assert outcomes(instructor)["choreography"] == "saga 1 compensated"
    author(learner).text_area(key="w_yaml").input(HAPPY)
    click(learner, "run_edit")
    ok(instructor.run())
    assert instructor.session_state.scenario == "happy-path"


def test_a_fault_that_strikes_nothing_says_so():
    at = app(scenario="happy-path")
    end = at.slider(key="w_t").max
    ok(at.slider(key="w_t").set_value(end).run())   # every step is done: failing payment now changes nothing
    click(at, "inject_fail")
    assert "no effect in this run" in texts(at)
    assert any("nothing it can strike" in t.value for t in at.toast)
    assert outcomes(at)["choreography"] == "saga 1 completed"


def test_run_file_round_trip_and_mermaid():
    raw = _run_file()
    name, found = replay.read_run_file(raw, "run.json")
    assert name == "tiny" and [r["style"] for r in found] == ["choreography", "orchestration"]
    text = replay.mermaid([runs.Shown(("x",), r["style"], r) for r in found])
    assert text.startswith("%% choreography\nsequenceDiagram") and "%% orchestration" in text


@pytest.mark.parametrize("name", [e.name for e in runs.library()[0]])
def test_every_library_scenario_opens_and_plays(name):
    at = app(scenario=name)
    assert at.session_state.scenario == name
    if any(b.key == "step_forward" for b in at.button):       # the player (the load view has none)
        for _ in range(3):
            click(at, "step_forward")
        ok(at.slider(key="w_t").set_value(at.slider(key="w_t").max).run())
        for which in at.segmented_control(key="w_detail").options:
            ok(at.segmented_control(key="w_detail").set_value(which).run())
    else:
        assert compare_table(at)["Sagas"]
