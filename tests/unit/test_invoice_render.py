"""The PDF renderer: a real PDF, deterministic bytes (retries rewrite the same object), the brand, the
lines, the VAT breakdown and the total in its text."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.test_invoice_model import BRAND, MULTI_RATE, issued
from voltway.invoices.documents import receipt_document
from voltway.invoices.model import Document, DocumentKind, DocumentLine, Party
from voltway.invoices.render import latin1, render_pdf


def pdf_text(pdf: bytes) -> str:
    """The text drawn by the PDF: pdftotext when installed, else the inflated content streams."""
    if shutil.which("pdftotext"):
        done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
        return done.stdout.decode()
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "".join(re.findall(r"\((.*?)\)\s*Tj", "".join(out)))


def test_receipt_pdf_parses_and_shows_brand_lines_breakdown_and_total(tmp_path: Path) -> None:
    doc = receipt_document(issued(MULTI_RATE), BRAND)
    pdf = render_pdf(doc)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text = pdf_text(pdf)
    for expected in ("Voltway GmbH", "Receipt TX7", "VAT ID DE123", "Energy", "VAT 7 %", "VAT 19 %"):
        assert expected in text, expected
    assert f"{doc.total_gross:.2f} EUR" in text
    assert f"{doc.total_net:.2f} EUR" in text
    (tmp_path / "receipt.pdf").write_bytes(pdf)
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(tmp_path / "receipt.pdf")], capture_output=True, check=True)
        assert b"Pages:           1" in info.stdout


def test_rendering_is_deterministic() -> None:
    doc = receipt_document(issued(), BRAND)
    first = render_pdf(doc)
    assert render_pdf(Document.model_validate_json(doc.model_dump_json())) == first
    assert b"/CreationDate (D:20260302120000Z" in first or b"D:20260302120000" in first  # issued_at, not now
    changed = doc.model_copy(update={"number": "TX8"})
    assert render_pdf(changed) != first


def test_text_outside_latin1_does_not_break_rendering() -> None:
    doc = Document(
        kind=DocumentKind.INVOICE,
        number="INV-000001",
        issued_at=datetime(2026, 11, 1, 2, tzinfo=UTC),
        currency="EUR",
        seller=Party(name="Łódź Ładowanie \u2013 \u26a1"),
        buyer=Party(name="Müller & Söhne"),
        lines=tuple(
            DocumentLine(
                description=f"Session TX{i}", net=Decimal("1.00"), vat_rate=Decimal(23), vat=Decimal("0.23")
            )
            for i in range(60)  # more than a page
        ),
    )
    pdf = render_pdf(doc)
    text = pdf_text(pdf)
    assert "Müller & Söhne" in text and "TX59" in text
    assert "73.80 EUR" in text  # 60 x 1.23
    assert latin1("Łódź") == "?ód?"


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_the_pdf_rasterises(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(render_pdf(receipt_document(issued(), BRAND)))
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(path), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 1000
