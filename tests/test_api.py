"""The stage's routes (``ui/api.py``): an instructor's injection answered without a rerun, a learner's long poll.

The answers are checked against what the page itself computes (the same runs id, the same fault spec as a
press through a rerun), every malformed request is refused with one sentence and a 4xx status, and the
routes answer over HTTP in the real server (``streamlit run app.py``).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import classroom
import sim
import serve
from ui import api, inject, runs

ROOT = Path(__file__).resolve().parent.parent
HAPPY = (ROOT / "scenarios" / "happy-path.yaml").read_text(encoding="utf-8")
SOURCE = "scenarios/happy-path.yaml"
BOTH = ["choreography", "orchestration"]


def body(**change) -> dict:
    out = {"scenario": api.register(HAPPY, SOURCE), "styles": BOTH, "seed": None, "faults": [],
           "press": {"kind": "fail", "target": "payment", "t": 0.0, "duration": 5, "often": "once"}}
    out.update(change)
    return out


def test_an_injection_is_answered_with_the_runs_the_page_would_show():
    answer = api.inject_answer(body())
    scenario = sim.parse_scenario(HAPPY, SOURCE)
    before = runs.live_runs(HAPPY, SOURCE, BOTH, None, ())
    spec = inject.fault_from_press(body()["press"], scenario, before).to_spec()          # the page's own rule
    assert answer["spec"] == spec and answer["faults"] == [spec]
    after = runs.live_runs(HAPPY, SOURCE, BOTH, None, (spec,))
    assert answer["runs_id"] == api.runs_id(after) != api.runs_id(before)
    assert [r["style"] for r in answer["runs"]] == BOTH
    # simulated, not scripted: the payment's failure shows in the runs' own events
    kinds = {e["kind"] for s in after for e in s.run["events"]}
    assert "step_failed" in kinds and "step_failed" not in {e["kind"] for s in before for e in s.run["events"]}
    assert [f["spec"] for f in answer["panel"]["faults"]] == [spec]


def test_an_injection_keeps_the_faults_so_far_and_never_adds_one_twice():
    first = api.inject_answer(body())
    again = api.inject_answer(body(faults=first["faults"]))
    assert again["faults"] == first["faults"] and again["runs_id"] == first["runs_id"]
    crash = api.inject_answer(body(faults=first["faults"], press={"kind": "crash", "target": "inventory",
                                                                  "t": 0.5, "duration": 3}))
    assert crash["faults"][0] == first["spec"] and len(crash["faults"]) == 2
    assert crash["spec"].startswith("inventory:crash:") and "recover_after=3" in crash["spec"]


@pytest.mark.parametrize("press, says", [
    ({"kind": "explode", "target": "payment", "t": 1}, "no button makes a fault of kind"),
    ({"kind": "fail", "target": "nobody", "t": 1}, "is not a service of this scenario"),
    ({"kind": "fail", "target": "payment", "t": -1}, "the time on screen must be a number"),
    ({"kind": "crash", "target": "payment", "t": 1, "duration": 0}, "from 0.1 to 1000"),
    ({"kind": "drop", "target": "broker", "message": "Nope", "t": 1}, "is not a message of this scenario"),
    ({"kind": "fail", "target": "orchestrator", "t": 1}, "can only crash or be slow"),
    ("not a press", "sent nothing readable"),
])
def test_a_press_that_makes_no_fault_is_answered_with_why(press, says):
    answer = api.inject_answer(body(press=press))
    assert says in answer["error"] and says in answer["panel"]["error"]
    assert "runs" not in answer and answer["panel"]["faults"] == []


@pytest.mark.parametrize("change, status", [
    ({"scenario": "0" * 32}, 404),
    ({"scenario": None}, 404),
    ({"styles": ["both"]}, 400),
    ({"styles": []}, 400),
    ({"seed": True}, 400),
    ({"seed": "1"}, 400),
    ({"faults": "payment:fail"}, 400),
    ({"faults": ["x"] * 101}, 400),
    ({"faults": [""]}, 400),
])
def test_a_malformed_request_is_refused_in_one_sentence(change, status):
    with pytest.raises(api.Refused) as refused:
        api.inject_answer(body(**change))
    assert refused.value.status == status and "\n" not in str(refused.value)


def test_a_fault_list_that_is_not_this_scenarios_is_refused_at_the_door():
    for faults in (["payment:explode"], ["nobody:fail"], ["payment:fail:at=-1"]):
        with pytest.raises(api.Refused) as refused:
            api.inject_answer(body(faults=faults))
        assert refused.value.status == 400 and str(refused.value).startswith("the faults so far: ")


def test_one_fault_from_the_press_to_the_engine_is_made_once_and_never_parsed_again(monkeypatch):
    """The walk of an injected fault: the press becomes a ``sim.Fault`` (the door: ``fault_from_mapping``,
    its target checked), and that record travels to the engine as it is. Text is parsed only where text comes
    in: the faults so far that the browser sends back, once each."""
    runs._cache.clear()
    made, parsed = [], []
    door, parse = sim.faults.fault_from_mapping, sim.faults.parse_fault
    monkeypatch.setattr(sim, "fault_from_mapping", lambda *a, **k: made.append(a) or door(*a, **k))
    monkeypatch.setattr(sim.faults, "parse_fault", lambda spec: parsed.append(spec) or parse(spec))
    monkeypatch.setattr(sim, "parse_fault", sim.faults.parse_fault)
    seen = []                   # what reached sim.run, and what had been parsed by then
    real_run = sim.run
    monkeypatch.setattr(sim, "run", lambda *a, **k: seen.append((k["faults"], list(parsed))) or real_run(*a, **k))
    first = api.inject_answer(body())
    assert len(made) == 1                                  # made once, from the press
    assert [[type(f) for f in fs] for fs, _ in seen[-2:]] == [[sim.Fault]] * 2    # that record, in both styles' runs
    assert all(p == [] for _, p in seen)                   # and no fault text parsed on the way
    made.clear(), seen.clear()
    second = api.inject_answer(body(faults=first["faults"], press={"kind": "crash", "target": "inventory", "t": 0.5}))
    assert seen[-1][1] == first["faults"] and len(made) == 1    # the text that came back, parsed once; the press made once
    assert second["faults"][0] == first["spec"]


def test_a_request_that_is_not_an_object_is_refused():
    with pytest.raises(api.Refused):
        api.inject_answer(["a", "list"])


def test_the_text_registry_forgets_the_oldest_beyond_its_bytes(monkeypatch):
    monkeypatch.setattr(api, "TEXTS_BYTES", 3000)
    monkeypatch.setattr(api, "_texts", type(api._texts)())
    monkeypatch.setattr(api, "_texts_bytes", 0)
    tokens = [api.register(f"name: s{i}\n" + "#" * 1000, f"s{i}") for i in range(5)]
    assert api._text(tokens[0]) is None and api._text(tokens[-1]) is not None
    assert api.register(f"name: s4\n" + "#" * 1000, "s4") == tokens[-1]      # the same text, the same token


# ---------------------------------------------------------------- a learner follows


@pytest.fixture()
def store(tmp_path, monkeypatch):
    rooms = classroom.RoomStore(tmp_path / "rooms.sqlite3")
    monkeypatch.setattr(api, "_store", lambda: rooms)
    monkeypatch.setattr(api, "_watched", {})
    yield rooms
    rooms.close()


def test_a_learner_gets_the_clock_now_and_the_runs_only_when_it_has_others(store):
    code, key = store.create({"scenario": "out-of-stock", "style": "both", "seed": None, "faults": []})
    store.drive(code, key, clock={"t": 1.5, "playing": False, "speed": 2})
    answer = json.loads(api.follow_answer(code, "a" * 32, -1, ""))
    assert answer["version"] == store.version(code)
    assert answer["clock"]["t"] == 1.5 and answer["clock"]["playing"] is False and answer["clock"]["speed"] == 2
    entry = next(e for e in runs.library()[0] if e.name == "out-of-stock")
    shown = runs.live_runs(entry.text, entry.source, BOTH, None, ())
    assert answer["stage"]["runs_id"] == api.runs_id(shown)                  # what the learner's page shows
    again = json.loads(api.follow_answer(code, "a" * 32, answer["version"], answer["stage"]["runs_id"]))
    assert "stage" not in again
    store.drive(code, key, situation={"scenario": "out-of-stock", "style": "both", "seed": None,
                                      "faults": ["inventory:fail:at=0.5"]})
    moved = json.loads(api.follow_answer(code, "a" * 32, again["version"], answer["stage"]["runs_id"]))
    assert moved["stage"]["runs_id"] != answer["stage"]["runs_id"]


def test_a_playing_clock_is_sent_as_it_is_now(store):
    code, key = store.create({"scenario": "happy-path", "style": "orchestration", "seed": None, "faults": []})
    store.drive(code, key, clock={"t": 1.0, "playing": True, "speed": 1})
    found = store.get(code)
    answer = json.loads(api.follow_answer(code, "b" * 32, -1, ""))
    assert answer["clock"]["playing"] is True
    assert found.clock_at(found.clock["at"]) <= answer["clock"]["t"] <= found.clock_at() + 1e-6


def test_a_question_goes_to_learners_without_its_answer(store):
    code, key = store.create({"scenario": "happy-path", "style": "both", "seed": None, "faults": []})
    question = {"id": "q1", "text": "Which?", "choices": ["a", "b"], "answer": "a", "explain": "because"}
    store.drive(code, key, question=question)
    text = api.follow_answer(code, "c" * 32, -1, "")
    assert json.loads(text)["ask"] == {"id": "q1", "text": "Which?", "choices": ["a", "b"]}
    assert "because" not in text and '"answer"' not in text


def test_waiters_wake_when_the_room_moves_and_one_look_serves_them_all(store, monkeypatch):
    import asyncio
    code, key = store.create({"scenario": "happy-path", "style": "both", "seed": None, "faults": []})
    version = store.version(code)
    looks = []
    real = store.version
    monkeypatch.setattr(store, "version", lambda c: looks.append(c) or real(c))

    async def scene():
        waiters = [asyncio.create_task(api._until_moved(code, version, 5.0)) for _ in range(30)]
        await asyncio.sleep(0.35)
        assert not any(w.done() for w in waiters)              # nothing moved: they wait
        store.drive(code, key, clock={"t": 1.0, "playing": True, "speed": 1})
        got = await asyncio.wait_for(asyncio.gather(*waiters), 2.0)
        timed_out = await api._until_moved(code, got[0], 0.2)    # nothing more: back after its time
        return got, timed_out

    got, timed_out = asyncio.run(scene())
    assert set(got) == {store.version(code)} and got[0] != version and timed_out == got[0]
    assert len(looks) < 30                                      # one look per 0.1 s, not one per learner
    assert api._watched == {}                                   # nobody waits: nothing watched


def test_no_room_no_answer(store):
    with pytest.raises(api.Refused) as refused:
        api.follow_answer("ABCDEF", "a" * 32, -1, "")
    assert refused.value.status == 404


# ---------------------------------------------------------------- over HTTP, in the real server


def fetch(url: str, data: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_routes_answer_over_http_and_refuse_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGA_DATA_DIR", str(tmp_path))
    rooms = classroom.RoomStore(tmp_path / "rooms.sqlite3")
    code, key = rooms.create({"scenario": "happy-path", "style": "both", "seed": None, "faults": []})
    with serve.server() as url:
        inject_url = f"{url}/api/stage/inject"
        status, answer = fetch(inject_url, json.dumps(body()).encode())
        assert status == 404 and "reload the page" in answer["error"]       # that server never showed it
        assert fetch(inject_url, b"{not json")[0] == 400
        assert fetch(inject_url, b"[" + b"1," * 40_000 + b"1]")[0] == 413
        follow = f"{url}/api/rooms/{code}/follow?learner={'d' * 32}&version=-1"
        status, answer = fetch(follow)
        assert status == 200 and answer["version"] == rooms.version(code) and "stage" in answer
        assert rooms.followers(code) == 1                                    # the poll is the heartbeat
        assert fetch(f"{url}/api/rooms/{code}/follow?learner=nope")[0] == 400
        assert fetch(f"{url}/api/rooms/x!/follow?learner={'d' * 32}")[0] == 400
        assert fetch(f"{url}/api/rooms/ABCDEF/follow?learner={'d' * 32}")[0] == 404
        # the stage's code, loaded once: its version in the address, cached for good
        with urllib.request.urlopen(url + api.asset_urls()["js"], timeout=30) as r:
            assert r.headers["Content-Type"].startswith("text/javascript") and "immutable" in r.headers["Cache-Control"]
            assert r.read() == (api.ASSETS / "stage.js").read_bytes()
        with urllib.request.urlopen(url + api.asset_urls()["css"], timeout=30) as r:
            assert r.headers["Content-Type"].startswith("text/css")
        for name, codes in (("api.py", {404}), ("..%2Fapi.py", {400, 404})):     # only the stage's two files
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(f"{url}/api/stage/assets/{name}", timeout=30)
            assert missing.value.code in codes
    rooms.close()


def test_the_route_uses_no_page_machinery_even_for_a_long_run(monkeypatch):
    """The routes run outside any page's script: no progress bar, no Stop, no session's stopped runs."""
    monkeypatch.setattr(runs, "SHOW_PROGRESS_WORK", 1)               # every run counts as long
    monkeypatch.setattr(runs, "Watcher", lambda *a: pytest.fail("a progress bar in a route"))
    monkeypatch.setattr(runs, "_stopped", lambda: pytest.fail("a session read in a route"))
    answer = api.inject_answer(body(press={"kind": "crash", "target": "order", "t": 0.2, "duration": 2}))
    assert answer["spec"].startswith("order:crash:") and len(answer["runs"]) == 2
