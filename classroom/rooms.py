"""Classroom rooms in SQLite: the instructor drives, the learners follow and answer.

A room is one row: the situation (scenario, style, seed, faults), the clock's last
command, the current question and whether its answer is revealed, and a version
that every change bumps. Learners poll :meth:`RoomStore.version` (one indexed read)
and fetch the room with :meth:`RoomStore.get` only when it moved. Answers are rows
of their own, one per (room, question, learner); the instructor reads only counts.

    store = RoomStore()                      # $SAGA_DATA_DIR/rooms.sqlite3, default data/ at the repo root
    code, key = store.create({"scenario": "out-of-stock", "style": "both", "seed": 1, "faults": []})
    store.owns(code, key)                    -> True for the instructor's key (a read)
    store.drive(code, key, clock={"t": 2.5, "playing": False, "speed": 1})  -> new version
    store.drive(code, key, question=q)       # q from classroom.questions(); revealed becomes False
    store.version(code)                      -> int, or None for no such room
    store.get(code)                          -> Room (frozen), or None
    store.follow(code, learner_id)           # heartbeat; store.followers(code, within=15.0) -> int
    store.answer(code, q["id"], learner_id, choice)   # one per learner per question, the last one stands
    store.my_answer(code, q["id"], learner_id) -> the learner's own choice, or None
    store.tally(code, key, q["id"])          -> {choice: count}
    store.drive(code, key, reveal=True)      # question=False clears the question
    store.expire()                           # rooms older than a day go, with their answers (create calls it)

A learner's page shows ``room.learner_question`` (no ``answer``, no ``explain`` until revealed)
and ``room.clock_at()`` (the clock's time now, moved on while it plays).

Safe for many threads and processes at once: one connection per thread (and per
process), WAL mode so readers never wait for the writer, short ``BEGIN IMMEDIATE``
transactions taken one at a time per process (a lock: threads queue there instead of
in SQLite's sleeping busy handler), a busy timeout between processes and a few retries
when the file is locked. Only a
SHA-256 of the key is stored (the key is a 192-bit random token, compared with
:func:`hmac.compare_digest`). Everything a user sends is bounded; a refusal is a
:class:`RoomError` with one sentence.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "rooms.sqlite3"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"     # no 0/O, 1/I/L: easy to read off a projector
CODE_LENGTH = 6
ROOM_LIFETIME = 24 * 3600.0
MAX_SITUATION_BYTES = 64_000          # the situation as JSON (scenario name, style, seed, faults)
MAX_QUESTION_BYTES = 16_000
MAX_CHOICES = 5
MAX_CHOICE_CHARS = 200
MAX_ID_CHARS = 64                     # learner ids and question ids
MAX_ANSWERS_PER_ROOM = 20_000         # e.g. 200 learners x 100 questions
MAX_FOLLOWERS_PER_ROOM = 1_000
MAX_ROOMS = 10_000                    # live rooms in one data folder
MAX_SPEED = 1000.0
_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")
_KEYS = ("code", "situation", "clock", "question", "revealed", "version", "created")


class RoomError(ValueError):
    """A refused room operation; ``str(err)`` is one sentence a page can show."""


def data_dir() -> Path:
    """The data folder: ``$SAGA_DATA_DIR``, or ``data/`` at the repository root."""
    return Path(os.environ.get("SAGA_DATA_DIR") or ROOT / "data")


@dataclass(frozen=True)
class Room:
    code: str
    situation: dict        # {"scenario", "style", "seed", "faults": [...]} as the instructor set it
    clock: dict            # {"t", "playing", "speed", "at": server wall time of the command, "id"}
    question: dict | None  # the current question, with its answer (for the instructor's page)
    revealed: bool
    version: int
    created: float

    @property
    def learner_question(self) -> dict | None:
        """The current question as a learner may see it: no ``answer`` or ``explain`` until revealed."""
        if self.question is None or self.revealed:
            return self.question
        return {k: v for k, v in self.question.items() if k not in ("answer", "explain")}

    def clock_at(self, now: float | None = None) -> float:
        """The simulation time the clock shows at wall time ``now`` (playing: it moved on since ``at``)."""
        c = self.clock
        t = float(c.get("t", 0.0))
        if c.get("playing"):
            now = time.time() if now is None else now
            t += max(0.0, now - float(c.get("at", now))) * float(c.get("speed", 1.0))
        return t


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _json(value, what, limit):
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise RoomError(f"The {what} must be plain JSON data (text, numbers, lists, mappings).") from None
    if len(text) > limit:
        raise RoomError(f"The {what} is {len(text)} bytes as JSON; at most {limit} are allowed.")
    return text


def _check_id(value, what):
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or not _ID.match(value):
        raise RoomError(f"The {what} must be 1 to {MAX_ID_CHARS} letters, digits or _.:- characters.")
    return value


def normalize_code(code) -> str:
    """A code as typed (any case, spaces, dashes) in its stored form, or '' if it cannot be one."""
    if not isinstance(code, str) or len(code) > 40:
        return ""
    code = re.sub(r"[\s-]", "", code).upper()
    return code if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code) else ""


class RoomStore:
    """Rooms in one SQLite file; see the module docstring for the whole API."""

    RETRIES = 6

    def __init__(self, path=None, *, heartbeat_every: float = 5.0):
        """Args:
            path: the database file, or a folder to hold ``rooms.sqlite3``; default :func:`data_dir`.
            heartbeat_every: :meth:`follow` writes a learner's heartbeat at most this often (seconds).
        """
        path = Path(path) if path is not None else data_dir()
        if path.is_dir() or path.suffix == "":
            path = path / DB_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.heartbeat_every = heartbeat_every
        self._pool = []                   # idle connections: a page's every run is a new thread, so a
        self._pool_lock = threading.Lock()  # connection per thread would be opened anew on every poll
        self._pid = os.getpid()
        self._beats = {}                  # (code, learner) -> when this store last wrote the heartbeat
        self._writer = threading.Lock()   # this process's writers queue here, not in SQLite's sleeping busy handler
        self._run("set up its tables", self._setup, write=False)

    # ---------------------------------------------------------------- connections and transactions
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")         # WAL + NORMAL: a crashed server loses nothing
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _acquire(self) -> sqlite3.Connection:
        """An idle connection of this process, or a new one (a forked child never takes its parent's)."""
        with self._pool_lock:
            if self._pid != os.getpid():
                self._pool, self._pid = [], os.getpid()
            if self._pool:
                return self._pool.pop()
        return self._open()

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if self._pid == os.getpid() and len(self._pool) < 16 and not conn.in_transaction:
                self._pool.append(conn)
                return
        conn.close()

    def close(self):
        """Close the idle connections (one in use closes when it is given back)."""
        with self._pool_lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()

    def _run(self, what, fn, *args, write=True):
        """Run ``fn(conn, *args)`` in one short transaction, retrying while the file is locked."""
        delay = 0.01
        for attempt in range(self.RETRIES):
            conn = self._acquire()
            try:
                if not write:
                    return fn(conn, *args)
                with self._writer:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        out = fn(conn, *args)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                return out
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or attempt == self.RETRIES - 1:
                    raise RoomError(f"The room database could not {what} ({e}); try again.") from None
                time.sleep(delay + secrets.randbelow(1000) / 1e5)
                delay *= 2
            finally:
                self._release(conn)
        raise AssertionError("unreachable")

    @staticmethod
    def _setup(conn):
        conn.executescript("""
            CREATE TABLE IF NOT EXISTS rooms (
                code TEXT PRIMARY KEY, key_hash TEXT NOT NULL,
                situation TEXT NOT NULL, clock TEXT NOT NULL, question TEXT,
                revealed INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1,
                created REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS rooms_created ON rooms (created);
            CREATE TABLE IF NOT EXISTS answers (
                code TEXT NOT NULL REFERENCES rooms (code) ON DELETE CASCADE,
                question TEXT NOT NULL, learner TEXT NOT NULL, choice TEXT NOT NULL, at REAL NOT NULL,
                PRIMARY KEY (code, question, learner)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS followers (
                code TEXT NOT NULL REFERENCES rooms (code) ON DELETE CASCADE,
                learner TEXT NOT NULL, seen REAL NOT NULL,
                PRIMARY KEY (code, learner)) WITHOUT ROWID;
        """)

    # ---------------------------------------------------------------- the instructor
    def create(self, situation: dict) -> tuple[str, str]:
        """A new room showing ``situation``; returns (code, key). Keep the key secret: it drives the room."""
        if not isinstance(situation, dict):
            raise RoomError("The situation must be a mapping (scenario, style, seed, faults).")
        situation_json = _json(situation, "situation", MAX_SITUATION_BYTES)
        self.expire()
        key = secrets.token_urlsafe(24)
        now = time.time()
        clock = _json({"t": 0.0, "playing": False, "speed": 1.0, "at": now, "id": 1}, "clock", 1000)

        def insert(conn):
            if conn.execute("SELECT count(*) FROM rooms").fetchone()[0] >= MAX_ROOMS:
                raise RoomError(f"There are already {MAX_ROOMS} open rooms; try again when some have expired.")
            for _ in range(20):
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                try:
                    conn.execute("INSERT INTO rooms (code, key_hash, situation, clock, created) VALUES (?,?,?,?,?)",
                                 (code, _hash(key), situation_json, clock, now))
                    return code
                except sqlite3.IntegrityError:
                    continue
            raise RoomError("No free room code was found; try again.")
        return self._run("create a room", insert), key

    def drive(self, code, key, *, situation=None, clock=None, question=None, reveal=None) -> int:
        """Change the room (only with its key); returns the new version.

        Args:
            situation: the whole new situation (replaces the old).
            clock: ``{"t", "playing", "speed"}`` (missing keys keep their value); the server adds
                ``at`` (its wall time now) and ``id`` (the new version).
            question: a question (``id``, ``text``, ``choices``, ``answer``...) becomes the current one and
                is not revealed; ``False`` clears it (``None`` leaves it as it is).
            reveal: True shows the current question's answer to everyone (and closes the answers).
        """
        code = normalize_code(code)
        updates = {}
        if situation is not None:
            if not isinstance(situation, dict):
                raise RoomError("The situation must be a mapping (scenario, style, seed, faults).")
            updates["situation"] = _json(situation, "situation", MAX_SITUATION_BYTES)
        new_clock = None if clock is None else _check_clock(clock)
        if question is not None:
            if question is False:
                updates["question"] = None
            else:
                updates["question"] = _json(_check_question(question), "question", MAX_QUESTION_BYTES)
            updates["revealed"] = 0
        if reveal is not None:
            if not isinstance(reveal, bool):
                raise RoomError("reveal must be true or false.")
            updates["revealed"] = int(reveal)

        def change(conn):
            row = self._room_row(conn, code)
            if row is None or not hmac.compare_digest(row[1], _hash(key if isinstance(key, str) else "")):
                raise RoomError("That key does not drive this room: only the instructor's link can change it.")
            version = row[2] + 1
            values = dict(updates)
            if new_clock is not None:
                merged = {**json.loads(row[3]), **new_clock, "at": time.time(), "id": version}
                values["clock"] = _json(merged, "clock", 1000)
            if values.get("revealed") and "question" not in values and row[4] is None:
                raise RoomError("There is no question to reveal.")
            values["version"] = version
            cols = ", ".join(f"{k} = ?" for k in values)
            conn.execute(f"UPDATE rooms SET {cols} WHERE code = ?", (*values.values(), code))  # noqa: S608
            return version
        return self._run("change the room", change)

    def owns(self, code, key) -> bool:
        """Whether ``key`` is this live room's instructor key (a read; changes nothing)."""
        row = self._run("read the room", self._room_row, normalize_code(code), write=False)
        return row is not None and hmac.compare_digest(row[1], _hash(key if isinstance(key, str) else ""))

    def tally(self, code, key, question_id) -> dict:
        """How many learners chose each choice of the question (counts only, never who); needs the key.
        The current question's choices are all listed, with 0 for the ones nobody picked."""
        code = normalize_code(code)

        def count(conn):
            row = self._room_row(conn, code)
            if row is None or not hmac.compare_digest(row[1], _hash(key if isinstance(key, str) else "")):
                raise RoomError("That key does not open this room's answers: only the instructor's link can.")
            question = json.loads(row[4]) if row[4] else None
            out = {}
            if question and question.get("id") == question_id:
                out = {c: 0 for c in question["choices"]}
            for choice, n in conn.execute("SELECT choice, count(*) FROM answers WHERE code = ? AND question = ? "
                                          "GROUP BY choice", (code, question_id)):
                out[choice] = n
            return out
        return self._run("count the answers", count, write=False)

    # ---------------------------------------------------------------- the learners
    def version(self, code) -> int | None:
        """The room's version (bumped by every change), or None: the one read learners poll."""
        row = self._run("read the room's version", lambda conn: conn.execute(
            "SELECT version FROM rooms WHERE code = ? AND created > ?",
            (normalize_code(code), time.time() - ROOM_LIFETIME)).fetchone(), write=False)
        return row[0] if row else None

    def get(self, code) -> Room | None:
        """The room as it is now, or None (no such room, or expired)."""
        code = normalize_code(code)
        row = self._run("read the room", lambda conn: conn.execute(
            "SELECT code, situation, clock, question, revealed, version, created FROM rooms "
            "WHERE code = ? AND created > ?", (code, time.time() - ROOM_LIFETIME)).fetchone(), write=False)
        if row is None:
            return None
        return Room(row[0], json.loads(row[1]), json.loads(row[2]), json.loads(row[3]) if row[3] else None,
                    bool(row[4]), row[5], row[6])

    def follow(self, code, learner_id) -> None:
        """A learner's heartbeat (call it as often as you like: it is written every ``heartbeat_every`` s)."""
        code = normalize_code(code)
        _check_id(learner_id, "learner id")
        now = time.time()
        if now - self._beats.get((code, learner_id), -math.inf) < self.heartbeat_every:
            return

        def beat(conn):
            if self._room_row(conn, code) is None:
                raise RoomError(f"There is no room {code or '(bad code)'}: rooms last a day.")
            if conn.execute("UPDATE followers SET seen = ? WHERE code = ? AND learner = ?",
                            (now, code, learner_id)).rowcount == 0:
                n = conn.execute("SELECT count(*) FROM followers WHERE code = ?", (code,)).fetchone()[0]
                if n >= MAX_FOLLOWERS_PER_ROOM:         # make room: forget learners silent for an hour
                    n -= conn.execute("DELETE FROM followers WHERE code = ? AND seen < ?",
                                      (code, now - 3600)).rowcount
                if n >= MAX_FOLLOWERS_PER_ROOM:
                    raise RoomError(f"This room already has {MAX_FOLLOWERS_PER_ROOM} learners.")
                conn.execute("INSERT INTO followers (code, learner, seen) VALUES (?,?,?)", (code, learner_id, now))
        self._run("record the heartbeat", beat)
        if len(self._beats) > 10 * MAX_FOLLOWERS_PER_ROOM:
            self._beats.clear()
        self._beats[(code, learner_id)] = now

    def followers(self, code, within: float = 15.0) -> int:
        """How many learners sent a heartbeat in the last ``within`` seconds."""
        return self._run("count the learners", lambda conn: conn.execute(
            "SELECT count(*) FROM followers WHERE code = ? AND seen >= ?",
            (normalize_code(code), time.time() - within)).fetchone()[0], write=False)

    def answer(self, code, question_id, learner_id, choice) -> None:
        """Record a learner's choice for the room's current question (a later answer replaces theirs)."""
        code = normalize_code(code)
        _check_id(learner_id, "learner id")
        if not isinstance(question_id, str) or not isinstance(choice, str) or len(choice) > MAX_CHOICE_CHARS:
            raise RoomError("An answer is a question id and one of its choices (text).")

        def record(conn):
            row = self._room_row(conn, code)
            if row is None:
                raise RoomError(f"There is no room {code or '(bad code)'}: rooms last a day.")
            question = json.loads(row[4]) if row[4] else None
            if question is None or question.get("id") != question_id:
                raise RoomError("That question is not the one the room is asking now.")
            if row[5]:
                raise RoomError("The answer to this question is already revealed: answers are closed.")
            if choice not in question["choices"]:
                raise RoomError("That choice is not one the question offers.")
            if conn.execute("UPDATE answers SET choice = ?, at = ? WHERE code = ? AND question = ? AND learner = ?",
                            (choice, time.time(), code, question_id, learner_id)).rowcount:
                return
            n = conn.execute("SELECT count(*) FROM answers WHERE code = ?", (code,)).fetchone()[0]
            if n >= MAX_ANSWERS_PER_ROOM:
                raise RoomError(f"This room has {MAX_ANSWERS_PER_ROOM} answers already, its limit.")
            conn.execute("INSERT INTO answers (code, question, learner, choice, at) VALUES (?,?,?,?,?)",
                         (code, question_id, learner_id, choice, time.time()))
        self._run("record the answer", record)

    def my_answer(self, code, question_id, learner_id) -> str | None:
        """The learner's own answer to a question (to show it back to them), or None."""
        row = self._run("read the answer", lambda conn: conn.execute(
            "SELECT choice FROM answers WHERE code = ? AND question = ? AND learner = ?",
            (normalize_code(code), question_id, learner_id)).fetchone(), write=False)
        return row[0] if row else None

    # ---------------------------------------------------------------- housekeeping
    def expire(self, now: float | None = None) -> int:
        """Delete rooms older than a day, with their answers and followers; returns how many went."""
        cutoff = (time.time() if now is None else now) - ROOM_LIFETIME
        return self._run("expire old rooms", lambda conn: conn.execute(
            "DELETE FROM rooms WHERE created <= ?", (cutoff,)).rowcount)

    @staticmethod
    def _room_row(conn, code):
        """(code, key_hash, version, clock, question, revealed) of a live room, or None."""
        return conn.execute("SELECT code, key_hash, version, clock, question, revealed FROM rooms "
                            "WHERE code = ? AND created > ?", (code, time.time() - ROOM_LIFETIME)).fetchone()


def _check_clock(clock) -> dict:
    if not isinstance(clock, dict):
        raise RoomError("The clock must be a mapping {t, playing, speed}.")
    extra = set(clock) - {"t", "playing", "speed"}
    if extra:
        raise RoomError(f"The clock has unknown fields ({', '.join(sorted(map(str, extra)))}); "
                        "it takes t, playing and speed.")
    out = {}
    if "t" in clock:
        t = clock["t"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t <= 1e7:
            raise RoomError("The clock's t must be a number of simulation time from 0 to 1e7.")
        out["t"] = float(t)
    if "playing" in clock:
        if not isinstance(clock["playing"], bool):
            raise RoomError("The clock's playing must be true or false.")
        out["playing"] = clock["playing"]
    if "speed" in clock:
        s = clock["speed"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or not 0 < s <= MAX_SPEED:
            raise RoomError(f"The clock's speed must be a number above 0 and at most {MAX_SPEED:g}.")
        out["speed"] = float(s)
    return out


def _check_question(q) -> dict:
    if not isinstance(q, dict):
        raise RoomError("A question must be a mapping (id, text, choices, answer).")
    _check_id(q.get("id"), "question id")
    if not isinstance(q.get("text"), str) or not q["text"].strip():
        raise RoomError("A question needs its text.")
    choices = q.get("choices")
    if (not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES
            or not all(isinstance(c, str) and c and len(c) <= MAX_CHOICE_CHARS for c in choices)
            or len(set(choices)) != len(choices)):
        raise RoomError(f"A question needs 2 to {MAX_CHOICES} different choices, each text of at most "
                        f"{MAX_CHOICE_CHARS} characters.")
    if q.get("answer") is not None and q["answer"] not in choices:
        raise RoomError("A question's answer must be one of its choices.")
    return q
