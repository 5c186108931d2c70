"""Fast JSON-lines export of a trace (``--format jsonl``), for runs of many thousand sagas.

Writes the same records as :meth:`sim.run.Run.events` (contract 3), with a
leading ``style`` field, straight from the engine's event tuples: no dict per
event, names that need no escaping written as they are, and ``detail`` through
one reusable C encoder (shared constant details encoded once). Lines come in
blocks of a few hundred, one string each, so that the command writes a few
large pieces whatever stdout's buffering.
"""
from __future__ import annotations

import json
import json.encoder as _je

try:
    _chunks = _je.c_make_encoder(None, json.JSONEncoder().default, _je.encode_basestring_ascii, None,
                                 ":", ",", False, False, True)        # obj, 0 -> a list of strings

    def encode(obj) -> str:
        return "".join(_chunks(obj, 0))
except (AttributeError, TypeError):          # no C accelerator: the standard encoder
    encode = json.JSONEncoder(separators=(",", ":")).encode

    def _chunks(obj, _level):
        return (encode(obj),)


def clean(x):
    """A number as the trace gives it: ints stay ints, floats lose their noise
    (0.30000000000000004 -> 0.3, to 6 decimals), so traces read well and compare exactly."""
    return x if type(x) is int else round(x, 6)


def number(x) -> str:
    """``clean(x)`` as JSON text."""
    return repr(clean(x))


def jsonl_blocks(events, style, batch=512):
    """Yield the trace as JSON lines, ``batch`` lines joined into one string at a time (for few, large
    writes), from the engine's events, unpacked in ``TraceEvent``'s layout (sim/trace.py)."""
    head = '{"style":"%s","seq":' % style
    chunks, join = _chunks, "".join              # encode(detail) without a Python call
    shared = {}                                  # id(detail) -> text, for the shared constant details
    services = {None: "null"}                    # service -> its JSON text
    prev_t, t_text = None, ""                    # events come in time order: many share one time
    for start in range(0, len(events), batch):
        out = []
        append = out.append
        for seq, (t, kind, saga, service, message, msg_id, src, dst, detail) in enumerate(
                events[start:start + batch], start):
            if t != prev_t or type(t) is not type(prev_t):
                prev_t, t_text = t, number(t)
            svc = services.get(service)
            if svc is None:
                svc = services[service] = f'"{service}"'
            if detail:
                if len(detail) == 1 and "flow" in detail:
                    text = shared.get(id(detail))
                    if text is None:
                        text = shared[id(detail)] = encode(detail)
                else:
                    text = join(chunks(detail, 0))
                if message is None:
                    append(f'{head}{seq},"t":{t_text},"kind":"{kind}","saga":{"null" if saga is None else saga},'
                           f'"service":{svc},"detail":{text}}}\n')
                else:
                    append(f'{head}{seq},"t":{t_text},"kind":"{kind}","saga":{"null" if saga is None else saga},'
                           f'"service":{svc},"message":"{message}","msg_id":{msg_id},"src":"{src}",'
                           f'"dst":"{dst}","detail":{text}}}\n')
            elif message is None:
                append(f'{head}{seq},"t":{t_text},"kind":"{kind}","saga":{"null" if saga is None else saga},'
                       f'"service":{svc}}}\n')
            else:
                append(f'{head}{seq},"t":{t_text},"kind":"{kind}","saga":{"null" if saga is None else saga},'
                       f'"service":{svc},"message":"{message}","msg_id":{msg_id},"src":"{src}","dst":"{dst}"}}\n')
        yield "".join(out)


def jsonl_lines(events, style):
    """Yield one JSON line per event tuple (the lines of :func:`jsonl_blocks`, one at a time)."""
    for block in jsonl_blocks(events, style):
        for line in block.split("\n")[:-1]:           # each block ends with a newline
            yield line + "\n"
