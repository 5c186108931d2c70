"""The fault-space explorer (issue 16): the space it tries, cells that tell the same story as ``sim run``,
the same bytes whatever executor ran them, the summary's counts, and the command line."""
import concurrent.futures as cf
import csv
import io
import json
import subprocess
import sys

import pytest

import sim
from helpers import ROOT, scenario
from sim import explore as explore_fn
from sim.explore import (MAX_RUNS, _cuts, effect, merge, plan, run_cell, split, story, summarize, tally, to_csv,
                         to_json, to_text)

HAPPY = ROOT / "scenarios" / "happy-path.yaml"
DECLINED = ROOT / "scenarios" / "payment-declined.yaml"


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


@pytest.fixture(scope="module")
def happy():
    return explore_fn(sim.load_scenario(HAPPY), workers=0)


# ---------------------------------------------------------------- the space


def test_every_family_at_every_moment_of_the_run_without_an_added_fault(happy):
    sc = sim.load_scenario(HAPPY)
    for style in ("choreography", "orchestration"):
        events = sim.run(sc, style).to_dict()["events"]
        moments = sorted({e["t"] for e in events})
        assert happy["summary"]["baseline"][style]["moments"] == moments
        runs = [r for r in happy["runs"] if r["style"] == style]
        fams = []
        for r in runs:
            fam, t = split(r["fault"])
            if fam not in fams:
                fams.append(fam)
        assert len(runs) == len(fams) * len(moments)
        # each family, in order, once per moment, moments ascending
        assert [split(r["fault"]) for r in runs] == [(f, t) for f in fams for t in moments]
        kinds = {(sim.parse_fault(f).target, sim.parse_fault(f).kind) for f in fams}
        for svc in sc.services:
            assert {(svc, k) for k in ("fail", "compensation_fail", "crash", "slow")} <= kinds
        crashes = [f for f in fams if f.startswith("payment:crash")]
        assert crashes == ["payment:crash:recover_after=10", "payment:crash"]      # for a while, for good
        assert (("orchestrator", "crash") in kinds) == (style == "orchestration")
        sent = {e["message"] for e in events if e["kind"] == "message_sent"}
        for kind in ("drop", "duplicate", "delay"):
            assert {sim.parse_fault(f).message for f in fams if f.startswith(f"broker:{kind}")} == sent
    assert happy["faults_tried"] == len(happy["runs"])


def test_a_cell_is_the_run_the_command_line_gives_with_its_fault(happy):
    sc = sim.load_scenario(HAPPY)
    runs = happy["runs"]
    for rec in runs[::37]:                     # a spread of cells across both styles and every kind
        r = sim.run(sc, rec["style"], None, [rec["fault"]]).to_dict(events=False)
        assert rec["outcomes"] == r["outcomes"]
        assert rec["invariants"] == r["invariants"]
        assert rec["metrics"] == {k: r["metrics"][k] for k in rec["metrics"]}


def test_a_cell_from_the_command_line_tells_what_the_matrix_says(happy):
    stuck = next(r for r in happy["runs"] if "stuck" in r["outcomes"].values())
    p = cli("run", HAPPY, "--style", stuck["style"], "--fault", stuck["fault"], "--format", "summary")
    assert p.returncode == 0, p.stderr
    run = json.loads(p.stdout)["runs"][0]
    assert run["faults"] == [stuck["fault"]]
    assert run["outcomes"] == stuck["outcomes"] and run["invariants"] == stuck["invariants"]


def test_the_lessons_own_faults_stay_and_the_cell_adds_one():
    sc = sim.load_scenario(DECLINED)          # payment fails for saga 1 in the file
    p = plan(sc, "orchestration")
    assert p["styles"]["orchestration"]["baseline"]["outcomes"] == {"1": "compensated"}
    style, spec = p["cells"][0]
    assert run_cell(sc, style, p["seed"], spec)["outcomes"] == sim.run(sc, style, None, [spec]).to_dict(
        events=False)["outcomes"]


def test_the_teachers_example_a_lost_payment_completed():
    """Orchestration asks again; choreography waits for ever (the issue's own sentence, found by the model)."""
    res = explore_fn(sim.load_scenario(HAPPY), workers=0)
    entry = next(f for f in res["summary"]["faults"] if f["fault"] == "broker:drop:message=PaymentCompleted")
    chor, orch = entry["styles"]["choreography"]["effects"], entry["styles"]["orchestration"]["effects"]
    assert "waits for ever" in chor and not any("waits" in e for e in orch)
    assert "asks again and ends the same" in orch
    assert entry["differs"] and entry["sentence"] in res["summary"]["differences"]


def test_summary_counts_are_the_runs_counted(happy):
    base = happy["summary"]["baseline"]
    for style, c in happy["summary"]["per_style"].items():
        runs = [r for r in happy["runs"] if r["style"] == style]
        assert c["runs"] == len(runs)
        b = base[style]
        assert c["stuck"] == sum(any(o == "stuck" != b["outcomes"][s] for s, o in r["outcomes"].items())
                                 for r in runs)
        assert c["in_flight"] == sum(any(o == "in_flight" != b["outcomes"][s] for s, o in r["outcomes"].items())
                                     for r in runs)
        assert c["invariant_broken"] == sum(any(b["invariants"][k] and not v for k, v in r["invariants"].items())
                                            for r in runs)
        assert c["outcome_changed"] == sum(r["outcomes"] != base[style]["outcomes"] for r in runs)
        assert c["no_effect"] == sum(r["outcomes"] == base[style]["outcomes"] and r["metrics"] == base[style]["metrics"]
                                     and r["invariants"] == base[style]["invariants"] for r in runs)
    for f in happy["summary"]["faults"]:
        for style, v in f["styles"].items():
            assert sum(v["effects"].values()) == v["moments"] == len(base[style]["moments"])


def test_effect_and_story_say_what_changed():
    base = {"outcomes": {"1": "completed"}, "invariants": dict.fromkeys(sim.scenario.INVARIANTS, True),
            "metrics": {"duration": 5, "messages": 8, "compensations": 0, "retries": 0, "timeouts": 0}}
    rec = {"style": "orchestration", "fault": "payment:crash:at=1.4", "outcomes": {"1": "stuck"},
           "invariants": {**base["invariants"], "money_conserved": False},
           "metrics": {**base["metrics"], "retries": 3}}
    rank, phrase = effect(rec, base)
    assert phrase == "gets stuck (a human must act), breaks money_conserved"
    assert effect(base | {"fault": "x"}, base) == (0, "no effect")
    s = story(rec, base)
    assert s.startswith("payment crashes for good at t=1.4: gets stuck")
    assert "saga 1 stuck (was completed)" in s and "BROKEN: money_conserved" in s and "3 retries" in s and "over after 5" in s


# ---------------------------------------------------------------- executors


def test_same_bytes_in_process_on_a_process_pool_and_a_thread_pool():
    sc = sim.load_scenario(DECLINED)
    here = to_json(explore_fn(sc, workers=0))
    assert to_json(explore_fn(sc, workers=2)) == here
    with cf.ThreadPoolExecutor(3) as pool:            # chunks finish in any order: the runs do not move
        assert to_json(explore_fn(sc, executor=pool, chunks=50)) == here


def test_a_dask_local_cluster_gives_the_process_pools_bytes(monkeypatch):
    distributed = pytest.importorskip("distributed")
    import distributed.client
    sc = sim.load_scenario(DECLINED)
    pool = to_json(explore_fn(sc, "both", workers=2))
    hashed = []                 # a task named by hashing its arguments: the scenario hashed again for each chunk
    monkeypatch.setattr(distributed.client, "tokenize",
                        lambda *a, _t=distributed.client.tokenize, **k: hashed.append(a[0]) or _t(*a, **k))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl, timeout=30) as client:
        seen = []
        dask = to_json(explore_fn(sc, "both", executor=client.get_executor(), chunks=24,
                                  progress=lambda d, t: seen.append((d, t))))
    assert dask == pool
    assert not [f for f in hashed if getattr(f, "__name__", "") == "run_chunk"], "the sweep's tasks were hashed"
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == json.loads(pool)["faults_tried"]


def test_the_workers_tallies_add_up_to_the_summary_made_in_one_piece():
    """Each chunk's tally (made by a worker beside its runs) merged in any order gives the summary that one
    tally of all the runs gives, whatever the cut: guided (the default), one size, one cell a chunk."""
    sc = sim.load_scenario(ROOT / "scenarios" / "refund-stuck.yaml")
    p = plan(sc, "both")
    whole = explore_fn(sc, "both", workers=0, chunks=1)
    one_piece = summarize(p, whole["runs"])
    assert whole["summary"] == one_piece
    bases = {s: p["styles"][s]["baseline"] for s in p["styles"]}
    pairs = [(r, split(r["fault"])[0]) for r in whole["runs"]]
    parts = [tally(pairs[a:b], bases) for a, b in _cuts(len(pairs), 3)]
    assert len(parts) > 3
    assert summarize(p, whole["runs"], parts[::-1]) == one_piece
    assert summarize(p, whole["runs"], [tally(pairs[k:k + 1], bases) for k in range(len(pairs))]) == one_piece
    assert json.dumps(merge(parts), sort_keys=True) == json.dumps(merge(parts[::-1]), sort_keys=True)
    for chunks in (None, 1, 7, 10_000):
        assert to_json(explore_fn(sc, "both", workers=0, chunks=chunks)) == to_json(whole)
    assert summarize(p, whole["runs"], parts[1:]) != one_piece           # a lost chunk would show


@pytest.mark.parametrize("n,workers", [(0, 1), (1, 1), (11, 2), (12, 2), (5346, 1), (5346, 2), (5346, 8), (777, 3)])
def test_guided_cuts_cover_every_cell_once_big_first_small_last(n, workers):
    cuts = _cuts(n, workers)
    if not n:
        assert cuts == []
        return
    assert [a for a, _ in cuts] == [0] + [b for _, b in cuts[:-1]] and cuts[-1][1] == n
    sizes = [b - a for a, b in cuts]
    assert sizes == sorted(sizes, reverse=True) or sizes[:-1] == sorted(sizes[:-1], reverse=True)
    assert all(12 <= s <= 256 for s in sizes[:-1])
    if n > 100 * workers:
        assert sizes[0] == min(256, -(-n // (3 * workers))) and sizes[-1] <= 12 and len(cuts) < n // 12


@pytest.mark.parametrize("chunks", [0, -1, 2.5, True, "4"])
def test_a_bad_chunk_count_is_refused(chunks):
    with pytest.raises(sim.SagaInputError, match="chunks"):
        explore_fn(sim.load_scenario(DECLINED), workers=0, chunks=chunks)


def test_progress_goes_from_zero_to_every_run():
    seen = []
    res = explore_fn(sim.load_scenario(DECLINED), "choreography", workers=0, chunks=5,
                     progress=lambda d, t: seen.append((d, t)))
    total = res["faults_tried"]
    assert seen[0] == (0, total) and seen[-1] == (total, total) and len(seen) == 6
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# ---------------------------------------------------------------- refused


def test_load_lessons_and_bad_arguments_are_refused():
    with pytest.raises(sim.SagaInputError, match="load lesson"):
        plan(sim.load_scenario(ROOT / "scenarios" / "load-mixed.yaml"))
    sc = sim.load_scenario(HAPPY)
    with pytest.raises(sim.SagaInputError, match="style"):
        plan(sc, "sideways")
    with pytest.raises(sim.SagaInputError, match="workers"):
        explore_fn(sc, workers=-1)
    with pytest.raises(sim.SagaInputError, match="pause"):
        plan(sc, pause=0)
    one = scenario(style="orchestration")
    assert list(plan(one)["styles"]) == ["orchestration"]                 # the file's styles by default
    assert list(plan(one, "both")["styles"]) == ["choreography", "orchestration"]   # as `sim run --style both`


def test_a_space_past_the_bound_is_refused(monkeypatch):
    sc = scenario(orders=[{"customer": "alice", "item": "widget", "qty": 1, "price": 1, "at": i} for i in range(40)])
    n = len(plan(sc, "choreography")["cells"])
    monkeypatch.setattr(sys.modules["sim.explore"], "MAX_RUNS", n - 1)     # sim.explore is the function
    with pytest.raises(sim.SagaInputError, match="single-fault space of more than"):
        plan(sc, "choreography")
    assert MAX_RUNS >= 100_000


# ---------------------------------------------------------------- command line


def test_cli_json_csv_and_text():
    p = cli("explore", DECLINED, "--format", "json", "--workers", "2")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert set(d) >= {"scenario", "faults_tried", "runs", "summary"}
    assert d["scenario"] == "payment-declined" and d["faults_tried"] == len(d["runs"])
    assert set(d["runs"][0]) == {"style", "fault", "outcomes", "invariants", "metrics"}
    assert set(d["runs"][0]["metrics"]) >= {"duration", "messages", "compensations", "retries"}
    assert p.stdout.strip() == to_json(explore_fn(sim.load_scenario(DECLINED), workers=0))
    assert "explore [" in p.stderr and f"{d['faults_tried']}/{d['faults_tried']} runs" in p.stderr
    c = cli("explore", DECLINED, "--format", "csv", "--style", "orchestration", "--workers", "1")
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    assert c.returncode == 0 and len(rows) == sum(r["style"] == "orchestration" for r in d["runs"])
    assert rows[0]["fault"] == next(r["fault"] for r in d["runs"] if r["style"] == "orchestration")
    t = cli("explore", DECLINED, "--style", "choreography")
    assert t.returncode == 0 and "choreography: fault x moment" in t.stdout and "orchestration" not in t.stdout


@pytest.mark.parametrize("args, says", [
    (["explore", "scenarios/nope.yaml"], "no such file"),
    (["explore", HAPPY, "--workers", "0"], "--workers"),
    (["explore", HAPPY, "--workers", "two"], "--workers"),
    (["explore", HAPPY, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed"),
    (["explore", HAPPY, "--format", "jsonl"], "--format"),
    (["explore", HAPPY, "--style", "sideways"], "--style"),
    (["explore", HAPPY, "--seed", "x"], "--seed"),
    (["explore", ROOT / "scenarios" / "load-mixed.yaml"], "load lesson"),
    (["explore", HAPPY, "--scheduler", "nonsense://nowhere"], "--scheduler"),
])
def test_cli_refuses_bad_input_with_one_line(args, says):
    p = cli(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], p.stderr


def test_text_marks_every_cell(happy):
    text = to_text(happy, "The happy path")
    for style in ("choreography", "orchestration"):
        base = happy["summary"]["baseline"][style]
        rows = [ln for ln in text.split(f"{style}: fault x moment")[1].splitlines()[1:] if ln.startswith("  ")]
        fams = {split(r["fault"])[0] for r in happy["runs"] if r["style"] == style}
        assert len(rows) >= len(fams)
        assert all(len(ln.split()[-1]) == len(base["moments"]) for ln in rows[:len(fams)])
    assert to_csv(happy).count("\n") == len(happy["runs"]) + 1


def test_cli_on_a_dask_scheduler_prints_the_process_pools_json():
    distributed = pytest.importorskip("distributed")
    pool = cli("explore", DECLINED, "--format", "json", "--workers", "2")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  scheduler_port=0, protocol="tcp") as cl:
        dask = cli("explore", DECLINED, "--format", "json", "--scheduler", cl.scheduler_address)
    assert dask.returncode == 0, dask.stderr
    assert dask.stdout == pool.stdout and pool.stdout


def test_a_cells_spec_is_the_faults_own_command_line_form():
    """The specs are built as text (fast); each must be what the Fault itself writes, and parse back to it."""
    for name in ("pivot-and-retriable", "lost-message", "slow-payment"):
        sc = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        for style, spec in plan(sc)["cells"]:
            fam, t = split(spec)
            f = sim.parse_fault(spec)
            assert f.to_spec() == spec and f.at == t
            assert sim.parse_fault(fam).to_spec() == fam and sim.parse_fault(fam).at == 0
