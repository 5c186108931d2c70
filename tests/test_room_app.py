"""The classroom pages through AppTest: a room is created from a link, the instructor's page drives it, a
learner's page follows it and answers, and nothing a learner does drives the room.

Each test uses its own data folder (``SAGA_DATA_DIR``), so rooms never leak between tests.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import classroom
from ui.safe import md

APP = str(Path(__file__).resolve().parent.parent / "page.py")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGA_DATA_DIR", str(tmp_path))
    from ui import room
    room.store.clear()                      # the page's cached store opens the new folder
    yield tmp_path
    room.store.clear()


def page(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def stage(at) -> dict:
    return json.loads(at.get("bidi_component")[0].proto.json)


def test_a_new_room_gives_the_instructor_a_key_and_the_learners_a_code(data_dir):
    teacher = page(room="new", scenario="out-of-stock")
    code, key = teacher.query_params["room"], teacher.query_params["key"]
    assert len(code) == 6 and len(key) > 20
    assert any(f"?room={code}" in m.value for m in teacher.markdown)
    found = classroom.RoomStore().get(code)
    assert found.situation["scenario"] == "out-of-stock"
    assert stage(teacher)["panel"] is not None                 # the instructor injects


def test_a_learner_follows_the_situation_and_the_clock_but_cannot_drive(data_dir):
    teacher = page(room="new", scenario="happy-path")
    code = teacher.query_params["room"]
    learner = page(room=code)
    assert stage(learner)["panel"] is None and "key" not in learner.query_params
    assert learner.selectbox(key="w_scenario").disabled       # the room chooses while the learner follows

    teacher.selectbox(key="w_scenario").set_value("out-of-stock").run()
    teacher.session_state["_stage_inject"] = {"kind": "fail", "target": "payment", "t": 0.0}
    teacher.run()
    teacher.session_state["t"] = 2.5                          # the instructor's stage reports a pause at 2.5
    teacher.session_state["playing"] = False
    teacher.run()
    learner.run()
    assert learner.session_state.scenario == "out-of-stock"
    assert learner.session_state.faults == teacher.session_state.faults != []
    clock = stage(learner)["clock"]
    assert clock["t"] == 2.5 and clock["playing"] is False

    learner.session_state["_stage_inject"] = {"kind": "crash", "target": "payment", "t": 1.0}
    learner.run()
    assert learner.session_state.faults == teacher.session_state.faults   # a learner's press changes nothing
    assert classroom.RoomStore().get(code).situation["faults"] == teacher.session_state.faults


def test_a_playing_clock_reaches_the_learner_where_it_is_now(data_dir):
    teacher = page(room="new", scenario="out-of-stock")
    code = teacher.query_params["room"]
    teacher.session_state["t"] = 1.0
    teacher.session_state["playing"] = True
    teacher.run()
    learner = page(room=code)
    clock = stage(learner)["clock"]
    assert clock["playing"] is True and clock["t"] >= 1.0     # moved on by the command's age


def test_predict_then_watch(data_dir):
    """The instructor asks; each learner's stage gets the question in its poll and answers through the answer
    route (no rerun of the learner's page); the instructor sees the counts, then reveals on every stage."""
    from ui import api
    teacher = page(room="new", scenario="out-of-stock")
    code, key = teacher.query_params["room"], teacher.query_params["key"]
    learners = [page(room=code) for _ in range(3)]
    ids = [stage(learner)["follow"]["learner"] for learner in learners]
    assert all(stage(learner)["follow"]["answer"] == f"/api/rooms/{code}/answer" for learner in learners)
    teacher.button(key="ask_question").click().run()           # the first question the run ahead offers
    asked = classroom.RoomStore().get(code).question
    assert asked and asked["answer"] in asked["choices"]
    for i, learner in enumerate(ids):
        polled = json.loads(api.follow_answer(code, learner, -1, ""))
        assert polled["ask"] == {k: v for k, v in asked.items() if k not in ("answer", "explain")}
        assert polled["mine"] is None and polled["revealed"] is False
        assert api.answer_answer(code, {"learner": learner, "question": asked["id"],
                                        "choice": asked["choices"][i % 2]}) == {"counted": asked["choices"][i % 2]}
        assert json.loads(api.follow_answer(code, learner, -1, ""))["mine"] == asked["choices"][i % 2]
    tally = classroom.RoomStore().tally(code, key, asked["id"])
    assert sum(tally.values()) == 3
    teacher.run()
    assert any("3** answers" in m.value for m in teacher.markdown)
    teacher.button(key="reveal_answer").click().run()
    revealed = json.loads(api.follow_answer(code, ids[0], -1, ""))
    assert revealed["revealed"] is True and revealed["ask"]["answer"] == asked["answer"]
    with pytest.raises(api.Refused) as closed:                 # answers close once the answer is shown
        api.answer_answer(code, {"learner": ids[0], "question": asked["id"], "choice": asked["choices"][0]})
    assert closed.value.status == 409 and "revealed" in str(closed.value)
    teacher.selectbox(key="w_scenario").set_value("happy-path").run()
    assert classroom.RoomStore().get(code).question is None     # another lesson closes the last one's question


@pytest.mark.parametrize("body, status", [
    ("not an object", 400),
    ({"learner": "nope", "question": "q", "choice": "a"}, 400),
    ({"learner": "a" * 32, "question": "q", "choice": "a"}, 409),      # no question asked
])
def test_a_bad_answer_is_refused_in_one_sentence(data_dir, body, status):
    from ui import api
    teacher = page(room="new", scenario="out-of-stock")
    with pytest.raises(api.Refused) as refused:
        api.answer_answer(teacher.query_params["room"], body)
    assert refused.value.status == status and "\n" not in str(refused.value)
    with pytest.raises(api.Refused) as gone:
        api.answer_answer("ABCDEF", {"learner": "a" * 32, "question": "q", "choice": "a"})
    assert gone.value.status == 404


def test_a_bad_room_link_is_explained(data_dir):
    at = page(room="NOPE42")
    assert any("no room" in w.value for w in at.warning)
    teacher = page(room="new")
    forged = page(room=teacher.query_params["room"], key="not-the-key")
    assert any("could not be used" in w.value for w in forged.warning)
    assert "key" not in forged.query_params


def test_a_burst_of_follow_answers_reads_the_library_once(data_dir, monkeypatch):
    """60 learners are answered at once when the room moves: the scenario library is looked up once, not per
    answer (each lookup hashes the library's signature: most of an answer's CPU)."""
    from ui import api, runs
    teacher = page(room="new", scenario="out-of-stock")
    code = teacher.query_params["room"]
    monkeypatch.setattr(api, "_library_seen", (0.0, None))
    calls = []
    real = runs.library
    monkeypatch.setattr(runs, "library", lambda: calls.append(1) or real())
    answers = [json.loads(api.follow_answer(code, f"{i:032x}", -1, "")) for i in range(20)]
    assert len(calls) == 1
    assert all(a["stage"]["runs_id"] == answers[0]["stage"]["runs_id"] for a in answers)
    assert answers[0]["situation"]["scenario"] == "out-of-stock"
