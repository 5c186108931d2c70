"""Contract 2, the fault language: parse, validate and describe faults.

A fault is a frozen record. It comes from a scenario file (a mapping), from the
command line (``TARGET:KIND[:key=value,...]``) or from the app's live buttons;
all three go through :func:`fault_from_mapping`, the one door. Past the door a
fault travels as this record, to the engine; its spec (``to_spec``) is the text
a link, a browser or a cache key carries, and text coming back is parsed again
where it comes in (:func:`for_scenario`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import FaultError, SagaInputError

SERVICE_KINDS = ("fail", "compensation_fail", "crash", "slow", "crash_before_publish")
BROKER_KINDS = ("drop", "duplicate", "delay")
KINDS = SERVICE_KINDS + BROKER_KINDS

# keys each kind accepts (besides target and kind)
_KEYS = {
    "fail": {"saga", "at", "times", "probability"},
    "compensation_fail": {"saga", "at", "times", "probability"},
    "crash": {"at", "recover_after"},
    "slow": {"saga", "at", "times", "probability", "by"},
    "crash_before_publish": {"saga", "at", "recover_after"},
    "drop": {"saga", "at", "message", "count", "probability"},
    "duplicate": {"saga", "at", "message", "count"},
    "delay": {"saga", "at", "message", "count", "by"},
}
_REQUIRED = {"slow": {"by"}, "delay": {"by"}}
MAX_TIME = 1e9


@dataclass(frozen=True)
class Fault:
    target: str
    kind: str
    saga: int | None = None
    at: float = 0.0
    times: int | None = None
    probability: float | None = None
    recover_after: float | None = None
    by: float | None = None
    message: str | None = None
    count: int | None = None

    def to_spec(self) -> str:
        """The command-line form, which parses back to an equal fault."""
        opts = []
        for f in fields(self):
            if f.name in ("target", "kind"):
                continue
            v = getattr(self, f.name)
            if v is None or (f.name == "at" and v == 0):
                continue
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            opts.append(f"{f.name}={v}")
        spec = f"{self.target}:{self.kind}"
        return spec + (":" + ",".join(opts) if opts else "")

    def describe(self) -> str:
        """One plain sentence for learners."""
        who = self.target
        saga = f" of saga {self.saga}" if self.saga is not None else ""
        when = f" from t={_num(self.at)}" if self.at else ""
        if self.times is not None:
            often = " once" if self.times == 1 else f" {self.times} times"
        elif self.probability is not None:
            often = f" with probability {self.probability:g}"
        else:
            often = ""
        if self.kind == "fail":
            return f"{who} fails its step{saga}{often}{when}"
        if self.kind == "compensation_fail":
            return f"{who} fails its compensation{saga}{often}{when}"
        if self.kind == "crash":
            back = (f", back after {_num(self.recover_after)}" if self.recover_after is not None
                    else ", never comes back")
            return f"{who} crashes at t={_num(self.at)}{back}"
        if self.kind == "crash_before_publish":
            back = (f", back after {_num(self.recover_after)}" if self.recover_after is not None
                    else ", never comes back")
            return f"{who} commits its step{saga}{when}, then crashes before publishing{back}"
        if self.kind == "slow":
            return f"{who} takes {_num(self.by)} longer{saga}{often}{when}"
        msg = self.message or "any message"
        n = self.count or 1
        next_ = f"the next {n} {msg}" if n > 1 else f"the next {msg}"
        if self.kind == "drop":
            return f"broker loses {next_}{saga}{when}"
        if self.kind == "duplicate":
            return f"broker delivers {next_}{saga} twice{when}"
        return f"broker delays {next_}{saga} by {_num(self.by)}{when}"


def _num(x):
    return f"{x:g}" if isinstance(x, float) else str(x)


def _as_number(value, key, where, *, integer=False, minimum=0.0, strict=False, maximum=MAX_TIME):
    if isinstance(value, bool):
        raise FaultError(f"{key} must be a number, got {value!r}", where)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise FaultError(f"{key} must be a number, got {value!r}", where) from None
    if not isinstance(value, (int, float)):
        raise FaultError(f"{key} must be a number, got {value!r}", where)
    try:
        finite = math.isfinite(value)
    except OverflowError:
        raise FaultError(f"{key} must be a number of sensible size (at most {maximum:g})", where) from None
    if not finite:
        raise FaultError(f"{key} must be a number, got {value!r}", where)
    if integer:
        if float(value) != int(value):
            raise FaultError(f"{key} must be a whole number, got {value!r}", where)
        value = int(value)
    if value < minimum or (strict and value == minimum):
        cmp = ">" if strict else ">="
        raise FaultError(f"{key} must be {cmp} {minimum:g}, got {value!r}", where)
    if value > maximum:
        raise FaultError(f"{key} must be at most {maximum:g}, got {value!r}", where)
    return value if integer else float(value)


def fault_from_mapping(data, where="fault") -> Fault:
    """Validate a mapping (from YAML, the CLI or the app) into a Fault."""
    if not isinstance(data, dict):
        raise FaultError(f"must be a mapping like {{target: payment, kind: fail}}, got {data!r}", where)
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise FaultError(f"option names must be text, got {bad[0]!r}", where)
    target = data.get("target")
    kind = data.get("kind")
    if not isinstance(target, str) or not target.strip():
        raise FaultError("needs a target (a service name, 'orchestrator' or 'broker')", where)
    target = target.strip()
    if kind not in KINDS:
        from .pointing import did_you_mean
        raise FaultError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}{did_you_mean(kind, KINDS)}", where)
    if kind in BROKER_KINDS and target != "broker":
        raise FaultError(f"'{kind}' is a broker fault: write broker:{kind}, not {target}:{kind}", where)
    if kind in SERVICE_KINDS and target == "broker":
        raise FaultError(f"the broker cannot '{kind}'; broker faults are drop, duplicate, delay", where)
    if target == "orchestrator" and kind != "crash" and kind != "slow":
        raise FaultError(f"the orchestrator can crash or be slow, not '{kind}'", where)
    allowed = _KEYS[kind]
    extra = sorted(set(data) - allowed - {"target", "kind"})
    if extra:
        raise FaultError(f"'{kind}' does not take this option (it takes {', '.join(sorted(allowed))})",
                         where, extra[0])
    missing = sorted(k for k in _REQUIRED.get(kind, ()) if data.get(k) is None)
    if missing:
        raise FaultError(f"'{kind}' needs {', '.join(k + '=' for k in missing)}", where)
    kw = {}
    for key in allowed & set(data):
        v = data[key]
        if v is None:
            continue
        if key == "saga":
            kw[key] = _as_number(v, key, where, integer=True, minimum=1)
        elif key in ("times", "count"):
            kw[key] = _as_number(v, key, where, integer=True, minimum=1, maximum=1e7)
        elif key == "probability":
            kw[key] = _as_number(v, key, where, maximum=1.0)
        elif key == "message":
            if not isinstance(v, str) or not v.strip().isidentifier():
                raise FaultError(f"message must be a message name like PaymentCompleted, got {v!r}", where)
            kw[key] = v.strip()
        elif key == "by":
            kw[key] = _as_number(v, key, where, strict=True)
        else:  # at, recover_after
            kw[key] = _as_number(v, key, where)
    if "times" in kw and "probability" in kw:
        raise FaultError("give times= or probability=, not both", where)
    return Fault(target=target, kind=kind, **kw)


def parse_fault(spec: str) -> Fault:
    """Parse the command-line form ``TARGET:KIND[:key=value,...]``."""
    where = f"fault {spec!r}"
    if not isinstance(spec, str) or not spec.strip():
        raise FaultError("is empty; write TARGET:KIND[:key=value,...], e.g. payment:fail:saga=1", where)
    parts = spec.strip().split(":", 2)
    if len(parts) < 2:
        raise FaultError("write TARGET:KIND[:key=value,...], e.g. payment:fail:saga=1", where)
    data = {"target": parts[0], "kind": parts[1].strip()}
    if len(parts) == 3 and parts[2].strip():
        for item in parts[2].split(","):
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq or not key or not value.strip():
                raise FaultError(f"option {item!r} must be key=value", where)
            if key in data:
                raise FaultError(f"option {key!r} is given twice", where)
            data[key] = value.strip()
    return fault_from_mapping(data, where)


def check_fault_targets(fault: Fault, services, where="fault") -> None:
    """Refuse a fault whose target is not a service of the scenario."""
    if fault.target in ("broker", "orchestrator"):
        return
    if fault.target not in services:
        from .pointing import did_you_mean
        raise FaultError(
            f"target {fault.target!r} is not a service of this scenario"
            f"{did_you_mean(fault.target, list(services) + ['orchestrator', 'broker'])} "
            f"(services: {', '.join(services)}; also orchestrator, broker)", where)


def for_scenario(faults, services) -> tuple:
    """Faults for one scenario: each a :class:`Fault` (passed as it is) or its command-line spec (parsed
    here, once), and each target checked against ``services``. The first that is wrong raises
    ``FaultError`` (a ``SagaInputError``) naming it."""
    out = []
    for f in faults:
        if isinstance(f, str):
            f, where = parse_fault(f), f"fault {f!r}"
        elif isinstance(f, Fault):
            where = f"fault {f.to_spec()!r}"
        else:
            raise SagaInputError(f"is not a fault: {f!r}", None, "faults")
        check_fault_targets(f, services, where)
        out.append(f)
    return tuple(out)
