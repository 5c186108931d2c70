"""HTTP routes the stage calls from the browser, beside the page (``app.py`` serves both through ``st.App``).

A rerun of the page is the slow way to answer a click: the click goes to the
session, the script (or its fragment) runs, and the browser redraws the
component with new data. Two things a class waits for go straight to a route
instead, and the session is told afterwards:

- ``POST /api/stage/inject``: an instructor's button. The stage sends the press
  (kind, target, the time on screen), the scenario's token and the faults so
  far; the route turns the press into a fault (``inject.fault_from_press``, the
  page's own rule), re-simulates (the shared run cache) and answers with the
  new runs, digested for the stage. The stage swaps them in at once, then tells
  its session, which adopts the fault (checked again) for the charts, the link
  and a room. Nothing here changes any state: the same press always gets the
  same answer.
- ``GET /api/rooms/{code}/follow``: a learner's long poll. It answers as soon as
  the room's version moves (one task per room looks it up every ``LOOK_EVERY``
  seconds while anyone waits; the waiters sleep on an event), or after ``WAIT`` seconds: the room's clock
  as it is now, and the stage's runs of the room's situation when the learner's
  differ, and the question as a learner may see it. Following costs no rerun:
  the learner's page reruns only for a new situation or a pause. Each poll is
  the learner's heartbeat.
- ``POST /api/rooms/{code}/answer``: a learner's prediction, from the question
  card on the stage (the last one stands; closed once the answer is revealed).

Every input is checked; a refusal is JSON ``{"error": "one sentence"}`` with a
4xx status. A scenario travels by token: the page registers its text
(:func:`register`) and only the token, 128 random-looking bits of its hash,
goes to the browser.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

import sim
import viz.stage

STYLES = ("choreography", "orchestration")
MAX_BODY = 64 * 1024               # bytes of an injection's request
MAX_FAULTS = 100
WAIT = 10.0                        # seconds a follow request waits for the room to move
LOOK_EVERY = 0.1                   # seconds between two looks at one room's version
TEXTS_BYTES = 64 * 2**20           # scenario texts the routes may be asked about (the oldest go first)
PAYLOADS = 64                      # encoded stage payloads kept (one per runs id)


# ---------------------------------------------------------------- what the routes may be asked about


_texts: OrderedDict = OrderedDict()        # token -> (text, source)
_texts_bytes = 0
_lock = threading.Lock()


def register(text: str, source: str) -> str:
    """The token under which the routes know this scenario text (the page registers what it shows)."""
    global _texts_bytes
    token = hashlib.sha256(f"{source}\0{text}".encode("utf-8", "replace")).hexdigest()[:32]
    with _lock:
        if token in _texts:
            _texts.move_to_end(token)
            return token
        _texts[token] = (text, source)
        _texts_bytes += len(text) + len(source)
        while _texts_bytes > TEXTS_BYTES and len(_texts) > 1:
            _, (old, old_source) = _texts.popitem(last=False)
            _texts_bytes -= len(old) + len(old_source)
    return token


def _text(token) -> tuple[str, str] | None:
    with _lock:
        return _texts.get(token) if isinstance(token, str) else None


# ---------------------------------------------------------------- what the stage draws


_digests: OrderedDict = OrderedDict()      # Shown.key -> viz.stage digest
_payloads: OrderedDict = OrderedDict()     # runs id -> the encoded {"runs_id", "runs", "errors"}


def _remember(cache: OrderedDict, key, make, limit: int):
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _lock:
        cache[key] = value
        while len(cache) > limit:
            cache.popitem(last=False)
    return value


def runs_id(shown: list) -> str:
    """Names the runs on screen: changes exactly when they do (the stage swaps runs when it changes)."""
    return _runs_id([s.key for s in shown])


def _runs_id(keys: list) -> str:
    return hashlib.sha1(repr(keys).encode()).hexdigest()[:12]


def stage_runs(shown: list) -> dict:
    """The runs as the stage takes them: ``{"runs_id", "runs", "errors"}`` (digests cached by run)."""
    good = [s for s in shown if s.run is not None]
    return {"runs_id": runs_id(shown),
            "runs": [_remember(_digests, s.key, lambda s=s: viz.stage.stage_run(s.run), 4 * PAYLOADS)
                     for s in good],
            "errors": [{"style": s.style, "error": s.error} for s in shown if s.run is None]}


# ---------------------------------------------------------------- an instructor's press


class Refused(Exception):
    """A request the routes will not serve: ``status`` and one sentence."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _styles(value) -> tuple:
    if not isinstance(value, list) or not value or len(value) > 2 or any(v not in STYLES for v in value):
        raise Refused(400, "styles must be a list of 'choreography' and/or 'orchestration'")
    return tuple(value)


def _seed(value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**63):
        raise Refused(400, "seed must be an integer or null")
    return value


def _faults(value) -> tuple:
    if not isinstance(value, list) or len(value) > MAX_FAULTS or \
            any(not isinstance(f, str) or not f or len(f) > 300 for f in value):
        raise Refused(400, f"faults must be a list of at most {MAX_FAULTS} fault specs")
    return tuple(value)


def inject_answer(body) -> dict:
    """What ``POST /api/stage/inject`` answers: the press made a fault, and the runs with it (or why not).

    ``body``: {"scenario": token, "styles": [...], "seed": int|null, "faults": [specs so far], "press": {...}}.
    A press that makes no fault is answered (200) with ``{"error": ...}``, shown in the panel as a rerun
    would show it; a malformed request raises :class:`Refused`."""
    from . import inject, runs             # the page's modules (imported here: app.py loads this module first)

    if not isinstance(body, dict):
        raise Refused(400, "the request must be a JSON object")
    found = _text(body.get("scenario"))
    if found is None:
        raise Refused(404, "this scenario is no longer on the server: reload the page")
    text, source = found
    styles, seed, faults = _styles(body.get("styles")), _seed(body.get("seed")), _faults(body.get("faults"))
    scenario = runs.parse(text, source)
    if isinstance(scenario, str):
        raise Refused(400, "the scenario does not load")
    try:             # the list so far, as the browser sends it back: parsed here, once, into records
        faults = sim.faults.for_scenario(faults, scenario.services)
    except sim.SagaInputError as e:
        raise Refused(400, f"the faults so far: {e}") from None
    shown = runs.live_runs(text, source, styles, seed, faults, page=False)
    try:
        fault = inject.fault_from_press(body.get("press"), scenario, shown)
    except sim.SagaInputError as e:
        return {"error": str(e), "panel": inject.panel_data(scenario, shown, faults, str(e))}
    if fault not in faults:                     # the record goes on to the runs as it is
        faults = (*faults, fault)
        shown = runs.live_runs(text, source, styles, seed, faults, page=False)
    return {**stage_runs(shown), "spec": fault.to_spec(), "faults": list(runs.specs(faults)),   # to the browser as text
            "panel": inject.panel_data(scenario, shown, faults)}


# ---------------------------------------------------------------- a learner follows a room


LEARNER_ID = re.compile(r"[0-9a-f]{32}")
_watched: dict = {}                        # room code -> _Watch (while someone waits on it)


def _store():
    from . import room                     # the page's store: one per process
    return room.store()


class _Watch:
    """One room's version, looked up every LOOK_EVERY seconds by one task while anyone waits on it; the
    waiters sleep on an event that is set (and replaced) when it moves. However many learners follow a
    room, it costs one read per LOOK_EVERY and one wake-up per learner per change."""

    def __init__(self, version):
        self.version = version
        self.moved = asyncio.Event()
        self.waiting = 0


async def _watch(code: str, watch: _Watch) -> None:
    try:
        while watch.waiting > 0:
            await asyncio.sleep(LOOK_EVERY)
            version = _store().version(code)          # one indexed read (WAL: never waits for a writer)
            if version != watch.version:
                watch.version = version
                moved, watch.moved = watch.moved, asyncio.Event()
                moved.set()
    finally:
        if _watched.get(code) is watch:
            del _watched[code]


async def _until_moved(code: str, version: int, seconds: float):
    """The room's version once it is not ``version`` any more, or after ``seconds``."""
    watch = _watched.get(code)
    if watch is None:              # its task starts at this coroutine's first await, with this waiter counted
        watch = _watched[code] = _Watch(_store().version(code))
        asyncio.get_running_loop().create_task(_watch(code, watch))
    watch.waiting += 1
    try:
        deadline = time.monotonic() + seconds
        while watch.version == version and (left := deadline - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(watch.moved.wait(), left)
            except asyncio.TimeoutError:
                break
        return watch.version
    finally:
        watch.waiting -= 1


_library_seen: tuple = (0.0, None)         # (when, runs.library()'s entries): looked up at most every LIBRARY_EVERY s
LIBRARY_EVERY = 1.0


def _library_entries() -> list:
    """``runs.library()``'s entries, re-read at most every LIBRARY_EVERY seconds: hashing the library's file
    signature for st.cache_data was ~0.9 ms of an answer's ~1.2 ms CPU, and 60 learners are answered at once."""
    from . import runs
    global _library_seen
    when, entries = _library_seen
    if entries is None or time.monotonic() - when > LIBRARY_EVERY:
        entries = runs.library()[0]
        _library_seen = (time.monotonic(), entries)
    return entries


def _room_situation(situation: dict):
    """(text, source, styles, seed, faults) of a room's situation (a library lesson), or None."""
    name = situation.get("scenario")
    entry = next((e for e in _library_entries() if e.name == name), None)
    style = situation.get("style")
    styles = STYLES if style == "both" else (style,) if style in STYLES else None
    if entry is None or styles is None:
        return None
    return entry.text, entry.source, styles, situation.get("seed"), tuple(str(f) for f in situation.get("faults") or ())


def _room_runs_id(where) -> str:
    """The runs id a learner's page shows for a room's situation (``_room_situation``), from the runs' keys
    alone (nothing simulated)."""
    from . import runs

    text, _, styles, seed, faults = where
    return _runs_id([runs.shown_key(text, style, seed, faults) for style in styles])


def _room_payload(where, runs_id: str) -> str:
    """The stage's runs of a room's situation, encoded (once per runs id, however many learners ask)."""
    from . import runs

    text, source, styles, seed, faults = where
    return _remember(_payloads, runs_id,
                     lambda: json.dumps(stage_runs(runs.live_runs(text, source, styles, seed, faults, page=False)),
                                        separators=(",", ":")), PAYLOADS)


def follow_answer(code: str, learner: str, version, have_runs: str) -> str:
    """The room as a following learner's stage takes it (JSON text): its version, its clock now, the
    question as a learner may see it (``ask``), whether its answer is revealed, the learner's own answer
    (``mine``), and the runs if ``have_runs`` (the learner's runs id) differs.
    Nothing is simulated or decoded unless the learner needs runs it does not have."""
    found = _store().get(code)
    if found is None:
        raise Refused(404, "there is no such room (a room lasts a day)")
    clock = dict(found.clock)
    clock["t"] = round(found.clock_at(), 4)
    ask = found.learner_question                     # no answer, no explanation until revealed
    part = {"version": found.version, "clock": {k: clock.get(k) for k in ("id", "t", "playing", "speed")},
            "situation": found.situation, "ask": ask, "revealed": found.revealed,
            "mine": _store().my_answer(code, ask["id"], learner) if ask else None}
    head = json.dumps(part, separators=(",", ":"))
    where = _room_situation(found.situation)
    wanted = None if where is None else _room_runs_id(where)
    if wanted is None or wanted == have_runs:
        return head
    return head[:-1] + ',"stage":' + _room_payload(where, wanted) + "}"


def _unmoved(version) -> str:
    """A long poll's answer when nothing moved in its time: the learner asks again."""
    return json.dumps({"version": version, "unmoved": True})


async def _follow(request):
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    code = request.path_params.get("code", "")
    learner = request.query_params.get("learner", "")
    have_runs = request.query_params.get("runs", "")[:40]
    try:
        version = int(request.query_params.get("version", "-1"))
    except ValueError:
        version = -1
    try:
        import classroom
        code = classroom.rooms.normalize_code(code)
        if not code:
            raise Refused(400, "that is not a room code")
        if not LEARNER_ID.fullmatch(learner):
            raise Refused(400, "learner must be 32 hexadecimal digits")
        try:
            await run_in_threadpool(_store().follow, code, learner)     # the heartbeat
        except classroom.RoomError as e:
            raise Refused(404, str(e)) from None
        now = await _until_moved(code, version, WAIT)
        if now is None:
            raise Refused(404, "there is no such room (a room lasts a day)")
        text = _unmoved(version) if now == version else \
            await run_in_threadpool(follow_answer, code, learner, version, have_runs)
    except Refused as e:
        return _refusal(e)
    return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})


def answer_answer(code: str, body) -> dict:
    """What ``POST /api/rooms/{code}/answer`` answers: the learner's choice counted (the last one stands)."""
    import classroom

    if not isinstance(body, dict):
        raise Refused(400, "the request must be a JSON object")
    learner, question, choice = body.get("learner"), body.get("question"), body.get("choice")
    if not isinstance(learner, str) or not LEARNER_ID.fullmatch(learner):
        raise Refused(400, "learner must be 32 hexadecimal digits")
    try:
        _store().answer(code, question, learner, choice)
    except classroom.RoomError as e:
        raise Refused(404 if "no room" in str(e) else 409, str(e)) from None
    return {"counted": choice}


async def _json_body(request):
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY:
        raise Refused(413, f"the request is over {MAX_BODY // 1024} KB")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Refused(413, f"the request is over {MAX_BODY // 1024} KB")
    try:
        return json.loads(raw)
    except ValueError:
        raise Refused(400, "the request is not JSON") from None


async def _answer(request):
    import classroom
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    try:
        code = classroom.rooms.normalize_code(request.path_params.get("code", ""))
        if not code:
            raise Refused(400, "that is not a room code")
        answer = await run_in_threadpool(answer_answer, code, await _json_body(request))
    except Refused as e:
        return _refusal(e)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


async def _inject(request):
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    try:
        answer = await run_in_threadpool(inject_answer, await _json_body(request))
    except Refused as e:
        return _refusal(e)
    return Response(json.dumps(answer, separators=(",", ":")), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _refusal(e: Refused):
    from starlette.responses import JSONResponse
    return JSONResponse({"error": str(e)}, status_code=e.status, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- the stage's own code, sent once


ASSETS = Path(__file__).resolve().parent / "component"
ASSET_TYPES = {"stage.js": "text/javascript; charset=utf-8", "stage.css": "text/css; charset=utf-8"}


@functools.lru_cache(maxsize=len(ASSET_TYPES))
def asset(name: str) -> tuple[bytes, str]:
    """(bytes, a version of them) of the stage's JavaScript or CSS (read once: restart after editing them)."""
    body = (ASSETS / name).read_bytes()
    return body, hashlib.sha1(body).hexdigest()[:12]


def asset_urls() -> dict:
    """Where the browser loads the stage's code: the version in the address, so a browser caches it for good
    and a new version is a new address."""
    return {name.split(".")[1]: f"/api/stage/assets/{name}?v={asset(name)[1]}" for name in ASSET_TYPES}


async def _asset(request):
    from starlette.responses import PlainTextResponse, Response

    name = request.path_params.get("name", "")
    if name not in ASSET_TYPES:
        return PlainTextResponse("no such file", status_code=404)
    body, version = asset(name)
    cache = "public, max-age=31536000, immutable" if request.query_params.get("v") == version else "no-cache"
    return Response(body, media_type=ASSET_TYPES[name], headers={"Cache-Control": cache})


def routes() -> list:
    """The routes ``app.py`` hands to ``st.App``."""
    from starlette.routing import Route
    return [Route("/api/stage/inject", _inject, methods=["POST"]),
            Route("/api/rooms/{code}/follow", _follow, methods=["GET"]),
            Route("/api/rooms/{code}/answer", _answer, methods=["POST"]),
            Route("/api/stage/assets/{name}", _asset, methods=["GET"])]
