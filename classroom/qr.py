"""The learners' link as a QR code a class can scan from the projector: an SVG string (segno, pure Python).

    svg = qr_svg("http://class.example:8501/?room=K7M4QX")   # put it in the page as is (no script in it)
"""
from __future__ import annotations

import io

import segno

MAX_URL_CHARS = 2000


def qr_svg(url: str, *, scale: int = 8, dark: str = "#111", light: str = "#fff") -> str:
    """An ``<svg>`` element encoding ``url``: no XML declaration, no script, sized by its viewBox, with
    its namespace (so it also works as an ``<img>`` data URI).

    Raises:
        ValueError: not an http(s) link, or longer than ``MAX_URL_CHARS``.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("A QR code is made for an http:// or https:// link.")
    if len(url) > MAX_URL_CHARS or not url.isprintable():
        raise ValueError(f"The link must be one line of at most {MAX_URL_CHARS} characters.")
    code = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", xmldecl=False, svgns=True, nl=False, scale=scale, border=4, dark=dark,
              light=light, omitsize=True, title="Scan to follow the class", svgclass="room-qr", lineclass=None)
    return out.getvalue().decode("utf-8")
