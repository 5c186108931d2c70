"""The explore view: every single fault at every moment of the lesson, in each style, on one screen.

Per style a heatmap (fault x moment) coloured by what became of the sagas, invariant breaks marked,
each cell's story in its hover; a table of the faults where the styles part ways; and any cell opened
in the player as that exact situation (a link the player reads, or a button). The sweep is
``sim.explore`` on a process pool, cached like the player's runs; while it runs, a progress bar and a
Stop button. One entry point: :func:`view`.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from urllib.parse import urlencode

import plotly.graph_objects as go
import streamlit as st

import sim
from sim.explore import effect, family_words, is_load, newly_broken, split, story, worst

from . import runs, state
from .safe import md
from .state import ss

# a cell's colour: unchanged by the fault (grey), else the worst outcome among its sagas
CLASSES = ("no effect", "completed", "compensated", "deadlocked", "in_flight", "stuck")
COLOURS = ("#e6e6e6", "#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#d62728")
LABELS = {"no effect": "as without the fault", "completed": "completed", "compensated": "compensated",
          "deadlocked": "deadlocked", "in_flight": "waiting (in flight)", "stuck": "stuck"}
STYLE_NAMES = {"choreography": "Choreography", "orchestration": "Orchestration"}


# ---------------------------------------------------------------- the sweep, cached


CACHE_ENTRIES = 16
_cache: OrderedDict = OrderedDict()   # (text id, source, seed) -> the explorer's object or a message, for every session
_cache_lock = threading.Lock()


def explored(text: str, source: str, seed: int | None):
    """The explorer's object for (scenario text, seed), or a one-line message (a str), cached for every
    session (the last ``CACHE_ENTRIES``). While it runs, a progress bar and a Stop button show; a press
    ends the sweep at the next chunk that finishes (Streamlit interrupts the script at the bar's redraw),
    nothing is cached, and the view says so until "Explore again" (``None`` comes back then)."""
    key = (runs.text_id(text), source, seed)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    if ss().get("_explore_stopped") == key:
        return None
    scenario = runs.parse(text, source)
    if isinstance(scenario, str):
        return scenario
    slot = st.empty()
    with slot.container():
        bar = st.progress(0.0, text="Trying every fault at every moment...")
        st.button("Stop exploring", key="w_explore_stop", icon=":material/stop_circle:",
                  help="Stop the sweep; nothing of it is kept", on_click=_stop, args=(key,))
    steps = {"last": -1}

    def progress(done, total):
        pct = int(100 * done / total) if total else 100
        if pct // 5 != steps["last"] // 5 or done == total:        # about twenty redraws
            steps["last"] = pct
            bar.progress(pct / 100, text=f"Trying every fault at every moment: {done:,} of {total:,} runs")

    try:
        try:
            result = sim.explore(scenario, None, seed, workers=os.cpu_count() or 1, progress=progress)
        except (OSError, RuntimeError) as e:       # no process pool here (e.g. a sandbox): run them in this process
            if isinstance(e, sim.RunLimitError):
                raise
            result = sim.explore(scenario, None, seed, workers=0, progress=progress)
    except (sim.SagaInputError, sim.RunLimitError) as e:
        result = str(e)
    slot.empty()              # (not on Streamlit's rerun, a Stop press among others: the page is drawn again)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return result


def _stop(key) -> None:
    ss()._explore_stopped = key


def _explore_again() -> None:
    ss().pop("_explore_stopped", None)


# ---------------------------------------------------------------- pure parts (tested without a browser)


def grid(result: dict, style: str) -> dict:
    """The style's cells as rows (fault families) x columns (moments), with what the figure needs."""
    base = result["summary"]["baseline"][style]
    moments = base["moments"]
    fams, cells = [], {}
    for rec in result["runs"]:
        if rec["style"] != style:
            continue
        fam, t = split(rec["fault"])
        if fam not in cells:
            fams.append(fam)
            cells[fam] = []
        cells[fam].append(rec)
    return {"moments": moments, "families": fams, "cells": cells, "baseline": base}


def cell_class(rec: dict, base: dict) -> str:
    if rec["outcomes"] == base["outcomes"] and rec["metrics"] == base["metrics"] \
            and rec["invariants"] == base["invariants"]:
        return "no effect"
    return worst(rec["outcomes"])


def heatmap(result: dict, style: str) -> go.Figure:
    """Fault x moment, coloured by outcome; x marks a cell where the fault breaks an invariant (one that holds
    without it); the hover is the story.
    The cells are also a (nearly invisible) scatter trace, so a click selects one (heatmaps cannot be selected)."""
    g = grid(result, style)
    base, moments, fams = g["baseline"], g["moments"], g["families"]
    xs = [f"{t:g}" for t in moments]
    ys = [family_words(f) for f in fams]
    z, px, py, text, custom, bx, by = [], [], [], [], [], [], []
    for fam, label in zip(fams, ys):
        row = []
        for t, rec in zip(xs, g["cells"][fam]):
            row.append(CLASSES.index(cell_class(rec, base)))
            px.append(t)
            py.append(label)
            text.append(story(rec, base))
            custom.append(rec["fault"])
            if newly_broken(rec, base):
                bx.append(t)
                by.append(label)
        z.append(row)
    n = len(CLASSES)
    scale = []
    for i, c in enumerate(COLOURS):
        scale += [[i / n, c], [(i + 1) / n, c]]
    fig = go.Figure()
    fig.add_trace(go.Heatmap(x=xs, y=ys, z=z, zmin=-0.5, zmax=n - 0.5, colorscale=scale, hoverinfo="skip",
                             xgap=1, ygap=1, showscale=True, name="outcome",
                             colorbar={"tickvals": list(range(n)), "ticktext": [LABELS[c] for c in CLASSES],
                                       "title": {"text": "outcome"}, "len": 0.6}))
    fig.add_trace(go.Scatter(x=px, y=py, mode="markers", customdata=custom, text=text, name="cells",
                             hovertemplate="%{text}<extra>%{customdata}</extra>", showlegend=False,
                             marker={"symbol": "square", "size": 14, "opacity": 0.01, "color": "#000"}))
    fig.add_trace(go.Scatter(x=bx, y=by, mode="markers", name="an invariant breaks", hoverinfo="skip",
                             marker={"symbol": "x-thin", "size": 10, "line": {"width": 2, "color": "#000"}}))
    fig.update_layout(
        title={"text": f"{STYLE_NAMES.get(style, style)}: every fault at every moment"},
        height=max(320, 20 * len(fams) + 150), margin={"l": 10, "r": 10, "t": 50, "b": 40},
        xaxis={"title": {"text": "the fault strikes at t ="}, "type": "category", "automargin": True},
        yaxis={"autorange": "reversed", "type": "category", "automargin": True, "tickfont": {"size": 12}},
        legend={"orientation": "h", "y": -0.08, "x": 0}, clickmode="event+select", dragmode=False,
        plot_bgcolor="#ffffff")
    return fig


def differences(result: dict) -> list:
    """Rows of the faults where the styles differ (outcome or invariant), each style's verdict in words."""
    rows = []
    for f in result["summary"]["faults"]:
        if f["differs"]:
            rows.append({"fault": f["words"], **{STYLE_NAMES[s]: v["says"] for s, v in f["styles"].items()},
                         "spec": f["fault"]})
    return rows


def differences_table(rows: list, columns: list) -> str:
    """The rows as a Markdown table whose cells wrap (a data frame cut the verdicts at the column's edge).
    Every cell is text from the run, shown as text: escaped (names come from users' files)."""
    out = [f"| Fault | {' | '.join(columns)} |", "|---" * (1 + len(columns)) + "|"]
    for r in rows:
        spec = r["spec"] if "|" not in r["spec"] and "`" not in r["spec"] else ""
        fault = f"**{md(r['fault'])}**" + (f" `{spec}`" if spec else "")
        out.append(f"| {fault} | " + " | ".join(md(r.get(c, '')) for c in columns) + " |")
    return "\n".join(out)


def cell_link(name: str, style: str, spec: str, seed: int | None = None, t: float | None = None) -> str:
    """The player's shared link to one cell: ``?scenario=NAME&style=STYLE&fault=SPEC`` (the seed if set, and
    ``t``, the moment the fault strikes, where the player opens paused)."""
    params = {"scenario": name, "style": style}
    if seed is not None:
        params["seed"] = str(seed)
    params["fault"] = spec
    if t:
        params["t"] = f"{t:g}"
    return "?" + urlencode(params)


def open_cell(name: str, style: str, spec: str, seed: int | None, t: float) -> None:
    """Put the player in the cell's situation: the scenario, this style alone, the seed, only this fault, the
    clock paused at the moment the fault strikes (the keys ``state`` keeps; the URL follows)."""
    s = ss()
    if s.get("scenario") != state.CUSTOM:
        s.scenario = name
    s.style = style
    s.seed = seed
    s.faults = [spec]
    s.replay = None
    s.view = "play"
    state.move_clock(t)


# ---------------------------------------------------------------- the view


def view(scenario, text: str, source: str) -> None:
    """The explore view of the scenario on screen (the app's entry point)."""
    if isinstance(scenario, str):
        st.error(scenario)
        return
    if is_load(scenario):
        st.info("The explorer tries every fault at every moment of a lesson, run by run; a load scenario "
                f"({scenario.saga_count:,} sagas) is studied in its own view instead.")
        return
    seed = ss().get("seed")
    st.caption("Every single fault (each service fails, fails its compensation, crashes for a while or for "
               "good, is slow; the orchestrator crashes; each message is lost, duplicated, delayed) at every "
               "moment of this lesson's run, in each style. Hover a cell for its story; click one, or pick it "
               "below, to open it in the player.")
    result = explored(text, source, seed)
    if result is None:
        st.info("Exploring was stopped by you; nothing of it was kept.", icon=":material/stop_circle:")
        st.button("Explore again", key="w_explore_again", icon=":material/replay:", on_click=_explore_again)
        return
    if isinstance(result, str):
        st.error(result)
        return
    summary = result["summary"]
    styles = list(summary["per_style"])
    cols = st.columns(len(styles))
    for col, style in zip(cols, styles):
        c = summary["per_style"][style]
        col.metric(f"{STYLE_NAMES[style]}: runs", f"{c['runs']:,}")
        already = [k for k, ok in summary["baseline"][style]["invariants"].items() if not ok]
        col.caption(f"{c['outcome_changed']:,} change an outcome · {c['stuck']:,} leave a saga stuck · "
                    f"{c['in_flight']:,} leave one waiting · {c['invariant_broken']:,} break an invariant · "
                    f"{c['no_effect']:,} change nothing"
                    + (f" · already broken without a fault: {', '.join(already)}" if already else ""))
    rows = differences(result)
    if len(styles) == 2:
        st.markdown("#### Where the styles part ways")
        if rows:
            st.markdown(differences_table(rows, [STYLE_NAMES[x] for x in styles]))
        else:
            st.caption("No single fault changes an outcome in one style and not the other.")
    picked = None
    for style in styles:                 # one under the other: the fault names need the width
        event = st.plotly_chart(heatmap(result, style), key=f"w_explore_{style}", on_select="rerun",
                                selection_mode="points", width="stretch", theme=None,
                                config={"displaylogo": False, "scrollZoom": False})
        for p in (event.selection.points if event and event.selection else []):
            if p.get("curve_number") == 1 and p.get("customdata"):
                picked = (style, p["customdata"])
    _picker(scenario, source, result, styles, seed, picked)


def _picker(scenario, source, result, styles, seed, picked) -> None:
    st.markdown("#### Open a cell in the player")
    c = st.columns([1.2, 2.5, 1.2])
    if picked and picked != ss().get("explore_clicked"):      # a new click on a chart (a selection stays)
        ss().explore_clicked = picked
        ss().w_explore_style, (fam, t) = picked[0], split(picked[1])
        ss().w_explore_fault, ss().w_explore_at = fam, f"{t:g}"
    style = c[0].selectbox("Style", styles, key="w_explore_style", format_func=STYLE_NAMES.get)
    g = grid(result, style)
    if ss().get("w_explore_fault") not in g["families"]:
        ss().w_explore_fault = g["families"][0]
    fam = c[1].selectbox("Fault", g["families"], key="w_explore_fault", format_func=family_words)
    labels = [f"{t:g}" for t in g["moments"]]
    if ss().get("w_explore_at") not in labels:
        ss().w_explore_at = labels[0]
    at = c[2].selectbox("At t =", labels, key="w_explore_at")
    rec = g["cells"][fam][labels.index(at)]
    st.markdown(f"**{story(rec, g['baseline'])}** {_effect_note(rec, g['baseline'])}")
    b = st.columns([1, 1, 3])
    b[0].button("Open in the player", icon=":material/play_circle:", type="primary", key="w_explore_open",
                on_click=open_cell, args=(scenario.name, style, rec["fault"], seed, g["moments"][labels.index(at)]))
    if ss().get("scenario") != state.CUSTOM:
        b[1].link_button("Link to this cell", cell_link(scenario.name, style, rec["fault"], seed,
                                                        g["moments"][labels.index(at)]),
                         icon=":material/link:")
    b[2].code(f"python -m sim run {source} --style {style}"
              + (f" --seed {seed}" if seed is not None else "") + f" --fault {rec['fault']}", language="bash")


def _effect_note(rec, base) -> str:
    rank, _ = effect(rec, base)
    return ":red[an invariant breaks]" if rank >= 20 else ""
