"""App latency in a real browser: from clicking an injection to the redrawn figures,
against a trivial Streamlit button round trip measured the same way.

    python bench/app_latency.py [--repeat 10] [--scenario out-of-stock]

Each injection is at a new time (the clock steps on first, not timed), so every
one re-simulates and redraws: nothing comes from the cache. "Redrawn" means the
new fault is listed, the script has finished (every figure has arrived) and the
browser has painted two more frames; "listed" is the moment the new fault shows
in the instructor's panel (what the instructor sees answer the click). Goal
(issue 8): injection <= 1.5x trivial.

Also printed, to tell the page's own cost from the injection's: the play view
rerun by a click that changes nothing (Restart at t = 0), every element sent again
and no figure redrawn. Needs playwright and /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ui import serve  # noqa: E402

TRIVIAL_APP = """\
import streamlit as st

st.session_state.setdefault("n", 0)


def bump():
    st.session_state.n += 1


st.button("Click", on_click=bump)
st.write(f"clicked {st.session_state.n} times")
"""
WARMUP = 2


def _timed(page, click, done_text: str, listed: list | None = None) -> float:
    start = time.perf_counter()
    click()
    if listed is not None:
        page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=done_text, polling="raf")
        listed.append(time.perf_counter() - start)
    serve.wait_text_idle(page, done_text)
    return time.perf_counter() - start


def trivial(repeat: int) -> list:
    """Click a button that bumps a counter; until the new count is painted."""
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "app.py"
        app.write_text(TRIVIAL_APP)
        (Path(folder) / ".streamlit").mkdir()
        shutil.copy(ROOT / ".streamlit" / "config.toml", Path(folder) / ".streamlit" / "config.toml")
        with serve.server(app) as url, serve.browser() as page:
            page.goto(url)
            serve.wait_text_idle(page, "clicked 0 times")
            button = page.get_by_role("button", name="Click")
            out = [_timed(page, button.click, f"clicked {i + 1} times") for i in range(WARMUP + repeat)]
    return out[WARMUP:]


def _open(page, url: str, scenario: str, style: str) -> None:
    page.goto(f"{url}/?scenario={scenario}&style={style}")
    page.get_by_role("button", name="Play", exact=True).wait_for(timeout=60_000)
    serve.wait_idle(page)


def unchanged(repeat: int, scenario: str, style: str = "both") -> list:
    """Press Restart at t = 0: the play view runs again and sends every element, but nothing changes."""
    out = []
    with serve.server() as url, serve.browser() as page:
        _open(page, url, scenario, style)
        restart = page.get_by_role("button", name="Restart", exact=True)
        for _ in range(WARMUP + repeat):
            start = time.perf_counter()
            serve.click_and_wait_rerun(page, restart)
            out.append(time.perf_counter() - start)
    return out[WARMUP:]


def injection(repeat: int, scenario: str, cached: bool = False, style: str = "both",
              listed: list | None = None) -> list:
    """Step to a new moment (untimed), inject a crash (timed until redrawn), reset the faults (untimed).

    ``cached``: inject at the same moment every time, so the runs and figures come from the cache and only
    Streamlit and the browser are measured. ``listed`` gets the times until the new fault was listed.
    """
    out, seen = [], []
    with serve.server() as url, serve.browser() as page:
        _open(page, url, scenario, style)
        for k in range(WARMUP + repeat):
            if k == 0 or not cached:
                before = page.evaluate("() => document.body.innerText.match(/Time: t = ([0-9.]+)/)[1]")
                page.get_by_role("button", name="Next", exact=True).click()
                page.wait_for_function("(b) => { const m = document.body.innerText.match(/Time: t = ([0-9.]+)/);"
                                       " return m && m[1] !== b; }", arg=before, timeout=30_000)
                serve.wait_idle(page)
            crash = page.get_by_role("button", name="Crash it for 5")
            out.append(_timed(page, crash.click, "Injected faults (1)", seen))
            page.get_by_role("button", name="Reset", exact=True).click()
            serve.wait_text_idle(page, "No injected faults yet.")
    if listed is not None:
        listed.extend(seen[WARMUP:])
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
    base = statistics.median(_report("trivial button round trip", trivial(args.repeat)))
    where = f"{args.scenario}, {'side by side' if args.style == 'both' else args.style}"
    page = statistics.median(_report(f"the play view rerun, nothing changed ({where})",
                                     unchanged(args.repeat, args.scenario, args.style)))
    listed = []
    fresh = statistics.median(_report(f"injection to redrawn figures ({where}, new run)",
                                      injection(args.repeat, args.scenario, style=args.style, listed=listed)))
    ack = statistics.median(_report("  of which until the new fault is listed", listed))
    cached = statistics.median(_report("the same, runs and figures from the cache (Streamlit + browser only)",
                                       injection(args.repeat, args.scenario, cached=True, style=args.style)))
    print(f"ratio injection / trivial: {fresh / base:.2f}x (goal <= 1.5x); from the cache: {cached / base:.2f}x; "
          f"fault listed: {ack / base:.2f}x; the play view with nothing to redraw: {page / base:.2f}x")
    return 0


def _report(what: str, times: list) -> list:
    print(f"{what}: median {statistics.median(times) * 1000:.0f} ms  "
          f"(of {len(times)}: {', '.join(f'{x * 1000:.0f}' for x in times)})", flush=True)
    return times


if __name__ == "__main__":
    sys.exit(main())
