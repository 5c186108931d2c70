"""Read a downloaded run file back (the JSON of contract 4) so the app can replay it.

``read_run_file`` either returns the runs or one line that says what is wrong
with the file; the app never shows a half-read file.
"""
from __future__ import annotations

import json
import math

import sim
from sim.narrate import mermaid as _mermaid
from sim.scenario import OUTCOMES

from . import runs

MAX_RUN_BYTES = 20_000_000
MAX_EVENTS = 500_000


def export(name: str, text: str, shown: list) -> str:
    """The downloadable run file: contract 4's object, plus the scenario's YAML so it can be edited again."""
    return json.dumps({"scenario": name, "runs": [s.run for s in shown if s.run is not None],
                       "scenario_yaml": text}, indent=1)


def mermaid(shown: list) -> str:
    return "\n".join(f"%% {s.style}\n" + _mermaid(s.run) for s in shown if s.run is not None)


def read_run_file(raw: bytes, name: str):
    """(scenario name, runs) from a run file, or a one-line message (a str) saying why not.

    Every field the views read is checked (its type, and what it may hold) and named in the
    message; whole-number times become floats. The file's own text in a message (its name, a
    value) is a code span: never Markdown, links or images.
    """
    lit = runs.literal
    if len(raw) > MAX_RUN_BYTES:
        return f"{lit(name)}: is {len(raw):,} bytes; a run file may have at most {MAX_RUN_BYTES:,}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return f"{lit(name)}: is not UTF-8 text (a run file is JSON)"
    except json.JSONDecodeError as e:
        return f"{lit(name)}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
    except RecursionError:
        return f"{lit(name)}: is nested too deeply"
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        found = data["runs"]
    elif isinstance(data, dict) and "events" in data and "style" in data:
        found = [data]
    else:
        return (f'{lit(name)}: is not a saga run file: expected {{"scenario": ..., "runs": [...]}} as written by '
                '"Download the run" or python -m sim run --format json')
    if not found:
        return f"{lit(name)}: runs is empty"
    styles = set()
    for i, run in enumerate(found):
        problem = _check_run(run)
        if problem is None and run["style"] in styles:
            problem = f".style: a second {run['style']} run (a file holds at most one run of each style)"
        if problem:
            return f"{lit(name)}: runs[{i}]{problem}"
        styles.add(run["style"])
    scenario = data.get("scenario") if isinstance(data, dict) else None
    if scenario is not None and not isinstance(scenario, str):
        return f"{lit(name)}: scenario: must be text, got {_kind(scenario)}"
    return str(scenario or name), found


def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _text_list(x) -> bool:
    return isinstance(x, list) and all(isinstance(v, str) for v in x)


def _amounts(x) -> bool:
    return isinstance(x, dict) and all(isinstance(k, str) and _number(v) for k, v in x.items())


# what the views read from an event's detail, when it is there
_DETAIL = {
    "step": (lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)),
             "a step number or name"),
    "attempt": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "cycle": (_text_list, "a list of names"),
    "items": (lambda v: _amounts(v) or (isinstance(v, list) and all(v is None or isinstance(v, str) for v in v)),
              "item quantities"),
    "price": (_number, "a number"),
    "waited": (_number, "a number"),
    "noop": (lambda v: isinstance(v, bool), "true or false"),
    "retry_of": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a saga id"),
}
for _key in ("customer", "reason", "effect", "because", "state", "flow", "fault", "kind", "message", "item",
             "victim", "action", "phase"):
    _DETAIL[_key] = (lambda v: isinstance(v, str), "text")


def _check_run(run) -> str | None:
    if not isinstance(run, dict):
        return ": must be a run object"
    if run.get("style") not in sim.STYLES:
        return f".style: must be choreography or orchestration, got {runs.literal(repr(run.get('style')), 80)}"
    for key, kind in (("events", list), ("outcomes", dict), ("metrics", dict), ("initial_state", dict),
                      ("services", list)):
        if not isinstance(run.get(key), kind):
            return f".{key}: missing or not a {kind.__name__} (a summary run has no events to replay)"
    if not _text_list(run["services"]) or len(set(run["services"])) != len(run["services"]):
        return ".services: must be a list of distinct service names (text)"
    for saga, outcome in run["outcomes"].items():
        if not saga.isdigit() or outcome not in OUTCOMES:
            return f".outcomes: must map saga ids to one of {', '.join(OUTCOMES)}"
    init = run["initial_state"]
    for key in ("balances", "stock"):
        if key in init and not _amounts(init[key]):
            return f".initial_state.{key}: must map names to numbers"
    final = run.get("final_state")
    if final is not None:
        if not isinstance(final, dict):
            return ".final_state: must be a mapping"
        for key in ("balances", "stock", "reserved"):
            if key in final and not _amounts(final[key]):
                return f".final_state.{key}: must map names to numbers"
        if "orders" in final and not (isinstance(final["orders"], dict)
                                      and all(isinstance(v, str) for v in final["orders"].values())):
            return ".final_state.orders: must map saga ids to order states (text)"
    for key, ok, what in (("seed", lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
                          ("faults", _text_list, "a list of fault specs (text)"),
                          ("horizon", _number, "a number"),
                          ("invariants", lambda v: isinstance(v, dict) and all(isinstance(x, bool) for x in v.values()),
                           "a mapping of true/false"),
                          ("steps", lambda v: isinstance(v, list) and all(
                              isinstance(s, dict) and isinstance(s.get("name"), str) for s in v), "a list of steps"),
                          ("subscriptions", lambda v: isinstance(v, dict) and all(_text_list(x) for x in v.values()),
                           "a mapping of service to event names")):
        if key in run and not ok(run[key]):
            return f".{key}: must be {what}"
    events = run["events"]
    if len(events) > MAX_EVENTS:
        return f".events: {len(events):,} events; at most {MAX_EVENTS:,} can be replayed"
    last = -math.inf
    for k, e in enumerate(events):
        where = f".events[{k}]"
        if not isinstance(e, dict) or not isinstance(e.get("kind"), str):
            return f"{where}: must be an event with a kind"
        t = e.get("t")
        if not _number(t):
            return f"{where}.t: must be a number, got {runs.literal(repr(t), 80)}"
        if type(t) is int:
            e["t"] = t = float(t)          # the player's clock works in floats
        if t < last:
            return f"{where}.t: events must be in time order ({t!r} comes after {last!r})"
        last = t
        saga = e.get("saga")
        if saga is not None and (not isinstance(saga, int) or isinstance(saga, bool)):
            return f"{where}.saga: must be a saga id (a whole number) or null, got {_kind(saga)}"
        for key in ("service", "message", "src", "dst"):
            if e.get(key) is not None and not isinstance(e[key], str):
                return f"{where}.{key}: must be text or null, got {_kind(e[key])}"
        if "seq" in e and (not isinstance(e["seq"], int) or isinstance(e["seq"], bool)):
            return f"{where}.seq: must be a whole number"
        if e.get("msg_id") is not None and (not isinstance(e["msg_id"], int) or isinstance(e["msg_id"], bool)):
            return f"{where}.msg_id: must be a whole number"
        if e["kind"].startswith("message_") and not all(isinstance(e.get(k), str) for k in ("message", "src", "dst")):
            return f"{where}: a message event needs message, src and dst"
        detail = e.get("detail")
        if detail is not None:
            if not isinstance(detail, dict):
                return f"{where}.detail: must be a mapping, got {_kind(detail)}"
            for key, value in detail.items():
                check = _DETAIL.get(key)
                if check is not None and not check[0](value):
                    return f"{where}.detail.{runs.literal(key, 40)}: must be {check[1]}, got {_kind(value)}"
    return None
