"""A class on one machine (issue 15), with pages: one instructor and 60 learners on the real server.

Starts the real app (``serve.server()`` from ``tests/serve.py``: ``streamlit run app.py`` on a free port, which serves the page
script ``page.py`` and the routes of ``ui/api.py``; its rooms in a temporary ``SAGA_DATA_DIR``) and drives
it with light clients that do what a page does (a headless Chromium per learner is too heavy for 60 on
2 cores). A learner is two conversations, as in the browser:

- the page, over Streamlit's websocket: connect to ``ws://127.0.0.1:PORT/_stcore/stream`` (subprotocol
  ``streamlit``) and send a BackMsg ``rerun_script`` (a ClientState: ``query_string`` ``room=CODE``,
  ``page_script_hash``, context info); read the ForwardMsgs: ``new_session`` (a full run starts unless
  ``metadata.run.fragment_ids`` names a fragment), ``auto_rerun`` (a fragment's ``run_every``: the timer
  lives in the page, so the client sends ``rerun_script`` with that ``fragment_id`` and
  ``is_auto_rerun`` every ``interval`` seconds; only the instructor's page has such fragments now),
  deltas (the stage is the bidi component whose id ends in ``-stage``: its ``json`` data carries
  ``runs_id``, the page's ``clock`` command and, for a learner, ``follow`` = ``{url, answer, learner,
  following, version, clock}``), ``script_finished``; keep the forward-message cache as the
  frontend does (cacheable messages by hash, their hashes sent back in ``cached_message_hashes``,
  entries older than ``max_cached_message_age`` full runs dropped);
- the stage's long poll (:class:`Follower`, what ``ui/component/stage.js`` ``follow``/``takeRoom`` do):
  ``GET /api/rooms/CODE/follow?learner=<32 hex>&version=<the room version it has>&runs=<its runs id>``
  over one keep-alive HTTP/1.1 connection (asyncio streams), the first with version -1 (answered at once),
  then again as soon as it is answered (the route answers when the room's version moves, or after 10 s;
  each request is the learner's heartbeat). An answer with a new room clock id is applied at once (no
  rerun: the stage plays the clock itself); its ``ask`` (the question, as a learner may see it) draws the
  question card; after a pause or with new runs, if the page has not run with that version, the client
  waits a random 0-0.8 s and sends the stage's trigger ``room`` (a ``json_trigger_value``
  ``[{"event": "room", "value": version}]`` for the component's ``$$STREAMLIT_INTERNAL_KEY_<id>__events``;
  a learner's stage is in no fragment, so the whole page reruns) and reads the rerun; a stage that plays
  to the run's end reports ``ui`` ``why: "end"``, as ``frame()`` does;
- answers as the question card does: ``POST /api/rooms/CODE/answer`` ``{learner, question, choice}``;
  the card shows "Counted" when the route answers ``{"counted": choice}``.

The instructor is a page client too: it opens ``/?room=new`` (the server turns its address into
``?room=CODE&key=SECRET``: read from ``page_info_changed``), and presses Play / Pause the way the stage
does, a widget state ``json_value`` ``{"ui": {t, playing, speed, tab, reveal, n, why}}`` for the stage
component (what ``setStateValue("ui", ...)`` sends) in a rerun of the stage's fragment; its page writes
the room. It asks a question with the "Ask the class" popover's button (a ``trigger_value`` for the button
``ask_question``).

Measured:

- follow delay, per action and learner: from the instructor's press (the BackMsg sent) to the learner's
  poll answer carrying the new room clock (its ``id`` changed, ``playing`` as pressed): the moment the
  learner's stage moves (p50, p95, max); also from the room write (the clock's ``at`` in the database);
  after a Pause, also when each learner's page rerun (asked by the trigger ``room``) has finished;
- the server's CPU, % of one core: utime+stime of the serving python process from /proc/PID/stat over
  each phase (quiet following, the actions, the answers) and the whole measured window;
- answers lost: every learner picks a choice in the same second; the instructor's tally
  (``RoomStore.tally``) must count every one, each learner's stage must show "Counted"; and when the
  question card is drawn on each stage after Ask (the poll answer that carries it).

``--browser`` adds one real headless Chromium learner (Debian's ``/usr/bin/chromium``) next to the
clients, to check the clients against a page: its delay is read from the stage's Play/Pause button
(its ``aria-label`` flips when ``takeRoom`` applies the clock), timed in the page with ``Date.now()``.

    python bench/classroom_pages_bench.py                       # 60 learners, ~2 minutes
    python bench/classroom_pages_bench.py --learners 20 --actions 4
    python bench/classroom_pages_bench.py --browser             # and one real Chromium learner
    python bench/classroom_pages_bench.py --json /tmp/pages.json

Not a timed test. Everything stops by itself: every wait has a timeout, the server is stopped at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))      # the browser-test harness, serve.py

GOAL_P95 = 1.0          # seconds from the instructor's action to the learners' screens
GOAL_CPU = 50.0         # % of one core for the server
ANSWER_TIME = 40.0      # seconds of the budget kept for the question and the answers
TICK = os.sysconf("SC_CLK_TCK")


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


# ---------------------------------------------------------------- the server process


def server_pids(port: int) -> list[int]:
    """The process serving ``port`` (``streamlit run ... --server.port PORT``) and its descendants."""
    found, parents = [], {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            stat = (d / "stat").read_text()
        except OSError:
            continue
        parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if b"--server.port" in cmd and str(port).encode() in cmd and any(b"streamlit" in c for c in cmd):
            found.append(int(d.name))
    out = set(found)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in out and pid not in out:
                out.add(pid)
                grew = True
    return sorted(out)


def cpu_seconds(pids) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])          # utime, stime (fields 14, 15 of stat)
    return total / TICK


def runqueue_wait(pids) -> float:
    """Seconds the threads of these processes were ready to run but waited for a CPU (/proc/PID/task/*/schedstat,
    its second field): what a machine shared with others takes from the server."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------- a page, as the server sees it


class Page:
    """One browser tab's websocket conversation with the Streamlit server."""

    def __init__(self, base: str, query: str, name: str):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState
        self.BackMsg, self.ForwardMsg, self.WidgetState = BackMsg, ForwardMsg, WidgetState
        self.base, self.query, self.name = base, query, name
        self.ws = None
        self.page_hash = ""
        self.widgets = {}             # id -> WidgetState: what the widget manager holds, sent with every rerun
        self.triggers = {}            # id -> WidgetState: sent once
        self.cache = {}               # hash -> [ForwardMsg, full runs since last seen]
        self.max_age = 2
        self.timers = {}              # fragment id -> (its auto-rerun task, interval)
        self.stage_id = None
        self.stage_fragment = ""      # the fragment the stage is drawn in (its widgets' reruns name it)
        self.stage = None             # the stage's last data (dict)
        self.clock_ids = []           # (receive time, clock dict, runs_id) every time the page's clock id changed
        self.follower = None          # the stage's long poll of its room (a Follower), once data.follow came
        self.full_finished = []       # receive time of every full run's script_finished
        self.buttons = {}             # id
        self.texts = []               # markdown bodies of the last full run
        self.runs = 0                 # full runs finished
        self.fragment_runs = 0
        self.sent = 0
        self.bytes_in = 0
        self.query_seen = None        # the address the server set (page_info_changed)
        self.finished = asyncio.Event()
        self.stage_seen = asyncio.Event()
        self.changed = asyncio.Event()  # set on every clock change and poll answer
        self.errors = []
        self._run_texts = []
        self._full_run = False
        self.last = (time.time(), None)   # the last ForwardMsg: when, what

    # ---- sending
    def _client_state(self, fragment_id: str = "", auto: bool = False):
        msg = self.BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = auto
        cs.context_info.url = f"{self.base}/?{self.query}"
        cs.context_info.timezone = "UTC"
        cs.context_info.timezone_offset = 0
        cs.context_info.locale = "en-US"
        cs.context_info.is_embedded = False
        cs.context_info.color_scheme = "light"
        for state in list(self.widgets.values()) + list(self.triggers.values()):
            cs.widget_states.widgets.append(state)
        self.triggers = {}
        cs.cached_message_hashes.extend(self.cache)
        return msg

    async def send_rerun(self, fragment_id: str = "", auto: bool = False):
        if self.ws is None:
            return
        try:
            await self.ws.send(self._client_state(fragment_id, auto).SerializeToString())
            self.sent += 1
        except Exception as e:                       # noqa: BLE001 - a closed socket ends the page
            self.errors.append(f"send: {e}")

    def set_widget(self, wid: str, **value):
        state = self.WidgetState(id=wid, **value)
        self.widgets[wid] = state

    def trigger(self, wid: str):
        self.triggers[wid] = self.WidgetState(id=wid, trigger_value=True)

    def stage_trigger(self, event: str, value):
        """The stage's ``setTriggerValue(event, value)``: one payload in the component's trigger aggregator
        (``$$STREAMLIT_INTERNAL_KEY_<id>__events``, a ``json_trigger_value`` list), sent once."""
        wid = f"$$STREAMLIT_INTERNAL_KEY_{self.stage_id}__events"
        self.triggers[wid] = self.WidgetState(id=wid, json_trigger_value=json.dumps([{"event": event,
                                                                                      "value": value}]))

    # ---- the auto-rerun timers (they live in the page)
    def _stop_timers(self):
        for task, _ in self.timers.values():
            task.cancel()
        self.timers = {}

    async def _every(self, interval: float, fragment_id: str):
        await asyncio.sleep(interval * random.random())       # pages' timers are not in step
        while True:
            await self.send_rerun(fragment_id, auto=True)
            await asyncio.sleep(interval)

    # ---- receiving
    async def open(self):
        import websockets
        url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None, ping_interval=None,
                                           open_timeout=30)
        self.reader = asyncio.create_task(self._read())
        await self.send_rerun()

    async def close(self):
        self._stop_timers()
        if self.follower is not None:
            self.follower.stop()
        if self.ws is not None:
            ws, self.ws = self.ws, None
            try:
                await asyncio.wait_for(ws.close(), 5)
            except Exception:                        # noqa: BLE001
                pass
        if getattr(self, "reader", None):
            self.reader.cancel()

    async def _read(self):
        try:
            async for raw in self.ws:
                self.bytes_in += len(raw)
                msg = self.ForwardMsg()
                msg.ParseFromString(raw)
                self.last = (time.time(), msg.WhichOneof("type"))
                self._handle(msg)
            if self.ws is not None:
                self.errors.append(f"closed by the server ({self.ws.close_code} {self.ws.close_reason!r})")
        except asyncio.CancelledError:
            raise
        except Exception as e:                       # noqa: BLE001
            self.errors.append(f"read: {e!r}")

    def _handle(self, msg):
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            entry = self.cache.get(msg.ref_hash)
            if entry is None:
                self.errors.append(f"ref to a message not cached: {msg.ref_hash}")
                return
            entry[1] = 0
            full = self.ForwardMsg()
            full.CopyFrom(entry[0])
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, full.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = [msg, 0]
        if kind == "new_session":
            ns = msg.new_session
            self.page_hash = ns.page_script_hash or ns.main_script_hash
            self.max_age = ns.config.max_cached_message_age or 2
            self._full_run = not msg.metadata.run.fragment_ids      # a fragment's run starts one too
            if self._full_run:                                      # the frontend restarts its timers
                self._stop_timers()
                self._run_texts = []
        elif kind == "auto_rerun":
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and (fid not in self.timers or self.timers[fid][1] != interval):
                if fid in self.timers:
                    self.timers[fid][0].cancel()
                self.timers[fid] = (asyncio.get_running_loop().create_task(self._every(interval, fid)), interval)
        elif kind == "delta":
            self._delta(msg.delta)
        elif kind == "page_info_changed":
            self.query_seen = msg.page_info_changed.query_string
        elif kind == "script_finished":
            if self._full_run:
                self.runs += 1
                self.full_finished.append(time.time())
                self.texts = self._run_texts
                for entry in self.cache.values():
                    entry[1] += 1
                for h in [h for h, e in self.cache.items() if e[1] > self.max_age]:
                    del self.cache[h]
                self._full_run = False
                self.finished.set()
            else:
                self.fragment_runs += 1

    def _delta(self, delta):
        if delta.WhichOneof("type") != "new_element":
            return
        el = delta.new_element
        what = el.WhichOneof("type")
        if what == "bidi_component" and el.bidi_component.id.endswith("-stage"):
            now = time.time()
            self.stage_id = el.bidi_component.id
            self.stage_fragment = delta.fragment_id
            data = json.loads(el.bidi_component.json or "{}")
            before = self.stage
            self.stage = data
            if before is None or (data.get("clock") or {}).get("id") != (before.get("clock") or {}).get("id"):
                self.clock_ids.append((now, dict(data.get("clock") or {}), data.get("runs_id")))
                self.changed.set()
            if self.follower is None and data.get("follow"):
                self.follower = Follower(self)
            if self.follower is not None:
                self.follower.update(data, now)
            self.stage_seen.set()
        elif what == "button":
            self.buttons[el.button.id.rsplit("-", 1)[-1]] = el.button.id
        elif what == "markdown" and self._full_run:
            self._run_texts.append(el.markdown.body)

    async def wait(self, cond, timeout: float) -> bool:
        """Until ``cond()`` holds (checked on every clock change / poll answer), or the timeout."""
        deadline = time.monotonic() + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.25))
            except asyncio.TimeoutError:
                pass
        return True


# ---------------------------------------------------------------- a learner's stage following its room


class Follower:
    """What a following learner's stage does in the browser (``ui/component/stage.js``, ``update``, ``follow``,
    ``takeRoom``), over one keep-alive HTTP/1.1 connection of asyncio streams:

    - ``update(data)`` on every stage delta: new runs (``runs_id``) are taken, a new clock command (the
      page's ``clock.id``) is applied, and ``data.follow`` starts the long poll (or, for the same
      url|learner, only tells it the version the page has run with: ``pageVersion``);
    - the poll: ``GET /api/rooms/CODE/follow?learner=..&version=<the room version it has>&runs=<runs id>``
      again and again; an error or a non-200 answer waits 2 s;
    - ``take_room``: an answer with the version it has is ignored; else new runs are swapped in, a new
      room clock id is applied at once (the moment the learner's stage moves: recorded in ``room_clocks``),
      and the page is asked for a rerun (the stage's trigger ``room`` with the room's version, in its
      fragment) when more than the clock moved: a pause (it played, it does not), a question asked,
      revealed or cleared, new runs; not if the page has already run with that version;
    - the stage's clock plays on by itself; if it reaches the run's end while playing, the stage reports
      ``ui`` with ``why`` "end" (a state value: its page reruns), as ``frame()`` does.
    """

    def __init__(self, page: "Page"):
        self.page = page
        u = urllib.parse.urlparse(page.base)
        self.host, self.port = u.hostname, u.port
        self.key = None
        self.st = None                # the poll's state, as the JS's followState
        self.task = None
        self.runs_id = None
        self.end = 0.0
        self.session_clock = None     # the page's clock id the stage last applied
        self.clock = {"t": 0.0, "speed": 1.0, "playing": False, "at": time.time()}
        self.end_timer = None
        self.room_clocks = []         # (receive time, room clock) every time a poll answer moved the clock
        self.reruns_asked = []        # (time, room version) every trigger "room" sent
        self.asks = {}                # question id -> when its card was drawn
        self.sent = self.answered = 0
        self.last_answer = time.time()
        self.errors = []

    # ---- the stage's own clock
    def playing_now(self, now: float) -> bool:
        c = self.clock
        return c["playing"] and c["t"] + (now - c["at"]) * c["speed"] < self.end

    def _set_clock(self, t, speed, playing, now):
        t = min(max(0.0, float(t or 0)), self.end)
        self.clock = {"t": t, "speed": float(speed or 1), "playing": bool(playing) and t < self.end, "at": now}
        if self.end_timer is not None:
            self.end_timer.cancel()
            self.end_timer = None
        if self.clock["playing"]:
            wait = (self.end - t) / self.clock["speed"]
            self.end_timer = asyncio.get_running_loop().call_later(wait, self._at_end, self.clock)

    def _at_end(self, clock):
        if self.clock is not clock:
            return
        self.clock = {**clock, "t": self.end, "playing": False, "at": time.time()}
        p = self.page
        p.set_widget(p.stage_id, json_value=json.dumps({"ui": {
            "t": self.end, "playing": False, "speed": clock["speed"], "tab": "sequence", "reveal": False,
            "why": "end"}}))
        asyncio.get_running_loop().create_task(p.send_rerun(p.stage_fragment))

    def _swap(self, runs: dict):
        self.runs_id = runs.get("runs_id")
        self.end = max([r.get("end", 0) for r in runs.get("runs") or []] or [0])

    # ---- update(data): a rerun drew the stage
    def update(self, data: dict, now: float):
        if data.get("runs_id") != self.runs_id:
            self._swap(data)
        c = data.get("clock")
        if c and c.get("id") != self.session_clock:
            self.session_clock = c.get("id")
            self._set_clock(c.get("t"), c.get("speed"), c.get("playing"), now)
        cfg = data.get("follow")
        key = f"{cfg['url']}|{cfg['learner']}|{cfg.get('following')}" if cfg else None
        if key == self.key:
            if cfg and self.st is not None and cfg.get("version") is not None:
                self.st["page_version"] = cfg["version"]
            return
        self.stop()
        self.key = key
        if not cfg:
            return
        self.st = {"url": cfg["url"], "answer": cfg.get("answer"), "learner": cfg["learner"], "version": -1,
                   "page_version": cfg.get("version"), "clock_id": cfg.get("clock"),
                   "following": bool(cfg.get("following")), "ask": None, "mine": None, "revealed": False}
        self.task = asyncio.get_running_loop().create_task(self._loop(self.st))

    def stop(self):
        self.st = None
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.end_timer is not None:
            self.end_timer.cancel()
            self.end_timer = None

    # ---- the long poll
    async def _loop(self, st: dict):
        reader = writer = None
        try:
            while self.st is st:
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
                    query = urllib.parse.urlencode({"learner": st["learner"], "version": st["version"],
                                                    "runs": self.runs_id or ""})
                    writer.write(f"GET {st['url']}?{query} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                                 f"Accept: */*\r\nCache-Control: no-store\r\n\r\n".encode())
                    self.sent += 1
                    status, body, keep = await asyncio.wait_for(self._response(reader), 40)
                    if not keep:
                        writer.close()
                        writer = None
                    if self.st is not st:
                        return
                    if status != 200:
                        self.errors.append(f"follow: HTTP {status} {body[:120]!r}")
                        await asyncio.sleep(2)
                        continue
                    self.answered += 1
                    self.last_answer = time.time()
                    self.take_room(st, json.loads(body), self.last_answer)
                except asyncio.CancelledError:
                    raise
                except Exception as e:               # noqa: BLE001 - as the JS: wait 2 s, poll again
                    self.errors.append(f"follow: {e!r}")
                    if writer is not None:
                        writer.close()
                    writer = None
                    if self.st is not st:
                        return
                    await asyncio.sleep(2)
        finally:
            if writer is not None:
                writer.close()

    @staticmethod
    async def _response(reader) -> tuple[int, bytes, bool]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await reader.readexactly(int(headers.get("content-length", 0)))
        return status, body, headers.get("connection", "").lower() != "close"

    def take_room(self, st: dict, room: dict, now: float):
        if room.get("version") == st["version"]:
            return
        first = st["version"] == -1                       # the room as the page had it
        st["version"] = room.get("version")
        ask = room.get("ask")
        if ask and (st["ask"] or {}).get("id") != ask.get("id"):
            self.asks[ask["id"]] = now                     # the question card is drawn: on screen
        st["ask"], st["mine"], st["revealed"] = ask, room.get("mine"), bool(room.get("revealed"))
        if not st["following"]:
            self.page.changed.set()
            return
        stage = room.get("stage")
        if stage and stage.get("runs_id") != self.runs_id:
            self._swap(stage)
        c = room.get("clock") or {}
        rerun = False
        if c.get("id") != st["clock_id"]:
            was = self.playing_now(now)
            st["clock_id"] = c.get("id")
            self._set_clock(c.get("t"), c.get("speed"), c.get("playing"), now)
            self.room_clocks.append((now, dict(c)))
            if was and not self.clock["playing"] and not first:
                rerun = True                                  # a pause: the charts follow
        if stage:
            rerun = True                                      # a new situation: the page follows
        if rerun and st["page_version"] != room.get("version"):
            asyncio.get_running_loop().create_task(self._rerun_later(st, room.get("version")))
        self.page.changed.set()

    async def _rerun_later(self, st: dict, version):
        """As the JS: after a random wait of up to 0.8 s (a class's reruns spread out), if nothing newer came."""
        await asyncio.sleep(random.random() * 0.8)
        if self.st is not st or st["version"] != version:
            return
        p = self.page
        p.stage_trigger("room", version)
        self.reruns_asked.append((time.time(), version))
        await p.send_rerun(p.stage_fragment)

    async def answer(self, question_id: str, choice: str) -> tuple[int, dict]:
        """The question card's click: ``POST /api/rooms/CODE/answer``, on a connection of its own."""
        body = json.dumps({"learner": self.st["learner"], "question": question_id, "choice": choice}).encode()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        try:
            writer.write(f"POST {self.st['answer']} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            status, answer, _ = await asyncio.wait_for(self._response(reader), 30)
            return status, json.loads(answer or b"{}")
        finally:
            writer.close()


# ---------------------------------------------------------------- one real browser learner (--browser)

BROWSER_WATCH = """() => {
  window.__follow = [];
  let last = null;
  const find = () => {
    for (const el of document.querySelectorAll('*')) {
      if (el.shadowRoot) { const r = el.shadowRoot.querySelector('[data-stage]'); if (r) return r; }
    }
    return document.querySelector('[data-stage]');
  };
  const tick = () => {
    const root = find();
    if (root) {
      const b = [...root.querySelectorAll('button[aria-label]')]
        .find(x => /^(Play|Pause|Play again)$/.test(x.getAttribute('aria-label')));
      const label = b && b.getAttribute('aria-label');
      if (label && label !== last) { last = label; window.__follow.push({label, t: Date.now() / 1000}); }
    }
    setTimeout(tick, 10);
  };
  tick();
}"""


class BrowserLearner:
    def __init__(self, base, code):
        self.url = f"{base}/?room={code}"
        self.pw = self.browser = self.page = None
        self.error = None

    async def open(self):
        from playwright.async_api import async_playwright
        import serve
        self.pw = await async_playwright().start()
        self.browser = await self.pw.chromium.launch(executable_path=serve.CHROMIUM, args=serve.CHROMIUM_ARGS)
        self.page = await self.browser.new_page(viewport={"width": 1400, "height": 900})
        await self.page.goto(self.url, timeout=60_000)
        await self.page.get_by_role("button", name="Play", exact=True).first.wait_for(timeout=60_000)
        await self.page.evaluate(BROWSER_WATCH)

    async def log(self):
        try:
            return await self.page.evaluate("() => window.__follow || []")
        except Exception as e:                       # noqa: BLE001
            self.error = str(e)
            return []

    async def close(self):
        for closer in (self.browser and self.browser.close, self.pw and self.pw.stop):
            if closer:
                try:
                    await asyncio.wait_for(closer(), 15)
                except Exception:                    # noqa: BLE001
                    pass


# ---------------------------------------------------------------- the class


async def lesson(base: str, args, out: dict) -> None:
    from classroom.rooms import RoomStore
    budget_end = time.monotonic() + args.budget
    port = urllib.parse.urlparse(base).port
    pids = server_pids(port)
    if not pids:
        raise RuntimeError(f"no process serving port {port} found in /proc")
    out["server_pids"] = pids
    store = RoomStore()

    # the instructor opens /?room=new; the server turns the address into the instructor's link
    teacher = Page(base, "room=new", "instructor")
    await teacher.open()
    if not await _event(teacher.stage_seen, 90) or not await _event(teacher.finished, 90):
        raise RuntimeError("the instructor's page did not draw its stage within 90 s")
    params = urllib.parse.parse_qs(teacher.query_seen or "")
    code, key = params.get("room", [""])[0], params.get("key", [""])[0]
    if not code or not key:
        raise RuntimeError(f"the instructor's address did not become ?room=CODE&key=SECRET: {teacher.query_seen!r}")
    teacher.query = urllib.parse.urlencode({"room": code, "key": key})
    out["room"] = code
    end = max([r.get("end", 0) for r in teacher.stage.get("runs", [])] or [0])
    print(f"room {code}: the instructor's page is up ({teacher.runs} run(s)); the run ends at t = {end:g}")

    # the learners open ?room=CODE, a few at a time (a class does not arrive in one millisecond)
    learners = [Page(base, f"room={code}", f"learner{i}") for i in range(args.learners)]
    t0 = time.time()
    for i, page in enumerate(learners):
        try:
            await asyncio.wait_for(page.open(), 30)
        except Exception as e:                       # noqa: BLE001
            page.errors.append(f"open: {e!r}")
        if i % 10 == 9:
            await asyncio.sleep(0.2)
    browser = None
    if args.browser:
        browser = BrowserLearner(base, code)
        try:
            await asyncio.wait_for(browser.open(), 90)
        except Exception as e:                       # noqa: BLE001
            browser.error = f"the Chromium learner did not open: {e!r}"
            print(browser.error)
    ready = await _all([_joined(p, args.join_timeout) for p in learners])
    joined = sum(ready)
    out["joined"] = joined
    out["join_seconds"] = time.time() - t0
    print(f"{joined}/{len(learners)} learners' pages have run (stage drawn) after {out['join_seconds']:.1f} s "
          f"(load {loadavg()})")
    if joined == 0:
        raise RuntimeError("no learner's page drew the stage")
    live = [p for p, ok in zip(learners, ready) if ok and p.follower is not None]
    if len(live) < joined:
        print(f"  {joined - len(live)} learner page(s) drew a stage with no data.follow: not following")

    # quiet: everyone follows, nobody acts (the cost of the long polls alone)
    await asyncio.sleep(args.settle)
    phases = {}
    window0 = time.monotonic(), cpu_seconds(pids), time.process_time(), runqueue_wait(pids)

    def runs():
        return sum(p.runs for p in live), sum(p.follower.answered for p in live)

    async def phase(name, coro):
        w0, c0, q0, (f0, g0) = time.monotonic(), cpu_seconds(pids), runqueue_wait(pids), runs()
        result = await coro
        w1, c1, q1, (f1, g1) = time.monotonic(), cpu_seconds(pids), runqueue_wait(pids), runs()
        phases[name] = {"wall": w1 - w0, "cpu": c1 - c0, "pct": 100 * (c1 - c0) / max(w1 - w0, 1e-9),
                        "waited_pct": 100 * (q1 - q0) / max(w1 - w0, 1e-9), "full_runs": f1 - f0,
                        "polls": g1 - g0}
        return result

    await phase("quiet", asyncio.sleep(args.quiet))
    out["followers_seen"] = store.followers(code)

    # the actions: Play, Pause, ... pressed on the instructor's stage (the answers keep ANSWER_TIME of the budget)
    actions = []
    await phase("actions", _actions(teacher, live, store, code, args, end, actions, budget_end - ANSWER_TIME))
    if len(actions) < args.actions:
        print(f"  (the budget of {args.budget:g} s left no time for {args.actions - len(actions)} more press(es))")

    # the question: the instructor asks; every learner answers within the same second
    answers = await phase("answers", _answers(teacher, live, store, code, key, args,
                                               max(budget_end, time.monotonic() + 20)))
    window1 = time.monotonic(), cpu_seconds(pids), time.process_time(), runqueue_wait(pids)
    out["followers_end"] = store.followers(code)

    now = time.time()
    out["quiet_pages"] = [f"{p.name}: last message {now - p.last[0]:.1f} s ago ({p.last[1]}), last poll answer "
                          f"{now - p.follower.last_answer:.1f} s ago, {p.runs} full runs" for p in live
                          if now - p.follower.last_answer > 15]
    blog = await browser.log() if browser and browser.page else []
    if browser:
        await browser.close()
    await _all([p.close() for p in learners + [teacher]])

    # ---- figures
    delays = [d for a in actions for d in a["delays"].values()]
    from_write = [d for a in actions for d in a["from_write"].values()]
    missed = sum(len(live) - len(a["delays"]) for a in actions)
    wall = window1[0] - window0[0]
    cpu = window1[1] - window0[1]
    out.update({
        "learners": args.learners, "actions": actions, "answers": answers, "phases": phases,
        "delay": {"n": len(delays), "p50": pct(delays, 50), "p95": pct(delays, 95), "max": max(delays or [0]),
                  "missed": missed},
        "from_write": {"p50": pct(from_write, 50), "p95": pct(from_write, 95), "max": max(from_write or [0])},
        "cpu": {"wall": wall, "seconds": cpu, "pct": 100 * cpu / wall,
                "bench_pct": 100 * (window1[2] - window0[2]) / wall,
                "waited_pct": 100 * (window1[3] - window0[3]) / wall},
        "errors": sorted({e for p in learners + [teacher] for e in p.errors + (p.follower.errors if p.follower
                                                                                else [])})[:10],
        "polls_sent": sum(p.follower.sent for p in live), "polls": sum(p.follower.answered for p in live),
        "room_reruns": sum(len(p.follower.reruns_asked) for p in live),
        "fragment_runs": sum(p.fragment_runs for p in live), "full_runs": sum(p.runs for p in live),
        "bytes_in": sum(p.bytes_in for p in live),
    })
    quiet = phases["quiet"]
    at_rest = quiet["cpu"] / max(quiet["wall"], 1e-9)            # CPU seconds per second while only polling
    busy = [ph for name, ph in phases.items() if name != "quiet"]
    full = sum(ph["full_runs"] for ph in busy)
    extra = sum(ph["cpu"] - at_rest * ph["wall"] for ph in busy)
    out["cost"] = {"rest_ms_per_learner_s": 1000 * at_rest / max(len(live), 1),
                   "per_poll_ms": 1000 * quiet["cpu"] / max(quiet["polls"], 1),
                   "per_full_run_ms": 1000 * extra / max(full, 1)}
    rr = [d for a in actions for d in a["reruns"].values()]
    out["pause_reruns"] = {"n": len(rr), "p50": pct(rr, 50), "p95": pct(rr, 95), "max": max(rr or [0])}
    if browser:
        out["browser"] = _browser_delays(blog, actions, browser.error)


async def _joined(page: Page, timeout: float) -> bool:
    """The page's first full run has finished with the stage drawn."""
    t0 = time.monotonic()
    return await _event(page.stage_seen, timeout) and await _event(page.finished, timeout - (time.monotonic() - t0))


async def _event(event: asyncio.Event, timeout: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        return False


async def _all(coros):
    return await asyncio.gather(*coros)


async def _actions(teacher: Page, live: list, store, code: str, args, end: float, out: list, deadline: float):
    t_sim, playing = float((teacher.stage.get("clock") or {}).get("t", 0.0)), False
    pressed_at = None
    for k in range(args.actions):
        if deadline - time.monotonic() < min(args.follow_timeout, args.gap) + 1:
            break
        if playing:                                   # the stage's clock moved on while it played
            t_sim = min(end, t_sim + (time.time() - pressed_at) * args.speed)
        playing = not playing
        if playing and t_sim >= end - 1e-9:           # as the stage does: Play at the end plays again from 0
            t_sim = 0.0
        ui = {"t": round(t_sim, 3), "playing": playing, "speed": args.speed, "tab": "sequence", "reveal": False,
              "n": k + 1, "why": "play" if playing else "pause"}
        at_end = not playing and t_sim >= end - 1e-9
        before = {id(p): (p.follower.st or {}).get("clock_id") for p in live}
        teacher.set_widget(teacher.stage_id, json_value=json.dumps({"ui": ui}))
        pressed_at = time.time()
        await teacher.send_rerun(teacher.stage_fragment)     # the stage's widget: a rerun of its fragment

        def seen(p, want=playing, old=None):
            old = before[id(p)]
            return next((t for t, c in p.follower.room_clocks if t >= pressed_at and c.get("id") != old
                         and bool(c.get("playing")) == want), None)

        def rerun_done(p):
            asked = next((t for t, _ in p.follower.reruns_asked if t >= pressed_at), None)
            return None if asked is None else next((t for t in p.full_finished if t >= asked), None)

        wait = max(1.0, min(args.follow_timeout, deadline - time.monotonic()))
        await _all([p.wait(lambda p=p: seen(p) is not None, wait) for p in live])
        if not playing:                               # a pause: each learner's page reruns (the charts follow)
            await _all([p.wait(lambda p=p: rerun_done(p) is not None, max(1.0, min(args.follow_timeout,
                                                                                  deadline - time.monotonic())))
                        for p in live if any(t >= pressed_at for t, _ in p.follower.reruns_asked)])
        room = store.get(code)
        written = float(room.clock.get("at", 0)) if room and room.clock.get("playing") == playing else None
        if written is not None and written < pressed_at - 0.05:     # an older write: this press is not in yet
            written = None
        delays, from_write, reruns = {}, {}, {}
        for p in live:
            t = seen(p)
            if t is not None:
                delays[p.name] = t - pressed_at
                if written is not None:
                    from_write[p.name] = t - written
            r = rerun_done(p)
            if r is not None:
                reruns[p.name] = r - pressed_at
        a = {"k": k + 1, "press": "Play" if playing else "Pause", "pressed_at": pressed_at, "at_end": at_end,
             "t": round(t_sim, 3),
             "written_after": None if written is None else written - pressed_at,
             "delays": delays, "from_write": from_write, "reruns": reruns,
             "p50": pct(list(delays.values()), 50), "p95": pct(list(delays.values()), 95),
             "max": max(delays.values() or [float("nan")]), "followed": len(delays),
             "a_learner_saw": [(round(t - pressed_at, 2), c) for t, c in live[0].follower.room_clocks[-3:]]}
        out.append(a)
        wrote = "not yet" if a["written_after"] is None else f"+{a['written_after']:.2f} s"
        rr = list(reruns.values())
        print(f"  {a['press']:5s} #{a['k']} at t = {t_sim:.2f}{' (the end)' if at_end else ''}: "
              f"{a['followed']}/{len(live)} followed; written to the room {wrote}; "
              f"on screen p50 {a['p50']:.2f} p95 {a['p95']:.2f} "
              f"max {a['max']:.2f} s" + (f"; {len(rr)} page reruns done p50 {pct(rr, 50):.2f} p95 "
                                         f"{pct(rr, 95):.2f} s" if rr else "") + f" (load {loadavg()})")
        rest = min(args.gap - (time.time() - pressed_at), deadline - time.monotonic())
        if rest > 0:
            await asyncio.sleep(rest)
    if playing and pressed_at is not None:            # leave the clock paused: a question needs it
        t_sim = min(end, t_sim + (time.time() - pressed_at) * args.speed)
        teacher.set_widget(teacher.stage_id, json_value=json.dumps({"ui": {
            "t": round(t_sim, 3), "playing": False, "speed": args.speed, "tab": "sequence", "reveal": False,
            "n": args.actions + 1, "why": "pause"}}))
        await teacher.send_rerun(teacher.stage_fragment)
        await asyncio.sleep(2)


async def _answers(teacher: Page, live: list, store, code: str, key: str, args, deadline: float) -> dict:
    from classroom.rooms import RoomError
    # the instructor asks: the "Ask" button in the "Ask the class" popover (or, if the page offers none,
    # the store directly, as the button's callback would)
    how = "the instructor page's Ask button"
    button = next((b for k, b in teacher.buttons.items() if k == "ask_question"), None)
    def left(most):
        return max(0.5, min(most, deadline - time.monotonic()))

    until = time.monotonic() + left(10)
    while button is None and time.monotonic() < until:
        await asyncio.sleep(0.5)
        button = teacher.buttons.get("ask_question")
    asked_at = time.time()
    if button is not None:
        teacher.trigger(button)
        await teacher.send_rerun()
        until = time.monotonic() + left(args.follow_timeout)
        while time.monotonic() < until and not (store.get(code) and store.get(code).question):
            await asyncio.sleep(0.1)
    room = store.get(code)
    if not room or not room.question:
        how = "RoomStore.drive(question=...) from the bench (the page offered no question to ask)"
        q = {"id": "bench-q", "text": "Which outcome does the saga get?", "choices": ["completed", "compensated"],
             "answer": "compensated"}
        store.drive(code, key, question=q)
        room = store.get(code)
    question = room.question
    qid = question["id"]

    # every learner's stage draws the question card from its poll; then each picks within the same second
    wait = left(args.follow_timeout)
    await _all([p.wait(lambda p=p: p.follower is not None and qid in p.follower.asks, wait) for p in live])
    showing = [p for p in live if p.follower is not None and qid in p.follower.asks]
    shown = [p.follower.asks[qid] - asked_at for p in showing]
    picks, confirmed_by = {}, {}

    async def answer(i, p):
        choice = question["choices"][i % len(question["choices"])]
        await asyncio.sleep(random.random())
        picks[p.name] = choice
        try:
            status, body = await p.follower.answer(qid, choice)
        except Exception as e:                           # noqa: BLE001 - counted as not confirmed
            p.errors.append(f"answer: {e!r}")
            return
        confirmed_by[p.name] = status == 200 and body.get("counted") == choice   # the card says "Counted"

    await _all([answer(i, p) for i, p in enumerate(showing)])

    def confirmed(p):
        return confirmed_by.get(p.name, False)

    try:
        tally = store.tally(code, key, question["id"])
    except RoomError as e:
        tally = {"error": str(e)}
    want = {}
    for c in picks.values():
        want[c] = want.get(c, 0) + 1
    counted = sum(v for v in tally.values() if isinstance(v, int))
    lost = sum(max(0, n - tally.get(c, 0)) for c, n in want.items())
    return {"how": how, "question": question["id"], "shown": len(showing), "sent": len(picks),
            "counted": counted, "lost": lost, "tally": tally, "want": want,
            "confirmed": sum(confirmed(p) for p in showing),
            "question_shown": {"p50": pct(shown, 50), "p95": pct(shown, 95), "max": max(shown or [float("nan")])}}


def _browser_delays(log: list, actions: list, error) -> dict:
    out = {"error": error, "delays": {}}
    for a in actions:
        want = "Pause" if a["press"] == "Play" else "Play"
        t = next((e["t"] for e in log if e["t"] >= a["pressed_at"] and e["label"].startswith(want)), None)
        if t is not None and (a["k"] == len(actions) or t < actions[a["k"]]["pressed_at"]):
            out["delays"][a["k"]] = t - a["pressed_at"]
    return out


# ---------------------------------------------------------------- the report


def report(out: dict) -> None:
    d, w, c, ans = out["delay"], out["from_write"], out["cpu"], out["answers"]
    print()
    print(f"A class on one machine: 1 instructor + {out['learners']} learners ({out['joined']} joined), "
          f"room {out['room']}, {os.cpu_count()} CPUs, load average {out['load_before']} before, "
          f"{out['load_after']} after")
    print(f"{'figure':50s} {'measured':>22s}   {'goal':>12s}  ok")
    rows = [
        ("follow delay p50 (press -> poll answer, stage moves)", f"{d['p50']:.2f} s", "", ""),
        ("follow delay p95", f"{d['p95']:.2f} s", f"<= {GOAL_P95:g} s", "yes" if d["p95"] <= GOAL_P95 else "NO"),
        ("follow delay max", f"{d['max']:.2f} s", "", ""),
        ("  not followed within the timeout", f"{d['missed']} of {d['n'] + d['missed']}", "0",
         "yes" if d["missed"] == 0 else "NO"),
        ("  from the room write: p50 / p95 / max", f"{w['p50']:.2f} / {w['p95']:.2f} / {w['max']:.2f} s", "", ""),
        ("server CPU, whole measured window", f"{c['pct']:.0f} % of a core", f"<= {GOAL_CPU:g} %",
         "yes" if c["pct"] <= GOAL_CPU else "NO"),
    ]
    for name, ph in out["phases"].items():
        rows.append((f"  {name} ({ph['wall']:.0f} s, {ph['full_runs']} full runs, {ph['polls']} polls)",
                     f"{ph['pct']:.0f} % of a core", "", ""))
    pr = out["pause_reruns"]
    rows += [("  waited for a CPU (run queue), whole window", f"{c['waited_pct']:.0f} % of the time", "", ""),
             ("  server CPU following at rest, per learner", f"{out['cost']['rest_ms_per_learner_s']:.1f} ms/s", "",
              ""),
             ("  server CPU per answered poll (quiet phase)", f"{out['cost']['per_poll_ms']:.1f} ms", "", ""),
             ("  server CPU per learner full page run", f"{out['cost']['per_full_run_ms']:.0f} ms"
              if out["cost"]["per_full_run_ms"] > 0 else "n/a", "", ""),
             ("  a Pause's page rerun done (press ->): p50 / p95",
              f"{pr['p50']:.2f} / {pr['p95']:.2f} s" if pr["n"] else "none", "", ""),
             ("time for the class to join (all stages drawn)", f"{out['join_seconds']:.1f} s", "", "")]
    rows += [
        ("answers lost (sent -> instructor's tally)", f"{ans['lost']} of {ans['sent']} (counted {ans['counted']})",
         "0", "yes" if ans["lost"] == 0 and ans["sent"] > 0 else "NO"),
        ("  stages showing 'Counted: <their pick>'", f"{ans['confirmed']} of {ans['sent']}", "", ""),
        ("  question on screen after Ask: p50 / p95", f"{ans['question_shown']['p50']:.2f} / "
         f"{ans['question_shown']['p95']:.2f} s", "", ""),
    ]
    for name, val, goal, ok in rows:
        print(f"{name:50s} {val:>22s}   {goal:>12s}  {ok}")
    print(f"(the bench's own clients used {c['bench_pct']:.0f} % of a core; {out['full_runs']} full page runs and "
          f"{out['fragment_runs']} fragment runs of the learners' pages ({out['room_reruns']} asked by the trigger "
          f"'room'), {out['polls']} follow polls answered of {out['polls_sent']} sent, "
          f"{out['bytes_in'] / 1e6:.1f} MB sent to them on their websockets; "
          f"followers counted by the room: {out['followers_seen']} during, {out['followers_end']} at the end; "
          f"question asked by {ans['how']})")
    if out.get("browser"):
        b = out["browser"]
        got = ", ".join(f"#{k} {v:.2f} s" for k, v in b["delays"].items())
        print(f"real Chromium learner: {got or 'no delay read'}" + (f" ({b['error']})" if b.get("error") else ""))
        for a in out["actions"]:
            print(f"    #{a['k']} {a['press']:5s} clients p50 {a['p50']:.2f} max {a['max']:.2f} s")
    if out["errors"]:
        print("errors:", "; ".join(out["errors"]))
    if out["quiet_pages"]:
        print(f"{len(out['quiet_pages'])} page(s) got nothing in the last 10 s:", "; ".join(out["quiet_pages"][:5]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--learners", type=int, default=60)
    ap.add_argument("--actions", type=int, default=4, help="Play/Pause presses (default 4)")
    ap.add_argument("--gap", type=float, default=5.0, help="seconds between presses, at least (default 5)")
    ap.add_argument("--speed", type=float, default=0.25, choices=(0.25, 0.5, 1.0, 2.0, 4.0),
                    help="the instructor's clock speed (default 0.25: the pauses land before the run's end, "
                         "where a pause also brings the comparison section)")
    ap.add_argument("--quiet", type=float, default=10.0, help="seconds of following with no action (default 10)")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds after the last learner joined")
    ap.add_argument("--join-timeout", type=float, default=60.0)
    ap.add_argument("--budget", type=float, default=170.0,
                    help="seconds for the whole class after the server answered (default 170): presses that do "
                         "not fit are skipped")
    ap.add_argument("--follow-timeout", type=float, default=15.0, help="a learner not following by then is missed")
    ap.add_argument("--browser", action="store_true", help="add one real headless Chromium learner")
    ap.add_argument("--json", help="write every figure to this file")
    args = ap.parse_args(argv)

    import serve
    if args.browser and serve.missing():
        print(f"--browser: {serve.missing()}")
        return 2
    data = tempfile.TemporaryDirectory(prefix="saga-rooms-")
    os.environ["SAGA_DATA_DIR"] = data.name                 # the server inherits it; so does our RoomStore
    out = {"load_before": loadavg()}
    started = time.monotonic()
    try:
        with serve.server(timeout=90) as base:
            print(f"server {base} (rooms in {data.name}); load average {loadavg()}")
            try:
                asyncio.run(asyncio.wait_for(lesson(base, args, out), args.budget + 60))
            except asyncio.TimeoutError:
                print(f"the class did not finish within {args.budget + 60:g} s: no figures (load {loadavg()})")
                return 1
    finally:
        data.cleanup()
    out["load_after"] = loadavg()
    out["seconds"] = time.monotonic() - started
    report(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
