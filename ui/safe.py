"""No traceback reaches a user, and no user text is read as markup: a guard that turns an unexpected error
into one line, and escapes for text shown in Markdown."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-!|~$:"})
PROSE_SPECIAL = str.maketrans({c: "\\" + c for c in "$~:<>|[]!"})


def md(text: str) -> str:
    """Text shown as itself in Markdown (names like compensation_fail keep their underscores)."""
    return str(text).translate(MD_SPECIAL)


def prose(text: str) -> str:
    """An author's text (a scenario's story): its `code` and *emphasis* stay, but no LaTeX ($), no
    strikethrough (~), no shortcodes (:name:), no HTML, and no links or images (a file cannot make every
    visitor's browser fetch an outside address)."""
    return str(text).translate(PROSE_SPECIAL)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


@contextmanager
def guard(what: str):
    """Show ``what`` failed, in one line, instead of the exception (Streamlit's rerun and stop pass through)."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - the point is to catch what nobody foresaw
        st.error(f"{what} could not be shown ({one_line(e)}).")
