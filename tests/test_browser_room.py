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
                now = [round(stage_t(p), 1) for p in (teacher, *class_)]
                if len(set(now)) == 1 and now == [round(stage_t(p), 1) for p in (teacher, *class_)]:
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
