"""Contract 1, the scenario file: one loader that fills defaults, then validates.

``load_scenario(path)`` and ``parse_scenario(text, source)`` return a frozen
:class:`Scenario` or raise :class:`ScenarioError` whose message names the file,
the field and what is wrong. Nothing runs on a bad file.
"""
from __future__ import annotations

import math
import os
import re
import stat
import unicodedata
from dataclasses import astuple, dataclass, field
from pathlib import Path

import yaml

from .errors import FaultError, ScenarioError
from .faults import check_fault_targets, fault_from_mapping
from .pointing import did_you_mean, locate, suggest, yaml_problem
from .services import REGISTRY

MAX_FILE_BYTES = 1_000_000
MAX_SAGAS = 200_000
MAX_HORIZON = 1e7
MAX_STEPS = 12
MAX_QUESTIONS = 20
MAX_QUESTION_CHARS = 500          # a question's ask and explain; a choice has at most 200
BUILTIN_STEPS = tuple(REGISTRY)          # the built-in services (sim/services)
DEFAULT_STEPS = ("order", "payment", "inventory")
STYLES = ("choreography", "orchestration")
STEP_TYPES = ("compensable", "pivot", "retriable")
ISOLATION = ("none", "semantic_lock")
OUTCOMES = ("completed", "compensated", "stuck", "deadlocked", "in_flight")
INVARIANTS = ("money_conserved", "stock_conserved", "sagas_atomic", "orders_consistent")
_NUMBER_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
MAX_SEED = 2**31                 # the largest seed the app's seed box and its links take
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_STEP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")



@dataclass(frozen=True)
class Messages:
    done: str
    failed: str
    undone: str
    undo_failed: str
    command: str
    undo: str


def step_messages(name: str) -> Messages:
    builtin = REGISTRY.get(name)            # a built-in service names its messages (sim/services)
    if builtin is not None:
        return Messages(*builtin.messages)
    cap = "".join(p.capitalize() for p in name.split("_"))
    return Messages(f"{cap}Done", f"{cap}Failed", f"{cap}Undone", f"Undo{cap}Failed",
                    f"Do{cap}", f"Undo{cap}")


@dataclass(frozen=True)
class Step:
    name: str
    index: int
    type: str = "compensable"
    waits_for: tuple = ()          # event names (choreography only)
    messages: Messages = None


@dataclass(frozen=True)
class Order:
    id: int
    customer: str
    items: tuple                   # ((item, qty), ...)
    price: float
    at: float

    @property
    def item(self):
        return self.items[0][0]

    @property
    def qty(self):
        return sum(q for _, q in self.items)


@dataclass(frozen=True)
class Load:
    count: int
    start: float = 0.0
    every: float = 1.0
    qty: int = 1
    price: float = 10.0


@dataclass(frozen=True)
class Timing:
    service_time: float = 1.0
    network_delay: float = 0.2
    timeout: float = 10.0
    max_retries: int = 3
    backoff: float = 1.0
    jitter: float = 0.0
    horizon: float | None = None   # default: last order's start + 500
    capacity: tuple = ()           # ((service, workers), ...)
    service_times: tuple = ()      # ((service, time), ...) overrides of service_time


@dataclass(frozen=True)
class Question:
    """A lesson's own question for the classroom (the optional ``questions:`` field)."""
    ask: str
    choices: tuple
    answer: str
    explain: str = ""
    at: float | None = None        # when to ask it (simulation time); None: any time


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple
    customers: tuple               # ((name, balance), ...)
    stock: tuple                   # ((item, units), ...)
    orders: tuple                  # listed orders
    load: Load | None = None
    title: str = ""
    summary: str = ""
    learning_goal: str = ""
    watch: str = ""
    source: str = ""
    style: str = "both"
    seed: int = 1
    timing: Timing = Timing()
    idempotent: bool = True
    isolation: str = "none"
    outbox: bool = False           # services publish through a transactional outbox (issue 18)
    faults: tuple = ()
    lesson: int | None = None      # place in the curriculum (the library is listed in this order)
    questions: tuple = ()          # Question, ...: the lesson's own questions for a class
    expect: dict = field(default=None, compare=False, hash=False)
    path: str = field(default="", compare=False, hash=False)
    warnings: tuple = field(default=(), compare=False, hash=False)   # (field, text): accepted, but likely a typo

    @property
    def styles(self):
        return STYLES if self.style == "both" else (self.style,)

    @property
    def services(self):
        return tuple(s.name for s in self.steps)

    @property
    def saga_count(self):
        return len(self.orders) + (self.load.count if self.load else 0)

    def all_orders(self):
        """Listed orders, then the generated ones of ``load`` (ids after the listed)."""
        yield from self.orders
        if self.load:
            customers = [c for c, _ in self.customers]
            items = [i for i, _ in self.stock]
            first = len(self.orders) + 1
            ld = self.load
            for k in range(ld.count):
                yield Order(first + k, customers[k % len(customers)],
                            ((items[k % len(items)], ld.qty),), ld.price, ld.start + k * ld.every)

    @property
    def horizon(self) -> float:
        if self.timing.horizon is not None:
            return self.timing.horizon
        last = max((o.at for o in self.orders), default=0.0)
        if self.load:
            last = max(last, self.load.start + (self.load.count - 1) * self.load.every)
        return last + 500.0

    def service_time(self, service):
        for s, t in self.timing.service_times:
            if s == service:
                return t
        return self.timing.service_time

    def capacity(self, service):
        for s, c in self.timing.capacity:
            if s == service:
                return c
        return None

    @property
    def publishers(self) -> dict:
        """Which step publishes each success event (``PaymentCompleted`` -> ``payment``)."""
        return {s.messages.done: s.name for s in self.steps}

    def waits_graph(self):
        """Choreography's "who waits for whom": an edge from each step to the publisher
        of every event in its ``waits_for`` (a networkx DiGraph of step names)."""
        from . import graphs as nx   # networkx's API; networkx itself only for a cycle
        g = nx.DiGraph()
        publisher = self.publishers
        for s in self.steps:
            g.add_node(s.name)
            g.add_edges_from((s.name, publisher[ev]) for ev in s.waits_for)
        return g

    def subscription_cycle(self):
        """One cycle among choreography subscriptions ("who waits for whom") as a list of
        steps starting at the latest one (as the run does), or None.

        One is found, never all listed: a dozen steps with dense ``waits_for`` have
        millions of cycles, and one is enough to know that choreography deadlocks.
        """
        from . import graphs as nx   # networkx's API; networkx itself only when there is a cycle
        try:
            c = [u for u, _ in nx.find_cycle(self.waits_graph())]
        except nx.NetworkXNoCycle:
            return None
        index = {s.name: s.index for s in self.steps}
        k = c.index(max(c, key=index.get))
        return c[k:] + c[:k]

    def subscription_cycles(self):
        """``[subscription_cycle()]``, or ``[]`` when there is none (kept for callers that list)."""
        c = self.subscription_cycle()
        return [c] if c else []


# ---------------------------------------------------------------- loading


class _NoRepeatedKeys:
    """A SafeLoader's constructor that refuses repeated keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:
                raise ScenarioError(f"line {key_node.start_mark.line + 1}: a mapping key must be text "
                                    "or a number") from None
            if repeated:
                raise ScenarioError(f"line {key_node.start_mark.line + 1}: {key!r} is given twice "
                                    "(the second would silently win)")
        return super().construct_mapping(node, deep)


class _NoAliasLoader(_NoRepeatedKeys, yaml.SafeLoader):
    """safe_load that refuses anchors and aliases (no 'billion laughs') and repeated keys."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ScenarioError(f"line {event.start_mark.line + 1}: YAML aliases (*name) are not allowed")
        return super().compose_node(parent, index)


_FastLoader = type("_FastLoader", (_NoRepeatedKeys, yaml.CSafeLoader), {}) if yaml.__with_libyaml__ else None


def _load_yaml(text):
    """The document, read by libyaml when it is there (a 1 MB file in a second, not half a minute).

    libyaml composes an alias as the very node it names, so a node met twice while walking
    the document is an alias: refused before anything is built from it (no 'billion laughs').
    """
    if _FastLoader is None:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        seen, todo = set(), [node]
        while todo:
            n = todo.pop()
            if id(n) in seen:
                raise ScenarioError(f"line {n.start_mark.line + 1}: YAML aliases (*name) are not allowed")
            seen.add(id(n))
            if isinstance(n, yaml.MappingNode):
                for k, v in n.value:
                    todo.append(k)
                    todo.append(v)
            elif isinstance(n, yaml.SequenceNode):
                todo.extend(n.value)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_input_file(path, limit=MAX_FILE_BYTES, what="a scenario file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or a ScenarioError.

    Only a regular file is read (a folder, ``/dev/zero``, a FIFO or a terminal is refused
    without reading: opened non-blocking, checked with ``fstat`` on the open file), and the
    size is counted while reading, never trusted from ``stat`` (``/proc`` files say 0).
    """
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ScenarioError("no such file", source) from None
    except IsADirectoryError:
        raise ScenarioError("is a folder, not " + what, source) from None
    except OSError as e:
        raise ScenarioError(f"cannot read: {e.strerror}", source) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ScenarioError("is a folder, not " + what, source)
        if not stat.S_ISREG(st.st_mode):
            raise ScenarioError(f"is not a regular file (a device, pipe or socket); {what} must be one", source)
        chunks, size = [], 0
        while size <= limit:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            except OSError as e:
                raise ScenarioError(f"cannot read: {e.strerror}", source) from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise ScenarioError(f"is more than {limit} bytes; {what} may have at most {limit}", source)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_scenario(path) -> Scenario:
    source = str(path)
    raw = read_input_file(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("is not UTF-8 text", source) from None
    return parse_scenario(text, source)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise ScenarioError(f"is larger than {MAX_FILE_BYTES} bytes", source)
    try:
        data = _load_yaml(text)
    except ScenarioError as e:
        err = ScenarioError(e.reason, source)
        m = re.match(r"line (\d+)", e.reason)
        err.line = int(m.group(1)) if m else None
        raise err from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if "nesting depth" in problem:
            raise ScenarioError("is nested too deeply", source) from None
        if mark is None:
            raise ScenarioError(f"not valid YAML ({problem})", source) from None
        line, column, words = yaml_problem(text, mark.line + 1, mark.column + 1, problem)
        err = ScenarioError(f"line {line}: {words} (not valid YAML)", source)
        err.line, err.column = line, column
        raise err from None
    except RecursionError:
        raise ScenarioError("is nested too deeply", source) from None
    except UnicodeEncodeError as e:
        raise ScenarioError(f"is not valid Unicode text (character {e.object[e.start]!r} at position "
                            f"{e.start})", source) from None
    try:
        return scenario_from_mapping(data, source)
    except ScenarioError as e:
        where = locate(text, e.field)
        if where:
            e.line, e.column = where
        raise


def scenario_from_mapping(data, source="<scenario>") -> Scenario:
    v = _Validator(source)
    try:
        return v.scenario(data)
    except FaultError as e:
        raise ScenarioError(e.reason, source, f"{e.source}.{e.field}" if e.field else e.source) from None


class _Validator:
    def __init__(self, source):
        self.source = source

    def fail(self, fld, msg):
        raise ScenarioError(msg, self.source, fld)

    # -- scalar helpers
    def number(self, value, fld, *, minimum=0.0, strict=False, integer=False, maximum=MAX_HORIZON):
        if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
            value = float(value)        # 1e7: YAML 1.1 reads it as text (it wants 1.0e+7)
            if value.is_integer() and abs(value) < 2**63:
                value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(fld, f"must be a number, got {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:
            finite = False
        if not finite:
            self.fail(fld, f"must be a finite number of sensible size (at most {_num(maximum)})")
        if integer and float(value) != int(value):
            self.fail(fld, f"must be a whole number, got {value!r}")
        if value < minimum or (strict and value == minimum):
            self.fail(fld, f"must be {'>' if strict else '>='} {_num(minimum)}, got {value!r}")
        if value > maximum:
            self.fail(fld, f"must be at most {_num(maximum)}, got {value!r}")
        return int(value) if integer else float(value)

    def text(self, value, fld, default=""):
        if value is None:
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.fail(fld, f"must be text, got {type(value).__name__}")
        return self.printable(str(value).strip(), fld, prose=True)

    def printable(self, text, fld, prose=False):
        """Refuse control characters (a terminal escape sequence, a carriage return) in text that is
        printed: the text format writes it to a terminal. Prose keeps line breaks and tabs."""
        for c in text:
            if unicodedata.category(c) in ("Cc", "Cf") and not (prose and c in "\n\t"):
                self.fail(fld, f"contains the control character {c!r}; text may not")
        return text

    def mapping(self, value, fld, required=False):
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.fail(fld, f"must be a mapping, got {_kind(value)}")
        return value

    def known_keys(self, data, allowed, fld):
        extra = [k for k in data if k not in allowed]
        if extra:
            where = f"{fld}." if fld else ""
            key = extra[0] if isinstance(extra[0], str) and extra[0].strip() else repr(extra[0])
            self.fail(f"{where}{key}", f"unknown field{did_you_mean(extra[0], allowed)} "
                                       f"(known: {', '.join(sorted(allowed))})")

    # -- the whole file
    def scenario(self, data) -> Scenario:
        if data is None:
            self.fail(None, "is empty; a scenario needs at least name, customers, stock and orders")
        if not isinstance(data, dict):
            self.fail(None, f"must be a mapping of fields (name, steps, orders, ...), got {_kind(data)}")
        allowed = {"name", "lesson", "title", "summary", "learning_goal", "watch", "source", "style", "seed",
                   "steps", "customers", "stock", "orders", "load", "timing", "idempotent",
                   "isolation", "outbox", "faults", "expect", "questions"}
        self.known_keys(data, allowed, "")
        for req in ("name", "customers", "stock"):
            if req not in data:
                self.fail(req, "is required")
        name = self.text(data["name"], "name")
        if not _NAME.match(name):
            self.fail("name", f"must be kebab-case (like payment-declined), got {name!r}")
        style = data.get("style", "both")
        if style not in STYLES + ("both",):
            self.fail("style", f"must be choreography, orchestration or both, got {style!r}")
        seed = data.get("seed", 1)
        seed = self.number(seed, "seed", integer=True, maximum=2**63)
        customers = self.named_amounts(data["customers"], "customers", "balance")
        stock = self.named_amounts(data["stock"], "stock", None)
        steps = self.steps(data.get("steps", list(DEFAULT_STEPS)))
        timing = self.timing(data.get("timing"), [s.name for s in steps])
        isolation = data.get("isolation", "none")
        if isolation not in ISOLATION:
            self.fail("isolation", f"must be none or semantic_lock, got {isolation!r}")
        idempotent = data.get("idempotent", True)
        if not isinstance(idempotent, bool):
            self.fail("idempotent", f"must be true or false, got {idempotent!r}")
        outbox = data.get("outbox", False)
        if not isinstance(outbox, bool):
            self.fail("outbox", f"must be true or false, got {outbox!r}")
        cust_names = [c for c, _ in customers]
        items = [i for i, _ in stock]
        orders = self.orders(data.get("orders"), cust_names, items)
        load = self.load(data.get("load"), cust_names, items)
        if not orders and load is None:
            self.fail("orders", "a scenario needs orders (a list) or load (generated orders)")
        count = len(orders) + (load.count if load else 0)
        if count > MAX_SAGAS:
            self.fail("load.count", f"{count} sagas is more than the limit of {MAX_SAGAS}")
        faults = self.faults(data.get("faults"), [s.name for s in steps])
        sc = Scenario(
            name=name, steps=steps, customers=customers, stock=stock, orders=orders, load=load,
            title=self.text(data.get("title"), "title") or name.replace("-", " ").capitalize(),
            summary=self.text(data.get("summary"), "summary"),
            learning_goal=self.text(data.get("learning_goal"), "learning_goal"),
            watch=self.text(data.get("watch"), "watch"),
            source=self.text(data.get("source"), "source"),
            lesson=None if data.get("lesson") is None else self.number(
                data["lesson"], "lesson", integer=True, minimum=1, maximum=10_000),
            style=style, seed=seed, timing=timing, idempotent=idempotent, isolation=isolation,
            outbox=outbox, faults=faults, questions=self.questions(data.get("questions")), path=self.source)
        if sc.horizon > MAX_HORIZON:
            self.fail("timing.horizon", f"the run would last {_num(sc.horizon)}; at most {_num(MAX_HORIZON)}")
        expect = self.expect(data.get("expect"), sc)
        object.__setattr__(sc, "expect", expect)
        object.__setattr__(sc, "warnings", tuple(self.typos(sc)))
        return sc

    def typos(self, sc):
        """Warnings for names the file may accept but probably did not mean (did you mean)."""
        for s in sc.steps:
            if s.name in BUILTIN_STEPS:
                continue
            near = suggest(s.name, BUILTIN_STEPS)
            if near:
                yield (f"steps[{s.index}]", f"{s.name!r} is not a built-in step, so it becomes a custom step that "
                       f"moves no money or stock and fails only by fault; did you mean {near!r}?")
        known = {"ApproveOrder", "OrderApproved"}
        for s in sc.steps:
            known.update(astuple(s.messages))
        for i, f in enumerate(sc.faults):
            if f.message is not None and f.message not in known:
                near = suggest(f.message, known)
                hint = f"; did you mean {near!r}?" if near else f" (messages: {', '.join(sorted(known))})"
                yield (f"faults[{i}].message", f"no message of this scenario is called {f.message!r}, so this "
                       f"fault never strikes{hint}")

    def named_amounts(self, value, fld, key):
        value = self.mapping(value, fld, required=True)
        if not value:
            self.fail(fld, "must name at least one entry")
        out = []
        for name, amount in value.items():
            if not isinstance(name, str) or not name.strip():
                self.fail(fld, f"names must be text, got {name!r}")
            self.printable(name, f"{fld}.{name!r}")
            sub = f"{fld}.{name}"
            if key is not None:
                if isinstance(amount, dict):
                    self.known_keys(amount, {key}, sub)
                    if key not in amount:
                        self.fail(sub, f"needs {key}")
                    amount = amount[key]
                    sub = f"{sub}.{key}"
                out.append((name, self.number(amount, sub, maximum=1e12)))
            else:
                out.append((name, self.number(amount, sub, integer=True, maximum=1e12)))
        return tuple(out)

    def steps(self, value):
        if not isinstance(value, list) or not value:
            self.fail("steps", f"must be a non-empty list of step names, got {_kind(value)}")
        if len(value) > MAX_STEPS:
            self.fail("steps", f"has {len(value)} steps; at most {MAX_STEPS}")
        raw = []
        for i, s in enumerate(value):
            fld = f"steps[{i}]"
            if isinstance(s, str):
                s = {"name": s}
            if not isinstance(s, dict):
                self.fail(fld, f"must be a step name or {{name: ..., waits_for: [...]}}, got {_kind(s)}")
            self.known_keys(s, {"name", "waits_for", "type"}, fld)
            name = s.get("name")
            if not isinstance(name, str) or not _STEP_NAME.match(name):
                self.fail(f"{fld}.name", f"must be a lower-case name like shipping, got {name!r}")
            if name in (r[0] for r in raw):
                self.fail(f"{fld}.name", f"step {name!r} appears twice")
            if name in ("broker", "orchestrator", "customer"):
                self.fail(f"{fld}.name", f"{name!r} is reserved; pick another step name")
            typ = s.get("type", "compensable")
            if typ not in STEP_TYPES:
                self.fail(f"{fld}.type", f"must be compensable, pivot or retriable, got {typ!r}")
            waits = s.get("waits_for")
            raw.append((name, typ, waits, fld))
        self.unique_messages(raw)
        if raw[0][0] != "order":
            self.fail("steps[0]", f"the first step must be order (the customer's request reaches the order "
                                  f"service first), got {raw[0][0]!r}")
        done_events = {step_messages(n).done: n for n, *_ in raw}
        steps = []
        seen_pivot = seen_retriable = False
        for i, (name, typ, waits, fld) in enumerate(raw):
            if typ == "compensable" and (seen_pivot or seen_retriable):
                self.fail(f"{fld}.type", f"step {name!r} comes after a pivot or retriable step, so it must be "
                                         "retriable (after the point of no return the saga only goes forward)")
            if typ == "pivot":
                if seen_pivot:
                    self.fail(f"{fld}.type", "a saga has at most one pivot step")
                if seen_retriable:
                    self.fail(f"{fld}.type", "the pivot must come before the retriable steps")
                seen_pivot = True
            if typ == "retriable":
                if i == 0:
                    self.fail(f"{fld}.type", "order cannot be retriable: it is where the saga begins")
                seen_retriable = True
            if waits is None:
                waits = () if i == 0 else (step_messages(raw[i - 1][0]).done,)
            else:
                if i == 0:
                    self.fail(f"{fld}.waits_for", "order starts from the customer's request and waits for nothing")
                if isinstance(waits, str):
                    waits = [waits]
                if not isinstance(waits, list) or not waits:
                    self.fail(f"{fld}.waits_for", f"must be a non-empty list of event names, got {_kind(waits)}")
                for ev in waits:
                    if not isinstance(ev, str):
                        self.fail(f"{fld}.waits_for", f"must list event names (text), got {ev!r}")
                    if ev not in done_events:
                        self.fail(f"{fld}.waits_for", f"{ev!r} is not an event any step publishes"
                                                      f"{did_you_mean(ev, done_events)} "
                                                      f"(events: {', '.join(done_events)})")
                    if done_events[ev] == name:
                        self.fail(f"{fld}.waits_for", f"step {name!r} cannot wait for its own event {ev!r}")
                waits = tuple(dict.fromkeys(waits))
            steps.append(Step(name, i, typ, tuple(waits), step_messages(name)))
        return tuple(steps)

    def unique_messages(self, raw):
        """Every message name belongs to one step: ``x1`` and ``x_1`` (both ``X1Done``), or a
        custom step ``refund`` (``RefundFailed``, payment's undo-failed reply), would be confused."""
        owner = {"ApproveOrder": ("order", "steps[0]"), "OrderApproved": ("order", "steps[0]")}
        for name, _typ, _waits, fld in raw:
            for msg in dict.fromkeys(astuple(step_messages(name))):
                first = owner.get(msg)
                if first is not None and first[0] != name:
                    self.fail(f"{fld}.name", f"step {name!r} would use the message name {msg!r}, which step "
                                             f"{first[0]!r} ({first[1]}) already uses; rename one of the two steps")
                owner[msg] = (name, fld)

    def timing(self, value, services):
        value = self.mapping(value, "timing")
        allowed = {"service_time", "network_delay", "timeout", "max_retries", "backoff", "jitter",
                   "horizon", "capacity"}
        self.known_keys(value, allowed, "timing")
        kw = {}
        st = value.get("service_time")
        if isinstance(st, dict):
            overrides = []
            for svc, t in st.items():
                if svc == "default":
                    kw["service_time"] = self.number(t, "timing.service_time.default", maximum=1e6)
                    continue
                if svc not in services and svc != "orchestrator":
                    self.fail(f"timing.service_time.{svc}", f"is not a step of this scenario"
                                                            f"{did_you_mean(svc, services)} ({', '.join(services)})")
                overrides.append((svc, self.number(t, f"timing.service_time.{svc}", maximum=1e6)))
            kw["service_times"] = tuple(overrides)
        elif st is not None:
            kw["service_time"] = self.number(st, "timing.service_time", maximum=1e6)
        for key, lo, strict in (("network_delay", 0, False), ("timeout", 0, True), ("backoff", 0, False)):
            if key in value:
                kw[key] = self.number(value[key], f"timing.{key}", minimum=lo, strict=strict, maximum=1e6)
        if "jitter" in value:
            kw["jitter"] = self.number(value["jitter"], "timing.jitter", maximum=0.9)
        if "max_retries" in value:
            kw["max_retries"] = self.number(value["max_retries"], "timing.max_retries", integer=True, maximum=100)
        if value.get("horizon") is not None:
            kw["horizon"] = self.number(value["horizon"], "timing.horizon", strict=True)
        cap = self.mapping(value.get("capacity"), "timing.capacity")
        caps = []
        for svc, n in cap.items():
            if svc not in services:
                self.fail(f"timing.capacity.{svc}", f"is not a step of this scenario"
                                                    f"{did_you_mean(svc, services)} ({', '.join(services)})")
            caps.append((svc, self.number(n, f"timing.capacity.{svc}", integer=True, minimum=1, maximum=1e6)))
        kw["capacity"] = tuple(caps)
        return Timing(**kw)

    def orders(self, value, customers, items):
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("orders", f"must be a list of orders, got {_kind(value)}")
        out = []
        for i, o in enumerate(value):
            fld = f"orders[{i}]"
            if not isinstance(o, dict):
                self.fail(fld, f"must be a mapping {{customer, item, qty, price, at}}, got {_kind(o)}")
            self.known_keys(o, {"customer", "item", "qty", "price", "at", "items"}, fld)
            cust = o.get("customer")
            if cust not in customers:
                self.fail(f"{fld}.customer", f"{cust!r} is not in customers{did_you_mean(cust, customers)} "
                                             f"({', '.join(customers)})")
            if "items" in o:
                if "item" in o or "qty" in o:
                    self.fail(fld, "give either item and qty, or items, not both")
                its = self.mapping(o["items"], f"{fld}.items", required=True)
                if not its:
                    self.fail(f"{fld}.items", "must name at least one item")
                lines = []
                for it, q in its.items():
                    if it not in items:
                        self.fail(f"{fld}.items.{it}", f"is not in stock{did_you_mean(it, items)} "
                                                       f"({', '.join(map(str, items))})")
                    lines.append((it, self.number(q, f"{fld}.items.{it}", integer=True, minimum=1, maximum=1e9)))
                lines = tuple(lines)
            else:
                it = o.get("item", items[0] if len(items) == 1 else None)
                if it not in items:
                    self.fail(f"{fld}.item", f"{it!r} is not in stock{did_you_mean(it, items)} "
                                             f"({', '.join(map(str, items))})")
                qty = self.number(o.get("qty", 1), f"{fld}.qty", integer=True, minimum=1, maximum=1e9)
                lines = ((it, qty),)
            price = self.number(o.get("price", 10), f"{fld}.price", maximum=1e12)
            at = self.number(o.get("at", 0), f"{fld}.at")
            out.append(Order(i + 1, cust, lines, price, at))
        return tuple(out)

    def load(self, value, customers, items):
        if value is None:
            return None
        value = self.mapping(value, "load")
        self.known_keys(value, {"count", "start", "every", "qty", "price"}, "load")
        if "count" not in value:
            self.fail("load.count", "is required (how many orders to generate)")
        return Load(
            count=self.number(value["count"], "load.count", integer=True, minimum=1, maximum=MAX_SAGAS),
            start=self.number(value.get("start", 0), "load.start"),
            every=self.number(value.get("every", 1.0), "load.every", maximum=1e6),
            qty=self.number(value.get("qty", 1), "load.qty", integer=True, minimum=1, maximum=1e9),
            price=self.number(value.get("price", 10), "load.price", maximum=1e12))

    def faults(self, value, services):
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("faults", f"must be a list of faults, got {_kind(value)}")
        out = []
        for i, f in enumerate(value):
            fault = fault_from_mapping(f, f"faults[{i}]")
            check_fault_targets(fault, services, f"faults[{i}]")
            out.append(fault)
        return tuple(out)

    def questions(self, value):
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("questions", f"must be a list of {{ask, choices, answer}}, got {_kind(value)}")
        if len(value) > MAX_QUESTIONS:
            self.fail("questions", f"has {len(value)} questions; at most {MAX_QUESTIONS}")
        out = []
        for i, q in enumerate(value):
            fld = f"questions[{i}]"
            if not isinstance(q, dict):
                self.fail(fld, f"must be a mapping {{ask, choices, answer, explain, at}}, got {_kind(q)}")
            self.known_keys(q, {"ask", "choices", "answer", "explain", "at"}, fld)
            for req in ("ask", "choices", "answer"):
                if req not in q:
                    self.fail(f"{fld}.{req}", "is required")
            ask = self.text(q["ask"], f"{fld}.ask")
            if not ask or len(ask) > MAX_QUESTION_CHARS:
                self.fail(f"{fld}.ask", f"must be a question of 1 to {MAX_QUESTION_CHARS} characters")
            choices = q["choices"]
            if not isinstance(choices, list) or not 2 <= len(choices) <= 5:
                self.fail(f"{fld}.choices", f"must be a list of 2 to 5 choices, got {_kind(choices)}")
            choices = tuple(self.text(c, f"{fld}.choices[{k}]") for k, c in enumerate(choices))
            if not all(0 < len(c) <= 200 for c in choices):
                self.fail(f"{fld}.choices", "each choice must be text of 1 to 200 characters")
            if len(set(choices)) != len(choices):
                self.fail(f"{fld}.choices", "lists the same choice twice")
            answer = self.text(q["answer"], f"{fld}.answer")
            if answer not in choices:
                self.fail(f"{fld}.answer", f"{answer!r} is not one of the choices")
            explain = self.text(q.get("explain"), f"{fld}.explain")
            if len(explain) > MAX_QUESTION_CHARS:
                self.fail(f"{fld}.explain", f"has {len(explain)} characters; at most {MAX_QUESTION_CHARS}")
            at = None if q.get("at") is None else self.number(q["at"], f"{fld}.at")
            out.append(Question(ask, choices, answer, explain, at))
        return tuple(out)

    def expect(self, value, sc):
        value = self.mapping(value, "expect")
        for style, exp in value.items():
            fld = f"expect.{style}"
            if style not in STYLES:
                self.fail(fld, "must be choreography or orchestration")
            exp = self.mapping(exp, fld)
            self.known_keys(exp, {"outcomes", "invariants", "final_state", "metrics"}, fld)
            for saga, outcome in self.mapping(exp.get("outcomes"), f"{fld}.outcomes").items():
                if not isinstance(saga, int) and not (isinstance(saga, str) and saga.isdigit()):
                    if saga != "all":
                        self.fail(f"{fld}.outcomes.{saga}", "keys are saga ids (1, 2, ...) or all")
                if outcome not in OUTCOMES:
                    self.fail(f"{fld}.outcomes.{saga}", f"must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
            for inv, val in self.mapping(exp.get("invariants"), f"{fld}.invariants").items():
                if inv not in INVARIANTS:
                    self.fail(f"{fld}.invariants.{inv}", f"unknown invariant (known: {', '.join(INVARIANTS)})")
                if not isinstance(val, bool):
                    self.fail(f"{fld}.invariants.{inv}", f"must be true or false, got {val!r}")
        return value


def _num(x) -> str:
    """A limit as people write it: 10000000, not 1e+07."""
    return f"{int(x)}" if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _kind(value):
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"the text {value!r}"}.get(type(value), repr(value))
