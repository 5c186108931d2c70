"""Writing lessons (issue 18), in the app: the editor points at the mistake, warns about typos,
checks the lesson's expect:, keeps its text, and a new upload clears the last one's message.

The main test writes a broken lesson and fixes it by following the messages alone."""
from __future__ import annotations

from pathlib import Path

from test_app import HAPPY, app, author, click, ok

ROOT = Path(__file__).resolve().parent.parent
LESSON = """\
name: my-lesson
title: My lesson
summary: Alice's card is declined.
customers: {alice: {balance: 20}}
stock: {widget: 5}
steps: [order, payment, inventory]
orders:
  - {customer: alice, item: widget, qty: 1, price: 30, at: 0}
timing:
  timeout: 8
  backoff: 1
expect:
  choreography: {outcomes: {1: compensated}}
  orchestration: {outcomes: {1: compensated}}
"""


def codes(at):
    return "\n".join(c.value for c in at.code)


def test_a_broken_lesson_is_fixed_by_following_the_messages():
    at = author(app())
    # 1. an over-indented line: plain words, the line number, and the line itself shown
    broken = LESSON.replace("  backoff: 1", "    backoff: 1")
    at.text_area(key="w_yaml").input(broken).run()
    assert not at.exception
    (err,) = at.error
    assert "line 11: this line is indented more than the one above it" in err.value
    assert "> 11 |     backoff: 1" in codes(at)
    assert at.button(key="run_edit").disabled
    # follow it: indent line 11 like line 10
    lines = broken.split("\n")
    lines[10] = "  " + lines[10].lstrip()
    # 2. a typo'd step is accepted as a custom step, with a warning and a suggestion
    fixed = "\n".join(lines).replace("steps: [order, payment,", "steps: [order, paymnet,")
    at.text_area(key="w_yaml").input(fixed).run()
    assert not at.exception
    assert any("did you mean 'payment'?" in w.value and "steps[1]" in w.value for w in at.warning)
    # ... and the lesson's expect: no longer holds: the editor says so, next to Run
    assert any("expectation(s) fail" in e.value for e in at.error)
    assert "choreography: saga 1: expected compensated, got completed" in codes(at)
    # follow the suggestion
    fixed = fixed.replace("paymnet", "payment")
    ok(at.text_area(key="w_yaml").input(fixed).run())
    assert not at.warning
    assert any("Expectations hold" in s.value for s in at.success)
    click(at, "run_edit")
    assert at.session_state.view == "play"
    assert not [m for m in at.markdown if "expectations fail" in m.value]


def test_a_bad_field_shows_its_line_with_a_caret():
    at = author(app())
    at.text_area(key="w_yaml").input(LESSON.replace("customer: alice", "customer: alcie")).run()
    assert not at.exception
    (err,) = at.error
    assert "orders[0].customer" in err.value and "did you mean 'alice'?" in err.value
    lines = codes(at).split("\n")
    k = next(i for i, x in enumerate(lines) if x.startswith(">"))
    assert lines[k].split("|")[0].split() == [">", "8"] and "{customer: alcie" in lines[k]
    assert lines[k + 1].rstrip().endswith("^") and lines[k + 1].index("^") == lines[k].index("alcie")


def test_the_play_view_badges_a_lesson_whose_expectations_fail():
    at = author(app())
    wrong = LESSON.replace("price: 30", "price: 10")        # now it is not declined: expect: fails
    at.text_area(key="w_yaml").input(wrong).run()
    assert any("expectation(s) fail" in e.value for e in at.error)
    click(at, "run_edit")
    assert any("expectations fail" in m.value for m in at.markdown)


def test_the_editor_keeps_its_text_across_views():
    at = author(app())
    edited = HAPPY.replace("price: 30", "price: 31")
    ok(at.text_area(key="w_yaml").input(edited).run())
    ok(at.segmented_control(key="w_view").set_value("play").run())
    ok(at.segmented_control(key="w_view").set_value("author").run())
    assert at.text_area(key="w_yaml").value == edited


def test_a_new_upload_clears_the_previous_message():
    at = author(app())
    at.file_uploader(key="w_run_file").upload("bad.json", b"{not json", "application/json").run()
    assert len(at.error) == 1
    # a scenario dropped on the run uploader: its own message, the old one gone
    at.file_uploader(key="w_run_file").set_value(("lesson.yaml", HAPPY.encode(), "text/yaml")).run()
    assert not at.exception
    (err,) = at.error
    assert "lesson.yaml" in err.value and "Open a scenario file" in err.value and "JSON" not in err.value
    # a good scenario on the scenario uploader: no message left
    ok(at.file_uploader(key="w_upload").upload("tiny.yaml", HAPPY.encode(), "text/yaml").run())
    assert at.text_area(key="w_yaml").value == HAPPY
