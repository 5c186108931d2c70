"""Speed of the fault-space explorer (issue 16): every lesson's single-fault space, runs per second per core
against a plain loop, scaling from 1 to 2 workers (process pool and Dask LocalCluster), and whether sharing
the fault-free prefix would pay.

    python bench/explore_bench.py            # ~5 minutes on the project machine
    python bench/explore_bench.py --quick    # fewer repeats
    python bench/explore_bench.py --part scaling     # or lessons, per-core, prefix (scaling: ~3-4 minutes)

Goals: a lesson's space (both styles) in under 5 s; >= 1.8x from 1 to 2 workers. Wall times: best of N for
the lessons; for the scaling, the median of interleaved 1/2-worker pairs (and best of each). The machine is
shared, so the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import copy
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))          # before the pools start: spawned workers get this sys.path too

import sim  # noqa: E402
from sim.engine import Sim, _in_time_order  # noqa: E402
from sim.explore import is_load, plan, run_cells  # noqa: E402
from sim.library import list_scenarios  # noqa: E402

SCALING_LESSON = "pivot-and-retriable"     # the largest lesson space

# Dask's housekeeping, quieted for a sweep of CPU-bound tasks (the README's explorer section): every worker,
# nanny and scheduler wakes its event loop every 20 ms to time it, each worker samples its threads' stacks
# every 10 ms and its memory every 100 ms, and the scheduler may move queued tasks between workers (the
# guided chunks are balanced already). On two cores all of it runs beside the workers.
DASK_QUIET = {"distributed.admin.tick.interval": "500ms", "distributed.worker.profile.enabled": False,
              "distributed.worker.memory.monitor-interval": "1s", "distributed.scheduler.work-stealing": False,
              "distributed.admin.system-monitor.interval": "2s"}


def lessons():
    return [sc for _, sc in list_scenarios() if not isinstance(sc, Exception) and not is_load(sc)]


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def load():
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def each_lesson(repeat):
    print("== each lesson's single-fault space, both styles, default process pool "
          f"({os.cpu_count()} workers, pool start included) ==")
    print(f"{'lesson':<26} {'runs':>6} {'wall s':>7} {'runs/s':>7}")
    worst, total_runs, total_s = 0.0, 0, 0.0
    for sc in lessons():
        n = len(plan(sc)["cells"])
        s = best(lambda: sim.explore(sc), repeat)
        worst = max(worst, s)
        total_runs, total_s = total_runs + n, total_s + s
        print(f"{sc.name:<26} {n:>6} {s:>7.2f} {n / s:>7.0f}", flush=True)
    print(f"all lessons: {total_runs:,} runs in {total_s:.1f} s; slowest lesson {worst:.2f} s "
          f"(goal < 5 s: {'met' if worst < 5 else 'MISSED'})")
    return total_runs / total_s


def per_core(repeat):
    """The same cells of every lesson in a plain loop (one process, no executor, no summary) against
    sim.explore on the default pool, per core: wall time, and CPU time (which the other users' load moves less)."""
    cells = [(sc, plan(sc)) for sc in lessons()]
    n = sum(len(p["cells"]) for _, p in cells)

    def plain():
        for sc, p in cells:
            run_cells(sc, p["seed"], p["cells"])

    def pooled():
        for sc, _ in cells:
            sim.explore(sc)
    loop_wall, loop_cpu, pool_wall, pool_cpu = [], [], [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        plain()
        loop_wall.append(time.perf_counter() - t0)
        loop_cpu.append(time.process_time() - c0)
        b, t0 = os.times(), time.perf_counter()
        pooled()
        pool_wall.append(time.perf_counter() - t0)
        a = os.times()
        pool_cpu.append(a.user + a.system + a.children_user + a.children_system
                        - b.user - b.system - b.children_user - b.children_system)
    loop, pool, lc, pc = min(loop_wall), min(pool_wall), min(loop_cpu), min(pool_cpu)
    cores = os.cpu_count()
    print(f"\n== runs per second per core, every lesson ({n:,} runs, best of {repeat}) ==")
    print(f"plain loop, one process:   wall {n / loop:6.0f} runs/s; CPU {1000 * lc / n:.3f} ms a run "
          f"({n / lc:.0f} runs per CPU-second)")
    print(f"sim.explore, {cores} processes: wall {n / pool:6.0f} runs/s = {n / pool / cores:.0f} per core "
          f"({n / pool / cores / (n / loop):.2f}x the plain loop); CPU {1000 * pc / n:.3f} ms a run, all processes "
          f"({n / pc:.0f} runs per CPU-second, {lc / pc:.2f}x the plain loop: the pool's cost is "
          f"{100 * (pc - lc) / lc:.0f}%; plan, baselines, pool start and summary included)")
    return lc / n


def _ratios(wall) -> str:
    """The speed-up as best-of against best-of, and as the median of the pairs (each 1-worker sweep against
    the 2-worker sweep timed right after it: a pair shares the machine's mood of the moment, so the median
    of pairs moves less with other users' load than a ratio of two minima taken minutes apart)."""
    best = min(wall[1]) / min(wall[2])
    pairs = sorted(a / b for a, b in zip(wall[1], wall[2]))
    median = statistics.median(pairs)
    return (f"{best:.2f}x best of each, {median:.2f}x median of {len(pairs)} pairs "
            f"(pairs {pairs[0]:.2f}-{pairs[-1]:.2f}; goal >= 1.8x: {'met' if median >= 1.8 else 'MISSED'})")


def scaling(repeat, sc):
    """1 and 2 workers on the same cells, interleaved (1, 2, 1, 2, ...) so the other users' load hits both
    alike. For the process pool also the CPU its workers got (children's CPU time / wall): below 2.0 with two
    workers, the machine did not have two free cores."""
    import concurrent.futures as cf
    p = plan(sc)
    n = len(p["cells"])
    print(f"\n== scaling from 1 to 2 workers: {sc.name}, {n:,} runs ({repeat} pairs, interleaved) ==")
    wall = {1: [], 2: []}
    cpu = {1: [], 2: []}
    main = {1: [], 2: []}
    for _ in range(repeat):
        for w in (1, 2):
            before = os.times()
            t0 = time.perf_counter()
            with cf.ProcessPoolExecutor(w) as pool:            # started cold: what `sim explore --workers N` pays
                sim.explore(sc, executor=pool, workers=w)
            dt = time.perf_counter() - t0
            after = os.times()
            wall[w].append(dt)
            cpu[w].append(after.children_user + after.children_system - before.children_user - before.children_system)
            main[w].append(after.user + after.system - before.user - before.system)
    one, two = min(wall[1]), min(wall[2])
    got = {w: max(c / t for c, t in zip(cpu[w], wall[w])) for w in (1, 2)}
    per_run = {w: 1000 * min(cpu[w]) / n for w in (1, 2)}
    print(f"process pool       1 worker {one:5.2f} s ({n / one:5.0f} runs/s), 2 workers {two:5.2f} s "
          f"({n / two:5.0f} runs/s): {_ratios(wall)}")
    print(f"                   the workers' CPU: {per_run[1]:.3f} / {per_run[2]:.3f} ms a run, cores they got "
          f"{got[1]:.2f} / {got[2]:.2f} (2 workers doing the same work on 2 free cores would show ~1.00 / ~2.00)")
    print(f"                   a run costs {per_run[2] / per_run[1] - 1:+.0%} CPU when both cores work (shared caches, "
          f"the host's other guests): 2 workers can give at most {2 * per_run[1] / per_run[2]:.2f}x here, whatever runs them")
    serial, work = min(main[1]), min(cpu[1])
    print(f"                   CPU in this process (plan, baselines, sending chunks, summary): {serial:.2f} s; "
          f"with 2 free cores the speed-up would be at most (serial + runs) / (serial + runs / 2) = "
          f"{(serial + work) / (serial + work / 2):.2f}x")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("distributed is not installed: no Dask figures")
        return
    # One cluster at a time, started (and warmed: sim imported on its workers) outside the timing and closed
    # after it: an idle cluster beside the one timed takes its share of two cores (its scheduler's ticks, its
    # nannies' and workers' heartbeats). The scheduler and this client share this process: its CPU is shown.
    # Dask as it comes, and with its housekeeping quieted (DASK_QUIET, what the README recommends for a
    # sweep), interleaved.
    import dask
    wall = {(q, w): [] for q in (False, True) for w in (1, 2)}
    main, start = {k: [] for k in wall}, {k: [] for k in wall}
    for _ in range(repeat):
        for quiet in (False, True):
            for w in (1, 2):
                t0 = time.perf_counter()
                with dask.config.set(DASK_QUIET if quiet else {}), \
                        LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None,
                                     silence_logs=logging.ERROR) as cl, Client(cl) as client:
                    start[quiet, w].append(time.perf_counter() - t0)
                    executor = client.get_executor()
                    sim.explore(sc, executor=executor, workers=w)
                    before = os.times()
                    t0 = time.perf_counter()
                    sim.explore(sc, executor=executor, workers=w)     # guided tasks, as the pool
                    wall[quiet, w].append(time.perf_counter() - t0)
                    after = os.times()
                    main[quiet, w].append(after.user + after.system - before.user - before.system)
    for quiet in (False, True):
        one, two = min(wall[quiet, 1]), min(wall[quiet, 2])
        print(("Dask, quieted      " if quiet else "Dask LocalCluster  ") +
              f"1 worker {one:5.2f} s ({n / one:5.0f} runs/s), 2 workers {two:5.2f} s "
              f"({n / two:5.0f} runs/s): {_ratios({1: wall[quiet, 1], 2: wall[quiet, 2]})}")
        print(f"                   CPU in this process (plan, scheduler, client, summary): {min(main[quiet, 1]):.2f}"
              f" / {min(main[quiet, 2]):.2f} s; cluster start {min(start[quiet, 1]):.1f} / "
              f"{min(start[quiet, 2]):.1f} s, not included")


def prefix(sc):
    """Would simulating once up to a fault's moment and branching pay? The most it can save is the
    prefix's share of each cell's time; a branch needs a copy of the live simulation at that moment."""
    p = plan(sc)
    seed = p["seed"]
    total_full, total_prefix, copies, n = 0.0, 0.0, [], 0
    for style, info in p["styles"].items():
        moments = info["moments"]
        full = best(lambda: Sim(sc, style, seed, sc.faults, keep_events=False).run(), 20)
        for t in moments:
            def upto():
                s = Sim(sc, style, seed, sc.faults, keep_events=False)
                s.schedule_crashes()
                s._arrivals = iter(_in_time_order(sc))
                s._arrive()
                s.env.run(until=t) if t > 0 else None
                return s
            pre = best(upto, 5)
            live = upto()
            live._arrivals = iter(list(live._arrivals))        # the pending orders as a list: a generator cannot be copied
            try:
                copies.append(best(lambda: copy.deepcopy(live), 5))
            except Exception as e:  # noqa: BLE001 - a measurement: say what stops a copy
                copies.append(None)
                reason = f"{type(e).__name__}: {e}"
            families = len(info["families"])
            total_full += full * families
            total_prefix += min(pre, full) * families
            n += families
    print(f"\n== sharing the fault-free prefix ({sc.name}) ==")
    print(f"simulating a whole run costs {1000 * total_full / n:.3f} ms on average (the engine alone); the prefix "
          f"a cell shares with the baseline is {100 * total_prefix / total_full:.0f}% of it (the most branching "
          "could save)")
    ok = [c for c in copies if c is not None]
    if ok:
        print(f"a deep copy of the live simulation at a moment costs {1000 * sum(ok) / len(ok):.3f} ms on "
              f"average, against {1000 * total_prefix / n:.3f} ms of prefix it would save")
    else:
        print(f"the live simulation cannot be copied as it is ({reason})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--part", choices=("all", "lessons", "per-core", "scaling", "prefix"), default="all")
    args = ap.parse_args()
    repeat = 1 if args.quick else 2
    part = args.part
    print(f"{load()}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    if part in ("all", "lessons"):
        each_lesson(repeat)
    if part in ("all", "per-core"):
        per_core(repeat)
    by_name = {sc.name: sc for sc in lessons()}
    if part in ("all", "scaling"):
        scaling(3 if args.quick else 7, by_name[SCALING_LESSON])
    if part in ("all", "prefix"):
        prefix(by_name[SCALING_LESSON])
        prefix(by_name["happy-path"])
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
