"""A document rendered to PDF with fpdf2 (pure Python; docs/decisions/pdf-library.md).

Deterministic: the PDF's creation date is the document's ``issued_at`` and its file id a digest of the
document, so rendering the same document twice gives the same bytes (a retried queue record rewrites an
identical object). Text uses the PDF core fonts (Helvetica, Latin-1): characters outside Latin-1 are
replaced by "?" (a bundled Unicode TTF font is the follow-up, docs/invoices.md).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from voltway.invoices.model import Document, DocumentLine

_WIDTHS = (76.0, 24.0, 22.0, 16.0, 20.0, 32.0)  # description, quantity, net, rate, VAT, gross (mm)


def latin1(text: str) -> str:
    """Core PDF fonts encode Latin-1 only."""
    return text.encode("latin-1", "replace").decode("latin-1")


def amount(value: Decimal) -> str:
    return f"{value:,.2f}"


def rate_text(rate: Decimal | None) -> str:
    if rate is None:
        return "n/s"
    return f"{rate.normalize():f} %"


def _quantity(line: DocumentLine) -> str:
    if line.quantity is None:
        return ""
    digits = 3 if line.unit in ("kWh", "h") else 0
    return f"{line.quantity:.{digits}f} {line.unit or ''}".strip()


def _line(pdf: FPDF, height: float, text: str) -> None:
    """A full-width cell, then the next line."""
    pdf.cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


class _Pdf(FPDF):
    def __init__(self, file_id: str) -> None:
        super().__init__(format="A4", unit="mm")
        self._fixed_id = file_id

    def file_id(self) -> str:  # the trailer /ID: a digest of the document, not of the clock
        return f"<{self._fixed_id}><{self._fixed_id}>"


def render_pdf(document: Document) -> bytes:
    digest = hashlib.md5(document.model_dump_json().encode(), usedforsecurity=False).hexdigest().upper()
    pdf = _Pdf(digest)
    pdf.set_creation_date(document.issued_at)
    pdf.set_creator("Voltway")
    pdf.set_producer("Voltway (fpdf2)")
    pdf.set_title(latin1(f"{document.kind.heading} {document.number}"))
    pdf.set_author(latin1(document.seller.name))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    _header(pdf, document)
    _details(pdf, document)
    _lines(pdf, document)
    _totals(pdf, document)
    if document.footer:
        pdf.ln(8)
        pdf.set_font("Helvetica", size=8)
        pdf.multi_cell(0, 4, latin1(document.footer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _header(pdf: FPDF, d: Document) -> None:
    pdf.set_font("Helvetica", "B", 16)
    _line(pdf, 8, latin1(d.seller.name))
    pdf.set_font("Helvetica", size=9)
    for line in d.seller.address_lines:
        _line(pdf, 4.5, latin1(line))
    if d.seller.vat_id:
        _line(pdf, 4.5, latin1(f"VAT ID {d.seller.vat_id}"))
    pdf.ln(6)
    if d.buyer is not None:
        pdf.set_font("Helvetica", "B", 10)
        _line(pdf, 5, latin1(d.buyer.name))
        pdf.set_font("Helvetica", size=9)
        for line in d.buyer.address_lines:
            _line(pdf, 4.5, latin1(line))
        if d.buyer.vat_id:
            _line(pdf, 4.5, latin1(f"VAT ID {d.buyer.vat_id}"))
        pdf.ln(6)
    pdf.set_font("Helvetica", "B", 14)
    _line(pdf, 8, latin1(f"{d.kind.heading} {d.number}"))
    pdf.set_font("Helvetica", size=9)
    _line(pdf, 5, f"Date: {d.issued_at:%Y-%m-%d} (UTC)")
    if d.reference:
        _line(pdf, 5, latin1(d.reference))
    pdf.ln(3)


def _details(pdf: FPDF, d: Document) -> None:
    for label, value in d.details:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(28, 5, latin1(label))
        pdf.set_font("Helvetica", size=9)
        _line(pdf, 5, latin1(value))
    pdf.ln(4)


def _row(pdf: FPDF, cells: tuple[str, ...], *, bold: bool = False, border: str = "") -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9)
    for i, (text, width) in enumerate(zip(cells, _WIDTHS, strict=True)):
        last = i == len(_WIDTHS) - 1
        align = "L" if i == 0 else "R"
        pdf.cell(
            width,
            6,
            latin1(text),
            border=border or 0,
            align=align,
            new_x=XPos.LMARGIN if last else XPos.RIGHT,
            new_y=YPos.NEXT if last else YPos.TOP,
        )


def _lines(pdf: FPDF, d: Document) -> None:
    _row(
        pdf,
        ("Description", "Quantity", f"Net {d.currency}", "VAT rate", "VAT", "Gross"),
        bold=True,
        border="B",
    )
    for line in d.lines:
        description = line.description if len(line.description) <= 48 else line.description[:47] + "..."
        _row(
            pdf,
            (
                description,
                _quantity(line),
                amount(line.net),
                rate_text(line.vat_rate),
                amount(line.vat),
                amount(line.gross),
            ),
        )
    pdf.ln(4)


def _totals(pdf: FPDF, d: Document) -> None:
    _row(pdf, ("VAT breakdown", "", "Net", "Rate", "VAT", "Gross"), bold=True, border="B")
    for group in d.vat_groups:
        label = "VAT not stated" if group.rate is None else f"VAT {rate_text(group.rate)}"
        _row(
            pdf, (label, "", amount(group.net), rate_text(group.rate), amount(group.vat), amount(group.gross))
        )
    pdf.ln(2)
    _row(
        pdf, ("Total excl. VAT", "", "", "", "", f"{amount(d.total_net)} {d.currency}"), bold=True, border="T"
    )
    _row(pdf, ("VAT", "", "", "", "", f"{amount(d.total_vat)} {d.currency}"))
    _row(pdf, ("Total incl. VAT", "", "", "", "", f"{amount(d.total_gross)} {d.currency}"), bold=True)
