"""App latency in a real browser: from an instructor's click on the stage to the first frame drawn from the new
runs, against a trivial Streamlit button round trip measured the same way, in the same browser.

    python bench/app_latency.py [--repeat 10] [--scenario out-of-stock] [--style both]

The injection is measured by ``bench/stage_bench.py`` (issue 13: the instructor's
buttons are inside the stage, a custom component; the old Streamlit-button panel
and its "Time: t = ..." text are gone): "Fail its next step" on inventory while the
stage plays, from the click (a listener in the page) to the frame whose
requestAnimationFrame callback first draws the new runs (``data-run`` changes), and,
of that, until the largest websocket message after the click (the stage's new
data) arrived. Each injection is at a new time, so every one re-simulates;
"Reset" between (untimed). The trivial app: a button that bumps a counter, from
the click to the rendering step of the frame that paints the new count. Both
timed by ``performance.now()`` in the page. Goal (issue 13): injection <= 1.5x
trivial.

Also printed, to tell the page's own cost from the injection's: the play view
rerun by a click that changes nothing (Restart at t = 0: the stage reports its
clock, the script runs again, nothing is redrawn), from the click to the script's
end and one more frame. Needs playwright and /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))      # the browser-test harness, serve.py
sys.path.insert(0, str(ROOT / "bench"))

import stage_bench  # noqa: E402
import serve  # noqa: E402

WARMUP = stage_bench.WARMUP
# The click on Restart, and the first frame after the script's next transition from running to notRunning.
RERUN_TIMER = """() => { const app = document.querySelector('[data-testid="stApp"]');
  const R = window.__rerun = {clicks: [], done: []}; let ran = false;
  document.addEventListener('click', () => { R.clicks.push(performance.now()); ran = false; }, true);
  new MutationObserver(() => { const s = app.getAttribute('data-test-script-state');
    if (s === 'running') ran = true;
    else if (s === 'notRunning' && ran) { ran = false; requestAnimationFrame(() => R.done.push(performance.now())); } })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"""


def unchanged(browser, url: str, scenario: str, style: str, repeat: int) -> list:
    """Press Restart at t = 0: the play view runs again, but nothing changes on screen."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    out = []
    try:
        stage_bench.open_stage(page, url, f"scenario={scenario}&style={style}")
        page.evaluate(RERUN_TIMER)
        restart = page.get_by_role("button", name="Restart", exact=True)
        for i in range(WARMUP + repeat):
            restart.click()
            page.wait_for_function("(n) => window.__rerun.done.length > n", arg=i, timeout=30_000)
            click, done = page.evaluate("() => [window.__rerun.clicks.at(-1), window.__rerun.done.at(-1)]")
            out.append(done - click)
            serve.wait_idle(page)
    finally:
        page.close()
    return out[WARMUP:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--scenario", default="out-of-stock")
    parser.add_argument("--style", default="both", choices=("both", "choreography", "orchestration"))
    args = parser.parse_args(argv)
    reason = serve.missing()
    if reason:
        print(f"app latency: skipped, {reason}")
        return 0
    where = f"{args.scenario}, {'side by side' if args.style == 'both' else args.style}"
    with stage_bench.chromium() as browser:
        base = statistics.median(_report("trivial button round trip", stage_bench.trivial(browser, args.repeat)))
        with serve.server() as url:
            page = statistics.median(_report(f"the play view rerun, nothing changed ({where})",
                                             unchanged(browser, url, args.scenario, args.style, args.repeat)))
            inj = stage_bench.injection(browser, url, args.scenario, args.repeat, style=args.style)
    fresh = statistics.median(_report(f"injection to the first frame of the new runs ({where})", inj["ms"]))
    arrived = statistics.median(_report("  of which until the stage's new data arrived", inj["arrived"]))
    print(f"ratio injection / trivial: {fresh / base:.2f}x (goal <= 1.5x); the new data arrived at "
          f"{arrived / base:.2f}x; the play view with nothing to redraw: {page / base:.2f}x")
    return 0


def _report(what: str, times: list) -> list:
    each = ", ".join(f"{x:.0f}" for x in times)
    print(f"{what}: median {statistics.median(times):.0f} ms  (of {len(times)}: {each})", flush=True)
    return times


if __name__ == "__main__":
    sys.exit(main())
