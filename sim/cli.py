"""Contract 4, the command line: ``python -m sim run|check|list|explore``.

Bad input exits 2 with one clear line on stderr and no traceback; a run that
goes past its event budget exits 3 the same way.

Output goes out in large blocks whatever the interpreter's buffering (with
``PYTHONUNBUFFERED=1`` every ``write`` is a system call): ``json`` and
``summary`` are one string from the C encoder (``json.dumps``; ``json.dump``
streams many small pieces through the pure-Python one), ``jsonl`` is written
in batches of lines joined into one string each.
"""
from __future__ import annotations

import argparse
import io
import os
import sys

from .errors import RunLimitError, SagaInputError
from .export import jsonl_blocks
from .faults import parse_fault
from .library import list_scenarios
from .narrate import mermaid, narrate
from .run import run, write_json
from .scenario import STYLES, load_scenario

FORMATS = ("text", "json", "jsonl", "mermaid", "summary")
BLOCK = 1 << 20                 # characters per write of a string already built (1 MiB of ASCII)
JSONL_BATCH = 512               # trace lines per write (~50-120 KiB)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SagaInputError(message, "python -m sim")


def _parser():
    p = _Parser(prog="python -m sim", description="Saga simulator: run, check and list scenarios.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="run a scenario")
    r.add_argument("file")
    r.add_argument("--style", default=None, help="choreography, orchestration or both (default: the file's)")
    r.add_argument("--seed", default=None, help="the run's seed (default: the file's)")
    r.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="TARGET:KIND[:key=value,...], added to the file's faults; repeatable")
    r.add_argument("--format", default="text", help="text, json, jsonl, mermaid or summary")
    c = sub.add_parser("check", help="validate scenario files")
    c.add_argument("files", nargs="+")
    sub.add_parser("list", help="the scenario library, one line each")
    _explore_parser(sub)
    return p


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args.files)
        if args.command == "list":
            return _list()
        if args.command == "explore":
            return _explore(args)
        _parser().print_help()
        return 2
    except SagaInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RunLimitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug of ours: still one line, the traceback only on request
        if os.environ.get("SAGA_DEBUG"):
            raise
        print(f"internal error: {type(e).__name__}: {e} (set SAGA_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


def _seed(args):
    """--seed as a whole number, or None for the scenario's own."""
    if args.seed is None:
        return None
    try:
        return int(args.seed)
    except ValueError:
        raise SagaInputError(f"must be a whole number, got {args.seed!r}", None, "--seed") from None


def _run(args) -> int:
    if args.format not in FORMATS:
        raise SagaInputError(f"must be one of {', '.join(FORMATS)}, got {args.format!r}", None, "--format")
    scenario = load_scenario(args.file)
    style = args.style or scenario.style
    if style not in STYLES + ("both",):
        raise SagaInputError(f"must be choreography, orchestration or both, got {style!r}", None, "--style")
    styles = STYLES if style == "both" else (style,)
    seed = _seed(args)
    faults = [parse_fault(s) for s in args.fault]
    keep = args.format != "summary"
    out = sys.stdout
    runs, results = [], []
    for st in styles:
        result = run(scenario, st, seed, faults, keep_events=keep)
        if args.format == "jsonl":
            _write_jsonl(out, result)
            continue
        if args.format in ("json", "summary"):
            results.append(result)
            continue
        runs.append(result.to_dict(events=keep))
    if args.format in ("json", "summary"):
        text = io.StringIO()                     # composed in memory, written in large blocks
        write_json(text, scenario.name, results, events=keep)
        _write(out, text.getvalue())
    elif args.format == "mermaid":
        _write(out, "\n".join(mermaid(r) for r in runs))
    elif args.format == "text":
        _write(out, _text(scenario, runs))
    return 0


def _write(out, text: str):
    """Write ``text`` in blocks of ``BLOCK`` characters (one write when it is shorter)."""
    if len(text) <= BLOCK:
        out.write(text)
        return
    for i in range(0, len(text), BLOCK):
        out.write(text[i:i + BLOCK])


def _write_jsonl(out, result):
    """The run's trace as JSON lines, ``JSONL_BATCH`` lines per write."""
    for block in jsonl_blocks(result.sim.events, result.style, JSONL_BATCH):
        out.write(block)


def _text(scenario, runs) -> str:
    lines = [f"{scenario.title} ({scenario.name})"]
    if scenario.summary:
        lines.append(scenario.summary)
    for r in runs:
        lines.append("")
        faults = ", ".join(r["faults"]) or "none"
        lines.append(f"== {r['style']} · seed {r['seed']} · faults: {faults} ==")
        lines.extend(narrate(r, include_messages=False))
        lines.append("outcomes: " + ", ".join(f"saga {k} {v}" for k, v in r["outcomes"].items()))
        lines.append("invariants: " + ", ".join(f"{k} {'ok' if v else 'BROKEN'}" for k, v in r["invariants"].items()))
        lines.extend(f"not ended: saga {k} {v}" for k, v in r.get("unfinished", {}).items())
        m = r["metrics"]
        lines.append(f"metrics: duration {m['duration']:g}, messages {m['messages']}, compensations "
                     f"{m['compensations']}, retries {m['retries']}, timeouts {m['timeouts']}")
    return "\n".join(lines) + "\n"


def _check(files) -> int:
    """Validate each file, warn about likely typos, then run it and compare its ``expect:``.

    Exit 2 if a file is refused, else 1 if a lesson's own expectations fail, else 0."""
    from .expect import check_expect
    bad = wrong = 0
    for f in files:
        try:
            sc = load_scenario(f)
        except SagaInputError as e:
            where = f" (line {e.line})" if e.line and f"line {e.line}" not in str(e) else ""
            print(f"error: {e}{where}", file=sys.stderr)
            bad += 1
            continue
        for fld, text in sc.warnings:
            print(f"warning: {f}: {fld}: {text}", file=sys.stderr)
        mismatches = check_expect(sc, f)
        if mismatches:
            wrong += 1
            for m in mismatches:
                print(f"expectation failed: {m}", file=sys.stderr)
            continue
        checked = " expectations hold," if sc.expect else ""
        print(f"ok: {f} ({sc.name},{checked} {sc.saga_count} saga{'s' if sc.saga_count != 1 else ''})")
        for cycle in sc.subscription_cycles():
            ring = " -> ".join(cycle + [cycle[0]])
            print(f"warning: {f}: steps: choreography subscriptions form a cycle ({ring}); each waits for an "
                  "event the next publishes only after its own step, so choreography will deadlock "
                  "(orchestration ignores waits_for)", file=sys.stderr)
    return 2 if bad else 1 if wrong else 0


def _list() -> int:
    for path, sc in list_scenarios():
        if isinstance(sc, SagaInputError):
            print(f"{path.name}: INVALID: {sc.reason}")
        else:
            print(f"{sc.name:<28} {sc.title} - {sc.summary}".rstrip(" -"))
    return 0


# ---------------------------------------------------------------- explore (issue 16)

EXPLORE_FORMATS = ("text", "json", "csv")


def _explore_parser(sub):
    e = sub.add_parser("explore", help="every single fault at every moment, in each style")
    e.add_argument("file")
    e.add_argument("--style", default=None, help="choreography, orchestration or both (default: the file's)")
    e.add_argument("--seed", default=None, help="the runs' seed (default: the file's)")
    where = e.add_mutually_exclusive_group()
    where.add_argument("--workers", default=None, help="processes of the local pool (default: the CPU count)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a Dask scheduler (tcp://host:8786): the runs go to its cluster (the README's "
                            "explorer section has a Dask configuration that suits a sweep)")
    e.add_argument("--format", default="text", help="text, json or csv")


def _explore(args) -> int:
    import time

    from .explore import MAX_WORKERS, explore, to_csv, to_json, to_text
    if args.format not in EXPLORE_FORMATS:
        raise SagaInputError(f"must be one of {', '.join(EXPLORE_FORMATS)}, got {args.format!r}", None, "--format")
    workers = None
    if args.workers is not None:
        try:
            workers = int(args.workers)
        except ValueError:
            workers = -1
        if not 1 <= workers <= MAX_WORKERS:
            raise SagaInputError(f"must be a whole number from 1 to {MAX_WORKERS}, got {args.workers!r}",
                                 None, "--workers")
    seed = _seed(args)
    scenario = load_scenario(args.file)
    style = args.style or scenario.style
    if style not in STYLES + ("both",):
        raise SagaInputError(f"must be choreography, orchestration or both, got {style!r}", None, "--style")
    bar = _ProgressBar(sys.stderr)
    start = time.perf_counter()
    try:
        if args.scheduler:
            client = _dask_client(args.scheduler)
            try:
                result = explore(scenario, style, seed, executor=client.get_executor(), progress=bar,
                                 workers=min(MAX_WORKERS, max(1, len(client.scheduler_info().get("workers", {})))))
            finally:
                client.close()
        else:
            result = explore(scenario, style, seed, workers=workers, progress=bar)
    finally:
        bar.close(time.perf_counter() - start)
    out = sys.stdout
    if args.format == "json":
        out.write(to_json(result) + "\n")
    elif args.format == "csv":
        out.write(to_csv(result))
    else:
        out.write(to_text(result, scenario.title))
    return 0


def _dask_client(address):
    try:
        from distributed import Client
    except ImportError:
        raise SagaInputError("needs the 'distributed' package (pip install -r requirements.txt)", None,
                             "--scheduler") from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise SagaInputError(f"cannot reach a Dask scheduler at {address!r} ({type(e).__name__}: {e})", None,
                             "--scheduler") from None


class _ProgressBar:
    """``explore [##########..........] 812/1,578 runs`` on stderr, redrawn at most ~20 times a second."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.last = -1.0
        self.total = self.done = 0

    def __call__(self, done, total):
        import time
        now = time.monotonic()
        self.total, self.done = total, done
        if done < total and now - self.last < 0.05:
            return
        self.last = now
        filled = self.WIDTH * done // total if total else self.WIDTH
        self.stream.write(f"\rexplore [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:,}/{total:,} runs")
        self.stream.flush()

    def close(self, seconds):
        if self.last >= 0:                   # a bar was drawn: end its line (before any error line)
            done = "" if self.done == self.total else " (stopped)"
            self.stream.write(f" in {seconds:.1f} s{done}\n")
            self.stream.flush()
