"""The room's QR code (issue 15): an SVG with the link in it and nothing that runs."""
import xml.etree.ElementTree as ET

import pytest
import segno

from classroom.qr import qr_svg

URL = "http://localhost:8501/?room=K7M4QX"


def test_qr_is_a_plain_svg():
    svg = qr_svg(URL)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "viewBox" in root.attrib
    assert svg.startswith("<svg") and "<?xml" not in svg
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert tags <= {"svg", "title", "g", "path", "rect"}, tags
    lowered = svg.lower()
    assert "script" not in lowered and "javascript:" not in lowered
    assert not any(a.lower().startswith("on") for el in root.iter() for a in el.attrib)
    assert "href" not in lowered


def test_qr_encodes_the_link():
    svg = qr_svg(URL)
    assert svg == qr_svg(URL), "the same link, the same picture"
    assert svg != qr_svg(URL + "A")
    expected = segno.make(URL, error="m", micro=False)
    assert f'viewBox="0 0 {(expected.symbol_size(scale=8, border=4)[0])}' in svg


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "ftp://x", "", None, "http://x/" + "a" * 3000,
                                 "http://x/\n"])
def test_qr_refuses_what_is_not_a_link(bad):
    with pytest.raises(ValueError):
        qr_svg(bad)
