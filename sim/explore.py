"""The fault-space explorer: every single fault at every moment of a lesson, in each style.

    from sim import load_scenario, explore
    result = explore(load_scenario("scenarios/happy-path.yaml"))
    result["summary"]["differences"]        # where choreography and orchestration part ways

A cell of the space is one run: the lesson as written (its own faults included)
plus ONE added fault, given as its command-line spec, so
``python -m sim run FILE --style S --fault SPEC`` tells that cell's story. The
moments are the distinct event times of the lesson's run without an added
fault (the baseline), per style. Each cell is a pure function of (scenario,
style, seed, spec), so the cells are mapped over any
``concurrent.futures.Executor`` (a process pool here, a Dask cluster past one
machine) and come back in one fixed order whatever ran them.
"""
from __future__ import annotations

import concurrent.futures as cf
import io
import json
import os
from collections import Counter
from functools import lru_cache

from .errors import SagaInputError
from .export import clean
from .faults import Fault
from .run import run
from .scenario import INVARIANTS, OUTCOMES, STYLES, Scenario

METRICS = ("duration", "messages", "compensations", "retries", "timeouts")
# worst first is last: the colour of a cell is the worst outcome among its sagas
SEVERITY = {"completed": 0, "compensated": 1, "deadlocked": 2, "in_flight": 3, "stuck": 4}
LOAD_SAGAS = 1000            # from this many sagas on (or with `load:`), a scenario is a load lesson
MAX_RUNS = 100_000           # a single-fault space larger than this is refused (bounded time)
MAX_WORKERS = 64
# what an outcome change means, in a teacher's words
_BECOMES = {"in_flight": "waits for ever", "stuck": "gets stuck (a human must act)",
            "deadlocked": "deadlocks", "compensated": "rolls back", "completed": "completes after all"}
_EFFECT_ORDER = ("stuck", "in_flight", "deadlocked", "compensated", "completed")


# ---------------------------------------------------------------- the space


def is_load(scenario: Scenario) -> bool:
    return scenario.load is not None or scenario.saga_count >= LOAD_SAGAS


def baseline(scenario: Scenario, style: str, seed: int | None = None):
    """The lesson's run without an added fault, and its distinct event times (the moments)."""
    base = run(scenario, style, seed)
    moments = sorted({clean(ev.t) for ev in base.records()})
    return base, moments


def families(scenario: Scenario, style: str, base, pause: float) -> list:
    """The single faults to try in a style, each a Fault at t=0 (``at`` is set per moment), in a fixed order:
    each service (fail, compensation_fail, crash for a while, crash for good, slow), the orchestrator
    (crash for a while, for good; orchestration only), then each message the baseline sends, in the order
    first sent (drop, duplicate, delay). A message the baseline never sends cannot be touched by one fault."""
    out = []
    for svc in scenario.services:
        out += [Fault(svc, "fail"), Fault(svc, "compensation_fail"),
                Fault(svc, "crash", recover_after=pause), Fault(svc, "crash"), Fault(svc, "slow", by=pause)]
    if style == "orchestration":
        out += [Fault("orchestrator", "crash", recover_after=pause), Fault("orchestrator", "crash")]
    seen = []
    for ev in base.records():
        if ev.kind == "message_sent" and ev.message not in seen:
            seen.append(ev.message)
    for msg in seen:
        out += [Fault("broker", "drop", message=msg), Fault("broker", "duplicate", message=msg),
                Fault("broker", "delay", message=msg, by=pause)]
    return out


def at(family: Fault, t: float) -> Fault:
    kw = {k: getattr(family, k) for k in ("target", "kind", "saga", "times", "probability", "recover_after",
                                           "by", "message", "count")}
    return Fault(at=float(t), **kw)


def family_spec(family: Fault) -> str:
    return family.to_spec()


def spec_at(family: str, t: float) -> str:
    """``at(parse_fault(family), t).to_spec()`` without building a Fault per cell: a family has no ``saga``,
    so ``at`` is its first option (``to_spec`` writes them in field order; ``at=0`` is left out)."""
    if not t:
        return family
    v = int(t) if float(t).is_integer() else float(t)
    parts = family.split(":", 2)
    return f"{parts[0]}:{parts[1]}:at={v}" + ("," + parts[2] if len(parts) == 3 else "")


def plan(scenario: Scenario, styles=None, seed: int | None = None, pause: float | None = None) -> dict:
    """Everything to run, in the one fixed order: per style, per fault family, per moment."""
    if not isinstance(scenario, Scenario):
        raise SagaInputError(f"is not a scenario: {scenario!r}", None, "scenario")
    if is_load(scenario):
        raise SagaInputError(f"is a load lesson ({scenario.saga_count:,} sagas"
                             f"{', generated orders' if scenario.load else ''}); the explorer tries every fault "
                             f"at every moment, which is for lessons of fewer than {LOAD_SAGAS:,} sagas",
                             scenario.path or scenario.name)
    styles = _styles(scenario, styles)
    pause = scenario.timing.timeout if pause is None else pause
    if isinstance(pause, bool) or not isinstance(pause, (int, float)) or not 0 < pause <= 1e6:
        raise SagaInputError(f"must be a number > 0, got {pause!r}", None, "pause")
    seed = scenario.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SagaInputError(f"must be a whole number, got {seed!r}", None, "seed")
    per_style, cells = {}, []
    for style in styles:
        base, moments = baseline(scenario, style, seed)
        fams = families(scenario, style, base, float(pause))
        per_style[style] = {"baseline": _record(base, style, None), "moments": moments,
                            "families": [family_spec(f) for f in fams]}
        if len(cells) + len(fams) * len(moments) > MAX_RUNS:          # refused before the cells are built
            raise SagaInputError(f"has a single-fault space of more than {MAX_RUNS:,} runs (the explorer's "
                                 f"bound): {len(fams)} faults x {len(moments):,} moments in {style}",
                                 scenario.path or scenario.name)
        for f in fams:
            fam = family_spec(f)
            for t in moments:
                spec = spec_at(fam, t)
                _remember(spec, fam, t)
                cells.append((style, spec))
    return {"styles": per_style, "cells": cells, "seed": seed, "pause": float(pause)}


def _styles(scenario, styles):
    if styles is None:
        return tuple(scenario.styles)
    if styles == "both":
        return STYLES
    if isinstance(styles, str):
        styles = (styles,)
    styles = tuple(styles)
    bad = [s for s in styles if s not in STYLES]
    if bad or not styles:
        raise SagaInputError(f"must be choreography, orchestration or both, got {bad[0] if bad else styles!r}",
                             None, "style")
    return tuple(s for s in STYLES if s in styles)        # one fixed order whatever was asked


# ---------------------------------------------------------------- one cell


def _record(result, style, spec) -> dict:
    m = result.metrics
    return {"style": style, "fault": spec,
            "outcomes": {str(k): v for k, v in result.outcomes.items()},
            "invariants": result.invariants,
            "metrics": {k: m[k] for k in METRICS}}


def run_cell(scenario: Scenario, style: str, seed: int, spec: str) -> dict:
    """One cell: exactly ``python -m sim run FILE --style STYLE --seed SEED --fault SPEC``, without the trace."""
    return _record(run(scenario, style, seed, [spec], keep_events=False), style, spec)


def run_cells(scenario: Scenario, seed: int, cells) -> list:
    """A chunk of cells, in order: the records (``cells``: (style, spec) pairs)."""
    return [run_cell(scenario, style, seed, spec) for style, spec in cells]


def run_chunk(scenario: Scenario, seed: int, cells, bases: dict) -> tuple:
    """What an executor's worker is given (a module-level function, picklable): a chunk of cells as
    (style, spec, family) and the baselines to judge them by; the records, and their tally (the
    summary's share of the work, done beside the runs instead of after all of them, in one process)."""
    recs = [run_cell(scenario, style, seed, spec) for style, spec, _ in cells]
    return recs, tally(zip(recs, (fam for _, _, fam in cells)), bases)


# ---------------------------------------------------------------- the sweep


def explore(scenario: Scenario, styles=None, seed: int | None = None, *, executor: cf.Executor | None = None,
            workers: int | None = None, pause: float | None = None, progress=None, chunks: int | None = None) -> dict:
    """Every single fault at every moment of the lesson, per style: the runs and a summary.

    Args:
        styles: "choreography", "orchestration", "both", a list of them, or None (the scenario's own).
        executor: any concurrent.futures.Executor (e.g. ``distributed.Client(address).get_executor()``);
            None starts a ProcessPoolExecutor of ``workers`` processes (default: the CPU count) and
            shuts it down after; ``workers=0`` runs every cell here, in this process.
        pause: how long "for a while" lasts (a crash that heals, slow by, delay by); default timing.timeout.
        progress: called as ``progress(done, total)`` (runs) from the calling thread as chunks finish.
        chunks: how many tasks the cells are cut into, of one size (default: guided sizes, see ``_cuts``).

    Returns the object of ``python -m sim explore --format json``: the runs in one fixed order
    (style, fault family, moment), whatever executor ran them.
    """
    p = plan(scenario, styles, seed, pause)
    cells, seed = p["cells"], p["seed"]
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or not 0 <= workers <= MAX_WORKERS):
        raise SagaInputError(f"must be a whole number from 0 to {MAX_WORKERS}, got {workers!r}", None, "workers")
    if chunks is not None and (isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1):
        raise SagaInputError(f"must be a whole number >= 1, got {chunks!r}", None, "chunks")
    n_workers = workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    bases = {s: p["styles"][s]["baseline"] for s in p["styles"]}
    cells = [(style, spec, split(spec)[0]) for style, spec in cells]
    parts = [cells[a:b] for a, b in _cuts(len(cells), n_workers, chunks)]
    if progress:
        progress(0, len(cells))
    if executor is None and workers == 0:
        results, done = [], 0
        for part in parts:
            results.append(run_chunk(scenario, seed, part, bases))
            done += len(part)
            if progress:
                progress(done, len(cells))
    elif executor is None:
        with cf.ProcessPoolExecutor(max_workers=n_workers) as pool:
            results = _map(pool, scenario, seed, parts, bases, progress, len(cells))
    else:
        results = _map(executor, scenario, seed, parts, bases, progress, len(cells))
    runs = [r for recs, _ in results for r in recs]
    return {"scenario": scenario.name, "faults_tried": len(runs), "seed": seed, "pause": p["pause"],
            "runs": runs, "summary": summarize(p, runs, [t for _, t in results])}


def _cuts(n: int, workers: int, chunks: int | None = None) -> list:
    """Where the cells are cut into tasks, as (start, end). ``chunks`` given: that many of one size. By
    default guided: each task a share of what is left (1/(3 x workers)), so the first are big (few
    round trips, the scenario pickled few times) and the last small (no worker idles long at the end
    while another finishes a big one), from at most 256 cells (~0.1 s: progress moves, and a Stop in the
    app waits for no longer than the chunks under way) down to 12."""
    if chunks:
        size = max(1, -(-n // chunks))
        return [(a, min(n, a + size)) for a in range(0, n, size)]
    cuts, a = [], 0
    while a < n:
        size = min(256, max(12, -(-(n - a) // (3 * workers))))
        cuts.append((a, min(n, a + size)))
        a += size
    return cuts


def _map(executor, scenario, seed, parts, bases, progress, total):
    # A Dask executor names each task by hashing its arguments unless told the call is impure: that hashing
    # of the scenario, the chunk and the baselines, in this process, cost ~0.15 s a sweep here (a tenth of a
    # 2-worker sweep, on the cores the workers need). The results are the same either way.
    extra = {"pure": False} if type(executor).__module__.startswith("distributed.") else {}
    futures = {executor.submit(run_chunk, scenario, seed, part, bases, **extra): i for i, part in enumerate(parts)}
    results = [None] * len(parts)
    done = 0
    try:
        for fut in cf.as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            done += len(parts[i])
            if progress:
                progress(done, total)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    return results


# ---------------------------------------------------------------- what it means


def worst(outcomes: dict) -> str:
    """The outcome a cell is coloured by: the worst among its sagas."""
    return max(outcomes.values(), key=SEVERITY.__getitem__, default="completed")


def newly_broken(rec: dict, base: dict) -> list:
    """The invariants that hold without the fault and break with it."""
    return [k for k in INVARIANTS if base["invariants"].get(k) and not rec["invariants"].get(k)]


def _newly(rec, base, outcome) -> bool:
    """A saga ends ``outcome`` with the fault and did not without it."""
    return any(o == outcome and base["outcomes"].get(s) != outcome for s, o in rec["outcomes"].items())


def effect(rec: dict, base: dict) -> tuple:
    """How a run differs from the baseline, as (severity rank, phrase): what a teacher would say."""
    broken = newly_broken(rec, base)
    healed = [k for k in INVARIANTS if not base["invariants"].get(k) and rec["invariants"].get(k)]
    changed = {s: o for s, o in rec["outcomes"].items() if base["outcomes"].get(s) != o}
    if changed:
        to = sorted(set(changed.values()), key=_EFFECT_ORDER.index)
        phrase = " and ".join(_BECOMES[o] for o in to)
        rank = 10 - _EFFECT_ORDER.index(to[0])
    else:
        m, b = rec["metrics"], base["metrics"]
        if m == b:
            phrase, rank = "no effect", 0
        elif m["retries"] > b["retries"] or m["timeouts"] > b["timeouts"]:
            phrase, rank = "asks again and ends the same", 2
        elif m["duration"] != b["duration"]:
            phrase, rank = ("ends the same, later" if m["duration"] > b["duration"] else "ends the same, sooner"), 1
        else:
            phrase, rank = "ends the same, other messages", 1
    if broken:
        phrase += ", breaks " + " and ".join(broken)
        rank += 20
    if healed:
        phrase += ", keeps " + " and ".join(healed)
    return rank, phrase


@lru_cache(maxsize=4096)
def family_words(spec: str) -> str:
    """A fault family (a spec without ``at``) in a teacher's words: ``a lost PaymentCompleted``."""
    from .faults import parse_fault
    f = parse_fault(spec)
    d = f"{f.recover_after:g}" if f.recover_after is not None else ""
    return {
        "fail": f"{f.target} fails its step",
        "compensation_fail": f"{f.target} fails its compensation",
        "crash": (f"{f.target} crashes for {d}" if f.recover_after is not None else f"{f.target} crashes for good"),
        "slow": f"{f.target} is slow by {f.by:g}" if f.by is not None else f"{f.target} is slow",
        "drop": f"a lost {f.message}",
        "duplicate": f"a duplicated {f.message}",
        "delay": f"a late {f.message} (by {f.by:g})" if f.by is not None else f"a late {f.message}",
    }[f.kind]


_SPLIT = {}                  # cell spec -> (family spec, moment): filled by plan, read by split


def split(spec: str) -> tuple:
    """(family spec, moment) of a cell's spec: ``payment:fail:at=1.5`` -> (``payment:fail``, 1.5)."""
    got = _SPLIT.get(spec)
    if got is None:
        from .faults import parse_fault
        f = parse_fault(spec)
        got = _remember(spec, family_spec(at(f, 0.0)), f.at)
    return got


def _remember(spec, family, t):
    if len(_SPLIT) > 2 * MAX_RUNS:
        _SPLIT.clear()
    got = _SPLIT[spec] = (family, t)
    return got


def story(rec: dict, base: dict) -> str:
    """One sentence: the fault, what became of the sagas, what broke, what it cost."""
    fam, t = split(rec["fault"])
    _, phrase = effect(rec, base)
    sagas = ", ".join(f"saga {s} {o}" + (f" (was {base['outcomes'].get(s)})" if base["outcomes"].get(s) != o else "")
                      for s, o in rec["outcomes"].items())
    broken = [k for k, ok in rec["invariants"].items() if not ok]
    m = rec["metrics"]
    parts = [f"{family_words(fam)} at t={t:g}: {phrase}", sagas]
    if broken:
        parts.append("BROKEN: " + ", ".join(broken))
    ends = ("not over when the run ends" if "in_flight" in rec["outcomes"].values()
            else f"over after {m['duration']:g}")
    parts.append(f"{_n(m['messages'], 'message')}, {_n(m['compensations'], 'compensation')}, "
                 f"{_n(m['retries'], 'retry', 'retries')}, {_n(m['timeouts'], 'timeout')}, {ends}")
    return "; ".join(parts) + "."


def _n(k, one, many=None):
    return f"{k} {one if k == 1 else (many or one + 's')}"


def tally(recs, bases: dict) -> dict:
    """What the summary needs of some runs, given as (record, family) pairs: per style the counts, per
    family and style how many moments show each effect, and each effect's rank. Tallies of parts add up
    to the tally of the whole (``merge``), so the workers make them beside the runs."""
    per_style, effects, ranks = {}, {}, {}
    for rec, fam in recs:
        style = rec["style"]
        base = bases[style]
        rank, phrase = effect(rec, base)
        ranks[phrase] = rank
        effects.setdefault(fam, {}).setdefault(style, Counter())[phrase] += 1
        c = per_style.get(style)
        if c is None:
            c = per_style[style] = Counter()
        c["runs"] += 1
        c["outcome_changed"] += rec["outcomes"] != base["outcomes"]
        c["invariant_broken"] += bool(newly_broken(rec, base))
        c["stuck"] += _newly(rec, base, "stuck")
        c["in_flight"] += _newly(rec, base, "in_flight")
        c["no_effect"] += phrase == "no effect"
    return {"per_style": per_style, "effects": effects, "ranks": ranks}


def merge(tallies) -> dict:
    """The tally of the whole from the tallies of its parts (in any order: only sums and unions)."""
    per_style, effects, ranks = {}, {}, {}
    for t in tallies:
        for style, c in t["per_style"].items():
            per_style.setdefault(style, Counter()).update(c)
        for fam, by_style in t["effects"].items():
            mine = effects.setdefault(fam, {})
            for style, c in by_style.items():
                mine.setdefault(style, Counter()).update(c)
        ranks.update(t["ranks"])
    return {"per_style": per_style, "effects": effects, "ranks": ranks}


def summarize(p: dict, runs: list, tallies=None) -> dict:
    """Group the runs the way a teacher says them: per fault family and style, what it does at how many
    moments; which families change an outcome, break an invariant, leave a saga stuck or waiting; and
    where the two styles part ways. ``tallies``: the runs' tallies made by the workers (else made here)."""
    styles = list(p["styles"])
    bases = {s: p["styles"][s]["baseline"] for s in styles}
    if tallies is None:
        tallies = [tally(((rec, split(rec["fault"])[0]) for rec in runs), bases)]
    whole = merge(tallies)
    per_style = {s: whole["per_style"].get(s, Counter()) for s in styles}
    fam_effects, ranks = whole["effects"], whole["ranks"]
    order = []                           # families in first-seen order across styles
    for s in styles:
        for fam in p["styles"][s]["families"]:
            if fam not in order:
                order.append(fam)
    faults, groups = [], {"leaves_stuck": [], "leaves_waiting": [], "breaks_invariant": [], "changes_outcome": [],
                          "no_effect": []}
    differences = []
    for fam in order:
        eff = fam_effects.get(fam, {})
        by_style = {}
        for s in styles:
            if s not in eff:
                continue
            n = sum(eff[s].values())
            phrases = sorted(eff[s], key=lambda ph: (-ranks[ph], ph))
            by_style[s] = {"moments": n, "effects": {ph: eff[s][ph] for ph in phrases},
                           "says": _says(eff[s], phrases, n)}
        words = family_words(fam)
        both = len(by_style) == 2
        differs = both and (_serious(by_style[styles[0]]["effects"], ranks)
                            != _serious(by_style[styles[1]]["effects"], ranks))
        differs_in_cost = both and not differs and (set(by_style[styles[0]]["effects"])
                                                    != set(by_style[styles[1]]["effects"]))
        only = len(by_style) == 1 and len(styles) == 2
        sentence = f"{words}: " + "; ".join(f"{s} {v['says']}" for s, v in by_style.items())
        if only:
            sentence += f" (only {next(iter(by_style))} has it)"
        entry = {"fault": fam, "words": words, "styles": by_style, "differs": differs,
                 "differs_in_cost": differs_in_cost, "sentence": sentence}
        faults.append(entry)
        if differs:
            differences.append(sentence)
        all_phrases = {ph for v in by_style.values() for ph in v["effects"]}
        if any("gets stuck" in ph for ph in all_phrases):
            groups["leaves_stuck"].append(sentence)
        if any("waits for ever" in ph for ph in all_phrases):
            groups["leaves_waiting"].append(sentence)
        if any("breaks" in ph for ph in all_phrases):
            groups["breaks_invariant"].append(sentence)
        if any(ranks[ph] >= 6 for ph in all_phrases):
            groups["changes_outcome"].append(sentence)
        if all_phrases == {"no effect"}:
            groups["no_effect"].append(words)
    return {
        "baseline": {s: {**{k: bases[s][k] for k in ("outcomes", "invariants", "metrics")},
                         "moments": p["styles"][s]["moments"]} for s in styles},
        "per_style": {s: {k: per_style[s][k] for k in ("runs", "no_effect", "outcome_changed", "invariant_broken",
                                                       "stuck", "in_flight")} for s in styles},
        "faults": faults,
        "differences": differences,
        **groups,
    }


def _says(counter, phrases, n):
    if len(phrases) == 1:
        return phrases[0] + (" at every moment" if n > 1 else "")
    return ", ".join(f"{ph} ({counter[ph]}/{n})" for ph in phrases)


def _serious(phrases, ranks) -> set:
    """The effects a teacher would name first: an outcome that changes, an invariant that breaks."""
    return {ph for ph in phrases if ranks[ph] >= 6}


# ---------------------------------------------------------------- output


MARKS = {"completed": ".", "compensated": "c", "deadlocked": "d", "in_flight": "w", "stuck": "S"}


def cell_mark(rec: dict, base: dict) -> str:
    """One character per cell: the worst outcome (. c d w S), ``!`` when the fault breaks an invariant that
    holds without it, ``-`` for a cell exactly like the baseline."""
    if newly_broken(rec, base):
        return "!"
    if rec["outcomes"] == base["outcomes"] and rec["metrics"] == base["metrics"] \
            and rec["invariants"] == base["invariants"]:
        return "-"
    return MARKS[worst(rec["outcomes"])]


def to_text(result: dict, title: str = "") -> str:
    s = result["summary"]
    lines = [f"{title} ({result['scenario']})" if title else result["scenario"],
             f"{result['faults_tried']} runs: every single fault at every moment of the run without an added "
             f"fault; 'for a while' = {result['pause']:g}; seed {result['seed']}"]
    for style, c in s["per_style"].items():
        b = s["baseline"][style]
        lines.append(f"{style}: baseline {', '.join(f'saga {k} {v}' for k, v in b['outcomes'].items())}; "
                     f"{c['runs']} runs over {len(b['moments'])} moments: {c['outcome_changed']} change an outcome, "
                     f"{c['invariant_broken']} break an invariant, {c['stuck']} leave a saga stuck, "
                     f"{c['in_flight']} leave one waiting, {c['no_effect']} change nothing"
                     + (f" (without a fault already broken: {', '.join(k for k, v in b['invariants'].items() if not v)})"
                        if not all(b["invariants"].values()) else ""))
    if s["differences"]:
        lines += ["", "Where the styles differ:"] + [f"  - {x}" for x in s["differences"]]
    told = set()                  # below, each fault once, under the worst thing it does
    for key, head in (("breaks_invariant", "Faults that break an invariant"),
                      ("leaves_stuck", "Faults that leave a saga stuck"),
                      ("leaves_waiting", "Faults that leave a saga waiting for ever"),
                      ("changes_outcome", "Other faults that change an outcome")):
        new = [x for x in s[key] if x not in told]
        told.update(new)
        if new:
            lines += ["", head + ":"] + [f"  - {x}" for x in new]
    if s["no_effect"]:
        lines += ["", "No effect at any moment: " + ", ".join(s["no_effect"])]
    by_key = {}
    for rec in result["runs"]:
        fam, t = split(rec["fault"])
        by_key.setdefault(rec["style"], {}).setdefault(fam, []).append(rec)
    for style, fams in by_key.items():
        base = s["baseline"][style]
        lines += ["", f"{style}: fault x moment (- as without the fault, . completed, c compensated, d deadlocked, "
                      f"w waiting/in flight, S stuck, ! an invariant breaks); moments: "
                      + " ".join(f"{t:g}" for t in base["moments"])]
        width = max(len(f) for f in fams)
        for fam, recs in fams.items():
            lines.append(f"  {fam:<{width}} {''.join(cell_mark(r, base) for r in recs)}")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("style", "fault", "family", "at", "worst", "outcomes", *INVARIANTS, *METRICS, "effect", "story")


def to_csv(result: dict) -> str:
    import csv
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    bases = result["summary"]["baseline"]
    for rec in result["runs"]:
        fam, t = split(rec["fault"])
        base = bases[rec["style"]]
        w.writerow([rec["style"], rec["fault"], fam, f"{t:g}", worst(rec["outcomes"]),
                    " ".join(f"{k}={v}" for k, v in rec["outcomes"].items()),
                    *(str(rec["invariants"][k]).lower() for k in INVARIANTS),
                    *(rec["metrics"][k] for k in METRICS), effect(rec, base)[1], story(rec, base)])
    return buf.getvalue()


def to_json(result: dict) -> str:
    return json.dumps(result, separators=(",", ":"))


__all__ = ["explore", "plan", "run_cell", "run_cells", "run_chunk", "tally", "merge", "summarize", "story", "effect", "newly_broken", "worst", "split",
           "family_words", "to_text", "to_csv", "to_json", "OUTCOMES"]
