"""Where the engine's time goes: the top functions by self time, per style and path.

    python bench/profile_engine.py                         # both styles, summary and jsonl, pyinstrument
    python bench/profile_engine.py --tool cprofile --style orchestration --path jsonl --top 25

Runs the bench's happy-path load (``--sagas``, default 20,000) once under a
profiler and prints each function's share of the run's time, spent in the
function itself (not in what it calls). ``summary`` is ``sim.run(...,
keep_events=False).to_dict(events=False)``; ``jsonl`` is ``sim.run(...)`` plus
``sim.cli._write_jsonl`` to /dev/null. pyinstrument samples (little
distortion); cProfile counts every call (exact call counts, but it inflates
the cost of small functions).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import sim  # noqa: E402
from sim import cli  # noqa: E402

from bench import happy_path_scenario  # noqa: E402


def work(scenario, style, path):
    if path == "summary":
        sim.run(scenario, style, keep_events=False).to_dict(events=False)
    else:
        with open(os.devnull, "w") as sink:
            cli._write_jsonl(sink, sim.run(scenario, style))


def _where(filename, line):
    p = Path(filename)
    parts = p.parts
    for anchor in ("sim", "simpy", "json"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{'/'.join(parts[i:])}:{line}"
    return f"{p.name}:{line}" if filename else "<built-in>"


def with_pyinstrument(scenario, style, path, top):
    from pyinstrument import Profiler

    prof = Profiler(interval=0.001)
    prof.start()
    work(scenario, style, path)
    prof.stop()
    root = prof.last_session.root_frame()
    own = Counter()

    def walk(frame):
        if frame.is_synthetic:
            return
        children = [c for c in frame.children if not c.is_synthetic]
        own[(frame.function, _where(frame.file_path or "", frame.line_no))] += \
            frame.time - sum(c.time for c in children)
        for c in children:
            walk(c)

    walk(root)
    total = root.time
    return total, [(fn, where, t / total, None) for (fn, where), t in own.most_common(top)]


def with_cprofile(scenario, style, path, top):
    prof = cProfile.Profile()
    prof.enable()
    work(scenario, style, path)
    prof.disable()
    st = pstats.Stats(prof)
    total = st.total_tt
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    out = []
    for (filename, line, fn), (_cc, ncalls, tottime, _cum, _callers) in rows:
        out.append((fn, _where(filename, line) if filename != "~" else "<built-in>", tottime / total, ncalls))
    return total, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sagas", type=int, default=20_000)
    p.add_argument("--style", choices=("choreography", "orchestration", "both"), default="both")
    p.add_argument("--path", choices=("summary", "jsonl", "both"), default="both")
    p.add_argument("--tool", choices=("pyinstrument", "cprofile"), default="pyinstrument")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    scenario = happy_path_scenario(args.sagas)
    styles = ("choreography", "orchestration") if args.style == "both" else (args.style,)
    paths = ("summary", "jsonl") if args.path == "both" else (args.path,)
    prof = with_pyinstrument if args.tool == "pyinstrument" else with_cprofile
    for style in styles:
        for path in paths:
            total, rows = prof(scenario, style, path, args.top)
            print(f"== {style} {path}: {args.sagas:,} sagas, {total:.2f} s under {args.tool} "
                  f"({total / args.sagas * 1e6:.0f} µs/saga); self time")
            for fn, where, share, ncalls in rows:
                calls = f"{ncalls:>9,} calls  " if ncalls is not None else ""
                print(f"  {share * 100:5.1f}%  {calls}{fn:<28} {where}")
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
