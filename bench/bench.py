"""The benchmark: the command as users run it, our engine against bare SimPy, and the load runs.

    python bench/bench.py                  # N = 20,000 happy-path sagas, best of 3, then the load runs
    python bench/bench.py --sagas 5000 --no-load

First, the command as its users run it: whole processes of
``python -m sim run FILE --style S --format F > file`` (stdout to a file),
for N happy-path sagas minus the same command for a small run (20 sagas), per
saga, against the plain SimPy floor timed the same way in the same run
(``bench/plain_simpy.py`` in a process of its own, N minus 20). Each in two
environments: as started here (``PYTHONUNBUFFERED`` removed) and with
``PYTHONUNBUFFERED=1`` (set by most Python container images). It also times a
one-saga lesson's ``sim run`` (start-up, imports, the run, the output) as wall
time.

Part 1 runs the same happy-path load (one order every 0.5, service_time 1.0,
network_delay 0.2, every step succeeds) three ways per style inside this
process and prints the cost per saga, to show where the time goes:

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
GOAL_SUMMARY = 1.0          # summary run / plain SimPy (in this process, and as a whole command: issue 20)
GOAL_JSONL = 4.0            # full trace + serialisation / plain SimPy, in this process (issue 8)
GOAL_WHOLE_JSONL = 3.0      # the whole `sim run --format jsonl` command / the plain SimPy process (issue 20)
GOAL_LESSON_SECONDS = 0.12  # a one-saga lesson's `python -m sim run`, wall time
LESSON_FILE = ROOT / "scenarios" / "out-of-stock.yaml"
SMALL_SAGAS = 20            # the small run subtracted from the N-saga run (start-up, imports, YAML)
ENVIRONMENTS = ("plain", "PYTHONUNBUFFERED=1")
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
def happy_path_mapping(n: int) -> dict:
    """N happy-path sagas as a scenario mapping: one every 0.5, enough money and stock for all of them."""
    return {
        "name": "bench-happy-path",
        "seed": 1,
        "steps": ["order", "payment", "inventory"],
        "customers": {"alice": {"balance": 10 * n + 100}},
        "stock": {"widget": n + 10},
        "load": {"count": n, "start": 0, "every": plain_simpy.EVERY, "qty": 1, "price": 10},
        "timing": {"service_time": plain_simpy.SERVICE_TIME, "network_delay": plain_simpy.NETWORK_DELAY},
    }


def happy_path_scenario(n: int):
    """N happy-path sagas: one every 0.5, enough money and stock for all of them."""
    mapping = happy_path_mapping(n)
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


# ---------------------------------------------------------------- the command as users run it
_FLOOR = "import sys; sys.path.insert(0, sys.argv[1]); import plain_simpy; plain_simpy.MODELS[sys.argv[2]](int(sys.argv[3]))"


class Commands:
    """Whole processes, stdout to a file, timed by the kernel (``wait4``: CPU = user + system time).

    The children get this process's environment without ``PYTHONUNBUFFERED`` (or with it set to 1)
    and with a bytecode cache of their own (``PYTHONPYCACHEPREFIX``, a temporary directory filled by
    a first untimed run), as a user's Python keeps one: ``PYTHONDONTWRITEBYTECODE`` is removed.
    """

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.files = {}
        base = {k: v for k, v in os.environ.items()
                if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        base["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        self.env = {"plain": base, "PYTHONUNBUFFERED=1": dict(base, PYTHONUNBUFFERED="1")}
        self.nocache_env = {k: v for k, v in base.items() if k != "PYTHONPYCACHEPREFIX"}
        self.nocache_env["PYTHONDONTWRITEBYTECODE"] = "1"

    def scenario_file(self, n: int) -> Path:
        if n not in self.files:
            path = self.tmp / f"happy-{n}.yaml"
            path.write_text(yaml.safe_dump(happy_path_mapping(n), sort_keys=False))
            self.files[n] = path
        return self.files[n]

    def time(self, argv, env, out_path=None):
        """(CPU seconds, wall seconds) of one child; its stdout goes to ``out_path`` (or is discarded)."""
        out_path = out_path or self.tmp / "out"
        with open(out_path, "wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.PIPE, env=env)
            err = proc.stderr.read()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        if rc != 0:
            raise RuntimeError(f"{' '.join(map(str, argv))} exited {rc}: {err.decode(errors='replace')[-500:]}")
        return usage.ru_utime + usage.ru_stime, wall

    def sim_run(self, style, fmt, n, env_name):
        argv = [sys.executable, "-m", "sim", "run", str(self.scenario_file(n)), "--style", style, "--format", fmt]
        out_path = self.tmp / f"out.{style}.{fmt}.{n}"
        cpu, wall = self.time(argv, self.env[env_name], out_path)
        return cpu, wall, out_path

    def floor(self, style, n):
        return self.time([sys.executable, "-c", _FLOOR, str(HERE), style, str(n)], self.env["plain"])


def check_output(path: Path, fmt: str, n: int) -> str:
    """What the N-saga command wrote, checked: every saga completed (summary), one event per line (jsonl)."""
    data = path.read_bytes()
    if fmt == "summary":
        m = json.loads(data)["runs"][0]["metrics"]
        done = m["outcome_counts"]["completed"]
        assert done == n, f"{path}: {done} of {n} sagas completed"
        return f"{len(data) / 1024:,.0f} KiB, {done:,} completed"
    lines = data.count(b"\n")
    last = json.loads(data[data.rindex(b"\n", 0, len(data) - 1) + 1:])
    assert last["seq"] == lines - 1, f"{path}: the last line has seq {last['seq']}, not {lines - 1}"
    return f"{len(data) / 2**20:,.0f} MiB, {lines:,} lines"


def whole_process(styles, n, repeat, small=SMALL_SAGAS):
    """The command as users run it, per saga: best (N-saga run) minus best (small run), over N - small.

    Every measurement is repeated ``repeat`` times, interleaved (the floor, then each environment
    and format, N and small), so a busy moment hits them all."""
    fmts = ("summary", "jsonl")
    cpu = {}        # key -> [seconds]
    wall = {}
    notes = {}
    with tempfile.TemporaryDirectory(prefix="saga-bench-") as tmp:
        cmds = Commands(Path(tmp))
        for style in styles:            # fill the bytecode cache; not timed
            for fmt in fmts:
                cmds.sim_run(style, fmt, small, "plain")
            cmds.floor(style, small)
        for _ in range(repeat):
            for style in styles:
                for size in (n, small):
                    c, w = cmds.floor(style, size)
                    cpu.setdefault(("floor", style, size), []).append(c)
                    wall.setdefault(("floor", style, size), []).append(w)
                c, _, _ = timed(run_plain, style, n, None)            # the floor inside this process
                cpu.setdefault(("floor in process", style, n), []).append(c)
                for env_name in ENVIRONMENTS:
                    for fmt in fmts:
                        for size in (n, small):
                            c, w, out = cmds.sim_run(style, fmt, size, env_name)
                            key = (env_name, style, fmt, size)
                            cpu.setdefault(key, []).append(c)
                            wall.setdefault(key, []).append(w)
                            if size == n and key not in notes:
                                notes[key] = check_output(out, fmt, n)
        lesson = lesson_times(cmds, repeat)

    def per_saga(times, key_n, key_small):
        return (min(times[key_n]) - min(times[key_small])) / (n - small) * 1e6

    table = {}
    for style in styles:
        floor = {"cpu": per_saga(cpu, ("floor", style, n), ("floor", style, small)),
                 "wall": per_saga(wall, ("floor", style, n), ("floor", style, small))}
        table[style] = {"floor_us": floor,
                        "floor_in_process_us": min(cpu[("floor in process", style, n)]) / n * 1e6}
        for env_name in ENVIRONMENTS:
            for fmt in fmts:
                kn, ks = (env_name, style, fmt, n), (env_name, style, fmt, small)
                us = {"cpu": per_saga(cpu, kn, ks), "wall": per_saga(wall, kn, ks)}
                table[style][f"{env_name} {fmt}"] = {
                    "us": us, "ratio": us["cpu"] / floor["cpu"], "ratio_wall": us["wall"] / floor["wall"],
                    "ratio_in_process_floor": us["cpu"] / table[style]["floor_in_process_us"],
                    "n_seconds": min(cpu[kn]), "small_seconds": min(cpu[ks]), "output": notes[kn]}
    return {"sagas": n, "small": small, "repeat": repeat, "table": table, "lesson": lesson,
            "all_cpu": {" ".join(map(str, k)): v for k, v in cpu.items()},
            "all_wall": {" ".join(map(str, k)): v for k, v in wall.items()}}


def lesson_times(cmds, repeat):
    """Wall seconds of a one-saga lesson's ``python -m sim run`` (text, both styles), with the bytecode
    cache and without it, and of the bare interpreter and its imports, for scale."""
    argv = [sys.executable, "-m", "sim", "run", str(LESSON_FILE)]
    imports = [sys.executable, "-c", "import simpy, yaml, json, argparse"]
    bare = [sys.executable, "-c", "pass"]
    out = {}
    for name, cmd, env in (("lesson", argv, cmds.env["plain"]),
                           ("lesson, no bytecode cache", argv, cmds.nocache_env),
                           ("python -c pass", bare, cmds.env["plain"]),
                           ("import simpy, yaml, json, argparse", imports, cmds.env["plain"])):
        cmds.time(cmd, env)                                     # warm: the bytecode cache, the page cache
        walls = [cmds.time(cmd, env)[1] for _ in range(max(5, 2 * repeat))]
        out[name] = {"best": min(walls), "median": statistics.median(walls)}
    return out


def print_whole(report, styles):
    w = report["whole"]
    n, small = w["sagas"], w["small"]
    print(f"The command as users run it: python -m sim run FILE --style S --format F > file, "
          f"{n:,} happy-path sagas minus {small}, per saga; CPU µs of the whole process (user + system), "
          f"best of {w['repeat']}; the floor is bench/plain_simpy.py in a process of its own, timed the same way")
    print()
    cols = [(st, fmt) for st in styles for fmt in ("summary", "jsonl")]
    hdr = f"{'environment':<20}" + "".join(f"{st + ' ' + fmt:>26}" for st, fmt in cols)
    print(hdr)
    print("-" * len(hdr))
    print(f"{'floor (plain SimPy)':<20}" + "".join(
        f"{w['table'][st]['floor_us']['cpu']:>12.1f} µs{'':>12}" for st, _ in cols))
    for env_name in ENVIRONMENTS:
        cells = []
        for st, fmt in cols:
            c = w["table"][st][f"{env_name} {fmt}"]
            goal = GOAL_SUMMARY if fmt == "summary" else GOAL_WHOLE_JSONL
            cells.append(f"{c['us']['cpu']:>12.1f} µs {c['ratio']:>5.2f}x {ok(c['ratio'] <= goal)}")
        print(f"{env_name:<20}" + "".join(cells))
    print(f"goals (issue 20): summary <= {GOAL_SUMMARY:.1f}x the floor, jsonl <= {GOAL_WHOLE_JSONL:.1f}x, "
          "both styles, both environments")
    print("   against the floor timed inside this process (" + ", ".join(
        f"{st[:4]} {w['table'][st]['floor_in_process_us']:.1f} µs" for st in styles) + "): " + "; ".join(
        f"{st[:4]} {env_name} {fmt} {w['table'][st][env_name + ' ' + fmt]['ratio_in_process_floor']:.2f}x"
        for st in styles for env_name in ENVIRONMENTS for fmt in ("summary", "jsonl")))
    print("   wall-time ratios (same runs): " + "; ".join(
        f"{s[:4]} {env_name} {fmt} {w['table'][s][env_name + ' ' + fmt]['ratio_wall']:.2f}x"
        for s in styles for env_name in ENVIRONMENTS for fmt in ("summary", "jsonl")))
    for s in styles:
        t = w["table"][s]
        print(f"   {s:<14} N-saga command, plain environment: summary {t['plain summary']['n_seconds']:.2f} s "
              f"({t['plain summary']['output']}), jsonl {t['plain jsonl']['n_seconds']:.2f} s "
              f"({t['plain jsonl']['output']}); {small}-saga command {t['plain summary']['small_seconds']:.2f} s")
    print()
    lesson = w["lesson"]
    best = lesson["lesson"]["best"]
    print(f"   one-saga lesson, python -m sim run {LESSON_FILE.relative_to(ROOT)} (text, both styles), wall: "
          f"best {best:.3f} s, median {lesson['lesson']['median']:.3f} s  {ok(best <= GOAL_LESSON_SECONDS)} "
          f"(goal <= {GOAL_LESSON_SECONDS} s)")
    print("   for scale: " + "; ".join(f"{k} {v['best']:.3f} s" for k, v in lesson.items() if k != "lesson"))


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
# The child runs the real command line (``python -m sim``, through runpy, so sim/__main__.py's process
# settings apply), then reports its own peak RSS (VmHWM). ru_maxrss from wait4 would not do: on Linux it
# keeps the high-water mark of the forked parent across exec.
_CHILD = """
import runpy, sys
sys.argv[0] = "sim"
try:
    runpy.run_module("sim", run_name="__main__", alter_sys=True)
    rc = 0
except SystemExit as e:
    rc = e.code
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
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}     # the "plain" environment
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, *argv], cwd=ROOT, stdout=out, stderr=err, env=env)
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
    p.add_argument("--no-whole", action="store_true", help="skip the whole-process timing")
    p.add_argument("--no-inprocess", action="store_true", help="skip the in-process timing (part 1)")
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
    if not args.no_whole:
        report["whole"] = whole_process(styles, n, args.repeat)
        print_whole(report, styles)
        print(f"   load average now: {machine()['loadavg']}")
        print()
    if not args.no_inprocess:
        in_process(report, styles, n, args.repeat)
    if not args.no_load:
        load_runs(report, styles, args.load_sagas)

    elapsed = time.perf_counter() - started
    report["elapsed"] = elapsed
    print()
    print(f"bench took {elapsed:.0f} s; load average at the end: {machine()['loadavg']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def in_process(report, styles, n, repeat):
    print(f"1. Per saga, against bare SimPy, in this process (the engine's loop). Happy path, {n:,} sagas per style (one every {plain_simpy.EVERY}, "
          f"service {plain_simpy.SERVICE_TIME}, network {plain_simpy.NETWORK_DELAY}); CPU µs per saga, best of "
          f"{repeat} (median in brackets)")
    print()
    hdr = (f"{'style':<14} {'plain SimPy':>16} {'summary':>16} {'jsonl':>16}   "
           f"{'summary/plain':>13} {'jsonl/plain':>11}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for style in styles:
        times, walls, split, info = per_saga(style, n, repeat)
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


def load_runs(report, styles, count):
    print()
    label = f"{count:,}" if count else "100,000"
    print(f"2. Load runs: python -m sim run {LOAD_FILE.relative_to(ROOT)} --format summary "
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


if __name__ == "__main__":
    sys.exit(main())
