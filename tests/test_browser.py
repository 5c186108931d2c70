"""The stage in a real browser (headless Debian Chromium driven by playwright).

Starts ``streamlit run app.py`` and drives the stage through its testing hooks
only (issue 13): ``[data-stage]`` with ``data-t`` (the clock) and ``data-run``
(the runs drawn), message tokens ``[data-msg]`` / ``[data-flow]``, the buttons'
accessible names. Plays the happy path and sees the clock move with no rerun of
the script, injects an inventory failure while it plays and sees new runs swapped
in and the compensation travel, pauses, opens a link paused at its time, and
checks that a 1024x768 projector's first screen holds the stage of both styles,
Play (its word and icon) and the instructor's buttons. One server and one
Chromium for the module. Screenshots go to /tmp/shots/. Skipped, with
the reason, where Chromium or playwright is missing. Behaviour only: speed is
the business of ``bench/stage_bench.py``.
"""
from __future__ import annotations

import contextlib
import re

import pytest

import serve

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:                                        # the tests are skipped then
    PlaywrightTimeout = TimeoutError

SHOTS = "/tmp/shots"
STYLES = ("choreography", "orchestration")
INSTRUCTOR = ("Fail its next step", "Fail its compensation", "Crash it for 5", "Slow it by 5", "Drop it",
              "Duplicate it", "Delay it by 5")

pytestmark = pytest.mark.skipif(serve.missing() is not None, reason=f"no real browser here: {serve.missing()}")

# Reruns of the script (stApp's data-test-script-state turning "running"), counted from now on.
WATCH_RERUNS = ("() => { const a = document.querySelector('[data-testid=\"stApp\"]'); const w = window.__reruns ="
                " {n: 0}; new MutationObserver(() => { if (a.getAttribute('data-test-script-state') === 'running')"
                " w.n++; }).observe(a, {attributes: true, attributeFilter: ['data-test-script-state']}); }")
# The compensation on the stage: a compensation token in flight, or the refund told in the stage's text.
COMPENSATION = ("(root) => !!root.querySelector('[data-flow=\"compensation\"]')"
                " || root.textContent.includes('refunds alice')")


@pytest.fixture(scope="module")
def url():
    with serve.server() as u:
        yield u


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the module's tests (each test has its own page and context)."""
    with serve.chromium() as b:
        yield b


@contextlib.contextmanager
def new_page(chromium, width: int, height: int):
    page = chromium.new_page(viewport={"width": width, "height": height})
    try:
        yield page
    finally:
        page.close()


def open_stage(page, url: str, query: str):
    """Open the app at ``query``; the stage's root element once it has drawn runs and the script is idle."""
    page.goto(f"{url}/?{query}")
    root = page.locator("[data-stage]")
    root.wait_for(timeout=60_000)
    handle = root.element_handle()
    page.wait_for_function("(r) => r.getAttribute('data-run')", arg=handle, timeout=30_000)
    serve.wait_idle(page)
    return handle


def clock(handle) -> float:
    return float(handle.get_attribute("data-t"))


def wait_clock(page, handle, at_least: float, timeout: float = 15.0) -> None:
    page.wait_for_function("([r, t]) => parseFloat(r.getAttribute('data-t')) >= t", arg=[handle, at_least],
                           polling=50, timeout=timeout * 1000)


def test_play_inject_and_see_the_compensation(url, chromium):
    with new_page(chromium, 1400, 900) as page:
        root = open_stage(page, url, "scenario=happy-path&style=both&speed=0.5")   # time to inject before inventory
        assert clock(root) == 0
        for style in STYLES:                               # both styles drawn, each with its services and broker
            assert page.get_by_role("img", name=re.compile(f"^{style}")).count() == 1
        assert page.locator("[data-node]").count() >= 6
        page.get_by_role("radio", name="inventory", exact=True).click()   # the service to fail
        root.evaluate("(r) => { r.__testMark = 'kept'; }")               # gone if the stage is remounted

        page.get_by_role("button", name="Play", exact=True).click()
        page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=10_000)
        wait_clock(page, root, 0.25)                       # 0.5 s: the Play press's own report has left ...
        serve.wait_idle(page)                              # ... and its rerun, if any, is over
        page.evaluate(WATCH_RERUNS)
        start = clock(root)
        wait_clock(page, root, start + 0.3)                # the clock moves by itself ...
        assert page.evaluate("() => window.__reruns.n") == 0, "the script reran while playing"   # ... serverless
        assert page.get_by_role("button", name="Pause", exact=True).count() == 1

        before = root.get_attribute("data-run")
        page.get_by_role("button", name="Fail its next step").click()   # inventory's step of saga 1 is ahead
        page.wait_for_function("([r, b]) => r.getAttribute('data-run') !== b", arg=[root, before], timeout=20_000)
        page.get_by_text("Injected faults (1)").wait_for(timeout=15_000)
        assert root.evaluate("(r) => r.isConnected && r.__testMark === 'kept'"), "the stage was remounted"
        # the new runs came from the page's route, and the session adopted the fault (it is in the link)
        assert page.evaluate("() => performance.getEntriesByType('resource')"
                             ".some((e) => e.name.includes('/api/stage/inject'))")
        page.wait_for_function("() => decodeURIComponent(location.search).includes('inventory:fail')",
                               timeout=15_000)
        swapped = clock(root)                              # new runs swapped in: the clock goes on (or ends)
        page.wait_for_function(
            "([r, t]) => parseFloat(r.getAttribute('data-t')) >= t"
            " || !!r.querySelector('button[aria-label=\"Play again\"]')"
            " || !!r.querySelector('button[aria-label=\"Play\"]')",
            arg=[root, swapped + 0.2], polling=50, timeout=15_000)
        assert page.get_by_role("button", name="Play", exact=True).count() == 0, \
            f"the clock stopped at t = {clock(root)} after the injection (swapped in at {swapped}), before the end"
        serve.screenshot(page, f"{SHOTS}/browser_injected.png")
        page.wait_for_function(COMPENSATION, arg=root, polling=50, timeout=20_000)
        serve.screenshot(page, f"{SHOTS}/browser_compensation.png")

        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_role("button", name=re.compile("^Play( again)?$")).wait_for(timeout=10_000)
        paused = clock(root)
        page.wait_for_timeout(400)
        assert clock(root) == paused, "the clock moved after Pause"


# Every token's label inside its style's picture, every frame: none cut at the edge of the stage.
LABELS_INSIDE = """(root) => { const out = window.__outside = []; window.__framesSeen = 0;
  const look = () => { window.__framesSeen++;
    for (const svg of root.querySelectorAll('svg.stage-svg')) { const box = svg.getBoundingClientRect();
      for (const t of svg.querySelectorAll('[data-msg] .label')) { if (!t.textContent) continue;
        const b = t.getBoundingClientRect();
        if (b.width && (b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1))
          out.push(t.textContent); } }
    if (out.length < 20) requestAnimationFrame(look); };
  requestAnimationFrame(look); }"""


@pytest.mark.parametrize("width, height", [(390, 844), (1024, 768)])
def test_no_message_label_leaves_the_stage(url, chromium, width, height):
    with new_page(chromium, width, height) as page:
        root = open_stage(page, url, "scenario=duplicate-double-charge&style=both&speed=4")
        root.evaluate(LABELS_INSIDE)
        page.get_by_role("button", name="Play", exact=True).click()
        page.get_by_role("button", name="Play again", exact=True).wait_for(timeout=30_000)
        assert page.evaluate("() => window.__framesSeen") > 30
        assert page.evaluate("() => window.__outside") == []


def test_a_link_opens_paused_at_its_time_and_a_projector_sees_the_stage_and_the_buttons(url, chromium):
    width, height = 1024, 768
    with new_page(chromium, width, height) as page:
        root = open_stage(page, url, "scenario=out-of-stock&style=both&t=2.5")
        page.wait_for_function("(r) => Math.abs(parseFloat(r.getAttribute('data-t')) - 2.5) < 0.01", arg=root,
                               timeout=15_000)
        assert page.get_by_role("button", name="Play", exact=True).count() == 1
        assert page.get_by_role("button", name="Pause", exact=True).count() == 0
        page.wait_for_timeout(400)
        assert abs(clock(root) - 2.5) < 0.01, "a shared moment must open paused"

        # the first screen of a 1024x768 projector, no scrolling: both stages, Play, the instructor's buttons
        serve.screenshot(page, f"{SHOTS}/browser_1024x768.png")
        things = [(f"the {style} stage", page.get_by_role("img", name=re.compile(f"^{style}"))) for style in STYLES]
        things.append(("Play", page.get_by_role("button", name="Play", exact=True)))
        things += [(name, page.get_by_role("button", name=name, exact=True)) for name in INSTRUCTOR]
        outside = []
        for name, locator in things:
            box = locator.bounding_box(timeout=5_000) if locator.count() == 1 else None
            if not box or box["width"] <= 0 or box["x"] < 0 or box["y"] < 0 \
                    or box["x"] + box["width"] > width + 0.5 or box["y"] + box["height"] > height + 0.5:
                outside.append(f"{name} at {box and {k: round(v) for k, v in box.items()}}")
        assert not outside, f"not on the first screen at {width}x{height}: " + "; ".join(outside)
        play = page.get_by_role("button", name="Play", exact=True)
        assert play.inner_text().strip() == "Play", "the Play button shows no word (a blank red button)"
        assert play.locator("svg").count() == 1, "the Play button shows no icon"


def test_the_editor_numbers_its_lines_and_marks_the_one_at_fault(url, chromium):
    """Issue 18: the text area gets a gutter of line numbers (gutter.js), scrolled with it, and the line an
    error cites is marked there."""
    with new_page(chromium, 1280, 1000) as page:
        open_stage(page, url, "scenario=happy-path")
        page.get_by_text("Edit", exact=True).click()
        area = page.get_by_role("textbox", name="Scenario YAML")
        area.wait_for(timeout=30_000)
        page.locator("[data-gutter]").wait_for(timeout=15_000)
        text = area.input_value()
        lines = text.split("\n")
        page.wait_for_function("(n) => document.querySelectorAll('[data-gutter] > div > div').length === n",
                               arg=len(lines), timeout=5_000)
        assert page.locator("[data-gutter] [data-bad]").count() == 0          # a good file: nothing marked
        at = next(k for k, line in enumerate(lines) if line.startswith("customers")) + 1   # 0-based: the next line
        lines[at] = "      " + lines[at]
        area.fill("\n".join(lines))
        area.press("Control+Enter")
        page.get_by_text(f"line {at + 1}:").first.wait_for(timeout=15_000)
        page.wait_for_function(f"() => document.querySelector('[data-gutter] [data-bad]')"
                               f" && document.querySelector('[data-gutter] [data-bad]').textContent === '{at + 1}'",
                               timeout=15_000)
        area.evaluate("(t) => { t.scrollTop = 120; t.dispatchEvent(new Event('scroll')); }")
        page.wait_for_function("() => document.querySelector('[data-gutter] > div').style.transform"
                               " === 'translateY(' + (-document.querySelector('textarea').scrollTop) + 'px)'",
                               timeout=5_000)
        serve.screenshot(page, f"{SHOTS}/browser_editor_gutter.png")
