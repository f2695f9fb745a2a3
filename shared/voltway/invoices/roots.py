"""Composition roots of the invoices context: the CDR worker's receipts, the HTTP API, the monthly run.
Built once per process from validated configuration."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from voltway.adapters.aws import client
from voltway.adapters.dynamo_transactions import DynamoIdTagRepository, IdTagItem, bind_model
from voltway.billing.aws import DynamoContracts, DynamoTariffs, IdTagAccounts
from voltway.billing.service import ContractService
from voltway.config import AwsSettings
from voltway.drivers.dynamo import DynamoDriverStore
from voltway.exports.aws import signing_s3
from voltway.invoices.aws import DriverOwners, DynamoDocumentStore, S3DocumentFiles, SesMailer
from voltway.invoices.model import Document
from voltway.invoices.service import DocumentDesk, InvoiceService, ReceiptService

Environ = Mapping[str, str] | None


class DocumentSettings(AwsSettings):
    invoices_table: str
    documents_bucket: str
    sender_email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    document_url_expiry_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)


class ReceiptSettings(DocumentSettings):
    drivers_table: str
    id_tags_table: str


class InvoiceSettings(DocumentSettings):
    tariffs_table: str  # account contracts (monthly fee) live beside the tariffs


def render_on_first_use(document: Document) -> bytes:
    """The PDF renderer, imported when the first document is rendered. Why not at cold start: fpdf2 with
    Pillow and fontTools costs ~1 s of imports (measured here), and the API renders only on
    POST /v1/invoices; the queue workers pay it once per container, on their first document."""
    from voltway.invoices.render import render_pdf  # deliberately lazy, see above

    return render_pdf(document)


def _desk(s: DocumentSettings, dynamodb: Any) -> DocumentDesk:
    region, host = s.aws_region, s.aws_endpoint_url
    return DocumentDesk(
        store=DynamoDocumentStore(dynamodb, s.invoices_table),
        files=S3DocumentFiles(signing_s3(region, host), s.documents_bucket),
        mailer=SesMailer(client("ses", region=region, endpoint_url=host), s.sender_email),
        render=render_on_first_use,
        url_expiry_seconds=s.document_url_expiry_seconds,
    )


def receipts(environ: Environ = None) -> ReceiptService:
    s = ReceiptSettings.from_env(environ)
    region, host = s.aws_region, s.aws_endpoint_url
    dynamodb = client("dynamodb", region=region, endpoint_url=host)
    return ReceiptService(
        _desk(s, dynamodb),
        owners=DriverOwners(DynamoDriverStore(dynamodb, s.drivers_table)),
        accounts=IdTagAccounts(
            DynamoIdTagRepository(bind_model(IdTagItem, s.id_tags_table, region=region, host=host))
        ),
    )


def invoices(environ: Environ = None) -> InvoiceService:
    s = InvoiceSettings.from_env(environ)
    dynamodb = client("dynamodb", region=s.aws_region, endpoint_url=s.aws_endpoint_url)
    contracts = ContractService(DynamoContracts(DynamoTariffs(dynamodb, s.tariffs_table)))
    return InvoiceService(_desk(s, dynamodb), contracts=contracts)


@dataclass(frozen=True, slots=True)
class DocumentsApi:
    receipts: ReceiptService
    invoices: InvoiceService


def documents_api(environ: Environ = None) -> DocumentsApi:
    return DocumentsApi(receipts(environ), invoices(environ))


cached_receipts = functools.cache(receipts)
cached_invoices = functools.cache(invoices)
cached_documents_api = functools.cache(documents_api)
