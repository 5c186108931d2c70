"""A lesson's own promise, checked (issue 18): run the scenario and compare its ``expect:``.

``check_expect(scenario)`` runs each style the file's ``expect:`` names (the file's
seed and faults) and returns one :class:`Mismatch` per place where the run
differs: a saga's outcome, an invariant, a ``final_state`` or ``metrics`` key.
Each says the style, what (``saga 1``, ``metrics.timeouts``), what was expected
and what happened; ``str(m)`` is the one line ``python -m sim check`` prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import RunLimitError
from .pointing import did_you_mean


@dataclass(frozen=True)
class Mismatch:
    style: str
    what: str           # "saga 1", "invariants.sagas_atomic", "metrics.timeouts", "final_state.balances.mia"
    expected: object
    got: object
    source: str = ""

    def __str__(self):
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.style}: {self.what}: expected {_show(self.expected)}, got {_show(self.got)}"


def _show(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def check_expect(scenario, source=None) -> list:
    """Every mismatch between the scenario's ``expect:`` and its runs (empty: it teaches what it says)."""
    from .run import run
    source = scenario.path or scenario.name if source is None else source
    out = []
    for style, exp in (scenario.expect or {}).items():
        if not isinstance(exp, dict) or not exp:
            continue
        try:
            r = run(scenario, style, keep_events=False).to_dict(events=False)
        except RunLimitError as e:
            out.append(Mismatch(style, "run", "a run within the limits", str(e), source))
            continue
        out.extend(_outcomes(exp.get("outcomes") or {}, r["outcomes"], style, source))
        for part in ("invariants", "final_state", "metrics"):
            _compare(exp.get(part) or {}, r.get(part) or {}, part, style, source, out)
    return out


def _outcomes(expected, outcomes, style, source):
    listed = {str(k) for k in expected if k != "all"}
    out = []
    for key, want in expected.items():
        if key == "all":
            wrong = {s: o for s, o in outcomes.items() if s not in listed and o != want}
            if wrong:
                first = next(iter(wrong))
                out.append(Mismatch(style, f"all sagas ({len(wrong)} differ, first saga {first})", want,
                                    wrong[first], source))
        else:
            got = outcomes.get(str(key), "no such saga")
            if got != want:
                out.append(Mismatch(style, f"saga {key}", want, got, source))
    return out


def _compare(expected, actual, path, style, source, out):
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            out.append(Mismatch(style, path, expected, actual, source))
            return
        for key, want in expected.items():
            k = str(key) if str(key) in actual else key
            if k not in actual:
                out.append(Mismatch(style, f"{path}.{key}", want,
                                    f"nothing (the run has no {key!r}{did_you_mean(str(key), map(str, actual))})",
                                    source))
                continue
            _compare(want, actual[k], f"{path}.{key}", style, source, out)
    elif isinstance(expected, bool) or isinstance(actual, bool):
        if expected is not actual:
            out.append(Mismatch(style, path, expected, actual, source))
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if not math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-6):
            out.append(Mismatch(style, path, expected, actual, source))
    elif expected != actual:
        out.append(Mismatch(style, path, expected, actual, source))
