"""Issue 17: the trace's layout is named once (sim/trace.py's TraceEvent) and read by name."""
from __future__ import annotations

import pytest

import sim
from helpers import ROOT
from sim.export import clean
from sim.trace import EVENT_FIELDS, TraceEvent


def test_the_layout_is_contract_3s_fields_in_order():
    assert EVENT_FIELDS == ("t", "kind", "saga", "service", "message", "msg_id", "src", "dst", "detail")


@pytest.mark.parametrize("style", sim.STYLES)
def test_records_say_what_the_exported_events_say(style):
    run = sim.run(sim.load_scenario(ROOT / "scenarios" / "lost-message.yaml"), style)
    recs, dicts = list(run.records()), run.events()
    assert len(recs) == len(dicts) and all(isinstance(r, TraceEvent) for r in recs)
    for seq, (r, d) in enumerate(zip(recs, dicts)):
        assert d["seq"] == seq
        assert {k: v for k, v in r._asdict().items() if v is not None and (k != "detail" or v)} == \
            {k: v for k, v in d.items() if k != "seq" and v is not None} | {"t": r.t} and clean(r.t) == d["t"]
