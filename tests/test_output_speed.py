"""The command as fast as the engine (issue 20): behaviour pinned, not speed.

- Output goes out in large blocks (a few writes, not one per JSON token or
  line), and the bytes are those of the straightforward encoding: ``json.dump``
  of the run objects, ``json.dumps`` of each trace event.
- A run that finds no cycle does not import networkx; ``sim.graphs`` answers
  as networkx does, and hands a graph with a cycle to networkx itself.

Speed itself is measured by ``bench/bench.py``, never here.
"""
import gc
import io
import json
import os
import random
import subprocess
import sys

import networkx
import pytest
import yaml

from helpers import ROOT
from sim import cli, graphs, load_scenario, run
from sim.export import jsonl_blocks, jsonl_lines

LESSON = ROOT / "scenarios" / "out-of-stock.yaml"
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))
CYCLIC = {"cyclic-wait", "cyclic-wait-three", "lock-deadlock"}     # the library's cycle searches


class RecordingStdout(io.TextIOBase):
    """A stdout that keeps every write, to count them and join them."""

    def __init__(self):
        self.writes = []

    def writable(self):
        return True

    def write(self, s):
        self.writes.append(s)
        return len(s)

    def text(self):
        return "".join(self.writes)


def cli_output(monkeypatch, *argv):
    out = RecordingStdout()
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["run", *map(str, argv)]) == 0
    return out


def happy_path_file(tmp_path, n):
    path = tmp_path / f"happy-{n}.yaml"
    path.write_text(yaml.safe_dump({
        "name": "many-sagas", "customers": {"alice": {"balance": 10 * n}}, "stock": {"widget": n},
        "load": {"count": n, "every": 0.5, "qty": 1, "price": 10}}))
    return path


# ---------------------------------------------------------------- the bytes, as before
def reference(path, fmt, style):
    """The output as the plainest code writes it: ``json.dump`` streaming the run objects (as the
    command did before issue 20), or each event of ``Run.events`` (contract 3) after a leading
    ``style``, one ``json.dumps`` per line."""
    sc = load_scenario(path)
    styles = ("choreography", "orchestration") if style == "both" else (style,)
    if fmt == "jsonl":
        return "".join(json.dumps({"style": st, **ev}, separators=(",", ":")) + "\n"
                       for st in styles for ev in run(sc, st).events())
    keep = fmt == "json"
    runs = [run(sc, st, keep_events=keep).to_dict(events=keep) for st in styles]
    buf = io.StringIO()
    json.dump({"scenario": sc.name, "runs": runs}, buf, separators=(",", ":"))
    return buf.getvalue() + "\n"


@pytest.mark.parametrize("fmt", ["json", "summary", "jsonl"])
@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_library_output_is_the_straightforward_encoding(monkeypatch, path, fmt):
    if fmt == "json" and path.stem.startswith("load-"):
        pytest.skip("json of the load lessons: their summary and jsonl are compared, and many sagas below")
    out = cli_output(monkeypatch, path, "--format", fmt, "--style", "both")
    assert out.text() == reference(path, fmt, "both")


@pytest.mark.parametrize("fmt", ["json", "summary", "jsonl"])
def test_many_sagas_same_bytes_in_few_large_writes(monkeypatch, tmp_path, fmt):
    path = happy_path_file(tmp_path, 1500)
    out = cli_output(monkeypatch, path, "--format", fmt, "--style", "orchestration")
    text = out.text()
    assert text == reference(path, fmt, "orchestration")
    sizes = [len(w) for w in out.writes]
    # jsonl: 1,500 sagas make ~50,000 lines; written in batches of JSONL_BATCH lines
    expected = -(-text.count("\n") // cli.JSONL_BATCH) if fmt == "jsonl" else -(-len(text) // cli.BLOCK)
    assert len(sizes) == expected, sizes[:10]
    assert all(size >= 16 * 1024 for size in sizes[:-1]), min(sizes)


def test_jsonl_blocks_and_lines_are_the_same_text(tmp_path):
    sc = load_scenario(ROOT / "scenarios" / "orchestrator-crash.yaml")
    events = run(sc, "orchestration").sim.events
    lines = list(jsonl_lines(events, "orchestration"))
    assert len(lines) == len(events) and all(line.endswith("}\n") for line in lines)
    for batch in (1, 7, len(events), len(events) + 1):
        blocks = list(jsonl_blocks(events, "orchestration", batch))
        assert len(blocks) == -(-len(events) // batch)
        assert "".join(blocks) == "".join(lines)


def test_a_long_string_is_written_in_blocks(monkeypatch):
    out = RecordingStdout()
    text = "".join(chr(ord("a") + i % 26) for i in range(cli.BLOCK * 2 + 5))
    cli._write(out, text)
    assert [len(w) for w in out.writes] == [cli.BLOCK, cli.BLOCK, 5]
    assert out.text() == text


def test_unbuffered_stdout_gets_the_same_bytes(tmp_path):
    """With PYTHONUNBUFFERED=1 (every write a system call) the file is byte for byte the buffered one."""
    path = happy_path_file(tmp_path, 300)
    outputs = []
    for unbuffered in (False, True):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        if unbuffered:
            env["PYTHONUNBUFFERED"] = "1"
        target = tmp_path / f"out-{unbuffered}.jsonl"
        with open(target, "wb") as f:
            p = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--format", "jsonl"], cwd=ROOT,
                               env=env, stdout=f, stderr=subprocess.PIPE, timeout=120)
        assert p.returncode == 0, p.stderr
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].decode() == reference(path, "jsonl", "both")


# ---------------------------------------------------------------- networkx only for a cycle
def imported_modules(*argv):
    """The modules ``python -X importtime -m sim ARGV`` imports (its stderr lists them)."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "sim", *map(str, argv)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}


def test_a_plain_run_does_not_import_networkx():
    mods = imported_modules("run", LESSON)
    assert "simpy" in mods and "sim.engine" in mods          # the listing is real
    assert not any(m.split(".")[0] == "networkx" for m in mods)


def test_check_of_an_acyclic_file_does_not_import_networkx_and_a_cycle_does():
    assert "networkx" not in imported_modules("check", LESSON)
    assert "networkx" in imported_modules("check", ROOT / "scenarios" / "cyclic-wait.yaml")


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_networkx_only_where_a_cycle_is_searched(path):
    code = ("import sys, io, contextlib; from sim.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['run', sys.argv[1], '--format', 'summary'])\n"
            "print('networkx' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(path.stem in CYCLIC)


def _canonical(cycles):
    """Cycles as sets of rotations: networkx may start a cycle anywhere."""
    out = []
    for c in cycles:
        k = c.index(min(c))
        out.append(tuple(c[k:] + c[:k]))
    return sorted(out)


@pytest.mark.parametrize("seed", range(40))
def test_graphs_answer_as_networkx_does(seed):
    """Random edits of a small graph, in step with a networkx DiGraph: the same nodes, successors,
    paths and cycles after every edit (find_cycle's edges exactly, the source given or not)."""
    rnd = random.Random(seed)
    ours, theirs = graphs.DiGraph(), networkx.DiGraph()
    nodes = list(range(rnd.randint(2, 7)))
    for _ in range(60):
        op = rnd.random()
        u, v = rnd.choice(nodes), rnd.choice(nodes)
        if op < 0.45:
            for g in (ours, theirs):
                g.add_edge(u, v)
        elif op < 0.55:
            for g in (ours, theirs):
                g.add_node(u)
        elif op < 0.7:
            assert ours.has_edge(u, v) == theirs.has_edge(u, v)
            if theirs.has_edge(u, v):
                for g in (ours, theirs):
                    g.remove_edge(u, v)
        elif op < 0.8:
            assert ours.has_node(u) == theirs.has_node(u)
            if theirs.has_node(u):
                for g in (ours, theirs):
                    g.remove_node(u)
        elif theirs.has_node(u):
            assert ours.out_edges(u) == list(theirs.out_edges(u))
            for g in (ours, theirs):
                g.remove_edges_from(list(g.out_edges(u)))
        assert list(ours) == list(theirs)
        for n in theirs:
            assert list(ours.successors(n)) == list(theirs.successors(n))
        for a in theirs:
            for b in theirs:
                assert graphs.has_path(ours, a, b) == networkx.has_path(theirs, a, b)
        for source in [None, *theirs]:
            try:
                expected = networkx.find_cycle(theirs, source)
            except networkx.NetworkXNoCycle:
                expected = None
            try:
                got = graphs.find_cycle(ours, source)
            except graphs.NetworkXNoCycle:
                got = None
            assert got == expected
        assert _canonical(graphs.simple_cycles(ours)) == _canonical(networkx.simple_cycles(theirs))
        assert graphs.has_cycle(ours) == (not networkx.is_directed_acyclic_graph(theirs))


# ---------------------------------------------------------------- the command runs without the cyclic collector
def cyclic_garbage_of(scenario, style, faults=()):
    """Objects the cyclic collector would reclaim after one run and its output, the run still held
    (as the command holds it until it ends): what reference counting could not free along the way."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        result = run(scenario, style, faults=faults)
        result.to_dict()
        garbage = gc.collect()
        del result
        return garbage
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize("style", ["choreography", "orchestration"])
def test_a_run_leaves_no_cyclic_garbage_that_grows_with_its_sagas(tmp_path, style):
    """``python -m sim`` runs with the collector off (sim/__main__.py): safe only while the model's
    objects are freed by reference counting. Ten times the sagas may not leave more garbage."""
    faults = ["payment:fail:probability=0.2", "broker:duplicate:message=PaymentCompleted"]
    small, large = (load_scenario(happy_path_file(tmp_path, n)) for n in (40, 400))
    assert cyclic_garbage_of(large, style, faults) <= cyclic_garbage_of(small, style, faults) + 50


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_library_runs_leave_little_cyclic_garbage(path):
    sc = load_scenario(path)
    for style in ("choreography", "orchestration"):
        assert cyclic_garbage_of(sc, style) < 1000


def test_main_in_a_process_of_someone_else_leaves_the_collector_as_it_was(monkeypatch):
    frozen = gc.get_freeze_count()
    cli_output(monkeypatch, LESSON, "--format", "summary")
    assert gc.isenabled() and gc.get_freeze_count() == frozen
