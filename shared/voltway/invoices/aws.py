"""AWS adapters of the invoices ports: InvoicesTable (DynamoDB), DocumentsBucket (S3), SES.

InvoicesTable (key ``pk`` + ``sk``; sparse GSI ``by_owner`` = ``owner_key`` + ``list_sk``):

| item | pk | sk | notes |
|---|---|---|---|
| brand | ``TENANT#<t>`` | ``BRAND`` | the tenant's brand as printed |
| account profile | ``TENANT#<t>`` | ``ACCOUNT#<a>`` | name, address, VAT id, billing e-mail |
| driver e-mail | ``TENANT#<t>`` | ``CONTACT#<user>`` | from the JWT's ``email`` claim |
| invoice counter | ``TENANT#<t>`` | ``COUNTER#INVOICE`` | ``n``: the last number taken |
| receipt | ``RECEIPT#<t>#<cdr>`` | ``RECEIPT`` | owner_key ``USER#<t>#<u>``, list_sk ``<issued>#<cdr>`` |
| ledger line | ``LEDGER#<t>#<a>#<month>`` | ``<cdr>`` | one per CDR of an account's month |
| active account | ``MONTH#<month>`` / ``ACCOUNTS`` | ``<t>#<a>`` | what the monthly run invoices |
| invoice | ``INVOICE#<t>#<id>`` | ``INVOICE`` | owner_key ``INVOICES#<t>``, list_sk = 12-digit sequence |
| e-mail marker | ``EMAIL#<dedupe key>`` | ``EMAIL`` | conditional put: one e-mail per key |
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from botocore.exceptions import ClientError

from voltway.adapters.cursors import cursor_to_key, key_to_cursor
from voltway.drivers.ports import DriverStore
from voltway.invoices.errors import DocumentStoreError, InvoiceNumberConflict
from voltway.invoices.model import BillingAccount, Brand, Invoice, LedgerLine, Receipt
from voltway.invoices.ports import Attachment, InvoicePage, ReceiptPage

_COUNTER = "COUNTER#INVOICE"
_ATTEMPTS = 10


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class DynamoDocumentStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    # ------------------------------------------------------------------ plumbing
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            item: dict[str, Any] | None = self._db.get_item(
                TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True
            ).get("Item")
        except ClientError as e:
            raise DocumentStoreError("cannot read InvoicesTable") from e
        return item

    def _put(self, item: dict[str, Any], **extra: Any) -> None:
        try:
            self._db.put_item(TableName=self._table, Item=item, **extra)
        except ClientError as e:
            raise DocumentStoreError("cannot write InvoicesTable") from e

    def _query(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self._db.query(TableName=self._table, **request)
        except ClientError as e:
            raise DocumentStoreError("cannot query InvoicesTable") from e
        return response

    # ------------------------------------------------------------------ profiles
    def brand(self, tenant_id: str) -> Brand | None:
        item = self._get(f"TENANT#{tenant_id}", "BRAND")
        return None if item is None else Brand.model_validate_json(item["data"]["S"])

    def put_brand(self, tenant_id: str, brand: Brand) -> None:
        self._put({"pk": _s(f"TENANT#{tenant_id}"), "sk": _s("BRAND"), "data": _s(brand.model_dump_json())})

    def account(self, tenant_id: str, account_id: str) -> BillingAccount | None:
        item = self._get(f"TENANT#{tenant_id}", f"ACCOUNT#{account_id}")
        return None if item is None else BillingAccount.model_validate_json(item["data"]["S"])

    def put_account(self, tenant_id: str, account: BillingAccount) -> None:
        self._put(
            {
                "pk": _s(f"TENANT#{tenant_id}"),
                "sk": _s(f"ACCOUNT#{account.account_id}"),
                "data": _s(account.model_dump_json()),
            }
        )
        self._register("ACCOUNTS", tenant_id, account.account_id)

    def _register(self, pk: str, tenant_id: str, account_id: str) -> None:
        self._put(
            {
                "pk": _s(pk),
                "sk": _s(f"{tenant_id}#{account_id}"),
                "tenant_id": _s(tenant_id),
                "account_id": _s(account_id),
            }
        )

    def contact(self, tenant_id: str, user_id: str) -> str | None:
        item = self._get(f"TENANT#{tenant_id}", f"CONTACT#{user_id}")
        return None if item is None else str(item["email"]["S"])

    def put_contact(self, tenant_id: str, user_id: str, email: str) -> None:
        self._put({"pk": _s(f"TENANT#{tenant_id}"), "sk": _s(f"CONTACT#{user_id}"), "email": _s(email)})

    # ------------------------------------------------------------------ receipts
    def put_receipt(self, receipt: Receipt) -> None:
        item = {
            "pk": _s(f"RECEIPT#{receipt.tenant_id}#{receipt.cdr_id}"),
            "sk": _s("RECEIPT"),
            "data": _s(receipt.model_dump_json()),
        }
        if receipt.user_id is not None:
            item["owner_key"] = _s(f"USER#{receipt.tenant_id}#{receipt.user_id}")
            item["list_sk"] = _s(f"{receipt.issued_at.isoformat()}#{receipt.cdr_id}")
        self._put(item)

    def receipt(self, tenant_id: str, cdr_id: str) -> Receipt | None:
        item = self._get(f"RECEIPT#{tenant_id}#{cdr_id}", "RECEIPT")
        return None if item is None else Receipt.model_validate_json(item["data"]["S"])

    def _owned_page(self, owner_key: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        request: dict[str, Any] = {
            "IndexName": "by_owner",
            "KeyConditionExpression": "owner_key = :o",
            "ExpressionAttributeValues": {":o": _s(owner_key)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = cursor_to_key(cursor, DocumentStoreError) if cursor else None
        if start:
            request["ExclusiveStartKey"] = start
        response = self._query(request)
        return [i["data"]["S"] for i in response.get("Items", [])], key_to_cursor(
            response.get("LastEvaluatedKey")
        )

    def receipts_of(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> ReceiptPage:
        items, next_cursor = self._owned_page(f"USER#{tenant_id}#{user_id}", limit, cursor)
        return ReceiptPage([Receipt.model_validate_json(i) for i in items], next_cursor)

    # ------------------------------------------------------------------ ledgers
    def add_ledger_line(self, tenant_id: str, account_id: str, month: str, line: LedgerLine) -> None:
        self._put(
            {
                "pk": _s(f"LEDGER#{tenant_id}#{account_id}#{month}"),
                "sk": _s(line.cdr_id),
                "data": _s(line.model_dump_json()),
            }
        )
        self._register(f"MONTH#{month}", tenant_id, account_id)

    def ledger(self, tenant_id: str, account_id: str, month: str) -> list[LedgerLine]:
        lines: list[LedgerLine] = []
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": _s(f"LEDGER#{tenant_id}#{account_id}#{month}")},
            "ConsistentRead": True,
        }
        while True:
            response = self._query(request)
            lines.extend(LedgerLine.model_validate_json(i["data"]["S"]) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return lines
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _registered(self, pk: str) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": _s(pk)},
        }
        while True:
            response = self._query(request)
            found.update((i["tenant_id"]["S"], i["account_id"]["S"]) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def accounts_to_invoice(self, month: str) -> list[tuple[str, str]]:
        return sorted(self._registered(f"MONTH#{month}") | self._registered("ACCOUNTS"))

    # ------------------------------------------------------------------ invoices
    def invoice(self, tenant_id: str, invoice_id: str) -> Invoice | None:
        item = self._get(f"INVOICE#{tenant_id}#{invoice_id}", "INVOICE")
        return None if item is None else Invoice.model_validate_json(item["data"]["S"])

    def invoices(self, tenant_id: str, limit: int, cursor: str | None) -> InvoicePage:
        items, next_cursor = self._owned_page(f"INVOICES#{tenant_id}", limit, cursor)
        return InvoicePage([Invoice.model_validate_json(i) for i in items], next_cursor)

    def issue_invoice(
        self, tenant_id: str, invoice_id: str, build: Callable[[int], Invoice]
    ) -> tuple[Invoice, bool]:
        counter_key = {"pk": _s(f"TENANT#{tenant_id}"), "sk": _s(_COUNTER)}
        for _ in range(_ATTEMPTS):
            existing = self.invoice(tenant_id, invoice_id)
            if existing is not None:
                return existing, False
            counter = self._get(f"TENANT#{tenant_id}", _COUNTER)
            current = int(counter["n"]["N"]) if counter else 0
            invoice = build(current + 1)
            moved: dict[str, Any] = {
                "TableName": self._table,
                "Key": counter_key,
                "UpdateExpression": "SET n = :next",
                "ExpressionAttributeValues": {":next": {"N": str(current + 1)}},
            }
            if current == 0:
                moved["ConditionExpression"] = "attribute_not_exists(n)"
            else:
                moved["ConditionExpression"] = "n = :current"
                moved["ExpressionAttributeValues"][":current"] = {"N": str(current)}
            stored = {
                "TableName": self._table,
                "Item": {
                    "pk": _s(f"INVOICE#{tenant_id}#{invoice_id}"),
                    "sk": _s("INVOICE"),
                    "data": _s(invoice.model_dump_json()),
                    "owner_key": _s(f"INVOICES#{tenant_id}"),
                    "list_sk": _s(f"{invoice.sequence:012d}"),
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
            try:
                self._db.transact_write_items(TransactItems=[{"Update": moved}, {"Put": stored}])
                return invoice, True
            except ClientError as e:
                if _code(e) != "TransactionCanceledException":
                    raise DocumentStoreError("cannot store the invoice") from e
            # A racing writer took the number (or stored this invoice): read again and retry.
        raise InvoiceNumberConflict(f"the invoice counter of {tenant_id} kept moving")

    # ------------------------------------------------------------------ e-mail markers
    def claim_email(self, dedupe_key: str) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(f"EMAIL#{dedupe_key}"),
                    "sk": _s("EMAIL"),
                    "claimed_at": {"N": str(int(time.time()))},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as e:
            if _code(e) == "ConditionalCheckFailedException":
                return False
            raise DocumentStoreError("cannot claim the e-mail") from e
        return True

    def release_email(self, dedupe_key: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table, Key={"pk": _s(f"EMAIL#{dedupe_key}"), "sk": _s("EMAIL")}
            )
        except ClientError as e:
            raise DocumentStoreError("cannot release the e-mail claim") from e


class S3DocumentFiles:
    """Receipts under ``receipts/tenant=<t>/``, invoices (PDF and fixed content) under ``invoices/``."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
        except ClientError as e:
            raise DocumentStoreError(f"cannot store {key}") from e

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as e:
            raise DocumentStoreError(f"cannot read {key}") from e
        return body

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as e:
            # Without s3:ListBucket (least privilege) S3 answers a missing key with 403, not 404.
            if e.response.get("Error", {}).get("Code") in ("404", "403", "NoSuchKey", "NotFound"):
                return False
            raise DocumentStoreError(f"cannot read {key}") from e
        return True

    def download_url(self, key: str, filename: str, expires_in: int) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": "application/pdf",
            },
            ExpiresIn=expires_in,
        )
        return url


class SesMailer:
    """One e-mail with the PDF attached (SES SendRawEmail: SendEmail carries no attachments)."""

    def __init__(self, ses: Any, sender: str) -> None:
        self._ses = ses
        self._sender = sender

    def send(self, to: str, subject: str, text: str, attachment: Attachment) -> str:
        message = MIMEMultipart()
        message["Subject"] = subject
        message["From"] = self._sender
        message["To"] = to
        message.attach(MIMEText(text, "plain", "utf-8"))
        part = MIMEApplication(attachment.content, _subtype=attachment.content_type.split("/")[-1])
        part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
        message.attach(part)
        try:
            response = self._ses.send_raw_email(
                Source=self._sender, Destinations=[to], RawMessage={"Data": message.as_bytes()}
            )
        except ClientError as e:
            raise DocumentStoreError("SES did not accept the e-mail") from e
        return str(response["MessageId"])


class DriverOwners:
    """The drivers context's token owner items (read only)."""

    def __init__(self, drivers: DriverStore) -> None:
        self._drivers = drivers

    def owner_of(self, tenant_id: str, id_tag: str) -> str | None:
        link = self._drivers.owner_of(tenant_id, id_tag)
        return None if link is None else link.user_id
