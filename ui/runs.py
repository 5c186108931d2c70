"""Scenarios and runs, cached: the only place the app calls the model.

A run is a pure function of (scenario text, style, seed, fault specs), so a
cache keyed on exactly those gives the same run to every session that asks for
it, and the playback clock never re-simulates. The run cache is bounded by
memory (the bytes of the runs it keeps), not by a count; a run too big for a page
is refused before it starts, with the command that runs it instead. A long run
shows its progress and a Stop button (:class:`Watcher`); a stopped run says when
it stopped, keeps nothing, and runs again only when asked. Errors come
back as one-line messages (``sim``'s own), never as tracebacks, and any text a
user supplied in them is a code span (``literal``): never Markdown, links or images.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import sim
from sim.engine import Progress, estimate

LOAD_SAGAS = 1000          # from this many sagas on (or with generated orders), the load view replaces the player


@dataclass(frozen=True)
class Entry:
    """One scenario of the library: what the picker shows, and the text that runs."""

    name: str
    title: str
    summary: str
    text: str
    source: str


def _library_signature(folder: Path) -> tuple:
    """Changes when a scenario file is added, removed or edited (the cache key of the library)."""
    try:
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.yaml")))
    except OSError:
        return ()


@st.cache_data(show_spinner=False, max_entries=4)
def _library(folder: str, signature: tuple) -> tuple:
    entries, broken = [], []
    for path, scenario in sim.list_scenarios(folder):
        if isinstance(scenario, Exception):
            broken.append(str(scenario))
            continue
        entries.append(Entry(scenario.name, scenario.title, scenario.summary,
                             path.read_text(encoding="utf-8"), str(path.relative_to(Path(folder).parent))))
    return tuple(entries), tuple(broken)


def library() -> tuple:
    """(entries, broken-file messages) of ``scenarios/*.yaml``, re-read when a file changes."""
    folder = Path(sim.SCENARIO_DIR)
    return _library(str(folder), _library_signature(folder))


def is_load(scenario) -> bool:
    """Too many sagas to animate: generated orders (``load:``) or a thousand sagas or more."""
    return scenario.load is not None or scenario.saga_count >= LOAD_SAGAS


def default_name(entries) -> str:
    """Lesson 1: where a newcomer starts (the library is in curriculum order)."""
    return entries[0].name if entries else ""


@st.cache_data(show_spinner=False, max_entries=64)
def parse(text: str, source: str):
    """The Scenario, or a ScenarioError's one-line message (a str)."""
    try:
        return sim.parse_scenario(text, source)
    except sim.SagaInputError as e:
        return literal(str(e), 600)
    except Exception as e:  # noqa: BLE001 - a validator bug must still not reach the user as a traceback
        return f"{literal(source)}: could not be read ({literal(f'{type(e).__name__}: {e}')})"


def literal(text, limit: int = 300) -> str:
    """User text shown as itself inside Markdown: a code span on one line (no link, image,
    emphasis, HTML, LaTeX or shortcode can come out of it), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    if len(text) > limit:
        text = text[:limit] + "..."
    if not text:
        return "(nothing)"
    run = longest = 0
    for c in text:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# The page's budget: a run that would cost more than a page should make a visitor wait for (or
# keep more events than the player can show) is refused up front, with the command that runs it.
APP_MAX_WORK = 1_500_000          # units of sim.engine's work budget: a few seconds
APP_MAX_EVENTS = 300_000          # trace events a run on the page may keep (the player's limit)
CACHE_BYTES = int(os.environ.get("SAGA_RUN_CACHE_MB", "512")) * 2**20
_cache: OrderedDict = OrderedDict()   # key -> pickled run (a copy per hit, as st.cache_data gives)
_cache_bytes = 0
_cache_lock = threading.Lock()


def too_big(scenario, style: str, faults, keep_events: bool = True) -> str | None:
    """Why this run is too big for the page (and the command that runs it instead), or None (``faults``:
    ``sim.Fault`` records)."""
    work, events = estimate(scenario, style, tuple(scenario.faults) + tuple(faults))
    if work <= APP_MAX_WORK and (not keep_events or events <= APP_MAX_EVENTS):
        return None
    size = f"about {events:,} events" if keep_events and events > APP_MAX_EVENTS else f"about {work:,} units of work"
    file = scenario.path if scenario.path and not scenario.path.startswith("<") else "scenario.yaml"
    extra = "".join(f" --fault {f.to_spec()}" for f in faults)
    return (f"This {style} run is too big for the page ({size}); it was not started. Run it from a "
            f"terminal instead: python -m sim run {literal(file)} --style {style}{literal(extra) if extra else ''} "
            "--format summary")


def _long(scenario, style: str, faults) -> bool:
    """Long enough to show progress (and a Stop button) on the page (``faults``: ``sim.Fault`` records)."""
    return estimate(scenario, style, tuple(scenario.faults) + tuple(faults))[0] >= SHOW_PROGRESS_WORK


def _cache_get(key):
    with _cache_lock:
        blob = _cache.get(key)
        if blob is not None:
            _cache.move_to_end(key)
    return None if blob is None else pickle.loads(blob)


def _cache_put(key, result) -> None:
    global _cache_bytes
    blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    if len(blob) > CACHE_BYTES // 4:
        return                                # one run may not push out everything else
    with _cache_lock:
        if key in _cache:
            return
        _cache[key] = blob
        _cache_bytes += len(blob)
        while _cache_bytes > CACHE_BYTES and _cache:
            _, old = _cache.popitem(last=False)
            _cache_bytes -= len(old)


def simulate(text: str, source: str, style: str, seed: int | None, faults: tuple, keep_events: bool = True,
             page: bool = True):
    """One run as the dict of contract 4 (plus services, steps, ...), or a one-line error message (a str).

    Cached across sessions by (text, source, style, seed, faults), up to ``CACHE_BYTES`` of
    pickled runs (the oldest used go first). A run this session stopped is not run again until
    its "Run it again" button is pressed (its message comes back instead). ``page=False`` (the stage's
    routes, outside any page's script run): no session, so no progress bar, no Stop, nothing stopped."""
    key = run_key(text, source, style, seed, faults, keep_events)
    hit = _cache_get(key)
    if hit is not None:
        return hit
    if page:
        stopped = _stopped().get(situation(key))
        if stopped is not None:         # this run, or its other style on the page, was stopped
            _run_again_button(key)
            said = stopped.get(style) or f"The {style} run was not started: you stopped the {next(iter(stopped))} run."
            return Stopped(said)
    result = _simulate(text, source, style, seed, faults, keep_events, key if page else None)   # key: a Watcher
    _cache_put(key, result)
    return result


def run_key(text: str, source: str, style: str, seed: int | None, faults, keep_events: bool = True) -> tuple:
    """What a run is cached (and stopped) under: the faults by their specs, so a fault given as text (the
    session's list) and the same fault given as a record (the stage's route) share one run."""
    return (hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(), source, style, seed, specs(faults),
            keep_events)


def specs(faults) -> tuple:
    """Faults (``sim.Fault`` records or their specs) as their specs."""
    return tuple(f if isinstance(f, str) else f.to_spec() for f in faults)


# ---------------------------------------------------------------- a long run: progress and Stop

SHOW_PROGRESS_WORK = 150_000      # estimated units of work from which a run shows progress (~0.3-1 s)
REDRAW_SECONDS = 0.2              # at most this often the bar is redrawn (each redraw lets a Stop press in)


class Stopped(str):
    """The message of a run stopped by its viewer: a str like every other error message, told apart by the
    views (a notice of what the user did, not an error)."""


def _stopped() -> dict:
    """situation (a run's key without its style) -> {style: message} of the run this session stopped: a
    press stops the page's runs of that situation, the one under way and the other style after it."""
    return st.session_state.setdefault("_stopped_runs", {})


def situation(key: tuple) -> tuple:
    return key[:2] + key[3:]


class Watcher:
    """The progress report of a long run on the page (``sim.run(progress=...)``): a bar and a Stop button,
    drawn at the first report and redrawn at most every ``REDRAW_SECONDS``.

    Stopping is Streamlit's own interruption: a press reruns the script, and Streamlit raises its rerun
    exception at the script's next Streamlit call, which is the bar's next redraw, inside the run. The
    run ends there (SimPy's loop unwinds, nothing is cached), and the button's callback, first thing in
    the new script run, marks the run stopped at the last time reported.
    """

    def __init__(self, key: tuple, style: str):
        self.key, self.style = key, style
        self.box = self.bar = None
        self.drawn = 0.0

    def __call__(self, where: Progress) -> bool:
        st.session_state["_run_progress"] = (self.key, where)     # the Stop button's callback reads it
        now = time.monotonic()
        if self.box is None:
            self.box = st.empty()
            with self.box.container(border=True):
                self.bar = st.progress(0.0, text=self.words(where))
                st.button("Stop this run", key=f"w_stop_{self.style}", icon=":material/stop_circle:",
                          help="Stop this run; nothing of it is kept", on_click=_stop, args=(self.key,))
            self.drawn = now
        elif now - self.drawn >= REDRAW_SECONDS:
            self.bar.progress(self.fraction(where), text=self.words(where))
            self.drawn = now
        return False

    @staticmethod
    def fraction(where: Progress) -> float:
        """Sagas started and sagas ended, half each: both grow with the work a run has left."""
        return min(1.0, (where.started + where.ended) / (2 * where.sagas)) if where.sagas else 0.0

    def words(self, where: Progress) -> str:
        return (f"Simulating {self.style}: t = {where.t:,.1f}; {where.started:,} of {where.sagas:,} sagas "
                f"started, {where.ended:,} ended")

    def done(self) -> None:
        if self.box is not None:
            self.box.empty()


def _stop(key: tuple) -> None:
    """The Stop button's callback: the run under way is stopped where it was last reported (if the pressed
    button's run ended just before the press, the situation's run that came next is the one under way)."""
    last = st.session_state.get("_run_progress")
    if last and situation(last[0]) == situation(key):
        key, where = last
    else:
        where = None
    style = key[2]
    said = where.stopped_words() if where else "stopped by you; nothing of this run was kept"
    _stopped()[situation(key)] = {style: f"The {style} run was {said}. Press Run it again to start it over."}


def _run_again(key: tuple) -> None:
    _stopped().pop(situation(key), None)


def _run_again_button(key: tuple) -> None:
    """Once per script run: the page asks for its runs more than once (a second button is refused)."""
    from streamlit.errors import StreamlitDuplicateElementKey
    try:
        st.button("Run it again", key="w_run_again", icon=":material/replay:", on_click=_run_again, args=(key,))
    except StreamlitDuplicateElementKey:
        pass


def _simulate(text, source, style, seed, faults, keep_events, key=None):
    scenario = parse(text, source)
    if isinstance(scenario, str):
        return scenario
    try:        # specs (the session's list) are parsed here, once; records (the stage's route) pass as they are;
        # sim.run checks their targets
        faults = tuple(sim.parse_fault(f) if isinstance(f, str) else f for f in faults)
    except sim.SagaInputError as e:
        return literal(str(e), 600)
    problem = too_big(scenario, style, faults, keep_events)
    if problem:
        return problem
    watcher = None
    if key is not None and _long(scenario, style, faults):
        watcher = Watcher(key, style)
    try:
        result = sim.run(scenario, style, seed=seed, faults=list(faults), keep_events=keep_events,
                         progress=watcher)
        if watcher is not None and watcher.bar is not None:
            watcher.bar.progress(1.0, text=f"Simulated {style}; preparing the figures...")
        out = result.to_dict(events=keep_events)
    except (sim.SagaInputError, sim.RunLimitError) as e:
        out = literal(str(e), 600)
    except Exception as e:  # noqa: BLE001
        out = f"the run failed ({literal(f'{type(e).__name__}: {e}')})"
    # (Streamlit's rerun, a Stop press among others, is a BaseException: it passes, and the page is redrawn)
    if watcher is not None:
        watcher.done()
    return out


@dataclass(frozen=True)
class Shown:
    """A run on screen: the key its figures are cached under, its style, and the run (or why there is none)."""

    key: tuple
    style: str
    run: dict | None
    error: str | None = None


def text_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


def shown_key(text: str, style: str, seed, faults, keep_events: bool = True) -> tuple:
    """What a shown run's figures are cached and named by (``Shown.key``): known before anything is simulated."""
    return (text_id(text), style, seed, specs(faults), keep_events)


def live_runs(text: str, source: str, styles, seed, faults, keep_events: bool = True, page: bool = True) -> list:
    """One Shown per style: the cached run of (scenario text, style, seed, faults); ``page=False`` from the
    stage's routes (no session there: see :func:`simulate`)."""
    out = []
    for style in styles:
        key = shown_key(text, style, seed, faults, keep_events)
        result = simulate(text, source, style, seed, tuple(faults), keep_events, page)
        out.append(Shown(key, style, None, result) if isinstance(result, str) else Shown(key, style, result))
    return out


def take_fault(spec, scenario):
    """The fault ``spec`` (text from a link, a form or a browser) means for this scenario, as a ``sim.Fault``;
    or, if it is none, the one-line reason (a str)."""
    try:
        return sim.faults.for_scenario((spec,), scenario.services)[0]
    except sim.SagaInputError as e:
        return literal(str(e), 600)


def describe(spec: str) -> str:
    try:
        return sim.parse_fault(spec).describe()
    except sim.SagaInputError:
        return spec


# ---------------------------------------------------------------- facts about loaded runs


def end_time(runs) -> float:
    """When the last event of any run happens: where the clock stops."""
    return max((r["events"][-1]["t"] for r in runs if r.get("events")), default=0.0)


OUTCOME_WORDS = {"in_flight": "still in flight"}


def outcome_words(outcomes: dict) -> str:
    """{"1": "completed", "2": "in_flight"} -> "saga 1 completed, saga 2 still in flight"."""
    if len(outcomes) > 6:
        counts = {}
        for o in outcomes.values():
            counts[o] = counts.get(o, 0) + 1
        return ", ".join(f"{n} {OUTCOME_WORDS.get(o, o)}" for o, n in sorted(counts.items()))
    return ", ".join(f"saga {s} {OUTCOME_WORDS.get(o, o)}" for s, o in outcomes.items())
