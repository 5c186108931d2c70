"""A class on one machine (issue 15), the part without pages: 60 learners follow one room.

Each learner is a thread that does what a learner's page does on the server: every
``--poll`` seconds (default 1, each learner with its own phase) it reads the room's
version, sends its heartbeat, and when the version moved it fetches the room; when the
room asks a new question it answers at once. An instructor thread drives the room every
``--drive-every`` seconds (play, pause, scrub), and every third time asks a question;
then all learners answer one last question in the same instant. All of it runs in this one process against one
SQLite file, as the Streamlit server would (its sessions are threads).

Prints: the follow delay from the instructor's ``drive()`` call to each learner seeing
the new version (p50, p95, max), this process's CPU (per cent of one core, over the
whole run: learners and instructor together, i.e. the server's share of the work),
the time of each kind of store call, and answers lost (sent vs. the instructor's tally).

    python bench/classroom_bench.py                    # 60 learners, 30 s
    python bench/classroom_bench.py --learners 120 --seconds 20 --poll 0.5

Not a timed test; the page-level part (real browsers against the server) comes later.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classroom.rooms import RoomError, RoomStore  # noqa: E402


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


class Timer:
    """Wall time of each kind of store call, across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = {}

    def __call__(self, name, fn, *args, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            dt = time.perf_counter() - t0
            with self.lock:
                self.calls.setdefault(name, []).append(dt)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--poll", type=float, default=1.0, help="seconds between a learner's polls")
    ap.add_argument("--drive-every", type=float, default=2.0)
    ap.add_argument("--data", help="a folder for the database (default: a fresh temporary one)")
    args = ap.parse_args(argv)

    folder = args.data or tempfile.mkdtemp(prefix="classroom-bench-")
    store = RoomStore(folder)
    code, key = store.create({"scenario": "out-of-stock", "style": "both", "seed": 1, "faults": []})
    timer = Timer()
    driven = {1: time.time()}                  # version -> wall time just before drive() was called
    seen = []                                  # follow delays (s)
    sent = {}                                  # question id -> answers sent (accepted by the store)
    errors = []
    stop = threading.Event()
    lock = threading.Lock()
    choices = ["completed", "compensated", "stuck", "deadlocked"]

    def learner(i):
        rng = random.Random(i)
        me = f"learner-{i}"
        version, answered = 1, set()
        next_poll = time.monotonic() + rng.random() * args.poll      # each page polls with its own phase
        while not stop.is_set():
            delay = next_poll - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            next_poll += args.poll
            try:
                v = timer("version", store.version, code)
                timer("follow", store.follow, code, me)
                if v is not None and v > version:
                    now = time.time()
                    room = timer("get", store.get, code)
                    with lock:
                        seen.extend(now - driven[w] for w in range(version + 1, v + 1) if w in driven)
                    version = v
                    q = room.learner_question
                    if q and q["id"] not in answered and not room.revealed:
                        timer("answer", store.answer, code, q["id"], me, rng.choice(q["choices"]))
                        answered.add(q["id"])
                        with lock:
                            sent[q["id"]] = sent.get(q["id"], 0) + 1
            except RoomError as e:
                errors.append(f"{me}: {e}")

    def instructor():
        k = 0
        t_sim = 0.0
        while not stop.wait(args.drive_every):
            k += 1
            t_sim += 1.5
            kw = {"clock": {"t": t_sim, "playing": k % 2 == 0, "speed": 1.0}}
            if k % 3 == 0:
                kw["question"] = {"id": f"q{k}", "text": f"Question {k}?", "choices": choices,
                                  "answer": choices[k % 4]}
            with lock:
                # the version this drive will make is the current one + 1: only the instructor drives
                t0 = time.time()
                v = timer("drive", store.drive, code, key, **kw)
                driven[v] = t0
            if k % 5 == 0:
                timer("followers", store.followers, code)

    threads = [threading.Thread(target=learner, args=(i,), daemon=True) for i in range(args.learners)]
    boss = threading.Thread(target=instructor, daemon=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    boss.start()
    time.sleep(args.seconds)
    following = store.followers(code)
    stop.set()
    boss.join()
    for t in threads:
        t.join()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0

    # the worst moment: every learner answers in the same instant (a barrier, then answer())
    store.drive(code, key, question={"id": "burst", "text": "All at once?", "choices": choices, "answer": "stuck"})
    barrier = threading.Barrier(args.learners)
    burst = []

    def answer_at_once(i):
        barrier.wait()
        t0 = time.perf_counter()
        try:
            store.answer(code, "burst", f"learner-{i}", choices[i % len(choices)])
            with lock:
                sent["burst"] = sent.get("burst", 0) + 1
        except RoomError as e:
            errors.append(f"learner-{i}: {e}")
        with lock:
            burst.append(time.perf_counter() - t0)
    crowd = [threading.Thread(target=answer_at_once, args=(i,)) for i in range(args.learners)]
    b0 = time.perf_counter()
    for t in crowd:
        t.start()
    for t in crowd:
        t.join()
    burst_wall = time.perf_counter() - b0

    tallied = {qid: sum(store.tally(code, key, qid).values()) for qid in sent}
    lost = sum(sent.values()) - sum(tallied.values())
    print(f"classroom bench: {args.learners} learners polling every {args.poll:g} s, instructor driving every "
          f"{args.drive_every:g} s, {wall:.1f} s, database {store.path}")
    print(f"  follow delay (drive() -> learner sees the version): p50 {pct(seen, 50) * 1000:.0f} ms, "
          f"p95 {pct(seen, 95) * 1000:.0f} ms, max {max(seen, default=float('nan')) * 1000:.0f} ms "
          f"over {len(seen)} sightings of {len(driven) - 1} drives")
    print(f"  CPU of this process: {cpu:.2f} s in {wall:.1f} s = {100 * cpu / wall:.1f} % of one core")
    print(f"  learners following (heartbeat within 15 s): {following}")
    print(f"  answers: {sum(sent.values())} sent to {len(sent)} questions, {sum(tallied.values())} tallied, "
          f"lost {lost}; refusals {len(errors)}")
    print(f"  all {args.learners} answering in the same instant: answer() p50 {pct(burst, 50) * 1000:.1f} ms, "
          f"p95 {pct(burst, 95) * 1000:.1f} ms, max {max(burst) * 1000:.1f} ms, all done in {burst_wall * 1000:.0f} ms "
          f"(threads started included)")
    for name, dts in sorted(timer.calls.items()):
        print(f"  {name:9s} {len(dts):6d} calls  p50 {statistics.median(dts) * 1000:6.2f} ms  "
              f"p95 {pct(dts, 95) * 1000:6.2f} ms  max {max(dts) * 1000:7.2f} ms")
    for e in errors[:5]:
        print("  refused:", e)
    return 0 if lost == 0 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
