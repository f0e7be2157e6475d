"""PDF rendering (fpdf2) with an embedded Cyrillic font.

fpdf2's core fonts are Latin-1 only, so a TrueType font is embedded (subset to the glyphs used,
which keeps a one-page certificate around 20-30 KB). DejaVu Sans is looked for where Debian's
``fonts-dejavu-core`` (installed by the Dockerfile) and other distributions put it, or where
``MEDCAB_PDF_FONT`` points.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from fpdf import FPDF

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)


class FontNotFound(RuntimeError):
    pass


@cache
def font_path() -> Path:
    configured = os.environ.get("MEDCAB_PDF_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        path = Path(candidate)
        if path.is_file():
            return path
    raise FontNotFound(
        "no Cyrillic TrueType font for PDFs: install fonts-dejavu-core or set MEDCAB_PDF_FONT to a .ttf file"
    )


def _bold_path(regular: Path) -> Path:
    bold = regular.with_name(regular.stem + "-Bold" + regular.suffix)
    return bold if bold.is_file() else regular


@dataclass(frozen=True)
class PdfSection:
    heading: str | None
    lines: Sequence[str]


def render_pdf(title: str, subtitle: str, sections: Sequence[PdfSection], footer: str, created: datetime) -> bytes:
    """A one-column A4 document. ``created`` is fixed in the metadata so identical input gives
    identical bytes (what is signed can be rendered again and compared)."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_creator("medcab")
    regular = font_path()
    pdf.add_font("Body", "", str(regular))
    pdf.add_font("Body", "B", str(_bold_path(regular)))
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    pdf.set_font("Body", "B", 14)
    pdf.multi_cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Body", "", 10)
    pdf.multi_cell(0, 6, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for section in sections:
        if section.heading:
            pdf.set_font("Body", "B", 11)
            pdf.multi_cell(0, 7, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Body", "", 11)
        for line in section.lines:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.ln(6)
    pdf.set_font("Body", "", 9)
    pdf.multi_cell(0, 5, footer, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
