"""The command line (contract 4): formats, and bad input refused with one clear line."""
import json
import subprocess
import sys

import pytest

from helpers import ROOT

HAPPY = str(ROOT / "scenarios" / "happy-path.yaml")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def test_json_has_the_contract_shape():
    p = cli("run", HAPPY, "--format", "json", "--fault", "payment:fail")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["scenario"] == "happy-path"
    assert [r["style"] for r in d["runs"]] == ["choreography", "orchestration"]
    for r in d["runs"]:
        assert r["seed"] == 1 and r["faults"] == ["payment:fail"]
        assert r["outcomes"] == {"1": "compensated"}
        assert set(r["final_state"]) >= {"balances", "stock", "orders"}
        assert r["final_state"]["orders"] == {"1": "REJECTED"}
        assert set(r["metrics"]) >= {"messages", "duration", "compensations", "retries"}
        assert r["events"][0]["seq"] == 0


def test_summary_is_json_without_events_and_jsonl_is_one_event_per_line():
    s = json.loads(cli("run", HAPPY, "--format", "summary", "--style", "orchestration").stdout)
    assert "events" not in s["runs"][0] and s["runs"][0]["outcomes"] == {"1": "completed"}
    lines = cli("run", HAPPY, "--format", "jsonl", "--style", "choreography").stdout.splitlines()
    evs = [json.loads(x) for x in lines]
    assert [e["seq"] for e in evs] == list(range(len(evs)))
    assert all(e["style"] == "choreography" for e in evs)


def test_text_narrates_and_mermaid_draws():
    text = cli("run", HAPPY, "--fault", "inventory:fail").stdout
    assert "payment refunds alice 30: compensation of step 2, because inventory" in text
    mm = cli("run", HAPPY, "--format", "mermaid", "--style", "orchestration").stdout
    assert mm.startswith("sequenceDiagram") and "orchestrator->>payment: ChargePayment (saga 1)" in mm


def test_two_runs_print_identical_output():
    a = cli("run", HAPPY, "--format", "json", "--seed", "5")
    b = cli("run", HAPPY, "--format", "json", "--seed", "5")
    assert a.stdout == b.stdout and json.loads(a.stdout)["runs"][0]["seed"] == 5


def test_list_and_check():
    p = cli("list")
    assert p.returncode == 0 and "happy-path" in p.stdout
    p = cli("check", *sorted(str(f) for f in (ROOT / "scenarios").glob("*.yaml")))
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("args, words", [
    (("run", "nope.yaml"), "nope.yaml: no such file"),
    (("run", HAPPY, "--format", "xml"), "--format: must be one of"),
    (("run", HAPPY, "--style", "chaos"), "--style: must be"),
    (("run", HAPPY, "--seed", "x"), "--seed: must be a whole number"),
    (("run", HAPPY, "--fault", "payment:explode"), "kind must be one of"),
    (("run", HAPPY, "--fault", "shipping:fail"), "not a service of this scenario"),
    (("run",), "the following arguments are required"),
    (("frobnicate",), "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, words):
    p = cli(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert words in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("text, words", [
    ("name: x\ncustomers: {a: 1\n", "not valid YAML"),
    ("name: x\ncustomers: {a: 1}\nstock: {w: 1}\norders: [{customer: zed}]\n", "orders[0].customer"),
    ("name: x\ncustomers: {a: 1}\nstock: {w: 1}\norders: [{customer: a}]\ntiming: {timeout: -1}\n",
     "timing.timeout: must be > 0"),
    ("name: Bad Name\ncustomers: {a: 1}\nstock: {w: 1}\norders: [{customer: a}]\n", "name: must be kebab-case"),
    ("name: x\ncustomers: {a: 1}\nstock: {w: 1}\norders: [{customer: a}]\nfaults: [{target: payment, kind: boom}]\n",
     "faults[0]: kind must be one of"),
    ("- just\n- a list\n", "must be a mapping of fields"),
])
def test_bad_scenario_file_names_file_and_field(tmp_path, text, words):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    p = cli("run", str(f))
    assert p.returncode == 2
    line = p.stderr.strip()
    assert "\n" not in line and str(f) in line and words in line, line
