"""The browser app through Streamlit's AppTest: every control, without a browser.

The stage's clock and buttons live in the browser (``ui/component/stage.js``),
which AppTest does not run: these tests read what the stage is handed (its JSON
data) and stand in for what it sends back, through the same session state its
callbacks write (the time it reports when paused, an instructor's press). The
real round trip is tested in ``test_browser.py``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import sim
from ui import play, replay, runs

APP = str(Path(__file__).resolve().parent.parent / "page.py")
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


def click(at: AppTest, key: str) -> AppTest:
    return ok(at.button(key=key).click().run())


def stage(at: AppTest) -> dict:
    """What the stage component was handed (its JSON data): the runs, the clock, the instructor's panel."""
    return json.loads(at.get("bidi_component")[0].proto.json)


def compare_table(at: AppTest) -> dict:
    """The comparison table as {row label: {style: value}}."""
    frame = at.table[0].value
    return {label: dict(row) for label, row in frame.iterrows()}


def outcomes(at: AppTest) -> dict:
    """Each shown style's outcomes, as the stage has them."""
    return {r["style"]: r["outcomes"] for r in stage(at)["runs"]}


def paused_at(at: AppTest, t: float, **ui) -> AppTest:
    """The stage reports a paused clock at ``t`` (what its "ui" state tells Python on a pause or a scrub)."""
    at.session_state["t"] = t
    at.session_state["playing"] = False
    for key, value in ui.items():
        at.session_state[key] = value
    return ok(at.run())


def press(at: AppTest, kind: str, target: str = "payment", t: float | None = None, **more) -> AppTest:
    """An instructor's button on the stage, pressed at the time on screen: what its "inject" trigger hands the
    script (the component's callback stores exactly this)."""
    value = {"kind": kind, "target": target, "message": None, "duration": 5, "often": "once",
             "t": at.session_state["t"] if t is None else t, **more}
    at.session_state["_stage_inject"] = value
    return ok(at.run())


def whole(at: AppTest) -> AppTest:
    """Tick "Show the whole run": the charts and the comparison show what lies ahead."""
    at.session_state["reveal"] = True
    return ok(at.run())


# ---------------------------------------------------------------- first screen and picking


def test_first_screen_opens_lesson_one_with_both_styles_on_the_stage():
    at = app()
    data = stage(at)
    assert at.selectbox(key="w_scenario").value == "happy-path"        # lesson 1: where a newcomer starts
    assert "start here" in at.selectbox(key="w_scenario").format_func("happy-path")
    assert [r["style"] for r in data["runs"]] == ["choreography", "orchestration"]
    assert data["clock"] == {"id": 1, "t": 0.0, "playing": False, "speed": 1.0}
    assert data["panel"]["targets"] == ["order", "payment", "inventory", "orchestrator"]
    assert "How to use" in texts(at)
    assert at.session_state.t == 0 and not at.session_state.playing
    assert at.query_params["style"] == "both"


def test_pick_another_scenario_starts_fresh_and_moves_the_stage_clock():
    at = app()
    paused_at(at, 2.0)
    press(at, "fail")
    assert at.session_state.faults
    clock = stage(at)["clock"]["id"]
    ok(at.selectbox(key="w_scenario").set_value("out-of-stock").run())
    assert "Alice and Bob both order" in texts(at)
    assert at.session_state.faults == [] and at.session_state.t == 0
    assert stage(at)["clock"]["id"] == clock + 1 and stage(at)["clock"]["t"] == 0   # the stage is told to restart
    assert at.query_params["scenario"] == "out-of-stock"


def test_single_style_shows_one_run_and_no_comparison():
    at = whole(app(scenario="happy-path"))
    ok(at.segmented_control(key="w_style").set_value("orchestration").run())
    assert [r["style"] for r in stage(at)["runs"]] == ["orchestration"]
    assert not at.table
    assert at.query_params["style"] == "orchestration"


# ---------------------------------------------------------------- the clock: in the browser, told when it matters


def test_a_paused_clock_reaches_the_charts_and_the_link():
    at = paused_at(app(scenario="happy-path"), 2.5, speed=2.0, tab="log", chart="state")
    assert at.query_params["t"] == "2.5" and at.query_params["speed"] == "2"
    assert at.query_params["view"] == "log" and at.query_params["chart"] == "state"
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    nows = [a["text"] for s in specs for a in s["layout"].get("annotations", []) if "now" in str(a.get("text"))]
    assert nows.count("now t=2.5") == 2                       # both styles
    assert stage(at)["clock"]["id"] == 1                      # the stage's own report does not move its clock


def test_the_future_is_hidden_until_the_end_or_the_reveal():
    at = paused_at(app(scenario="out-of-stock"), 2.0)
    assert not at.table and "which style will finish first" in texts(at)
    covers = [sh for c in at.get("plotly_chart") for sh in json.loads(c.proto.spec)["layout"].get("shapes", [])
              if sh.get("type") == "rect" and sh.get("x0") == 2.0]
    assert len(covers) == 2                                   # what lies ahead is covered, in both charts
    end = max(r["end"] for r in stage(at)["runs"])
    paused_at(at, end)
    assert at.table                                           # at the end the comparison shows
    paused_at(at, 2.0, reveal=True)
    assert at.table and stage(at)["reveal"] is True


def test_a_link_opens_paused_at_its_moment():
    at = app(scenario="out-of-stock", t="3.5", speed="0.5", view="log")
    data = stage(at)
    assert data["clock"] == {"id": 1, "t": 3.5, "playing": False, "speed": 0.5} and data["tab"] == "log"
    bad = app(scenario="out-of-stock", t="soon", speed="9")
    assert any("not a time" in w.value for w in bad.warning) and any("speed" in w.value for w in bad.warning)
    assert stage(bad)["clock"]["t"] == 0


# ---------------------------------------------------------------- the instructor's panel


def test_fail_payment_makes_the_happy_path_compensate():
    at = app(scenario="happy-path")
    assert outcomes(at) == {"choreography": {"1": "completed"}, "orchestration": {"1": "completed"}}
    press(at, "fail")
    assert at.session_state.faults == ["payment:fail:saga=1,times=1"]
    assert outcomes(at) == {"choreography": {"1": "compensated"}, "orchestration": {"1": "compensated"}}
    assert stage(at)["panel"]["faults"][0]["text"].startswith("payment fails")


def test_injection_is_stamped_with_the_time_on_screen_and_keeps_the_past():
    at = paused_at(app(scenario="happy-path"), 1.0)
    before = stage(at)
    press(at, "fail", t=1.234)                                # the clock went on in the browser: 1.234 on screen
    after = stage(at)
    assert at.session_state.faults == ["payment:fail:saga=1,at=1.24,times=1"]     # never before what was shown
    assert after["runs_id"] != before["runs_id"] and after["clock"]["id"] == before["clock"]["id"]
    for old, new in zip(before["runs"], after["runs"]):
        assert [m for m in old["log"] if m[0] < 1.234] == [m for m in new["log"] if m[0] < 1.234]


def test_fail_compensation_every_time_leaves_a_saga_stuck():
    at = press(app(scenario="out-of-stock"), "compensation_fail", often="every time")
    assert at.session_state.faults == ["payment:compensation_fail"]
    assert all(o["2"] == "stuck" for o in outcomes(at).values())


def test_crash_a_service_for_a_while_delays_the_saga():
    at = app(scenario="happy-path")
    before = [r["end"] for r in stage(at)["runs"]]
    press(at, "crash")
    assert at.session_state.faults == ["payment:crash:recover_after=5"]
    assert all(a > b for a, b in zip([r["end"] for r in stage(at)["runs"]], before))
    assert outcomes(at)["choreography"] == {"1": "completed"}


def test_the_orchestrator_can_only_crash_or_be_slow():
    at = press(app(scenario="happy-path"), "fail", target="orchestrator")
    assert at.session_state.faults == []
    assert "only crash or be slow" in stage(at)["panel"]["error"]
    press(at, "crash", target="orchestrator")
    assert at.session_state.faults == ["orchestrator:crash:recover_after=5"]


def test_slow_a_service_past_the_timeout():
    at = whole(press(app(scenario="happy-path"), "slow", duration=15))
    assert at.session_state.faults == ["payment:slow:by=15"]
    assert int(compare_table(at)["Timeouts"]["orchestration"]) > 0


def test_drop_duplicate_and_delay_the_next_message():
    at = press(app(scenario="happy-path"), "drop", message="PaymentCompleted")
    assert at.session_state.faults == ["broker:drop:message=PaymentCompleted"]
    assert outcomes(at)["choreography"] == {"1": "in_flight"}    # nobody waits for a lost event
    table = compare_table(whole(at))                            # said in words, not as a raw outcome name
    assert table["Outcomes"]["choreography"] == "saga 1 still in flight"
    assert table["Duration (time units)"]["choreography"] == "not over: 1 saga still in flight"
    at.session_state["reveal"] = False
    at.session_state["faults"] = []
    press(at, "duplicate", message="OrderCreated")
    assert at.session_state.faults == ["broker:duplicate:message=OrderCreated"]
    assert outcomes(at)["choreography"] == {"1": "completed"}     # idempotent consumers
    at.session_state["faults"] = []
    before = stage(ok(at.run()))["runs"][0]["end"]
    press(at, "delay", message="OrderCreated")
    assert at.session_state.faults == ["broker:delay:by=5,message=OrderCreated"]
    assert stage(at)["runs"][0]["end"] == before + 5


@pytest.mark.parametrize("value, problem", [
    ("explode", "the button sent nothing readable"),
    ({"kind": "explode", "target": "payment", "t": 1}, "no button makes a fault of kind"),
    ({"kind": "fail", "target": "bank", "t": 1}, "'bank' is not a service"),
    ({"kind": "fail", "target": "payment", "t": "soon"}, "must be a number"),
    ({"kind": "crash", "target": "payment", "t": 1, "duration": 0}, "from 0.1 to 1000"),
    ({"kind": "drop", "target": "payment", "t": 1, "message": "Nope"}, "Nope"),
])
def test_a_press_that_makes_no_sense_is_refused_in_one_line(value, problem):
    at = app(scenario="happy-path")
    at.session_state["_stage_inject"] = value
    ok(at.run())
    assert at.session_state.faults == []
    assert problem in stage(at)["panel"]["error"]


def test_the_fault_list_the_stage_drew_from_its_route_is_adopted_checked_again():
    """The stage asked ui.api for the new runs and drew them; the session takes the list it was told (the
    component's callback stores exactly this), so its runs are the ones on screen."""
    from ui import api
    at = app(scenario="happy-path")
    text = (Path(APP).parent / "scenarios" / "happy-path.yaml").read_text(encoding="utf-8")
    answer = api.inject_answer({"scenario": api.register(text, "scenarios/happy-path.yaml"),
                                "styles": ["choreography", "orchestration"], "seed": at.session_state["seed"],
                                "faults": [], "press": {"kind": "fail", "target": "payment", "t": 0.0}})
    at.session_state["_stage_adopt"] = answer["faults"]
    ok(at.run())
    assert at.session_state.faults == answer["faults"]
    assert stage(at)["runs_id"] == answer["runs_id"]                      # the runs the stage already shows
    for bad, problem in ((["payment:explode"], "kind must be one of"), ("payment:fail", "no readable fault list"),
                         ([1, 2], "no readable fault list")):
        at.session_state["_stage_adopt"] = bad
        ok(at.run())
        assert at.session_state.faults == answer["faults"]                # nothing taken
        assert problem in stage(at)["panel"]["error"]


def test_typed_fault_is_validated_inline():
    at = app(scenario="happy-path")
    at.expander[-1]
    at.text_input(key="w_spec").input("payment:explode")
    at.button(key="FormSubmitter:typed_fault-Add").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and "kind must be one of" in at.error[0].value
    assert at.session_state.faults == []
    at.text_input(key="w_spec").input("inventory:fail:saga=1")
    ok(at.button(key="FormSubmitter:typed_fault-Add").click().run())
    assert at.session_state.faults == ["inventory:fail:saga=1"]


def test_faults_are_listed_on_the_stage_and_travel_in_the_link():
    at = press(press(app(scenario="happy-path"), "fail"), "crash")
    assert [f["spec"] for f in stage(at)["panel"]["faults"]] == at.session_state.faults
    assert len(at.session_state.faults) == 2 and len(at.query_params["fault"]) == 2


# ---------------------------------------------------------------- side by side


def test_side_by_side_compares_the_styles():
    at = whole(app(scenario="out-of-stock"))
    table = compare_table(at)
    for row in ("Duration (time units)", "Messages delivered", "Compensations", "Retries", "Outcomes",
                "Where saga state lives", "Subscriptions per component"):
        assert set(table[row]) == {"choreography", "orchestration"}
    assert "orchestrator's saga log" in table["Where saga state lives"]["orchestration"]
    assert int(table["Messages delivered"]["orchestration"]) > int(table["Messages delivered"]["choreography"])
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any("compared" in (s["layout"].get("title") or {}).get("text", "") for s in specs)


def test_charts_switch_share_one_time_range_and_explain_what_a_style_lacks():
    at = paused_at(app(scenario="happy-path"), 2.0)
    for which in ("timeline", "saga_log", "state"):
        ok(at.segmented_control(key="w_chart").set_value(which).run())
        ranges = [json.loads(c.proto.spec)["layout"]["xaxis"]["range"] for c in at.get("plotly_chart")]
        if which == "saga_log":
            assert len(ranges) == 1 and "Choreography keeps no saga log" in texts(at)
        else:
            assert len(ranges) == 2 and ranges[0] == ranges[1]


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
    assert "Your edited scenario" in at.selectbox(key="w_scenario").format_func("custom")
    assert outcomes(at) == {"choreography": {"1": "completed"}, "orchestration": {"1": "completed"}}
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
    # one Mermaid file per style: each is one renderable sequenceDiagram
    assert {"Download", "Run as JSON", "Mermaid: choreography", "Mermaid: orchestration"} <= labels


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
    assert stage(at)["panel"] is None                        # a recorded run: no instructor's panel
    assert outcomes(at)["orchestration"] == {"1": "compensated"}
    assert dict(at.query_params) == {}                   # no link can reproduce a replay: the bar says none


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
    assert any("Simulated 1,000 sagas with choreography and orchestration." in c.value for c in at.caption)
    assert not at.get("bidi_component")                      # measured, not animated


# ---------------------------------------------------------------- sharing and sessions


def test_url_round_trip():
    at = app(scenario="happy-path", style="orchestration", seed="3", fault="payment:fail:saga=1")
    assert at.session_state.scenario == "happy-path" and at.session_state.style == "orchestration"
    assert at.session_state.seed == 3 and at.session_state.faults == ["payment:fail:saga=1"]
    press(at, "crash")
    assert at.query_params["scenario"] == "happy-path"
    assert at.query_params["style"] == "orchestration" and at.query_params["seed"] == "3"
    assert at.query_params["fault"] == ["payment:fail:saga=1", "payment:crash:recover_after=5"]


def test_a_links_fault_is_kept_in_its_one_spelling():
    """A hand-written link may spell a fault its own way; the session keeps the fault's own spec, so the link
    it shares, the room and the runs' cache agree with a press of the same fault."""
    at = app(scenario="happy-path", fault=" payment : fail : times=1.0,saga=01 ")
    assert at.session_state.faults == ["payment:fail:saga=1,times=1"]


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
    press(instructor, "fail")
    ok(learner.run())
    assert instructor.session_state.faults and learner.session_state.faults == []
    assert outcomes(learner)["choreography"] == {"1": "completed"}
    assert outcomes(instructor)["choreography"] == {"1": "compensated"}
    author(learner).text_area(key="w_yaml").input(HAPPY)
    click(learner, "run_edit")
    ok(instructor.run())
    assert instructor.session_state.scenario == "happy-path"


def test_a_fault_that_strikes_nothing_says_so():
    at = app(scenario="happy-path")
    paused_at(at, max(r["end"] for r in stage(at)["runs"]))   # every step is done: failing payment changes nothing
    press(at, "fail")
    assert stage(at)["panel"]["faults"][0]["note"] == "no effect in this run"
    assert outcomes(at)["choreography"] == {"1": "completed"}


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
    if at.get("bidi_component"):                              # the stage (the load view has none)
        data = stage(at)
        assert data["runs"] and not data["errors"] and len(json.dumps(data)) < 2_000_000
        end = max(r["end"] for r in data["runs"])
        for t in (end / 3, end):
            paused_at(at, t)
        shown = at.segmented_control(key="w_chart").options
        for which in [k for k, label in play.CHART_LABELS.items() if label in shown]:
            ok(at.segmented_control(key="w_chart").set_value(which).run())
    else:
        assert compare_table(at)["Sagas"]
