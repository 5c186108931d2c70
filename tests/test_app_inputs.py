"""Issue 14 in the app: text from a link is never rendered, a link's seed stays in the seed box's
range, replay files are checked field by field, the run cache is bounded by bytes, and a run too
big for the page is refused before it starts."""
from __future__ import annotations

import json

import pytest
from helpers import clear_run_cache
from test_app import _run_file, app, author, ok, replay, runs

import sim


def test_a_link_cannot_put_markdown_links_or_images_in_a_notice():
    at = app(scenario="![x](http://evil.example/a.png) [click](http://evil.example)", style="**bold**")
    assert not at.exception
    for w in at.warning:
        # the link's text is inside a code span: Markdown shows it as itself
        assert "`![x](http://evil.example/a.png) [click](http://evil.example)`" in w.value or "`**bold**`" in w.value


@pytest.mark.parametrize("seed", ["-5", "3000000000"])
def test_a_seed_outside_the_box_is_refused_with_a_notice(seed):
    at = app(scenario="happy-path", seed=seed)
    assert not at.exception and at.session_state.seed is None
    assert any("outside" in w.value for w in at.warning)


def test_literal_is_one_code_span_whatever_the_text():
    for text in ("plain", "a `tick`", "``double``", "`", "line\nbreak", "![i](http://x/y.png)"):
        out = runs.literal(text)
        fence = out[:len(out) - len(out.lstrip("`"))]
        inner = out[len(fence):-len(fence)]
        assert out.endswith(fence) and fence not in inner and "\n" not in out


def _file(mutate):
    data = json.loads(_run_file())
    mutate(data["runs"])
    return json.dumps(data).encode()


def _event(kind):
    def pick(r):
        return next(e for e in r[0]["events"] if e["kind"] == kind)
    return pick


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.append(dict(r[0])), ".style"),
    (lambda r: _event("step_started")(r).__setitem__("saga", [1]), ".saga"),
    (lambda r: _event("step_started")(r).__setitem__("detail", [1, 2]), ".detail"),
    (lambda r: _event("step_started")(r).__setitem__("detail", "text"), ".detail"),
    (lambda r: r[0].__setitem__("services", [{"a": 1}]), ".services"),
    (lambda r: r[0]["outcomes"].__setitem__("1", "exploded"), ".outcomes"),
    (lambda r: _event("step_started")(r)["detail"].__setitem__("step", [3]), ".detail"),
])
def test_replay_files_that_could_not_be_shown_are_refused_naming_the_field(mutate, field):
    problem = replay.read_run_file(_file(mutate), "run.json")
    assert isinstance(problem, str) and field in problem and "\n" not in problem


def test_a_replay_file_with_whole_number_times_plays():
    def whole(r):
        for run in r:
            for e in run["events"]:
                e["t"] = int(e["t"])
    raw = _file(whole)
    name, found = replay.read_run_file(raw, "run.json")
    assert all(type(e["t"]) is float for e in found[0]["events"])
    at = author(app())
    ok(at.file_uploader(key="w_run_file").upload("run.json", raw, "application/json").run())
    assert at.session_state.replay


def test_the_run_cache_is_bounded_by_bytes(monkeypatch):
    clear_run_cache()
    monkeypatch.setattr(runs, "CACHE_BYTES", 40_000)
    text = (sim.SCENARIO_DIR / "happy-path.yaml").read_text() if hasattr(sim.SCENARIO_DIR, "read_text") else \
        open(f"{sim.SCENARIO_DIR}/happy-path.yaml").read()
    for seed in range(40):
        assert isinstance(runs.simulate(text, "happy-path.yaml", "orchestration", seed, ()), dict)
    assert 0 < runs._cache_bytes <= 40_000 and len(runs._cache) < 20
    assert runs.simulate(text, "happy-path.yaml", "orchestration", 39, ()) == \
        runs.simulate(text, "happy-path.yaml", "orchestration", 39, ())
    clear_run_cache()


def test_a_run_too_big_for_the_page_is_refused_before_it_starts():
    text = "name: big\ncustomers: {a: 1}\nstock: {w: 1}\norders: [{customer: a}]\nload: {count: 150000}\n"
    out = runs.simulate(text, "big.yaml", "orchestration", None, (), True)
    assert isinstance(out, str) and "too big for the page" in out and "python -m sim run" in out
