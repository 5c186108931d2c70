"""Fuzzing the front doors: mutated scenario files, fault specs, the command line, run limits.

Mutations start from the curriculum (scenarios/*.yaml): keys deleted, wrong
types, negative, huge, NaN and infinite numbers, unknown fields, deep nesting,
huge strings, binary garbage, aliases, tabs, duplicate keys, non-UTF-8 bytes,
files over the size limit. Each bad input must be refused with a ScenarioError
or FaultError whose message is one line naming the source and the field;
never another exception, and never a hang (each test runs under a time budget).
Derandomized for CI; ROBUSTNESS_EXAMPLES=5000 makes it a longer, random search.
"""
from __future__ import annotations

import contextlib
import copy
import datetime
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sim
from sim import FaultError, RunLimitError, ScenarioError
from sim.faults import KINDS
from sim.scenario import (MAX_FILE_BYTES, MAX_HORIZON, MAX_SAGAS, MAX_STEPS, load_scenario, parse_scenario,
                          scenario_from_mapping)

ROOT = Path(__file__).resolve().parent.parent
CURRICULUM = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "scenarios").glob("*.yaml"))}
LESSONS = {name: yaml.safe_load(text) for name, text in CURRICULUM.items()}     # parsed once; mutants copy
SOURCE = "fuzzed.yaml"
HUNT = int(os.environ.get("ROBUSTNESS_EXAMPLES", 0))      # > 0: a longer, random search (see test_properties)
FUZZ = settings(max_examples=HUNT or 400, derandomize=not HUNT, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=HUNT or 150)


# ---------------------------------------------------------------- a budget instead of per-case timers


class Overtime(BaseException):
    """Raised when a test passes its time budget (a BaseException, so Hypothesis does not shrink it)."""


@contextlib.contextmanager
def budget(seconds):
    """The whole test must finish in ``seconds`` (loose: a hang, not a slow machine, trips it)."""
    if not hasattr(signal, "setitimer") or HUNT:
        yield
        return

    def overtime(*_):
        raise Overtime(f"still running after {seconds} s: a hang?")

    old = signal.signal(signal.SIGALRM, overtime)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- what a clear refusal is

BASE = "name: tiny\ncustomers: {alice: 100}\nstock: {widget: 5}\norders: [{customer: alice, price: 30}]\n"

def assert_clear(err, source=SOURCE):
    """One line, naming the source first."""
    msg = str(err)
    assert len(msg.splitlines()) == 1, f"not one line: {msg!r}"
    assert msg.startswith(f"{source}: "), f"does not name {source}: {msg!r}"


def load_or_refuse(load, *args):
    """The Scenario, or the ScenarioError (checked clear); any other exception fails the test."""
    try:
        return load(*args)
    except ScenarioError as e:
        assert_clear(e, args[-1] if load is not load_scenario else str(args[0]))
        return e


def names_field(err, path):
    """Does the message name the field at ``path`` (or its parent and the key)?
    Line breaks in user text are shown escaped (``\\n``): a message is one line."""
    msg = str(err).replace("\\n", "\n").replace("\\r", "\r")
    return dotted(path) in msg or (dotted(path[:-1]) in msg and str(path[-1]) in msg)


def dotted(path):
    """("orders", 0, "at") -> "orders[0].at", as the loader names fields."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) and not isinstance(key, bool) and out else (
            f".{key}" if out else str(key))
    return out


# ---------------------------------------------------------------- mutating a scenario's mapping


def nodes(data, path=()):
    """Every (path, value) of a loaded YAML tree; ints in the path are list indexes or int keys."""
    yield path, data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from nodes(value, (*path, key))


def replaced(data, path, value=None, delete=False):
    out = copy.deepcopy(data)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def free_form(path):
    """Parts of a scenario the loader does not validate field by field (what a test expects to see)."""
    return len(path) >= 3 and path[0] == "expect" and path[2] in ("final_state", "metrics")


def deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
WRONG_VALUES = (None, True, False, "", "abc", "12abc", [], [1, "a"], {}, {"a": 1}, -1, -0.5, 0, 1e300, 10**400,
                float("inf"), float("-inf"), float("nan"), "x" * 200_000, deep(100), b"\x00\xff",
                datetime.date(2020, 1, 1), "1e400", ".nan", "\t", "a\nb", "payment")
BAD_NUMBERS = (-1, -1e-9, float("nan"), float("inf"), float("-inf"), 1e300, 10**300, 10**400)
ODD_KEYS = ("colour", "Name", "name ", 1, None, True, 1.5, "x" * 5000, "ünïcödé", "", "a\nb")
TEXTS = ("name", "title", "summary", "learning_goal", "watch", "source")    # text fields take numbers as text
STRUCTURED = ("", "timing", "load", "orders[]", "steps[]", "faults[]", "expect.*")


def structured(path):
    """Mappings whose keys the loader must know: an extra key there is refused."""
    shape = dotted(tuple("[]" if isinstance(k, int) else k for k in path)).replace(".[]", "[]")
    if len(path) == 2 and path[0] == "expect":
        shape = "expect.*"
    return shape.replace("[][]", "[]") in STRUCTURED


class Mutant(tuple):
    """(description, mutated mapping, path, must the loader refuse it and name the field?), shown by its description."""

    def __new__(cls, desc, data, path, value=None, delete=False, must_refuse=False):
        return super().__new__(cls, (desc, replaced(data, path, value, delete), path, must_refuse))

    def __repr__(self):
        return repr(self[0])


def shape(path):
    """The path with list indexes and names of things blurred: one mutation per shape is enough."""
    named = ("customers", "stock", "capacity", "service_time", "outcomes", "items", "expect")
    return tuple("[]" if type(k) is int and path[i - 1] not in named else "*" if i and path[i - 1] in named else k
                 for i, k in enumerate(path))


def mutations(data, seen):
    """Every mutation of a scenario mapping whose path shape is not in ``seen`` yet."""
    for path, value in [(p, v) for p, v in nodes(data) if p]:
        if shape(path) in seen:
            continue
        seen.add(shape(path))
        yield Mutant(f"delete {dotted(path)}", data, path, delete=True)
        for wrong in WRONG_VALUES:
            yield Mutant(f"{dotted(path)} = {wrong!r:.60}", data, path, wrong)
        if type(value) in (int, float) and not free_form(path) and path[0] not in TEXTS:
            for bad in BAD_NUMBERS:
                yield Mutant(f"{dotted(path)} = {bad!r:.60}", data, path, bad, must_refuse=True)
        if isinstance(value, dict) and structured(path):
            for key in ODD_KEYS:
                yield Mutant(f"extra key {key!r:.60} in {dotted(path)}", data, (*path, key), 1, must_refuse=True)
    if () not in seen:
        seen.add(())
        for key in ODD_KEYS:
            yield Mutant(f"extra key {key!r:.60}", data, (key,), 1, must_refuse=True)


def test_every_field_of_the_curriculum_with_every_wrong_value(tried):
    """Exhaustive over field shapes: each field of the lessons deleted, given each wrong value, each bad number."""
    seen = set()
    with budget(240):
        for data in LESSONS.values():
            for mutant in mutations(data, seen):
                check_mutant(tried, mutant, via_text=False)


@st.composite
def mutants(draw):
    """A curriculum scenario with one field deleted or given a random value, or a mapping given random keys."""
    data = LESSONS[draw(st.sampled_from(sorted(LESSONS)))]
    everything = [(p, v) for p, v in nodes(data) if p]
    path, node = draw(st.sampled_from(everything))
    how = draw(st.sampled_from(("delete", "value", "value", "extra keys")))
    if how == "delete":
        return Mutant(f"delete {dotted(path)}", data, path, delete=True)
    value = draw(JSON_LIKE)
    if how == "extra keys" and isinstance(node, dict) and isinstance(value, dict):
        return Mutant(f"{dotted(path)} += {value!r:.60}", data, path, {**node, **value})
    return Mutant(f"{dotted(path)} = {value!r:.60}", data, path, value)


def check_mutant(tried, mutant, via_text=True):
    """The mapping (the app's door) and its YAML text (the file's door) are refused clearly, or accepted and run."""
    desc, data, path, must_refuse = mutant
    results = [load_or_refuse(scenario_from_mapping, data, SOURCE)]
    if via_text:
        results.append(load_or_refuse(parse_scenario, yaml.safe_dump(data, allow_unicode=True), SOURCE))
    tried["mutated_inputs"] += len(results)
    for result in results:
        if must_refuse:
            assert isinstance(result, ScenarioError), f"{desc}: accepted"
            assert names_field(result, path), f"{desc}: {result}"
        if isinstance(result, ScenarioError) and path:
            assert result.field is not None, f"{desc}: names no field: {result}"
    if via_text and isinstance(results[0], sim.Scenario):
        run_briefly(tried, results[0])


def run_briefly(tried, scenario):
    """A mutant the loader accepts must also run (small ones only: this is a fuzzer, not a benchmark)."""
    if scenario.saga_count > 50 or scenario.horizon > 1e5:
        return
    for style in scenario.styles:
        run_or_limit(tried, scenario, style)


def run_or_limit(tried, scenario, style, faults=()):
    """A run, or a RunLimitError of one line, or a FaultError for a fault on a service the scenario lacks."""
    tried["runs"] += 1
    try:
        sim.run(scenario, style, faults=faults, keep_events=False)
    except (RunLimitError, FaultError) as e:
        assert len(str(e).splitlines()) == 1, str(e)
        assert isinstance(e, RunLimitError) or "not a service of this scenario" in str(e), str(e)


@FUZZ
@given(mutant=mutants())
def _mutated_scenarios(tried, mutant):
    check_mutant(tried, mutant)


def test_random_mutants_are_refused_with_one_line_or_run(tried):
    with budget(240):
        _mutated_scenarios(tried=tried)


# ---------------------------------------------------------------- mutating the text


def text_mutations():
    """Edits of a YAML text that a careless hand or a broken upload makes."""
    def cut(text, k):
        return text[:k]

    def tabs(text, k):
        return text.replace("  ", "\t")

    def dup_line(text, k):
        lines = text.splitlines(True)
        return "".join(lines[:k % len(lines) + 1] + lines[k % len(lines):])

    def splice(text, k, junk):
        return text[:k] + junk + text[k:]

    return cut, tabs, dup_line, splice


GARBAGE = st.sampled_from(("\x00", "\t", ":", "- ", "{", "]", "&a ", "*a", "!!python/object:os.system ", "!!binary ",
                           "? ", "|", ">", "%YAML 1.1\n", "---\n", "\ufeff", "\udcff", "é", "\u2028", "\r", "#"))


@FUZZ
@given(name=st.sampled_from(sorted(CURRICULUM)), edit=st.sampled_from(text_mutations()),
       at=st.integers(0, 4000), junk=GARBAGE | st.text(max_size=30))
def _mutated_texts(tried, name, edit, at, junk):
    text = CURRICULUM[name]
    args = (text, at % (len(text) + 1), junk) if edit.__name__ == "splice" else (text, at % (len(text) + 1))
    tried["mutated_inputs"] += 1
    result = load_or_refuse(parse_scenario, edit(*args), SOURCE)
    if isinstance(result, sim.Scenario):
        run_briefly(tried, result)


def test_mutated_texts_are_refused_with_one_line(tried):
    with budget(240):
        _mutated_texts(tried=tried)


@FEW
@given(blob=st.binary(max_size=3000))
def _binary_files(tried, tmp_path, blob):
    path = tmp_path / "garbage.yaml"
    path.write_bytes(blob)
    tried["mutated_inputs"] += 1
    load_or_refuse(load_scenario, path)


def test_binary_garbage_is_refused_with_one_line(tried, tmp_path):
    with budget(120):
        _binary_files(tried=tried, tmp_path=tmp_path)


@FEW
@given(document=JSON_LIKE)
def _random_documents(tried, document):
    tried["mutated_inputs"] += 1
    assert isinstance(load_or_refuse(scenario_from_mapping, document, SOURCE), ScenarioError)


def test_random_documents_are_refused_with_one_line(tried):
    with budget(120):
        _random_documents(tried=tried)


# ---------------------------------------------------------------- hostile files, one by one

LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'lol'}]\n" for i in range(12))
HOSTILE = {
    "billion laughs": (LAUGHS, "aliases"),
    "one alias": (BASE + "title: &t hi\nsummary: *t\n", "aliases"),
    "deep list": ("name: " + "[" * 50_000, "nested too deeply"),
    "deep mapping": ("name: " + "{a: " * 50_000, "nested too deeply"),
    "over a megabyte": (BASE + "summary: " + "x" * MAX_FILE_BYTES, str(MAX_FILE_BYTES)),
    "tab indentation": (BASE.replace("orders: [", "orders:\n\t- ").rstrip("]\n") + "\n", "YAML"),
    "python object tag": ("!!python/object/apply:os.system [echo hi]\n", "YAML"),
    "unknown tag": (BASE + "seed: !bogus 3\n", "YAML"),
    "a NUL byte": (BASE + "title: a\x00b\n", "YAML"),
    "two documents": (BASE + "---\n" + BASE, "YAML"),
    "empty": ("", "empty"),
    "only a comment": ("# nothing here\n", "empty"),
    "a list": ("- name: tiny\n", "mapping"),
    "a number": ("42\n", "mapping"),
    "unclosed quote": ('name: "tiny\n', "YAML"),
    "too many sagas": (BASE + f"load: {{count: {MAX_SAGAS + 1}}}\n", "load.count"),
    "orders plus load over the limit": (BASE + f"load: {{count: {MAX_SAGAS}}}\n", "load.count"),
    "a run past the horizon limit": (BASE.replace("price: 30}", f"price: 30, at: {MAX_HORIZON}}}"),
                                     "timing.horizon"),
    "horizon over the limit": (BASE + f"timing: {{horizon: {MAX_HORIZON * 10:.0f}}}\n", "timing.horizon"),
    "too many steps": (BASE + f"steps: [order, {', '.join(f's{i}' for i in range(MAX_STEPS))}]\n", "steps"),
    "load every NaN": (BASE + "load: {count: 3, every: .nan}\n", "load.every"),
    "timeout infinite": (BASE + "timing: {timeout: .inf}\n", "timing.timeout"),
    "capacity zero": (BASE + "timing: {capacity: {payment: 0}}\n", "timing.capacity.payment"),
    "jitter over 1": (BASE + "timing: {jitter: 1.5}\n", "timing.jitter"),
    "fault at infinity": (BASE + "faults: [{target: payment, kind: crash, at: .inf}]\n", "faults[0]"),
    "fault on a stranger": (BASE + "faults: [{target: shipping, kind: fail}]\n", "faults[0]"),
    "fault with odd keys": (BASE + "faults: [{target: payment, kind: fail, colour: red}]\n", "colour"),
    "a waits_for cycle to itself": (BASE + "steps: [order, {name: payment, waits_for: [PaymentCompleted]}]\n",
                                    "steps[1].waits_for"),
    "retriable order": (BASE + "steps: [{name: order, type: retriable}, payment]\n", "steps[0].type"),
    "compensable after pivot": (BASE + "steps: [order, {name: payment, type: pivot}, inventory]\n", "steps[2].type"),
    "expect a made-up outcome": (BASE + "expect: {choreography: {outcomes: {1: vanished}}}\n",
                                 "expect.choreography.outcomes.1"),
}


@pytest.mark.parametrize("text, words", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_file_is_refused_quickly_with_one_line(tried, tmp_path, text, words):
    path = tmp_path / SOURCE
    path.write_text(text, encoding="utf-8")
    tried["mutated_inputs"] += 2
    with budget(20):
        for err in (load_or_refuse(load_scenario, path), load_or_refuse(parse_scenario, text, SOURCE)):
            assert isinstance(err, ScenarioError), "accepted"
            assert words in str(err), str(err)


@pytest.mark.parametrize("blob, words", [
    (BASE.encode("utf-16"), "UTF-8"),
    (BASE.encode() + b"title: caf\xe9\n", "UTF-8"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (BASE.encode() + b"x" * MAX_FILE_BYTES, str(MAX_FILE_BYTES)),
], ids=["utf-16", "latin-1 byte", "garbage", "over a megabyte"])
def test_text_that_is_not_utf8_is_refused(tried, tmp_path, blob, words):
    path = tmp_path / SOURCE
    path.write_bytes(blob)
    tried["mutated_inputs"] += 1
    err = load_or_refuse(load_scenario, path)
    assert isinstance(err, ScenarioError) and words in str(err), err


def test_missing_file_and_folder_are_refused(tried, tmp_path):
    for path, words in ((tmp_path / "nope.yaml", "no such file"), (tmp_path, "folder")):
        err = load_or_refuse(load_scenario, path)
        assert isinstance(err, ScenarioError) and words in str(err), err


# ---------------------------------------------------------------- the fault language

TARGETS = ("payment", "inventory", "order", "orchestrator", "broker", "shipping", "Payment", " payment ", "",
           "pay ment", "*")
KEYS = ("saga", "at", "times", "probability", "recover_after", "by", "message", "count", "colour", "", "Saga")
VALUES = ("1", "0", "-1", "x", "inf", "-inf", "nan", "1e400", "9" * 400, "1.5", "", " ", "1_0", "0x1", "true",
          "PaymentCompleted", "Payment Completed", "=", "1e9", "1e10", "0.5", "2", "None")


@st.composite
def near_miss_specs(draw):
    spec = f"{draw(st.sampled_from(TARGETS))}:{draw(st.sampled_from((*KINDS, 'Fail', 'fails', '', 'explode')))}"
    options = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), max_size=4))
    if options or draw(st.booleans()):
        spec += ":" + ",".join(f"{k}={v}" for k, v in options)
    return spec


HAPPY = load_scenario(ROOT / "scenarios" / "happy-path.yaml")


def fault_or_refusal(tried, spec, where=None):
    """The Fault of a spec (text) or mapping, or None once its FaultError is checked clear."""
    tried["fault_specs"] += 1
    try:
        return sim.parse_fault(spec) if where is None else sim.fault_from_mapping(spec, where)
    except FaultError as e:
        assert_clear(e, where or f"fault {spec!r}")
        return None


@FUZZ
@example(spec="payment:fail:saga=x")
@example(spec="broker:drop:count=-1")
@example(spec="payment:crash:at=inf")
@example(spec="payment:crash:at=" + "9" * 400)
@given(spec=near_miss_specs() | st.text(max_size=40) | st.from_regex(r"[a-z]{0,9}(:[a-z_]{0,9}(:[a-z=0-9.,-]{0,20})?)?",
                                                                    fullmatch=True))
def _fault_specs(tried, spec):
    fault = fault_or_refusal(tried, spec)
    if fault is None:
        return
    assert sim.parse_fault(fault.to_spec()) == fault, "to_spec does not parse back"
    for style in sim.STYLES:
        run_or_limit(tried, HAPPY, style, [fault])


def test_fault_specs_are_refused_with_one_line_or_run(tried):
    with budget(240):
        _fault_specs(tried=tried)


FAULT_KEYS = st.sampled_from(("target", "kind", "saga", "at", "times", "probability", "recover_after", "by",
                              "message", "count", "colour"))


@FEW
@given(mapping=st.dictionaries(FAULT_KEYS, st.sampled_from(("payment", "broker", *KINDS)) | JSON_LIKE, max_size=5))
def _fault_mappings(tried, mapping):
    fault = fault_or_refusal(tried, mapping, "faults[0]")
    for style in sim.STYLES if fault else ():
        run_or_limit(tried, HAPPY, style, [fault])


def test_fault_mappings_are_refused_with_one_line(tried):
    with budget(120):
        _fault_mappings(tried=tried)


# ---------------------------------------------------------------- run limits


def test_a_runaway_run_stops_at_the_work_budget_with_a_clear_message(monkeypatch):
    monkeypatch.setattr("sim.engine.kernel.MAX_WORK", 2_000)
    scenario = parse_scenario(BASE + "load: {count: 500, every: 0.1}\n", SOURCE)
    for style in sim.STYLES:
        with pytest.raises(RunLimitError) as e:
            sim.run(scenario, style, keep_events=False)
        assert len(str(e.value).splitlines()) == 1 and "load.count" in str(e.value)


def test_a_trace_past_its_budget_stops_with_a_clear_message(monkeypatch):
    monkeypatch.setattr("sim.engine.kernel.MAX_TRACE", 500)
    scenario = parse_scenario(BASE + "load: {count: 100, every: 0.1}\n", SOURCE)
    with pytest.raises(RunLimitError) as e:
        sim.run(scenario, "orchestration")
    assert len(str(e.value).splitlines()) == 1 and "summary" in str(e.value)
    assert sim.run(scenario, "orchestration", keep_events=False).outcomes  # a summary run keeps no trace


# ---------------------------------------------------------------- the command line, in parallel


def cli_cases(tmp_path):
    """(arguments, words the one stderr line must hold, exit code): inputs test_cli.py does not try."""
    def file(name, content):
        path = tmp_path / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        return str(path)

    happy = str(ROOT / "scenarios" / "happy-path.yaml")
    limit = ["-c", "import sys, sim.engine.kernel as e, sim.cli as c; e.MAX_WORK = 2000; sys.exit(c.main(sys.argv[1:]))"]
    return [
        (["run", file("laughs.yaml", LAUGHS)], "aliases", 2),
        (["run", file("latin1.yaml", BASE.encode() + b"title: caf\xe9\n")], "UTF-8", 2),
        (["run", file("big.yaml", BASE + "summary: " + "x" * MAX_FILE_BYTES)], str(MAX_FILE_BYTES), 2),
        (["run", file("deep.yaml", "name: " + "[" * 50_000)], "nested too deeply", 2),
        (["run", str(tmp_path)], "folder", 2),
        (["run", file("nan.yaml", BASE + "timing: {timeout: .nan}\n")], "timing.timeout", 2),
        (["check", happy, file("bad.yaml", BASE + "colour: red\n")], "colour: unknown field", 2),
        (["run", happy, "--fault", "payment:crash:at=inf"], "at must be a number", 2),
        (["run", happy, "--fault", "broker:drop:message=Payment Completed"], "message", 2),
        (["run", happy, "--fault", "payment:fail", "--fault", ""], "empty", 2),
        (["run", happy, "--seed", "1.5"], "--seed", 2),
        (["run", happy, "--bogus"], "unrecognized arguments", 2),
        ([*limit, "run", file("runaway.yaml", BASE + "load: {count: 500, every: 0.1}\n"), "--format", "summary"],
         "load.count", 3),
    ]


def test_cli_refuses_bad_input_with_one_line_and_no_traceback(tried, tmp_path):
    cases = cli_cases(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SAGA_DEBUG", None)
    procs = [subprocess.Popen([sys.executable, *(["-m", "sim"] if args[0] != "-c" else []), *args], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for args, _, _ in cases]
    tried["mutated_inputs"] += len(cases)
    for proc, (args, words, code) in zip(procs, cases):
        _, err = proc.communicate(timeout=120)
        shown = f"{args[:2]}: {err[:300]!r}"
        assert proc.returncode == code, shown
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, shown
        assert err.startswith("error: ") and words in err, shown


# ---------------------------------------------------------------- counter-examples found here, fixed in sim/, kept

FOUND = {
    "an int beyond float range": BASE.replace("alice: 100", "alice: 1" + "0" * 400),
    "a list inside waits_for": BASE + "steps: [order, {name: payment, waits_for: [[OrderCreated]]}]\n",
    "a key that is not text in a fault": BASE + "faults: [{target: payment, kind: fail, 1: 2, colour: red}]\n",
    "a slow fault with by: null": BASE + "faults: [{target: payment, kind: slow, by: null}]\n",
    "a line break in a fault target": BASE + "faults: [{target: \"pay\\nment\", kind: drop}]\n",
    "a line break in a customer name": BASE.replace("{alice: 100}", '{alice: 100, "bo\\nb": 5}').replace(
        "customer: alice", "customer: zed"),
    "a duplicate key": BASE + "timing: {timeout: 1}\ntiming: {timeout: 2}\n",
    "a 200 KB value": BASE + "seed: " + "x" * 200_000 + "\n",
}


@pytest.mark.parametrize("text", FOUND.values(), ids=FOUND.keys())
def test_found_counter_examples_are_refused_with_one_short_line(text):
    err = load_or_refuse(parse_scenario, text, SOURCE)
    assert isinstance(err, ScenarioError), "accepted"
    assert len(str(err)) < 1000, f"{len(str(err))} characters"


def test_a_fault_spec_with_a_line_break_is_refused_with_one_line():
    with pytest.raises(FaultError) as e:
        sim.parse_fault("pay\nment:drop")
    assert_clear(e.value, "fault 'pay\\nment:drop'")
