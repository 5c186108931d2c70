"""A classroom in a real browser: one instructor and two learners (three browser contexts), and a server
restart in the middle that loses nothing.

The instructor opens ``/?room=new``, the learners the room's code; the learners' stages follow the
instructor's Play, injection and Pause; one learner answers a question and the instructor's count changes;
after the server restarts on the same data folder, the instructor's link still drives the room and the
answer is still counted. Skipped, with the reason, where Chromium or playwright is missing.
"""
from __future__ import annotations

import os
import re

import pytest

import serve

pytestmark = pytest.mark.skipif(serve.missing() is not None, reason=f"no real browser here: {serve.missing()}")

STAGE = ("() => { for (const h of document.querySelectorAll('*')) if (h.shadowRoot) {"
         " const r = h.shadowRoot.querySelector('[data-stage]'); if (r) return r; } return null; }")
T = f"() => {{ const r = ({STAGE})(); return r ? parseFloat(r.getAttribute('data-t')) : null; }}"
RUN = f"() => {{ const r = ({STAGE})(); return r ? r.getAttribute('data-run') : null; }}"


def stage_t(page) -> float:
    return page.evaluate(T)


def test_a_class_follows_answers_and_survives_a_restart(tmp_path):
    os.environ["SAGA_DATA_DIR"] = str(tmp_path)          # the server's data folder, kept across the restart
    try:
        with serve.server() as url, serve.contexts(3, [(1280, 900), (390, 844), (1024, 768)]) as (teacher, *class_):
            teacher.goto(f"{url}/?room=new&scenario=happy-path")
            teacher.wait_for_function("() => location.search.includes('key=')", timeout=60_000)
            code = re.search(r"room=([A-Z0-9]+)", teacher.url).group(1)
            for learner in class_:
                learner.goto(f"{url}/?room={code}")
                learner.get_by_text(f"Room {code}").wait_for(timeout=60_000)
                learner.get_by_role("button", name="Play", exact=True).wait_for(timeout=30_000)
            teacher.get_by_text("2 following").wait_for(timeout=20_000)

            teacher.get_by_role("radio", name="inventory", exact=True).click()
            teacher.get_by_role("radio", name="0.25× speed").click()     # slow: the run must not end before Pause
            teacher.get_by_role("button", name="Play", exact=True).click()
            for learner in class_:                           # the learners' clocks move with the instructor's
                learner.wait_for_function(f"() => ({T})() > 0.3", timeout=10_000)
            before = [learner.evaluate(RUN) for learner in class_]
            teacher.get_by_role("button", name="Fail its next step").click()
            for learner, old in zip(class_, before):         # ... and their stages get the injected runs
                learner.wait_for_function(f"(old) => ({RUN})() !== old", arg=old, timeout=10_000)
            teacher.get_by_role("button", name="Pause", exact=True).click()
            paused = None
            for _ in range(40):
                teacher.wait_for_timeout(250)
                now = [stage_t(p) for p in (teacher, *class_)]     # the room keeps the clock to 1/1000
                if max(now) - min(now) < 2e-3 and now == [stage_t(p) for p in (teacher, *class_)]:
                    paused = now[0]
                    break
            assert paused is not None, "the learners' clocks did not stop where the instructor's did"

            teacher.get_by_role("button", name="Ask the class").click()
            teacher.get_by_role("button", name="Ask", exact=True).click()
            for learner in class_:                           # the question shows on every learner's stage
                learner.get_by_text("Your answer counts").wait_for(timeout=10_000)
            learner = class_[0]
            learner.get_by_role("radiogroup", name="Your prediction").get_by_role("radio").first.click()
            learner.get_by_text("Counted:").wait_for(timeout=10_000)
            teacher.get_by_text("1 answer (counts only").wait_for(timeout=10_000)
            teacher.get_by_role("button", name="Reveal the answer").click()
            for learner_ in class_:                          # the answer, on every stage
                learner_.get_by_text("Answer:").wait_for(timeout=10_000)
            serve.screenshot(teacher, "/tmp/shots/room_teacher.png")
            serve.screenshot(learner, "/tmp/shots/room_learner.png")
            instructor_link = teacher.url

        with serve.server() as url2, serve.contexts(1, [(1280, 900)]) as (again,):
            again.goto(instructor_link.replace(instructor_link.split("/?")[0], url2))
            again.get_by_text(f"Room {code}").wait_for(timeout=60_000)
            again.get_by_text("1 answer (counts only").wait_for(timeout=20_000)   # the answer outlived the server
            again.get_by_role("button", name="Done: next question").wait_for(timeout=10_000)   # and it still drives
    finally:
        os.environ.pop("SAGA_DATA_DIR", None)


class Gate:
    """Holds what the server sends one page over Streamlit's websocket until told to pass it on: a page whose
    rerun is slow, made to order (a real browser's stage, a real server)."""

    def __init__(self, page):
        self.held, self.closed = [], False
        page.route_web_socket("**/_stcore/stream", self._route)

    def _route(self, ws):
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda m: self.held.append((ws, m)) if self.closed else ws.send(m))

    def release(self, n: int | None = None, close: bool = True) -> None:
        out, self.held = self.held[:n], self.held[len(self.held) if n is None else n:]
        self.closed = close
        for ws, m in out:
            ws.send(m)


def test_a_learner_page_that_lags_behind_its_stage_does_not_move_the_clock_back():
    """The learner's page reruns for an injection; before its answer arrives the instructor pauses and the
    stage's poll shows the pause. The page's late answer (the room as it was, playing) must not start the
    learner's clock again: the learner stays paused where the instructor paused."""
    with serve.server() as url, serve.contexts(2, [(1280, 900), (1024, 768)]) as (teacher, learner):
        gate = Gate(learner)
        teacher.goto(f"{url}/?room=new&scenario=happy-path")
        teacher.wait_for_function("() => location.search.includes('key=')", timeout=60_000)
        code = re.search(r"room=([A-Z0-9]+)", teacher.url).group(1)
        learner.goto(f"{url}/?room={code}")
        learner.get_by_role("button", name="Play", exact=True).wait_for(timeout=60_000)
        teacher.get_by_text("1 following").wait_for(timeout=20_000)
        teacher.get_by_role("radio", name="inventory", exact=True).click()
        teacher.get_by_role("radio", name="0.25× speed").click()
        teacher.get_by_role("button", name="Play", exact=True).click()
        learner.wait_for_function(f"() => ({T})() > 0.3", timeout=10_000)

        gate.closed = True                                # from here the learner's page hears nothing
        old = learner.evaluate(RUN)
        teacher.get_by_role("button", name="Fail its next step").click()
        learner.wait_for_function(f"(old) => ({RUN})() !== old", arg=old, timeout=10_000)   # the poll brought it
        for _ in range(60):                               # the stage asks its page to rerun (within 0.8 s) ...
            if gate.held:
                break
            learner.wait_for_timeout(250)
        learner.wait_for_timeout(1500)                    # ... and the page's whole answer is held
        late = len(gate.held)
        assert late > 0, "the learner's page did not rerun for the injection"
        teacher.get_by_role("button", name="Pause", exact=True).click()
        teacher.wait_for_timeout(300)
        paused = stage_t(teacher)                         # the room keeps the clock to 1/1000
        learner.wait_for_function(f"(t) => Math.abs(({T})() - t) < 2e-3", arg=paused, timeout=10_000)
        gate.release(late)                                # the page's answer from before the pause, late
        learner.wait_for_timeout(1500)
        assert abs(stage_t(learner) - paused) < 2e-3, "the page's late answer moved the learner's clock"
        gate.release(close=False)                         # the rest, and the page follows again
        learner.wait_for_timeout(1500)
        assert abs(stage_t(learner) - paused) < 2e-3 and abs(stage_t(teacher) - paused) < 1e-9
