"""Run the app in a real browser: start a Streamlit server, open headless Chromium, stop both.

A test harness, not part of the app: used by the browser tests (``tests/test_browser*.py``,
``tests/test_api.py``) and the benches that drive a real browser (``bench/app_latency.py``,
``bench/stage_bench.py``, ``bench/classroom_pages_bench.py``, which import it from here). Needs
playwright and Debian's chromium (``/usr/bin/chromium``); never downloads a
browser. ``missing()`` says why a real-browser run cannot happen here.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ROOT = Path(__file__).resolve().parent.parent


def missing() -> str | None:
    """None if a real-browser run can happen here, else the reason it cannot."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(app: Path = ROOT / "app.py", timeout: float = 60.0):
    """``streamlit run app`` on a free port; yields its URL; stops it and waits until the process is gone."""
    port = free_port()
    streamlit = shutil.which("streamlit", path=str(Path(sys.executable).parent)) or "streamlit"
    cmd = [streamlit, "run", str(app), "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    log = open(os.environ.get("SAGA_SERVER_LOG", os.devnull), "wb")
    proc = subprocess.Popen(cmd, cwd=str(app.parent), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode} before it answered")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer on {url} within {timeout:g} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def chromium():
    """Debian's headless Chromium (never a downloaded browser), closed on the way out."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def browser(width: int = 1400, height: int = 900):
    """A headless Chromium page of the given size."""
    with chromium() as b:
        yield b.new_page(viewport={"width": width, "height": height})


@contextlib.contextmanager
def contexts(n: int, sizes: list):
    """``n`` pages in separate browser contexts (separate sessions: an instructor and learners), one browser."""
    with chromium() as b:
        yield [b.new_context(viewport={"width": w, "height": h}).new_page() for w, h in sizes[:n]]


IDLE = ("() => { const a = document.querySelector('[data-testid=\"stApp\"]');"
        " return a && a.getAttribute('data-test-script-state') === 'notRunning'; }")


def wait_idle(page, timeout: float = 30.0) -> None:
    """Until the app's script is not running (every element of the last run has arrived)."""
    page.wait_for_function(IDLE, timeout=timeout * 1000, polling="raf")


def wait_text_idle(page, text: str, timeout: float = 30.0) -> None:
    """Until ``text`` is on the page and the script has finished, then two animation frames (drawn)."""
    page.wait_for_function(
        "(text) => { const a = document.querySelector('[data-testid=\"stApp\"]');"
        " return a && a.getAttribute('data-test-script-state') === 'notRunning'"
        " && document.body.innerText.includes(text); }", arg=text, timeout=timeout * 1000, polling="raf")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


WATCH_RERUN = ("() => { const a = document.querySelector('[data-testid=\"stApp\"]'); window.__sagaRan = false;"
               " if (window.__sagaWatch) window.__sagaWatch.disconnect();"
               " window.__sagaWatch = new MutationObserver(() => { if (a.getAttribute('data-test-script-state')"
               " === 'running') window.__sagaRan = true; }); window.__sagaWatch.observe(a, {attributes: true}); }")
RERUN_DONE = ("() => window.__sagaRan && document.querySelector('[data-testid=\"stApp\"]')"
              ".getAttribute('data-test-script-state') === 'notRunning'")


def click_and_wait_rerun(page, locator, timeout: float = 30.0) -> None:
    """Click, then wait until the rerun that the click starts has finished and two frames are drawn (for a
    click that changes nothing on the page, so there is no new text to wait for)."""
    page.evaluate(WATCH_RERUN)
    locator.click()
    page.wait_for_function(RERUN_DONE, timeout=timeout * 1000, polling="raf")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def screenshot(page, path: str, full: bool = False) -> None:
    """A screenshot; ``full`` grows the window to the app's whole height first (its main area scrolls)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not full:
        page.screenshot(path=path)
        return
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    page.wait_for_timeout(1200)
    page.screenshot(path=path)
    page.set_viewport_size(size)
