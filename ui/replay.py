"""Read a downloaded run file back (the JSON of contract 4) so the app can replay it.

``read_run_file`` either returns the runs or one line that says what is wrong
with the file; the app never shows a half-read file.
"""
from __future__ import annotations

import json
import math

import sim
from sim.narrate import mermaid as _mermaid

MAX_RUN_BYTES = 20_000_000
MAX_EVENTS = 500_000


def export(name: str, text: str, shown: list) -> str:
    """The downloadable run file: contract 4's object, plus the scenario's YAML so it can be edited again."""
    return json.dumps({"scenario": name, "runs": [s.run for s in shown if s.run is not None],
                       "scenario_yaml": text}, indent=1)


def mermaid(shown: list) -> str:
    return "\n".join(f"%% {s.style}\n" + _mermaid(s.run) for s in shown if s.run is not None)


def read_run_file(raw: bytes, name: str):
    """(scenario name, runs) from a run file, or a one-line message (a str) saying why not."""
    if len(raw) > MAX_RUN_BYTES:
        return f"{name}: is {len(raw):,} bytes; a run file may have at most {MAX_RUN_BYTES:,}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return f"{name}: is not UTF-8 text (a run file is JSON)"
    except json.JSONDecodeError as e:
        return f"{name}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
    except RecursionError:
        return f"{name}: is nested too deeply"
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        found = data["runs"]
    elif isinstance(data, dict) and "events" in data and "style" in data:
        found = [data]
    else:
        return (f'{name}: is not a saga run file: expected {{"scenario": ..., "runs": [...]}} as written by '
                '"Download the run" or python -m sim run --format json')
    if not found:
        return f"{name}: runs is empty"
    for i, run in enumerate(found):
        problem = _check_run(run)
        if problem:
            return f"{name}: runs[{i}]{problem}"
    return str(data.get("scenario") or name), found


def _check_run(run) -> str | None:
    if not isinstance(run, dict):
        return ": must be a run object"
    if run.get("style") not in sim.STYLES:
        return f".style: must be choreography or orchestration, got {run.get('style')!r}"
    for key, kind in (("events", list), ("outcomes", dict), ("metrics", dict), ("initial_state", dict),
                      ("services", list)):
        if not isinstance(run.get(key), kind):
            return f".{key}: missing or not a {kind.__name__} (a summary run has no events to replay)"
    events = run["events"]
    if len(events) > MAX_EVENTS:
        return f".events: {len(events):,} events; at most {MAX_EVENTS:,} can be replayed"
    last = -math.inf
    for k, e in enumerate(events):
        where = f".events[{k}]"
        if not isinstance(e, dict) or not isinstance(e.get("kind"), str):
            return f"{where}: must be an event with a kind"
        t = e.get("t")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            return f"{where}.t: must be a number, got {t!r}"
        if t < last:
            return f"{where}.t: events must be in time order ({t!r} comes after {last!r})"
        last = t
        if e["kind"].startswith("message_") and not all(isinstance(e.get(k), str) for k in ("message", "src", "dst")):
            return f"{where}: a message event needs message, src and dst"
    return None
