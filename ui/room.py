"""A classroom room on the page: the instructor drives, the learners follow and answer.

- ``?room=new`` creates a room showing the situation on screen and turns the
  address into the instructor's link ``?room=CODE&key=SECRET``; the page shows the
  learners' link ``?room=CODE`` as text and as a QR code.
- The instructor's page writes the room (``classroom.RoomStore.drive``) whenever
  its situation changes (scenario, style, seed, faults) or its stage reports the
  clock (play, pause, scrub, speed): only that page has the key.
- A learner's stage long-polls the room (``ui.api``'s follow route, which is
  also the learner's heartbeat) and, while following, takes the room's clock
  itself: no rerun while the instructor plays, pauses or scrubs. For a new
  situation or a pause the stage asks for one rerun, and the page takes the
  room's situation and clock (a clock command the stage plays on from,
  computed from the command's age). A learner can detach to explore alone and
  rejoin with one click.
- Predict, then watch: the instructor pauses, picks a question generated from the
  run ahead (``classroom.questions``: the right answer is the simulation's), asks
  it; learners see it on their stage within the poll and answer there (the
  answer route); the instructor sees the counts (never names), then reveals the
  answer on every screen and plays on.

Rooms live in SQLite (``classroom.rooms``): a server restart loses nothing.
"""
from __future__ import annotations

import uuid

import streamlit as st

import classroom
from classroom.qr import qr_svg

from . import state
from .state import ss
from .safe import md

INSTRUCTOR_POLL = 2.0      # the instructor's count of followers and answers


@st.cache_resource(show_spinner=False)
def store() -> classroom.RoomStore:
    """One store per server process (its connections are per thread)."""
    return classroom.RoomStore()


def room() -> dict | None:
    """This session's room: {"code", "role": "instructor" | "learner", ...}, or None."""
    return ss().get("room")


def is_following() -> bool:
    mine = room()
    return bool(mine) and mine["role"] == "learner" and bool(mine.get("following"))


def is_learner() -> bool:
    mine = room()
    return bool(mine) and mine["role"] == "learner"


def init() -> None:
    """Once per session, from the link: create a room, or join one as its instructor or as a learner."""
    if ss().get("_room_read"):
        return
    ss()._room_read = True
    wanted = st.query_params.get("room")
    if not wanted:
        return
    try:
        if wanted == "new":
            code, key = store().create(situation())
            ss().room = {"code": code, "key": key, "role": "instructor", "pushed": None}
            return
        code = classroom.rooms.normalize_code(wanted)
        found = store().get(code)
        if found is None:
            ss().notices.append(f"There is no room {wanted!r} (a room lasts a day); showing the lesson on its own.")
            return
        key = st.query_params.get("key")
        if key:
            if not store().owns(code, key):
                raise classroom.RoomError("that key does not drive this room (only the instructor's link does)")
            ss().room = {"code": code, "key": key, "role": "instructor", "pushed": None}
            take(found, force=True)
        else:
            ss().room = {"code": code, "role": "learner", "learner": uuid.uuid4().hex, "following": True,
                         "version": None, "clock": None}
            take(found, force=True)
    except classroom.RoomError as e:
        ss().notices.append(f"The room link could not be used: {e}")


def situation() -> dict:
    state_ = ss()
    return {"scenario": state_.scenario, "style": state_.style, "seed": state_.seed, "faults": list(state_.faults)}


def clock() -> dict:
    return {"t": round(float(ss().t), 3), "playing": bool(ss().playing), "speed": float(ss().speed)}


# ---------------------------------------------------------------- learners follow


def take(found: classroom.Room, force: bool = False) -> None:
    """Show what the room shows: its situation, and its clock as a command the stage takes."""
    mine = room()
    sit = found.situation
    state_ = ss()
    if sit.get("scenario") and sit["scenario"] != state_.scenario:
        state_.scenario = sit["scenario"]
        state_.custom = None
    for key in ("style", "seed"):
        if key in sit:
            state_[key] = sit[key]
    state_.faults = [str(f) for f in sit.get("faults") or []]
    state_.replay = None
    if mine is None or mine.get("role") != "learner":
        return
    if force or found.clock.get("id") != mine.get("clock"):
        mine["clock"] = found.clock.get("id")
        state.move_clock(found.clock_at(), bool(found.clock.get("playing")), found.clock.get("speed", 1.0))
    mine["version"] = found.version


def follow_before_page() -> None:
    """A following learner takes the room's latest state before the page is drawn."""
    mine = room()
    if not mine or mine["role"] != "learner" or not mine.get("following"):
        return
    found = store().get(mine["code"])
    if found is not None and found.version != mine.get("version"):
        take(found)


def _detach() -> None:
    room()["following"] = False


def _rejoin() -> None:
    mine = room()
    mine["following"] = True
    mine["version"] = None
    mine["clock"] = None


# ---------------------------------------------------------------- the instructor drives


def push_after_page() -> None:
    """The instructor's page writes what changed on it to the room (situation, clock)."""
    mine = room()
    if not mine or mine["role"] != "instructor":
        return
    now = {"situation": situation(), "clock": clock()}
    before = mine.get("pushed") or {}
    changes = {k: v for k, v in now.items() if before.get(k) != v}
    if not changes:
        return
    if ss().scenario == state.CUSTOM:
        changes.pop("situation", None)            # an edited scenario cannot travel: learners keep the last one
    elif "situation" in changes and (before.get("situation") or {}).get("scenario") not in (None, ss().scenario):
        changes["question"] = False               # another lesson: a question about the last one is closed
    try:
        store().drive(mine["code"], mine["key"], **changes)
        mine["pushed"] = now
    except classroom.RoomError as e:
        st.warning(f"The room could not be updated: {e}")


def _drive(**change) -> None:
    """An instructor's button: change the room; a refusal is shown once on the next run."""
    mine = room()
    try:
        store().drive(mine["code"], mine["key"], **change)
    except classroom.RoomError as e:
        mine["error"] = str(e)


def _ask(question: dict) -> None:
    _drive(question=question)


def _reveal() -> None:
    _drive(reveal=True)


def _clear() -> None:
    _drive(question=False)


def learners_link(code: str) -> str:
    base = str(getattr(st.context, "url", "") or "").split("?")[0] or "http://localhost:8501/"
    return f"{base}?room={code}"


# ---------------------------------------------------------------- on the page


def bar(shown: list, scenario) -> None:
    """The room's strip above the stage: for the instructor the link, the followers, the question; for a
    learner whether it follows, and the question to answer."""
    mine = room()
    if not mine:
        return
    if mine["role"] == "instructor":
        _instructor_bar(mine, shown, scenario)
    else:
        _learner_bar(mine)


def _instructor_bar(mine: dict, shown: list, scenario) -> None:
    link = learners_link(mine["code"])
    found = store().get(mine["code"])
    current = found.question if found else None
    with st.container(border=True):
        cols = st.columns([3.4, 1.2, 1.2, 1.6], vertical_alignment="center")
        cols[0].markdown(f":material/groups: **Room {mine['code']}** · learners open `{link.replace('`', '')}`")
        with cols[1].popover("QR code", icon=":material/qr_code_2:", width="stretch"):
            st.image(qr_svg(link), width=280)
            st.caption("Scan to follow. Your own link (it drives the room: keep it) is in the address bar.")
        with cols[2]:
            _instructor_live(mine)
        if not current:
            with cols[3].popover("Ask the class", icon=":material/help:", width="stretch"):
                _question_picker(shown, scenario)
        if mine.get("error"):
            st.error(mine.pop("error"))
        if ss().scenario == state.CUSTOM:
            st.caption(":material/info: An edited scenario cannot travel to the learners: they keep the last "
                       "library lesson you showed.")
        if current:
            _tally(mine, current, found.revealed)


@st.fragment(run_every=INSTRUCTOR_POLL)
def _instructor_live(mine: dict) -> None:
    try:
        n = store().followers(mine["code"])
    except classroom.RoomError:
        n = 0
    st.markdown(f":material/visibility: **{n}** following")


def _question_picker(shown: list, scenario) -> None:
    """Questions about what comes next, from the runs ahead of the paused clock."""
    good = [s.run for s in shown if s.run is not None]
    asked = classroom.questions(good, float(ss().t), scenario) if good else []
    if not asked:
        st.caption("Nothing left to ask from here: what lies ahead is settled. Move the clock back.")
        return
    texts = {q["id"]: q["text"] for q in asked}
    pick = st.radio(f"Pause first, then ask what happens next (t = {ss().t:.2f})", list(texts),
                    format_func=texts.get, key="w_question")
    chosen = next((q for q in asked if q["id"] == pick), asked[0])
    st.button("Ask", icon=":material/help:", on_click=_ask, args=(chosen,), width="stretch", type="primary",
              key="ask_question")


def _tally(mine: dict, question: dict, revealed: bool) -> None:
    """The class's answers (refreshed every couple of seconds), then reveal or move on."""
    _counts(mine, question, revealed)
    cols = st.columns([3, 1] if revealed else [1, 1], vertical_alignment="center")
    if revealed:
        cols[0].success(f"Answer: {md(question['answer'])}. {md(question.get('explain', ''))}")
    else:
        cols[0].button("Reveal the answer", icon=":material/visibility:", on_click=_reveal, width="stretch",
                       key="reveal_answer")
    cols[1].button("Done: next question", icon=":material/close:", on_click=_clear, width="stretch",
                   key="clear_question")


@st.fragment(run_every=INSTRUCTOR_POLL)
def _counts(mine: dict, question: dict, revealed: bool) -> None:
    try:
        counts = store().tally(mine["code"], mine["key"], question["id"])
    except classroom.RoomError as e:
        st.error(str(e))
        return
    total = sum(counts.values())
    st.markdown(f"**Asked:** {md(question['text'])} · **{total}** answer{'s' if total != 1 else ''} "
                "(counts only, never names)")
    # two columns of bars: the tally must leave the stage on a projector's first screen
    cols = st.columns(2)
    for k, choice in enumerate(question["choices"]):
        n = counts.get(choice, 0)
        mark = " ✓" if revealed and choice == question.get("answer") else ""
        cols[k % 2].progress(n / total if total else 0.0, text=f"{md(choice)}{mark} · {n}")


def _learner_bar(mine: dict) -> None:
    """Following or exploring alone; the instructor's questions show on the stage itself (asked, answered
    and revealed there, through ``ui.api``'s routes: no rerun of this page)."""
    with st.container(border=True):
        cols = st.columns([4, 1.4], vertical_alignment="center")
        if mine.get("following"):
            cols[0].markdown(f":material/groups: **Room {mine['code']}** · you follow the instructor's screen; "
                             "questions appear above the stage")
            cols[1].button("Explore alone", icon=":material/logout:", on_click=_detach, width="stretch",
                           key="detach")
        else:
            cols[0].markdown(f":material/explore: **Room {mine['code']}** · exploring on your own (questions "
                             "still appear above the stage)")
            cols[1].button("Follow again", icon=":material/login:", on_click=_rejoin, width="stretch",
                           type="primary", key="rejoin")


def link_params() -> dict:
    """The room's part of the address: the instructor's link keeps its key; a learner's keeps the code."""
    mine = room()
    if not mine:
        return {}
    if mine["role"] == "instructor":
        return {"room": mine["code"], "key": mine["key"]}
    return {"room": mine["code"]}

