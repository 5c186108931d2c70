"""Classroom rooms (issue 15): keys, versions, answers that are never lost or shown to others, restarts, expiry."""
from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from classroom.rooms import (CODE_ALPHABET, CODE_LENGTH, MAX_SITUATION_BYTES, ROOM_LIFETIME, Room, RoomError,
                             RoomStore, data_dir, normalize_code)

SITUATION = {"scenario": "out-of-stock", "style": "both", "seed": 1, "faults": []}
QUESTION = {"id": "q1", "text": "How does Bob's saga end?", "choices": ["completed", "compensated", "stuck"],
            "answer": "compensated", "explain": "inventory finds the shelf empty"}


@pytest.fixture
def store(tmp_path):
    return RoomStore(tmp_path / "rooms.sqlite3", heartbeat_every=0)


def test_create_get_and_drive(store):
    code, key = store.create(SITUATION)
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert len(key) >= 32
    room = store.get(code)
    assert isinstance(room, Room) and room.situation == SITUATION and room.question is None
    assert room.version == 1 and store.version(code) == 1
    assert room.clock["t"] == 0 and room.clock["playing"] is False
    v = store.drive(code, key, clock={"t": 2.5, "playing": True, "speed": 2})
    assert v == 2 == store.version(code)
    room = store.get(code)
    assert room.clock["t"] == 2.5 and room.clock["playing"] is True and room.clock["id"] == 2
    assert abs(room.clock["at"] - time.time()) < 5
    assert room.clock_at(room.clock["at"] + 1.0) == pytest.approx(4.5)
    store.drive(code, key, clock={"playing": False})
    assert store.get(code).clock["t"] == 2.5, "a clock command keeps the fields it does not name"
    faults = {**SITUATION, "faults": ["payment:crash:at=3"]}
    assert store.drive(code, key, situation=faults) == 4
    assert store.get(code).situation == faults
    assert store.get(code.lower()) is not None, "a code typed in lower case still finds the room"
    assert normalize_code("abc-def") == "" or normalize_code("abc-def") == "ABCDEF"


def test_wrong_key_refused_and_nothing_changes(store):
    code, key = store.create(SITUATION)
    other_code, other_key = store.create(SITUATION)
    for bad in ("", "nope", other_key, None, key[:-1]):
        with pytest.raises(RoomError, match="key"):
            store.drive(code, bad, clock={"t": 9})
        with pytest.raises(RoomError, match="key"):
            store.tally(code, bad, "q1")
    assert store.version(code) == 1
    with pytest.raises(RoomError):
        store.drive("ZZZZZZ", key, clock={"t": 1})
    assert store.owns(code, key) and store.owns(code.lower(), key)
    assert not store.owns(code, other_key) and not store.owns(code, None) and not store.owns("ZZZZZZ", key)


def test_no_key_is_stored(store):
    code, key = store.create(SITUATION)
    assert key.encode() not in store.path.read_bytes()


def test_questions_answers_and_isolation(store):
    code, key = store.create(SITUATION)
    with pytest.raises(RoomError, match="not the one"):
        store.answer(code, "q1", "ann", "compensated")
    store.drive(code, key, question=QUESTION)
    room = store.get(code)
    assert room.question == QUESTION and not room.revealed
    assert "answer" not in room.learner_question and "explain" not in room.learner_question
    store.answer(code, "q1", "ann", "completed")
    store.answer(code, "q1", "ann", "compensated")          # a later answer replaces the earlier
    store.answer(code, "q1", "ben", "stuck")
    assert store.tally(code, key, "q1") == {"completed": 0, "compensated": 1, "stuck": 1}
    assert store.my_answer(code, "q1", "ann") == "compensated"
    assert store.my_answer(code, "q1", "cid") is None
    for bad_choice in ("deadlocked", "", "x" * 1000):
        with pytest.raises(RoomError):
            store.answer(code, "q1", "ann", bad_choice)
    with pytest.raises(RoomError, match="not the one"):
        store.answer(code, "q2", "ann", "stuck")
    with pytest.raises(RoomError, match="learner id"):
        store.answer(code, "q1", "x" * 200, "stuck")
    # what a learner can read carries no other learner's answer
    assert "ben" not in repr(store.get(code)) and "stuck" not in repr(store.get(code).learner_question["text"])
    store.drive(code, key, reveal=True)
    room = store.get(code)
    assert room.revealed and room.learner_question["answer"] == "compensated"
    with pytest.raises(RoomError, match="revealed"):
        store.answer(code, "q1", "cid", "stuck")
    # a new question: old answers stay counted under their own id
    store.drive(code, key, question={**QUESTION, "id": "q2"})
    assert not store.get(code).revealed
    assert store.tally(code, key, "q2") == {"completed": 0, "compensated": 0, "stuck": 0}
    assert store.tally(code, key, "q1") == {"compensated": 1, "stuck": 1}


def test_bad_input_refused_in_one_line(store):
    code, key = store.create(SITUATION)
    cases = [
        dict(situation={"scenario": "x" * MAX_SITUATION_BYTES}),
        dict(situation=["not", "a", "mapping"]),
        dict(situation={"bad": float("nan")}),
        dict(clock={"t": -1}), dict(clock={"t": float("inf")}), dict(clock={"speed": 0}),
        dict(clock={"playing": "yes"}), dict(clock={"when": 3}),
        dict(question={"id": "q", "text": "?", "choices": ["a"], "answer": "a"}),
        dict(question={"id": "q", "text": "?", "choices": ["a", "b"], "answer": "c"}),
        dict(question={"id": "bad id!", "text": "?", "choices": ["a", "b"]}),
        dict(question={"id": "q", "text": "?", "choices": ["a", "a"]}),
        dict(reveal=True),                                  # nothing to reveal
    ]
    for kw in cases:
        with pytest.raises(RoomError) as e:
            store.drive(code, key, **kw)
        assert "\n" not in str(e.value) and str(e.value).endswith("."), kw
    assert store.version(code) == 1
    with pytest.raises(RoomError):
        store.create({"x": object()})


def test_followers_heartbeat(store):
    code, _ = store.create(SITUATION)
    assert store.followers(code) == 0
    for who in ("ann", "ben", "cid"):
        store.follow(code, who)
    store.follow(code, "ann")
    assert store.followers(code) == 3
    assert store.followers(code, within=-1) == 0
    with pytest.raises(RoomError, match="no room"):
        store.follow("ABCDEF", "ann")


def test_heartbeat_is_throttled(tmp_path):
    store = RoomStore(tmp_path, heartbeat_every=60)
    code, _ = store.create(SITUATION)
    store.follow(code, "ann")
    assert store.path.name == "rooms.sqlite3" and store.path.parent == tmp_path
    t0 = time.perf_counter()
    for _ in range(200):
        store.follow(code, "ann")                           # no write: seen 0 s ago
    assert time.perf_counter() - t0 < 0.5
    assert store.followers(code) == 1


def test_restart_loses_nothing(tmp_path):
    path = tmp_path / "rooms.sqlite3"
    first = RoomStore(path)
    code, key = first.create(SITUATION)
    first.drive(code, key, question=QUESTION, clock={"t": 4.0})
    first.answer(code, "q1", "ann", "stuck")
    before = first.get(code)
    first.close()
    del first
    second = RoomStore(path)
    assert second.get(code) == before
    assert second.tally(code, key, "q1")["stuck"] == 1
    assert second.drive(code, key, reveal=True) == before.version + 1


def test_expiry(store):
    old, _ = store.create(SITUATION)
    store.drive(old, _, question=QUESTION)
    store.answer(old, "q1", "ann", "stuck")
    new, _ = store.create(SITUATION)
    assert store.expire(now=time.time() + 10) == 0
    assert store.expire(now=time.time() + ROOM_LIFETIME + 1) == 2
    assert store.get(old) is None and store.version(new) is None
    conn = store._open()
    assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0, "answers go with their room"


def test_expired_room_is_gone_before_the_sweep(store, monkeypatch):
    code, key = store.create(SITUATION)
    later = time.time() + ROOM_LIFETIME + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert store.get(code) is None and store.version(code) is None
    with pytest.raises(RoomError):
        store.drive(code, key, clock={"t": 1})


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SAGA_DATA_DIR", str(tmp_path / "class"))
    assert data_dir() == tmp_path / "class"
    store = RoomStore()
    assert store.path == tmp_path / "class" / "rooms.sqlite3" and store.path.exists()
    monkeypatch.delenv("SAGA_DATA_DIR")
    assert data_dir().name == "data"


def test_sixty_learners_answering_at_once_lose_nothing(store):
    code, key = store.create(SITUATION)
    store.drive(code, key, question=QUESTION)
    choices = QUESTION["choices"]
    start = threading.Barrier(60)
    errors = []

    def learner(i):
        try:
            start.wait()
            store.follow(code, f"learner-{i}")
            store.answer(code, "q1", f"learner-{i}", choices[i % 3])
            store.version(code)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)
    threads = [threading.Thread(target=learner, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.tally(code, key, "q1") == {c: 20 for c in choices}
    assert store.followers(code) == 60


def _answer_from_process(path, code, start, n, barrier):
    store = RoomStore(path)
    barrier.wait()
    for i in range(start, start + n):
        store.answer(code, "q1", f"p{i}", QUESTION["choices"][i % 3])


def test_two_processes_writing(tmp_path):
    path = tmp_path / "rooms.sqlite3"
    store = RoomStore(path)
    code, key = store.create(SITUATION)
    store.drive(code, key, question=QUESTION)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_answer_from_process, args=(path, code, k * 40, 40, barrier)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0]
    assert sum(store.tally(code, key, "q1").values()) == 80


def test_a_full_room_forgets_learners_silent_for_an_hour(store, monkeypatch):
    import classroom.rooms as rooms
    monkeypatch.setattr(rooms, "MAX_FOLLOWERS_PER_ROOM", 3)
    code, _ = store.create(SITUATION)
    for who in ("ann", "ben", "cid"):
        store.follow(code, who)
    with pytest.raises(RoomError, match="already has 3 learners"):
        store.follow(code, "dan")
    store._open().execute("UPDATE followers SET seen = seen - 7200 WHERE learner = 'ann'")
    store.follow(code, "dan")
    assert store.followers(code) == 3


def test_the_classroom_imports_no_ui():
    code = ("import sys, classroom, classroom.qr; "
            "bad = [m for m in ('streamlit', 'plotly') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
