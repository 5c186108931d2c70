"""The benchmark: our engine against bare SimPy, and the 100,000-saga load runs.

    python bench/bench.py                  # N = 20,000 happy-path sagas, best of 3, then the load runs
    python bench/bench.py --sagas 5000 --no-load

Part 1 runs the same happy-path load (one order every 0.5, service_time 1.0,
network_delay 0.2, every step succeeds) three ways per style and prints the
cost per saga:

- plain:   ``bench/plain_simpy.py``, the saga as plainly as SimPy allows (no state,
           no broker, no trace): the floor.
- summary: ``sim.run(scenario, style, keep_events=False).to_dict(events=False)``,
           what ``python -m sim run FILE --format summary`` does.
- jsonl:   ``sim.run(scenario, style)`` plus the trace written as JSON lines to
           /dev/null (``sim.cli._write_jsonl``), what ``--format jsonl`` does.

Part 2 runs ``python -m sim run bench/scenarios/load-100k.yaml --format summary``
once per style in a subprocess (100,000 sagas, payment failing 5% of its
attempts at random) and prints its wall time and peak memory (max RSS).

Speed is measured here, never by a timed test. The machine is printed with the
figures; on a shared machine, compare ratios measured in the same run.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import simpy  # noqa: E402
import yaml  # noqa: E402

import plain_simpy  # noqa: E402
import sim  # noqa: E402
from sim import cli  # noqa: E402

STYLES = ("choreography", "orchestration")
GOAL_SUMMARY = 1.0          # summary run / plain SimPy
GOAL_JSONL = 4.0            # full trace + serialisation / plain SimPy
GOAL_LOAD_SECONDS = 15.0
GOAL_LOAD_BYTES = 1 << 30
LOAD_FILE = HERE / "scenarios" / "load-100k.yaml"


# ---------------------------------------------------------------- the machine
def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    try:
        load = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "n/a"
    return {"cpu": cpu, "nproc": os.cpu_count(), "python": platform.python_version(),
            "implementation": platform.python_implementation(), "simpy": simpy.__version__,
            "os": f"{platform.system()} {platform.release()}", "loadavg": load}


# ---------------------------------------------------------------- the load
def happy_path_scenario(n: int):
    """N happy-path sagas: one every 0.5, enough money and stock for all of them."""
    mapping = {
        "name": "bench-happy-path",
        "seed": 1,
        "steps": ["order", "payment", "inventory"],
        "customers": {"alice": {"balance": 10 * n + 100}},
        "stock": {"widget": n + 10},
        "load": {"count": n, "start": 0, "every": plain_simpy.EVERY, "qty": 1, "price": 10},
        "timing": {"service_time": plain_simpy.SERVICE_TIME, "network_delay": plain_simpy.NETWORK_DELAY},
    }
    from_mapping = getattr(sim.scenario, "scenario_from_mapping", None)
    if from_mapping is not None:
        return from_mapping(mapping, "<bench>")
    return sim.parse_scenario(yaml.safe_dump(mapping), "<bench>")


# ---------------------------------------------------------------- the three paths
def run_plain(style, n, _scenario):
    finished, end = plain_simpy.MODELS[style](n)
    assert finished == n, f"plain {style}: {finished} of {n} sagas finished"
    return {"duration": end}


def run_summary(style, _n, scenario):
    d = sim.run(scenario, style, keep_events=False).to_dict(events=False)
    return {"duration": d["metrics"]["duration"], "completed": d["metrics"]["outcome_counts"]["completed"],
            "events": d["metrics"].get("events")}


def run_jsonl(style, _n, scenario, split=None):
    """The full trace, serialised as ``--format jsonl`` does, written to /dev/null."""
    with open(os.devnull, "w") as sink:
        t0 = time.process_time()
        result = sim.run(scenario, style)
        t1 = time.process_time()
        write = getattr(cli, "_write_jsonl", None)
        if write is not None:
            write(sink, result)
        else:  # the CLI changed: fall back on the whole command (the scenario file is then parsed too)
            _cli_jsonl(sink, scenario, style)
        t2 = time.process_time()
    if split is not None:
        split.append((t1 - t0, t2 - t1))
    return {"events": len(result.sim.events) if hasattr(result, "sim") else None}


def _cli_jsonl(sink, scenario, style):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({"name": scenario.name, "customers": dict(scenario.customers),
                        "stock": dict(scenario.stock), "load": {"count": scenario.load.count,
                                                               "every": scenario.load.every}}, f)
    try:
        with contextlib.redirect_stdout(sink):
            cli.main(["run", f.name, "--style", style, "--format", "jsonl"])
    finally:
        os.unlink(f.name)


def timed(fn, *args, **kw):
    """(CPU seconds, wall seconds, result). CPU time (this process only) is the figure reported:
    on a shared machine wall time also counts the time other processes held the CPU."""
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args, **kw)
    return time.process_time() - c0, time.perf_counter() - w0, out


def per_saga(style, n, repeat):
    """Interleave the three paths `repeat` times (so a busy moment hits all of them) and keep every time."""
    scenario = happy_path_scenario(n)
    times = {"plain": [], "summary": [], "jsonl": []}
    walls = {"plain": [], "summary": [], "jsonl": []}
    split = []
    info = {}
    for _ in range(repeat):
        for name, fn in (("plain", run_plain), ("summary", run_summary), ("jsonl", run_jsonl)):
            kw = {"split": split} if name == "jsonl" else {}
            cpu, wall, out = timed(fn, style, n, scenario, **kw)
            times[name].append(cpu / n * 1e6)
            walls[name].append(wall / n * 1e6)
            info[name] = out
    return times, walls, split, info


# ---------------------------------------------------------------- the load runs
# The child runs the real command line, then reports its own peak RSS (VmHWM). ru_maxrss from
# wait4 would not do: on Linux it keeps the high-water mark of the forked parent across exec.
_CHILD = """
import sys
from sim.cli import main
rc = main(sys.argv[1:])
hwm = 0
try:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
except OSError:
    import resource
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
sys.stderr.write("\\nBENCH_PEAK_RSS=%d\\n" % hwm)
sys.exit(rc)
"""


def child_run(argv):
    """Run ``python -c _CHILD argv`` (= ``python -m sim argv``): wall time, CPU time, peak RSS, output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, *argv], cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode(errors="replace")
    peak = 0
    lines = []
    for line in stderr.splitlines():
        if line.startswith("BENCH_PEAK_RSS="):
            peak = int(line.split("=", 1)[1])
        elif line.strip():
            lines.append(line)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rc": proc.returncode, "peak_rss": peak,
            "stdout": stdout, "stderr": lines}


def load_run(style, count):
    """``python -m sim run LOAD --style S --format summary`` in a subprocess: wall time, CPU, peak RSS."""
    path = LOAD_FILE
    tmp = None
    if count is not None:
        data = yaml.safe_load(LOAD_FILE.read_text())
        data["load"]["count"] = count
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        yaml.safe_dump(data, tmp)
        tmp.close()
        path = Path(tmp.name)
    try:
        r = child_run(["run", str(path), "--style", style, "--format", "summary"])
    finally:
        if tmp is not None:
            os.unlink(tmp.name)
    stdout = r.pop("stdout")
    stderr = r.pop("stderr")
    if r["rc"] != 0:
        r["error"] = stderr[-1] if stderr else f"exit {r['rc']}"
        return r
    run = json.loads(stdout)["runs"][0]
    m = run["metrics"]
    r.update(sagas=m.get("sagas"), outcomes=m.get("outcome_counts"), events=m.get("events"),
             invariants=all(run["invariants"].values()), throughput=m.get("throughput"),
             latency=m.get("latency"))
    return r


def baseline_rss():
    """Peak RSS of the same child that only lists the scenario library (the interpreter and imports)."""
    return child_run(["list"])["peak_rss"]


# ---------------------------------------------------------------- printing
def ok(flag):
    return "ok " if flag else "MISS"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sagas", type=int, default=20_000, help="happy-path sagas per measurement (default 20000)")
    p.add_argument("--repeat", type=int, default=3, help="measurements per path; the best is reported (default 3)")
    p.add_argument("--styles", default=",".join(STYLES), help="comma-separated (default both)")
    p.add_argument("--load-sagas", type=int, default=None,
                   help=f"sagas in the load runs (default: the file's, 100000: {LOAD_FILE.name})")
    p.add_argument("--no-load", action="store_true", help="skip the load runs")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    args = p.parse_args(argv)
    styles = [s for s in args.styles.split(",") if s]
    n = args.sagas
    started = time.perf_counter()
    report = {"machine": machine(), "sagas": n, "repeat": args.repeat, "per_saga": {}, "load": {}}

    mc = report["machine"]
    print("Saga simulator benchmark")
    print(f"machine: {mc['cpu']}, {mc['nproc']} CPUs, {mc['implementation']} {mc['python']}, "
          f"SimPy {mc['simpy']}, {mc['os']}")
    print(f"load average at start: {mc['loadavg']}" + (
        "  (busy machine: absolute figures are inflated; the ratios are measured side by side)"
        if mc["loadavg"] != "n/a" and float(mc["loadavg"].split()[0]) > 0.5 * (mc["nproc"] or 1) else ""))
    print()
    print(f"1. Happy path, {n:,} sagas per style (one every {plain_simpy.EVERY}, service {plain_simpy.SERVICE_TIME}, "
          f"network {plain_simpy.NETWORK_DELAY}); CPU µs per saga, best of {args.repeat} (median in brackets)")
    print()
    hdr = (f"{'style':<14} {'plain SimPy':>16} {'summary':>16} {'jsonl':>16}   "
           f"{'summary/plain':>13} {'jsonl/plain':>11}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for style in styles:
        times, walls, split, info = per_saga(style, n, args.repeat)
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        r_sum = best["summary"] / best["plain"]
        r_jsonl = best["jsonl"] / best["plain"]
        run_part, ser_part = min(split, key=lambda s: s[0] + s[1])
        report["per_saga"][style] = {
            "us_per_saga_best": best, "us_per_saga_median": med, "all_cpu": times,
            "all_wall": walls,
            "ratio_summary": r_sum, "ratio_jsonl": r_jsonl,
            "jsonl_split_us": {"run_with_trace": run_part / n * 1e6, "serialise": ser_part / n * 1e6},
            "events_per_saga": (info["jsonl"]["events"] or 0) / n,
            "duration": {"plain": info["plain"]["duration"], "engine": info["summary"]["duration"]},
            "completed": info["summary"]["completed"],
        }
        cells = "".join(f" {best[k]:>7.1f} ({med[k]:>6.1f})" for k in ("plain", "summary", "jsonl"))
        print(f"{style:<14}{cells}   {r_sum:>9.2f}x {ok(r_sum <= GOAL_SUMMARY)}"
              f"{r_jsonl:>7.2f}x {ok(r_jsonl <= GOAL_JSONL)}")
        rows.append((style, run_part, ser_part, info))
    print(f"goals: summary <= {GOAL_SUMMARY:.1f}x plain, jsonl <= {GOAL_JSONL:.1f}x plain")
    print()
    print("   where the jsonl time goes (best run), and checks:")
    for style, run_part, ser_part, info in rows:
        d = report["per_saga"][style]
        wall = {k: min(v) for k, v in d["all_wall"].items()}
        print(f"   {style:<14} wall µs/saga, best: plain {wall['plain']:.1f}, summary {wall['summary']:.1f}, "
              f"jsonl {wall['jsonl']:.1f}")
        same = abs(d["duration"]["plain"] - d["duration"]["engine"]) < 1e-6
        print(f"   {style:<14} run with trace {run_part / n * 1e6:6.1f} µs/saga + serialise "
              f"{ser_part / n * 1e6:6.1f} µs/saga; {d['events_per_saga']:.0f} trace events/saga; "
              f"{d['completed']:,}/{n:,} completed; simulated duration plain {d['duration']['plain']:g} "
              f"vs engine {d['duration']['engine']:g} ({'same' if same else 'DIFFERENT'})")

    if not args.no_load:
        print()
        count = args.load_sagas
        label = f"{count:,}" if count else "100,000"
        print(f"2. Load: python -m sim run {LOAD_FILE.relative_to(ROOT)} --format summary "
              f"({label} sagas, payment:fail:probability=0.05), one subprocess per style")
        print()
        base = baseline_rss()
        report["load"]["baseline_rss"] = base
        hdr = (f"{'style':<14} {'wall s':>7} {'cpu s':>7} {'peak RSS MB':>11} {'µs/saga':>8}  "
               f"{'outcomes':<38} {'invariants':<10}")
        print(hdr)
        print("-" * len(hdr))
        for style in styles:
            r = load_run(style, count)
            report["load"][style] = r
            if "error" in r:
                print(f"{style:<14} FAILED: {r['error']}")
                continue
            oc = r["outcomes"] or {}
            outcomes = ", ".join(f"{k} {v:,}" for k, v in oc.items() if v)
            print(f"{style:<14} {r['wall']:>7.2f} {r['cpu']:>7.2f} {r['peak_rss'] / 2**20:>11.0f} "
                  f"{r['wall'] / r['sagas'] * 1e6:>8.1f}  {outcomes:<38} {'all hold' if r['invariants'] else 'BROKEN':<10}"
                  f"  {ok(r['wall'] <= GOAL_LOAD_SECONDS)} time {ok(r['peak_rss'] <= GOAL_LOAD_BYTES)} memory"
                  + ("  (CPU time within the goal: the machine is busy)"
                     if r["wall"] > GOAL_LOAD_SECONDS >= r["cpu"] else ""))
        print(f"goals: <= {GOAL_LOAD_SECONDS:g} s wall and <= 1 GB peak RSS per style; "
              f"`python -m sim list` alone peaks at {base / 2**20:.0f} MB")

    elapsed = time.perf_counter() - started
    report["elapsed"] = elapsed
    print()
    print(f"bench took {elapsed:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
