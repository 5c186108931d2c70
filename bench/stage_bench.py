"""The stage in a real browser (issue 13): frames, messages in flight, injection latency, server cost, first screen.

    python bench/stage_bench.py [--repeat 10] [--pages 5] [--scenario out-of-stock]
    python bench/stage_bench.py --video /tmp/stage-video     # also a 1x video with an injection

Everything is measured in ONE run of headless Chromium (Debian's, never
downloaded) against ``streamlit run app.py``, through the stage's testing
hooks only (``[data-stage]`` with ``data-t`` and ``data-run``, ``[data-msg]``
tokens with ``data-style``, ``[data-node]`` services, the buttons' accessible
names), never pixel positions:

1. playback at 1x, side by side (1440x900): a requestAnimationFrame sampler in
   the page reads ``data-t`` and every token's ``transform`` each frame, for the
   whole run. Frames per second = distinct ``data-t`` values per second over
   ~5 s in the middle of the run; "removed" = frames where the stage's root is
   not the element marked before Play; "blank" = frames where the stage has fewer
   than two SVGs with their services and the broker. Every message of the runs
   (computed here with the same engine) is looked for among the tokens: distinct
   positions per message, the messages never seen, and each token's largest
   move between two frames (a jump, against the usual step of a flight).
2. injection: "Fail its next step" clicked while playing, from the click (a
   listener in the page) to the frame that first draws the new runs (a
   MutationObserver on ``data-run``: it changes inside that frame's
   requestAnimationFrame callback, or in the task that swaps them in). The
   stage asks the page's route (POST /api/stage/inject) for the new runs; the
   route's answer (Resource Timing's responseEnd) is reported as "until the new
   runs arrived". Against a trivial Streamlit app (a button
   that bumps a counter) in the same browser: from the click to the rendering
   step of the frame that paints the new count. Both timed by
   ``performance.now()`` in the page; each injection is at a new time (a new
   fault, re-simulated, nothing from the cache), "Reset" between (untimed).
3. server: ``--pages`` pages play a longer scenario at 1x for 10 s; a
   MutationObserver on ``[data-testid=stApp]``'s ``data-test-script-state`` counts
   reruns (transitions to "running") in each; the server's CPU is utime+stime of
   the streamlit process (/proc/PID/stat) over those 10 s.
4. first screen at 1024x768: the bounding boxes of both styles' stage SVGs, Play
   and the seven instructor's buttons inside the viewport, without scrolling.

Prints a table of each figure and its goal. Speed is never a test's business.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))      # the browser-test harness, serve.py

import serve  # noqa: E402

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:                                        # main() says why there is no browser
    PlaywrightTimeout = TimeoutError

STYLES = ("choreography", "orchestration")
INSTRUCTOR = ("Fail its next step", "Fail its compensation", "Crash it for 5", "Slow it by 5", "Drop it",
              "Duplicate it", "Delay it by 5")
TRIVIAL_APP = """\
import streamlit as st

st.session_state.setdefault("n", 0)


def bump():
    st.session_state.n += 1


st.button("Click", on_click=bump)
st.write(f"clicked {st.session_state.n} times")
"""
WARMUP = 2

# ---------------------------------------------------------------- in-page JavaScript

# Services whose circle is painted dark: undrawn (no fill: SVG's default black), or fading in from it. No
# service state is drawn darker than grey, so any channel below 80 in every colour is a frame that is wrong.
DARK = """(r) => { let n = 0; for (const c of r.querySelectorAll('[data-node] circle')) {
    const m = getComputedStyle(c).fill.match(/[0-9.]+/g); if (m && m.slice(0, 3).every((v) => +v < 80)) n++; }
  return n; }"""

# The per-frame sampler, installed on the stage's root element (an element handle, so it reaches into the
# component's shadow root). It keeps every frame's data-t, counts frames where the marked root is gone or the
# stage is blank, every token's distinct transforms, and the reruns of the script while it runs.
SAMPLER = """(root) => { const dark = """ + DARK + """;
  const shadow = root.getRootNode();
  const app = document.querySelector('[data-testid="stApp"]');
  const mark = 'bench-' + Math.random();
  root.__benchMark = mark;
  const S = window.__stageBench = {frames: [], removed: 0, blank: 0, blankSeen: [], msgs: {}, reruns: 0,
                                   last: {}, jump: {},
                                   rerunAt: [], stop: false};
  const watch = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') { S.reruns++; S.rerunAt.push(performance.now()); }
  });
  watch.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const step = (now) => {
    if (S.stop) { watch.disconnect(); return; }
    requestAnimationFrame(step);
    const cur = shadow.querySelector('[data-stage]');
    if (cur !== root || !root.isConnected || root.__benchMark !== mark) S.removed++;
    const r = cur || root;
    S.frames.push([now, r.getAttribute('data-t')]);
    // blank: fewer than two SVGs that hold services ([data-node]) and the broker, or one of zero size
    const svgs = new Map();
    for (const n of r.querySelectorAll('[data-node]')) {
      const svg = n.ownerSVGElement; if (svg) svgs.set(svg, (svgs.get(svg) || 0) + 1);
    }
    let ok = 0;
    for (const [svg, count] of svgs) {
      const box = svg.getBoundingClientRect();
      const broker = svg.querySelector('.broker') || [...svg.querySelectorAll('text')].some((x) => x.textContent === 'broker');
      if (count >= 2 && broker && box.width > 0 && box.height > 0) ok++;
    }
    if (ok < 2 || dark(r)) { S.blank++; if (S.blankSeen.length < 5) S.blankSeen.push([r.getAttribute('data-t'), svgs.size, ok]); }
    for (const g of r.querySelectorAll('[data-msg]')) {
      const key = (g.getAttribute('data-style') || '?') + ':' + g.getAttribute('data-msg');
      const pos = g.getAttribute('transform') || '';
      (S.msgs[key] ||= {})[pos] = 1;
      const xy = (pos.match(/-?[0-9.]+/g) || []).map(Number), last = S.last[key];
      if (last && xy.length >= 2) { const d = Math.hypot(xy[0] - last[0], xy[1] - last[1]);
        if (d > (S.jump[key] || 0)) S.jump[key] = d; }
      S.last[key] = xy;
    }
  };
  requestAnimationFrame(step);
}"""

SAMPLED = """() => { const S = window.__stageBench; S.stop = true;
  const msgs = {}; for (const [k, v] of Object.entries(S.msgs)) msgs[k] = Object.keys(v).length;
  return {frames: S.frames, removed: S.removed, blank: S.blank, blankSeen: S.blankSeen, msgs, jump: S.jump,
          reruns: S.reruns, rerunAt: S.rerunAt}; }"""

# Clicks on the stage's buttons and each change of data-run, timed in the page.
INJECT_WATCH = """(root) => { const dark = """ + DARK + """;
  const B = window.__inj = {clicks: [], runs: [], dark: 0, frames: 0, until: 0};
  // services are looked at only in the 600 ms after new ones are built (a swap): getComputedStyle every
  // frame would cost the page ~5 % of its time and slow what is measured here
  new MutationObserver((records) => { if (records.some((m) => [...m.addedNodes].some((n) => n.querySelector
    && n.querySelector('[data-node]')))) B.until = performance.now() + 600; })
    .observe(root, {childList: true, subtree: true});
  const step = (now) => { requestAnimationFrame(step);
    if (performance.now() < B.until) { B.frames++; if (dark(root)) B.dark++; } };
  requestAnimationFrame(step);
  root.getRootNode().addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('button');
    if (b && b.textContent.trim() === 'Fail its next step') B.clicks.push(performance.now());
  }, true);
  new MutationObserver(() => B.runs.push([performance.now(), root.getAttribute('data-run')]))
    .observe(root, {attributes: true, attributeFilter: ['data-run']});
}"""

TRIVIAL_WATCH = """() => {
  const T = window.__triv = {clicks: [], painted: {}};
  document.addEventListener('click', (e) => { if (e.target.closest && e.target.closest('button'))
    T.clicks.push(performance.now()); }, true);
  let last = null;
  new MutationObserver(() => {
    const m = document.body.innerText.match(/clicked (\\d+) times/);
    if (m && m[1] !== last) { last = m[1]; const n = m[1]; requestAnimationFrame(() => { T.painted[n] = performance.now(); }); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

# Every websocket message the page receives, timed (installed before the page loads): tells how much of an
# injection's latency is the server's (until the largest message, the stage's new data, arrives, when the press
# goes through a rerun) and how much the browser's (from there to the frame drawn).
WS_LOG = """(() => { const log = window.__wsLog = [], sent = window.__wsSent = []; const Orig = window.WebSocket;
  const send = Orig.prototype.send;
  Orig.prototype.send = function (d) { sent.push([performance.now(), d.byteLength || d.length || 0]); return send.call(this, d); };
  window.WebSocket = function (...args) { const ws = new Orig(...args);
    ws.addEventListener('message', (e) => log.push([performance.now(), e.data.byteLength || e.data.size || e.data.length || 0]));
    return ws; };
  window.WebSocket.prototype = Orig.prototype; Object.assign(window.WebSocket, Orig); })();"""

# What the stage shows when an injection's click brought no new runs.
LOST = """(r) => ({t: r.getAttribute('data-t'), clicks: window.__inj.clicks.length,
  label: [...r.querySelectorAll('button')].map((b) => b.getAttribute('aria-label')).find((l) => /^(Play|Pause)/.test(l || '')),
  panel: (r.querySelector('.faults') || r).innerText.slice(0, 200)})"""

RERUN_WATCH = """() => { const app = document.querySelector('[data-testid="stApp"]');
  const W = window.__reruns = {n: 0};
  new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') W.n++; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"""


# ---------------------------------------------------------------- helpers


def stage(page):
    return page.locator("[data-stage]")


def stage_t(page) -> float:
    return float(stage(page).get_attribute("data-t") or 0)


def open_stage(page, url: str, query: str, timeout: float = 60.0) -> None:
    page.goto(f"{url}/?{query}")
    stage(page).wait_for(timeout=timeout * 1000)
    page.wait_for_function("(el) => el.getAttribute('data-run')", arg=stage(page).element_handle(),
                           timeout=timeout * 1000)
    serve.wait_idle(page, timeout)


def play(page) -> None:
    for name in ("Play", "Play again"):
        button = page.get_by_role("button", name=name, exact=True)
        if button.count():
            button.click()
            break
    page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=10_000)


def expected_messages(scenario: str) -> dict:
    """(style -> [(msg_id, name, sent, end)], the last end) of the scenario's runs (no faults, its own seed)."""
    import sim
    import viz.stage
    path = ROOT / "scenarios" / f"{scenario}.yaml"
    sc = sim.parse_scenario(path.read_text(encoding="utf-8"), str(path))
    out, end = {}, 0.0
    for style in STYLES:
        run = viz.stage.stage_run(sim.run(sc, style, seed=None, faults=[], keep_events=True).to_dict(events=True))
        out[style] = [(m[0], m[1], m[4], m[5]) for m in run["msgs"]]
        end = max(end, float(run["end"]))
    return out, end


def streamlit_pid(url: str) -> int:
    """The pid of the ``streamlit run`` child of this process that serves ``url``."""
    port = url.rsplit(":", 1)[1]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == os.getpid() and b"--server.port" in cmd and port.encode() in cmd:
            return int(entry)
    raise RuntimeError(f"no streamlit process of ours serves {url}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


chromium = serve.chromium


# ---------------------------------------------------------------- 1. playback


def playback(browser, url: str, scenario: str) -> dict:
    """Play the whole run at 1x, side by side, sampling every frame."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        open_stage(page, url, f"scenario={scenario}&style=both&speed=1")
        boxes = [page.locator(f"svg[aria-label^='{s}']").first.bounding_box() for s in STYLES]
        side = all(boxes) and abs(boxes[0]["y"] - boxes[1]["y"]) < 5 and boxes[0]["x"] != boxes[1]["x"]
        stage(page).element_handle().evaluate(SAMPLER)
        page.wait_for_timeout(300)
        play(page)
        page.get_by_role("button", name="Play again", exact=True).wait_for(timeout=60_000)
        page.wait_for_timeout(200)
        got = page.evaluate(SAMPLED)
    finally:
        page.close()
    got["side_by_side"] = side
    return got


def frame_rate(frames: list, end: float) -> tuple:
    """(distinct data-t per second, rAF callbacks per second) over ~5 s in the middle of the playback."""
    moving = [(now, float(t)) for now, t in frames if t is not None and 0 < float(t) < end]
    if len(moving) < 2:
        return 0.0, 0.0
    start, stop = moving[0][0], moving[-1][0]
    span = min(5000.0, stop - start - 1000.0)
    lo = start + max(500.0, (stop - start - span) / 2)
    hi = lo + span
    inside = [(now, t) for now, t in moving if lo <= now <= hi]
    distinct = len({t for _, t in inside})
    return distinct / (span / 1000), len(inside) / (span / 1000)


def flight_report(msgs: dict, expected: dict) -> dict:
    """min / median distinct positions per expected message, and the messages never seen, per style."""
    out = {}
    for style, rows in expected.items():
        counts = [msgs.get(f"{style}:{mid}", 0) for mid, *_ in rows]
        seen = [c for c in counts if c]
        out[style] = {"n": len(rows), "never": sum(1 for c in counts if not c),
                      "min": min(counts) if counts else 0, "median": statistics.median(seen) if seen else 0,
                      "below8": [rows[i][1] for i, c in enumerate(counts) if c < 8]}
    return out


# ---------------------------------------------------------------- 2. injection against a trivial round trip


def trivial(browser, repeat: int) -> list:
    """Click a button that bumps a counter; ms from the click to the frame that paints the new count."""
    out = []
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "app.py"
        app.write_text(TRIVIAL_APP)
        (Path(folder) / ".streamlit").mkdir()
        shutil.copy(ROOT / ".streamlit" / "config.toml", Path(folder) / ".streamlit" / "config.toml")
        with serve.server(app) as url:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            try:
                page.goto(url)
                serve.wait_text_idle(page, "clicked 0 times")
                page.evaluate(TRIVIAL_WATCH)
                button = page.get_by_role("button", name="Click")
                for i in range(WARMUP + repeat):
                    button.click()
                    page.wait_for_function("(n) => window.__triv.painted[n] !== undefined", arg=str(i + 1),
                                           timeout=30_000)
                    serve.wait_idle(page)
                    got = page.evaluate("(n) => [window.__triv.clicks.at(-1), window.__triv.painted[n]]",
                                        str(i + 1))
                    out.append(got[1] - got[0])
            finally:
                page.close()
    return out[WARMUP:]


def injection(browser, url: str, scenario: str, repeat: int, style: str = "both") -> dict:
    """Click "Fail its next step" (inventory) while playing; ms until the first frame drawn from the new runs."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(WS_LOG)
    out, arrived, times, late, lost, swaps = [], [], [], 0, [], []
    try:
        open_stage(page, url, f"scenario={scenario}&style={style}")
        page.get_by_role("radio", name="inventory", exact=True).click()
        stage(page).element_handle().evaluate(INJECT_WATCH)
        fail = page.get_by_role("button", name="Fail its next step", exact=True)
        reset = page.get_by_role("button", name="Reset", exact=True)
        play(page)
        for k in range(WARMUP + repeat):
            if page.get_by_role("button", name="Pause", exact=True).count() == 0:
                play(page)
            page.wait_for_timeout(150 + 40 * k)          # a new moment each time: a new fault, re-simulated
            before = stage(page).get_attribute("data-run")
            clicks = page.evaluate("() => window.__inj.clicks.length")
            fail.click()
            try:
                page.wait_for_function(
                    "([b, n]) => window.__inj.clicks.length > n && window.__inj.runs.some(([when, run]) =>"
                    " run !== b && when > window.__inj.clicks.at(-1))", arg=[before, clicks], timeout=20_000)
            except PlaywrightTimeout:                      # the click was lost: say what was on screen
                lost.append(page.evaluate(LOST, stage(page).element_handle()))
                serve.wait_idle(page)
                if page.get_by_text(re.compile(r"Injected faults \(\d+\)")).count():
                    reset.click()
                    page.get_by_text("No injected faults yet.").wait_for(timeout=15_000)
                    serve.wait_idle(page)
                continue
            click, drawn, biggest = page.evaluate(
                "(b) => { const c = window.__inj.clicks.at(-1);"
                " const d = window.__inj.runs.find(([w, r]) => r !== b && w > c)[0];"
                " const route = performance.getEntriesByType('resource').filter((e) =>"
                "   e.name.includes('/api/stage/inject') && e.startTime >= c - 1 && e.responseEnd <= d);"
                " if (route.length) return [c, d, route.at(-1).responseEnd];"
                " const got = window.__wsLog.filter(([w]) => w > c && w < d);"
                " const big = got.reduce((m, x) => (x[1] > m[1] ? x : m), [d, 0]);"
                " return [c, d, big[0]]; }", before)
            times.append(stage_t(page))
            swap = stage(page).get_attribute("data-swap-ms")     # the stage's own swap, if it says
            if swap:
                swaps.append(float(swap))
            out.append(drawn - click)
            arrived.append(biggest - click)
            page.get_by_text("Injected faults (1)").wait_for(timeout=15_000)
            if page.get_by_role("button", name="Play", exact=True).count():
                late += 1                                  # stopped before the end: not by the clock
            serve.wait_idle(page)
            injected = stage(page).get_attribute("data-run")
            reset.click()
            page.get_by_text("No injected faults yet.").wait_for(timeout=15_000)
            page.wait_for_function(
                "(r) => window.__inj.runs.length && window.__inj.runs.at(-1)[1] !== r", arg=injected,
                timeout=15_000)
            serve.wait_idle(page)
        dark = page.evaluate("() => [window.__inj.dark, window.__inj.frames]")
    finally:
        page.close()
    return {"ms": out[WARMUP:], "arrived": arrived[WARMUP:], "stopped": late, "dark": dark, "lost": lost,
            "swap": swaps[WARMUP:]}


# ---------------------------------------------------------------- 3. the server while pages play


def server_cost(browser, url: str, scenario: str, pages: int, seconds: float = 10.0) -> dict:
    """``pages`` pages play ``scenario`` at 1x; reruns seen in each and the server's CPU over ``seconds``."""
    pid = streamlit_pid(url)
    opened = []
    try:
        for _ in range(pages):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.add_init_script(WS_LOG)
            opened.append(page)
            open_stage(page, url, f"scenario={scenario}&style=both&speed=1")
        time.sleep(4.0)                                    # the pages' first runs are over
        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(5.0)
        paused = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
        for page in opened:
            play(page)
        for page in opened:
            serve.wait_idle(page)
        time.sleep(1.0)                                    # the Play presses' own reruns are over
        for page in opened:
            page.evaluate(RERUN_WATCH)
        t0 = [stage_t(p) for p in opened]
        marks = [p.evaluate("() => performance.now()") for p in opened]
        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(seconds)
        cpu1, wall1 = cpu_seconds(pid), time.perf_counter()
        messages = sum(p.evaluate("(m) => window.__wsLog.filter(([w]) => w > m).length"
                                  " + window.__wsSent.filter(([w]) => w > m).length", m) for p, m in zip(opened, marks))
        reruns = [p.evaluate("() => window.__reruns.n") for p in opened]
        advanced = [stage_t(p) - a for p, a in zip(opened, t0)]
        playing = [p.get_by_role("button", name="Pause", exact=True).count() == 1 for p in opened]
    finally:
        for page in opened:
            page.close()
    return {"cpu": (cpu1 - cpu0) / (wall1 - wall0), "paused": paused, "messages": messages, "reruns": reruns,
            "advanced": advanced, "playing": playing,
            "seconds": wall1 - wall0}


# ---------------------------------------------------------------- 4. the first screen at 1024x768


def first_screen(browser, url: str, scenario: str, width: int = 1024, height: int = 768) -> dict:
    page = browser.new_page(viewport={"width": width, "height": height})
    out = {}
    try:
        open_stage(page, url, f"scenario={scenario}&style=both")
        page.wait_for_timeout(300)
        things = [(f"{s} stage", page.locator(f"svg[aria-label^='{s}']").first) for s in STYLES]
        things.append(("Play", page.get_by_role("button", name="Play", exact=True)))
        things += [(name, page.get_by_role("button", name=name, exact=True)) for name in INSTRUCTOR]
        for name, loc in things:
            box = loc.bounding_box() if loc.count() else None
            inside = bool(box) and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 \
                and box["y"] + box["height"] <= height + 0.5 and box["width"] > 0
            out[name] = (inside, box)
        out["_scroll"] = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                                       " return m ? m.scrollTop : window.scrollY; }")
        serve.screenshot(page, f"/tmp/stage-bench/first-{width}x{height}.png")
    finally:
        page.close()
    return out


# ---------------------------------------------------------------- the video


def video(browser, url: str, scenario: str, folder: Path, width: int = 1440, height: int = 900,
          target: str = "inventory", at: float = 1.3) -> Path:
    """A 1x playback of ``scenario`` side by side, "Fail its next step" on ``target`` at t ~ ``at``; its frames."""
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height}, record_video_dir=str(folder),
                                  record_video_size={"width": width, "height": height})
    page = context.new_page()
    try:
        open_stage(page, url, f"scenario={scenario}&style=both")
        page.get_by_role("radio", name=target, exact=True).click()
        page.wait_for_timeout(500)
        play(page)
        page.wait_for_function("(at) => { const r = [...document.querySelectorAll('*')].find((e) => e.shadowRoot"
                               " && e.shadowRoot.querySelector('[data-stage]'));"
                               " return r && parseFloat(r.shadowRoot.querySelector('[data-stage]')"
                               ".getAttribute('data-t')) >= at; }", arg=at, polling=100, timeout=30_000)
        page.get_by_role("button", name="Fail its next step", exact=True).click()
        page.get_by_role("button", name="Play again", exact=True).wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
    finally:
        page.close()
        path = Path(page.video.path())
        context.close()
    frames = folder / "frames"
    frames.mkdir(exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(path), "-vf", "fps=10",
                    str(frames / "f%03d.png")], check=True)
    return path


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed injections and trivial clicks (median)")
    parser.add_argument("--pages", type=int, default=5, help="pages playing at once for the server's CPU")
    parser.add_argument("--scenario", default="out-of-stock")
    parser.add_argument("--long", default="slow-payment", help="a scenario that plays well over 10 s at 1x")
    parser.add_argument("--video", type=Path, help="also record a 1x video with an injection into this folder")
    args = parser.parse_args(argv)
    reason = serve.missing()
    if reason:
        print(f"stage bench: skipped, {reason}")
        return 0
    expected, end = expected_messages(args.scenario)
    with chromium() as browser:
        base = trivial(browser, args.repeat)
        print(f"trivial round trip, ms: {', '.join(f'{x:.0f}' for x in base)}", flush=True)
        with serve.server() as url:
            pb = playback(browser, url, args.scenario)
            pb["end"] = end
            fps, raf = frame_rate(pb["frames"], end)
            flights = flight_report(pb["msgs"], expected)
            print(f"playback: {len(pb['frames'])} frames sampled, {fps:.1f} distinct data-t/s "
                  f"({raf:.1f} rAF/s), side by side: {pb['side_by_side']}", flush=True)
            inj = injection(browser, url, args.scenario, args.repeat)
            print(f"injection to the new runs' first frame, ms: {', '.join(f'{x:.0f}' for x in inj['ms'])}",
                  flush=True)
            cost = server_cost(browser, url, args.long, args.pages)
            print(f"{args.pages} pages playing {args.long}: server CPU {cost['cpu'] * 100:.1f}% over "
                  f"{cost['seconds']:.1f} s, reruns per page {cost['reruns']}, clock advanced "
                  f"{', '.join(f'{a:.1f}' for a in cost['advanced'])}, still playing {cost['playing']}", flush=True)
            screen = first_screen(browser, url, args.scenario)
            if args.video:
                path = video(browser, url, args.scenario, args.video)
                print(f"video: {path}; frames at 10/s in {args.video / 'frames'}", flush=True)
    table(pb, fps, raf, flights, base, inj, cost, screen, args)
    return 0


def table(pb, fps, raf, flights, base, inj, cost, screen, args) -> None:
    trivial_ms, inject_ms = statistics.median(base), statistics.median(inj["ms"])
    ratio = inject_ms / trivial_ms
    rows = [
        (f"frames per second at 1x, both styles ({args.scenario})", f"{fps:.1f} (rAF {raf:.1f}/s)", ">= 50",
         fps >= 50),
        ("frames where the stage element was replaced/removed", f"{pb['removed']} of {len(pb['frames'])}", "0",
         pb["removed"] == 0),
        ("blank frames (a stage without its services and broker, or a dark service)",
         f"{pb['blank']} of {len(pb['frames'])}", "0",
         pb["blank"] == 0),
    ]
    for style, f in flights.items():
        rows.append((f"{style}: distinct positions per message, min / median",
                     f"{f['min']} / {f['median']:g} (of {f['n']} messages)", "min >= 8", f["min"] >= 8))
        rows.append((f"{style}: messages never seen", str(f["never"]), "0", f["never"] == 0))
    steps = sorted(pb["jump"].values())
    worst = max(pb["jump"], key=pb["jump"].get) if steps else "-"
    rows.append(("a token's largest move between two frames / median of the largest, SVG units",
                 f"{steps[-1]:.0f} ({worst}) / {statistics.median(steps):.0f}" if steps else "-", "", None))
    moving = [now for now, t in pb["frames"] if t is not None and float(t) > 0]
    ended = [now for now, t in pb["frames"] if t is not None and float(t) >= pb["end"] - 1e-6]
    lo, hi = (moving[0] + 500, ended[0]) if moving and ended else (0, 0)
    during = [x for x in pb["rerunAt"] if lo < x < hi]
    rows += [
        ("trivial button round trip, median ms", f"{trivial_ms:.0f}", "", None),
        ("injection click -> first frame of new runs, median ms", f"{inject_ms:.0f}", "", None),
        ("  of which until the new runs arrived (the route's answer, else the largest websocket message)", f"{statistics.median(inj['arrived']):.0f}",
         "", None),
        ("  of which the stage's own swap (data-swap-ms), median", f"{statistics.median(inj['swap']):.1f}"
         if inj["swap"] else "-", "", None),
        ("injection clicks that brought no new runs (20 s)",
         f"{len(inj['lost'])} of {len(inj['ms']) + len(inj['lost']) + WARMUP}",
         "0", not inj["lost"]),
        ("ratio injection / trivial", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5),
        (f"frames with a dark service in the 600 ms after {2 * (len(inj['ms']) + WARMUP)} swaps (injections, resets)",
         f"{inj['dark'][0]} of {inj['dark'][1]}", "0", inj["dark"][0] == 0),
        (f"reruns while playing {args.scenario} at 1x (after the Play press's own)",
         f"{len(during)} (all: {pb['reruns']})", "0", not during),
        (f"reruns while {args.pages} pages play {args.long} for 10 s", str(sum(cost["reruns"])), "0",
         sum(cost["reruns"]) == 0),
        ("  websocket messages sent or received by those pages meanwhile", str(cost["messages"]), "0",
         cost["messages"] == 0),
        (f"server CPU, {args.pages} pages playing, % of a core", f"{cost['cpu'] * 100:.1f}", "<= 5",
         cost["cpu"] <= 0.05),
        ("  the same pages open, paused (5 s before Play)", f"{cost['paused'] * 100:.1f}", "", None),
    ]
    out = [name for name, (inside, _) in boxes(screen) if not inside]
    rows.append(("1024x768 first screen: both stages, Play, 7 instructor's buttons",
                 "all inside" if not out else "outside: " + ", ".join(out), "all inside", not out))
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'figure':<{width}}  {'measured':<28}  {'goal':<10}  ok")
    for name, value, goal, ok in rows:
        print(f"{name:<{width}}  {value:<28}  {goal:<10}  {'' if ok is None else 'yes' if ok else 'NO'}")
    for style, f in flights.items():
        if f["below8"]:
            print(f"{style}: under 8 positions: {', '.join(f['below8'])}")
    if pb["blankSeen"]:
        print(f"first blank frames (data-t, SVGs with nodes, complete SVGs): {pb['blankSeen']}")
    for name, (inside, box) in boxes(screen):
        if not inside:
            where = "missing" if not box else "x={x:.0f} y={y:.0f} w={width:.0f} h={height:.0f}".format(**box)
            print(f"  {name}: {where}")
    for k, what in enumerate(inj["lost"]):
        print(f"injection click lost ({k + 1} of {len(inj['lost'])}): {what}")
    if inj["stopped"]:
        print(f"{inj['stopped']} of {len(inj['ms']) + WARMUP} injections left the clock stopped before the end "
              "(Play, not Pause or Play again)")


def boxes(screen: dict) -> list:
    return [(name, v) for name, v in screen.items() if not name.startswith("_")]


if __name__ == "__main__":
    sys.exit(main())
