"""What the editor says about a lesson (issue 18): the mistake with its line, did-you-mean
warnings, and whether the lesson still teaches what its ``expect:`` says; and the small badge
the play view shows when a lesson's own expectations fail.

No Streamlit state is kept here; every text from the file is shown as text (a code block, or
Markdown escaped with :func:`ui.safe.md`).
"""
from __future__ import annotations

import streamlit as st

import sim
from sim.expect import check_expect
from sim.pointing import excerpt

from .runs import literal


class Verdict:
    """A text's verdict: ``scenario`` (or None), ``error`` (one line), ``line``/``column`` (from 1)."""

    __slots__ = ("scenario", "error", "line", "column")

    def __init__(self, scenario=None, error=None, line=None, column=None):
        self.scenario, self.error, self.line, self.column = scenario, error, line, column


def read(text: str, source: str) -> Verdict:
    try:
        return Verdict(sim.parse_scenario(text, source))
    except sim.SagaInputError as e:
        return Verdict(None, str(e), e.line, e.column)
    except Exception as e:  # noqa: BLE001 - a validator bug must still not reach the user as a traceback
        return Verdict(None, f"{source}: could not be read ({type(e).__name__}: {e})")


@st.cache_data(max_entries=64, show_spinner=False)
def expectations(text: str, source: str) -> tuple:
    """The lesson's expectation mismatches as lines (empty: it teaches what it says), cached by text."""
    try:
        sc = sim.parse_scenario(text, source)
    except Exception:  # noqa: BLE001 - a file that does not load has nothing to check
        return ()
    if sc.load is not None and sc.saga_count > 20_000:
        return ()                                   # a large load lesson: `python -m sim check` checks it
    try:
        return tuple(str(m) for m in check_expect(sc, ""))
    except Exception as e:  # noqa: BLE001
        return (f"the expectations could not be checked ({type(e).__name__}: {e})",)


def show_problem(verdict: Verdict, text: str) -> None:
    """The error, and the lines around the one at fault (numbered, a caret under the column)."""
    st.error(literal(verdict.error, 600))
    if verdict.line:
        snippet = excerpt(text, verdict.line, verdict.column)
        if snippet:
            st.code(snippet, language=None)


def show_warnings(scenario) -> None:
    for fld, words in scenario.warnings:
        st.warning(literal(f"{fld}: {words}", 600), icon=":material/spellcheck:")


def show_expectations(text: str, source: str, scenario) -> None:
    """Next to Run: whether the lesson's ``expect:`` holds, one line per mismatch."""
    if not scenario.expect:
        st.caption("No `expect:` block: nothing to check the runs against.")
        return
    problems = expectations(text, source)
    if not problems:
        st.success("Expectations hold: the runs do what `expect:` says.", icon=":material/task_alt:")
        return
    st.error(f"{len(problems)} expectation(s) fail: the lesson no longer teaches what `expect:` says.",
             icon=":material/rule:")
    st.code("\n".join(problems), language=None, wrap_lines=True)


def badge(scenario, text: str, source: str) -> None:
    """The play view's small badge: shown only when the lesson's own expectations fail."""
    if isinstance(scenario, str) or not getattr(scenario, "expect", None):
        return
    problems = expectations(text, source)
    if problems:
        st.badge(f"This lesson's own expectations fail ({len(problems)}): see Edit", icon=":material/rule:",
                 color="red")
