"""Plotly figures of a saga run (contract 4), and what the app needs to show "now".

Pure functions of a run dict; no Streamlit here. Start with :func:`figures`.
"""
from .aggregate import compare, in_flight_series, load_figures
from .build import figure, figure_at, figure_keys, figures
from .network import Topology, topology_frame
from .style import add_now, now_marks
from .trace import in_flight_at, state_at, statuses_at

__all__ = ["Topology", "add_now", "compare", "figure", "figure_at", "figure_keys", "figures",
           "in_flight_at", "in_flight_series", "load_figures", "now_marks", "state_at", "statuses_at",
           "topology_frame"]
