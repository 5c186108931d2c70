"""Issue 17: the engine's speed twins kept honest, the way CPython keeps its C accelerators
honest (PEP 399).

Four hot paths are inlined copies of plain ones: ``Orchestrator.write`` folds the states
of a saga that succeeds itself instead of calling ``_apply`` (which is also the
crash-recovery path), ``Participant.receive`` dispatches a message itself instead of
``_enqueue`` then ``_start``, ``_forward_done`` builds its reply instead of calling
``_reply``, and ``Orchestrator._next_step`` its command instead of calling ``_command``.
The reference mode (``sim.run(..., reference=True)``) takes the plain paths. Here every
scenario of the library, in both styles, under a set of fault plans, runs in both modes,
and the two traces (contract 4's JSON, byte for byte) must be the same.
"""
from __future__ import annotations

import io
import re

import pytest

import sim
from helpers import ROOT
from sim.engine import Orchestrator, Participant
from sim.run import write_json

LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))


def plans(sc) -> dict:
    """Fault plans over the scenario's own faults, named; they strike each kind of path: the
    forward step, the compensation, the crash and its recovery (the saga log replayed), the
    broker's copies, random draws."""
    first, second, last = sc.steps[0].name, sc.steps[min(1, len(sc.steps) - 1)].name, sc.steps[-1].name
    return {
        "own": [],
        "fail-and-compensation-fails": [f"{last}:fail", f"{first}:compensation_fail:times=1"],
        "crashes": [f"{second}:crash:at=1,recover_after=3", "orchestrator:crash:at=2,recover_after=2"],
        "broker": ["broker:drop:count=2", "broker:duplicate:count=3", "broker:delay:by=4,count=2"],
        "random": [f"{second}:fail:probability=0.5", "broker:drop:probability=0.1", f"{first}:slow:by=3"],
        "dual-write": [f"{second}:crash_before_publish:recover_after=2"],
    }


def trace_bytes(sc, style, faults, reference) -> str:
    try:
        run = sim.run(sc, style, faults=faults, reference=reference)
    except sim.SagaInputError as e:           # a plan a scenario cannot take is refused alike in both modes
        return f"refused: {e}"
    out = io.StringIO()
    write_json(out, sc.name, [run])
    return out.getvalue()


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_the_reference_mode_gives_the_same_trace_byte_for_byte(path):
    sc = sim.load_scenario(path)
    if sc.saga_count > 200:                  # a load scenario: its first 200 sagas say as much here
        sc = sim.parse_scenario(re.sub(r"(load:\s*\{\s*count:\s*)\d+", r"\g<1>200", path.read_text()), str(path))
        assert sc.saga_count == 200
    for style in sim.STYLES:
        for name, faults in plans(sc).items():
            fast = trace_bytes(sc, style, faults, reference=False)
            plain = trace_bytes(sc, style, faults, reference=True)
            assert fast == plain, f"{path.stem}, {style}, plan {name!r}: the speed twins differ"


def test_the_reference_mode_takes_the_plain_paths(monkeypatch):
    """The reference mode really goes through the plain twins (and the fast mode does not)."""
    calls = {"_apply": 0, "_start": 0, "_reply": 0, "_command": 0}
    for cls, name in ((Orchestrator, "_apply"), (Participant, "_start"), (Participant, "_reply"),
                      (Orchestrator, "_command")):
        real = getattr(cls, name)

        def counted(self, *args, _real=real, _name=name, **kw):
            calls[_name] += 1
            return _real(self, *args, **kw)
        monkeypatch.setattr(cls, name, counted)
    sc = sim.load_scenario(ROOT / "scenarios" / "happy-path.yaml")
    n = len(sc.steps)
    sim.run(sc, "orchestration")               # one saga: only the approval goes the plain way
    assert calls == {"_apply": 0, "_start": 0, "_reply": 1, "_command": 1}
    sim.run(sc, "orchestration", reference=True)
    assert calls == {"_apply": 2 * n + 3, "_start": n + 1, "_reply": n + 2, "_command": n + 2}
