"""Colours, fonts and small layout helpers shared by every figure.

Okabe-Ito colours (readable with the common colour-vision deficiencies), and
fonts large enough for a projector. Every colour is backed by a second cue
(dash, symbol or label) so that nothing is told by colour alone.
"""
from __future__ import annotations

import plotly.graph_objects as go

BLUE, VERMILLION, ORANGE, GREEN = "#0072B2", "#D55E00", "#E69F00", "#009E73"
SKY, PURPLE, YELLOW, GREY, DARK = "#56B4E9", "#CC79A7", "#F0E442", "#999999", "#333333"

FLOW_COLOURS = {"forward": BLUE, "failure": VERMILLION, "compensation": ORANGE, "reply": GREEN}
FLOW_DASH = {"forward": "solid", "failure": "solid", "compensation": "dash", "reply": "dot"}
FLOW_LABELS = {"forward": "forward message", "failure": "failure message",
               "compensation": "compensation message", "reply": "reply"}
DUPLICATE_COLOUR = PURPLE

STATUS_COLOURS = {"idle": "#FFFFFF", "working": SKY, "failed": VERMILLION,
                  "compensating": ORANGE, "crashed": GREY}
STATUS_SYMBOLS = {"idle": "circle", "working": "circle", "failed": "circle-x",
                  "compensating": "circle", "crashed": "x"}
BARS = {  # an activity interval (kind, outcome) -> legend name, colour, text colour
    ("step", "succeeded"): ("step done", BLUE, "white"),
    ("step", "failed"): ("step failed", VERMILLION, "white"),
    ("step", "open"): ("step unfinished", SKY, DARK),
    ("step", "lost"): ("step lost in a crash", "#B0C4D4", DARK),
    ("compensation", "succeeded"): ("compensation done", ORANGE, DARK),
    ("compensation", "failed"): ("compensation failed", "#8C3A00", "white"),
    ("compensation", "open"): ("compensation unfinished", "#F5CC7A", DARK),
    ("compensation", "lost"): ("compensation lost in a crash", "#E8D9B5", DARK),
}
OUTCOME_COLOURS = {"completed": GREEN, "compensated": ORANGE, "stuck": PURPLE,
                   "deadlocked": VERMILLION, "in_flight": GREY}

FONT_SIZE = 16
SMALL_FONT = 14
FONT = {"family": "Arial, Helvetica, sans-serif", "size": FONT_SIZE, "color": DARK}


_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "zerolinewidth": 2,
         "ticks": "", "automargin": True, "title": {"standoff": 15}}
# What plotly's "plotly_white" gives a 2-D figure, plus our fonts, as one template built once. Assigning a
# built template is ~1 ms; the name "plotly_white" is validated anew every time (~7 ms), and that
# template's 7 KB (3-D, maps, colour scales we never use) would travel to the browser with every figure.
TEMPLATE = go.layout.Template(layout={
    "paper_bgcolor": "white", "plot_bgcolor": "white", "font": FONT, "colorway": [BLUE, VERMILLION, GREEN,
                                                                                    ORANGE, SKY, PURPLE, YELLOW],
    "title": {"font": {"size": 20}, "x": 0.01, "xanchor": "left"}, "hovermode": "closest",
    "hoverlabel": {"align": "left", "font": {"size": SMALL_FONT}},
    "legend": {"font": {"size": SMALL_FONT}, "groupclick": "toggleitem"},
    "margin": {"l": 70, "r": 30, "t": 70, "b": 60}, "xaxis": _AXIS, "yaxis": _AXIS,
    "shapedefaults": {"line": {"color": DARK}}, "annotationdefaults": {"arrowcolor": DARK, "arrowhead": 0,
                                                                       "arrowwidth": 1}})


def base_layout(fig: go.Figure, title: str, **layout) -> go.Figure:
    """Title, fonts, white background and a legend readable from the back row (all in ``TEMPLATE``)."""
    fig.update_layout(template=TEMPLATE, title_text=title, font=FONT, **layout)
    return fig


def legend_entry(name: str, group: str, **marker_or_line) -> go.Scatter:
    """A legend-only trace (no points), so the legend stays complete when a list is empty."""
    mode = "lines" if "line" in marker_or_line else "markers"
    return go.Scatter(x=[None], y=[None], mode=mode, name=name, legendgroup=group,
                      legendgrouptitle={"text": group}, hoverinfo="skip", **marker_or_line)


def now_marks(t: float, axis: str = "x") -> tuple:
    """The "now" line at time ``t`` and its label, as a plotly shape and annotation (dicts)."""
    shape = {"type": "line", "line": {"color": DARK, "width": 2, "dash": "dot"}}
    label = {"text": f"now t={t:g}", "showarrow": False, "font": {"size": SMALL_FONT}}
    if axis == "x":
        shape.update(x0=t, x1=t, y0=0, y1=1, yref="paper")
        label.update(x=t, y=1.0, yref="paper", yanchor="bottom", xanchor="right")   # never cut at the right edge
    else:
        shape.update(y0=t, y1=t, x0=0, x1=1, xref="paper")
        label.update(y=t, x=1.0, xref="paper", xanchor="right", yanchor="bottom")
    return shape, label


def add_now(fig: go.Figure, t: float | None, axis: str = "x") -> go.Figure:
    """Draw a "now" line at time ``t`` across the plot (vertical on axis x, horizontal on y)."""
    if t is None:
        return fig
    shape, label = now_marks(t, axis)
    fig.add_shape(**shape)
    fig.add_annotation(**label)
    return fig


def note_figure(title: str, text: str) -> go.Figure:
    """An empty figure that says why there is nothing to draw."""
    fig = base_layout(go.Figure(), title)
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 18})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def segments(pairs) -> tuple:
    """x and y lists for many line segments in one trace: [x0, x1, None, ...]."""
    xs, ys = [], []
    for (x0, y0), (x1, y1) in pairs:
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    return xs, ys


def fmt(t: float) -> str:
    return f"{t:.2f}".rstrip("0").rstrip(".") if t == t else "?"
