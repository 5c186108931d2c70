"""No traceback reaches a user: a guard that turns an unexpected error into one line."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st


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
