"""A web font for the HTML report: the CJK font the PDF uses, cut down to the glyphs one page shows.

Browsers without CJK system fonts otherwise show empty boxes for Chinese. The full Noto Sans CJK
font is 16 MB; fontTools' subsetter keeps only the characters the page uses (a few hundred glyphs,
tens of kB), stored as WOFF (zlib; WOFF2 would need the brotli module, which the environment lacks)
and embedded as a data URI, so the report makes no network request.
"""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

from fontTools import subset


class _Text(HTMLParser):
    """Collects the text a browser renders (element text and alt/title attributes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        self.parts.extend(v for k, v in attrs if k in ("alt", "title") and v)

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def subset_font(font_path: Path, chars: set[str]) -> bytes:
    """WOFF bytes of ``font_path`` reduced to ``chars``."""
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(font_path), options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(ord(c) for c in chars))
    sub.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, options)
    return buf.getvalue()


def subset_data_uri(font_path: Path, text: str) -> str | None:
    """data: URI of the font subset to the non-ASCII characters of ``text`` (None if there are none:
    ASCII text is left to the page's serif fonts)."""
    chars = {c for c in text if ord(c) > 0x7E and not c.isspace()}
    if not chars:
        return None
    return "data:font/woff;base64," + base64.b64encode(subset_font(font_path, chars)).decode(
        "ascii"
    )
