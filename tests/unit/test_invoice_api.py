"""Receipt and invoice routes through the Chalice app on moto (tables from template.yaml, the documents
bucket and the SES identity from the ApiFunction's environment): happy paths, signed links, roles,
tenant isolation, another driver's receipt 404, Idempotency-Key, the driver's e-mail remembered."""

from __future__ import annotations

import email
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.unit.test_invoice_model import issued
from tests.unit.test_sites_support import Api, aws
from voltway.api.idempotency import cached_http_idempotency
from voltway.billing.model import IssuedCdr
from voltway.drivers.dynamo import DynamoDriverStore
from voltway.drivers.model import TokenKind, TokenLink
from voltway.invoices import http as invoices_http
from voltway.invoices.aws import DynamoDocumentStore
from voltway.invoices.roots import cached_documents_api, cached_invoices, cached_receipts, receipts

__all__ = ["aws"]

API = Api()


def clear() -> None:
    for cached in (cached_documents_api, cached_receipts, cached_invoices, cached_http_idempotency):
        cached.cache_clear()
    invoices_http._remember.cache_clear()


@pytest.fixture(autouse=True)
def stack(aws: None) -> Iterator[None]:
    clear()
    boto3.client("s3").create_bucket(
        Bucket=os.environ["DOCUMENTS_BUCKET"], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    boto3.client("ses").verify_email_identity(EmailAddress=os.environ["SENDER_EMAIL"])
    yield
    clear()


def call(
    method: str,
    resource: str,
    params: dict[str, str] | None = None,
    *,
    user: str = "fin-1",
    tenant: str = "t1",
    groups: str = "[finance]",
    email: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    key: str | None = None,
    claims: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    path = resource
    for k, v in (params or {}).items():
        path = path.replace("{" + k + "}", v)
    headers = {"content-type": "application/json", **({"idempotency-key": key} if key else {})}
    claims = {
        "sub": user,
        "custom:tenant": tenant,
        "cognito:groups": groups,
        "token_use": "id",
        **(claims or {}),
    }
    if email:
        claims["email"] = email
    event = {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "authorizer": {"claims": claims, "scopes": None},
            "httpMethod": method,
            "path": path,
            "resourcePath": resource,
            "stage": "$default",
            "requestId": "r1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    response = API.module.app(event, None)
    payload = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], dict(response.get("headers") or {}), payload


def driver(method: str, resource: str, params: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any]:
    status, _, payload = call(method, resource, params, groups="[driver]", **{"user": "alice", **kw})
    return status, payload


def own(uid: str, user: str, tenant: str = "t1") -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    DynamoDriverStore(boto3.client("dynamodb"), os.environ["DRIVERS_TABLE"]).claim_token(
        TokenLink(tenant, user, uid, TokenKind.RFID, at)
    )


def cdr_for(uid: str, cdr_id: str, tenant: str = "t1") -> IssuedCdr:
    base = issued()
    token = {**base.ocpi["cdr_token"], "uid": uid, "contract_id": uid}
    return IssuedCdr(
        **{
            **{f: getattr(base, f) for f in base.__dataclass_fields__},
            "cdr_id": cdr_id,
            "tenant_id": tenant,
            "ocpi": {**base.ocpi, "id": cdr_id, "cdr_token": token},
        }
    )


def sent_raw() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages)


def test_driver_reads_own_receipts_with_a_fresh_signed_link() -> None:
    status, _ = driver("GET", "/v1/me/receipts", email="alice@example.com")  # remembers the address
    assert status == 200
    own("CARDA", "alice")
    own("CARDB", "bob")
    service = receipts()
    for cdr in (
        cdr_for("CARDA", "TX1"),
        cdr_for("CARDA", "TX2"),
        cdr_for("CARDB", "TX3"),
        cdr_for("CARDA", "TX4", "t2"),
    ):
        service.issue(cdr)
    assert len(sent_raw()) == 2  # TX1 and TX2 are alice's (t1); bob has no address, TX4 is another tenant
    status, page = driver("GET", "/v1/me/receipts", query={"limit": "1"})
    assert status == 200 and len(page["items"]) == 1 and page["next_cursor"].startswith("v1.")
    status, rest = driver("GET", "/v1/me/receipts", query={"limit": "5", "cursor": page["next_cursor"]})
    assert status == 200 and rest["next_cursor"] is None
    assert sorted(r["cdr_id"] for r in page["items"] + rest["items"]) == ["TX1", "TX2"]
    assert page["items"][0]["download_url"] is None  # links only on the single-receipt GET

    status, receipt = driver("GET", "/v1/me/receipts/{cdrId}", {"cdrId": "TX1"})
    assert status == 200 and receipt["total_incl_vat"] == "7.27" and receipt["kind"] == "receipt"
    url = receipt["download_url"]
    assert "receipts/tenant%3Dt1/TX1.pdf" in url or "receipts/tenant=t1/TX1.pdf" in url
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    _, again = driver("GET", "/v1/me/receipts/{cdrId}", {"cdrId": "TX1"})
    assert again["download_url_expires_at"] >= receipt["download_url_expires_at"]

    # bob's receipt, another tenant's, an unknown one: all 404 (never disclosed)
    for cdr_id in ("TX3", "TX4", "TX404"):
        assert driver("GET", "/v1/me/receipts/{cdrId}", {"cdrId": cdr_id})[0] == 404
    assert driver("GET", "/v1/me/receipts/{cdrId}", {"cdrId": "bad id!"})[0] == 400
    status, _, bobs = call("GET", "/v1/me/receipts", user="bob", groups="[driver]")
    assert status == 200 and [r["cdr_id"] for r in bobs["items"]] == ["TX3"]
    assert call("GET", "/v1/me/receipts", groups="[operator]")[0] == 403


def test_the_drivers_email_is_remembered_and_receipts_are_emailed() -> None:
    own("CARDA", "alice")
    store = DynamoDocumentStore(boto3.client("dynamodb"), os.environ["INVOICES_TABLE"])
    # any route of the app (here the drivers' blueprint), not only the receipts routes
    status, _ = driver("GET", "/v1/me/tokens", user="zoe", email="zoe@example.com")
    assert status == 200 and store.contact("t1", "zoe") == "zoe@example.com"
    call("GET", "/v1/invoices", email="fin@example.com")  # not a driver: not stored
    assert store.contact("t1", "fin-1") is None
    driver("GET", "/v1/me/receipts", user="yan", email="yan@example.com", claims={"email_verified": "false"})
    assert store.contact("t1", "yan") is None  # Cognito says the address is not verified
    status, _ = driver("GET", "/v1/me/receipts", email="alice@example.com")
    assert status == 200
    assert store.contact("t1", "alice") == "alice@example.com"
    receipts().issue(cdr_for("CARDA", "TX1"))
    receipts().issue(cdr_for("CARDA", "TX1"))  # a redelivery
    [message] = sent_raw()
    assert set(message.destinations) == {"alice@example.com"} and message.source == os.environ["SENDER_EMAIL"]
    mail = email.message_from_string(message.raw_data)
    [attachment] = [p for p in mail.walk() if p.get_filename()]
    assert attachment.get_filename() == "receipt-TX1.pdf"
    pdf = attachment.get_payload(decode=True)
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")


def test_finance_issues_lists_and_downloads_invoices() -> None:
    status, _, _ = call(
        "PUT",
        "/v1/id-tags/{idTag}",
        {"idTag": "CARDF"},
        groups="[operator]",
        body={"status": "Accepted", "parent_id_tag": "FLEET"},
    )
    assert status == 200
    status, _, _ = call(
        "PUT",
        "/v1/contracts/{contractId}",
        {"contractId": "fleet"},
        body={
            "scope": "account",
            "subject_id": "FLEET",
            "currency": "EUR",
            "monthly_fee": "9.99",
            "vat": "19",
        },
    )
    assert status == 200
    status, _, brand = call(
        "PUT",
        "/v1/billing-profile",
        body={"name": "Voltway GmbH", "address_lines": ["Hauptstr. 1"], "vat_id": "DE1"},
    )
    assert status == 200 and brand["name"] == "Voltway GmbH"
    status, _, account = call(
        "PUT",
        "/v1/billing-accounts/{accountId}",
        {"accountId": "FLEET"},
        body={"name": "Fleet Ltd", "billing_email": "ap@fleet.example"},
    )
    assert status == 200 and account["account_id"] == "FLEET"
    assert call("GET", "/v1/billing-accounts/{accountId}", {"accountId": "FLEET"})[2]["name"] == "Fleet Ltd"
    receipts().issue(cdr_for("CARDF", "TX1"))
    receipts().issue(cdr_for("CARDF", "TX2"))

    body = {"account_id": "FLEET", "month": "2026-03"}
    status, headers, invoice = call("POST", "/v1/invoices", body=body, key="inv-2026-03-fleet")
    assert status == 201, invoice
    assert headers["Location"] == "/v1/invoices/2026-03.FLEET"
    assert invoice["number"] == "INV-000001" and invoice["lines"] == 3
    assert invoice["total_excl_vat"] == "21.99" and invoice["total_incl_vat"] == "26.43"  # 2 x 7.27 + 11.89
    assert "invoices/tenant" in invoice["download_url"] and "X-Amz-Signature=" in invoice["download_url"]
    status, headers, replay = call("POST", "/v1/invoices", body=body, key="inv-2026-03-fleet")
    assert status == 201 and headers.get("Idempotent-Replayed") == "true" and replay["number"] == "INV-000001"
    status, _, same = call("POST", "/v1/invoices", body=body, key="another-key-1")
    assert status == 200 and same["number"] == "INV-000001"  # one invoice per account and month
    assert [set(m.destinations) for m in sent_raw()] == [{"ap@fleet.example"}]  # e-mailed once

    status, _, page = call("GET", "/v1/invoices")
    assert status == 200 and [i["invoice_id"] for i in page["items"]] == ["2026-03.FLEET"]
    status, _, one = call("GET", "/v1/invoices/{invoiceId}", {"invoiceId": "2026-03.FLEET"})
    assert status == 200 and one["download_url"] and one["billing_email"] == "ap@fleet.example"
    pdf = boto3.client("s3").get_object(
        Bucket=os.environ["DOCUMENTS_BUCKET"], Key="invoices/tenant=t1/2026-03.FLEET.pdf"
    )
    assert pdf["Body"].read().startswith(b"%PDF") and pdf["ContentType"] == "application/pdf"

    # isolation, roles, validation
    assert call("GET", "/v1/invoices/{invoiceId}", {"invoiceId": "2026-03.FLEET"}, tenant="t2")[0] == 404
    assert call("GET", "/v1/invoices", tenant="t2")[2]["items"] == []
    assert call("GET", "/v1/invoices", groups="[driver]")[0] == 403
    assert call("POST", "/v1/invoices", body=body, groups="[operator]", key="op-key-0001")[0] == 403
    assert call("PUT", "/v1/billing-profile", body={"name": "x"}, groups="[driver]")[0] == 403
    assert call("POST", "/v1/invoices", body=body)[0] == 400  # no Idempotency-Key
    this_month = f"{datetime.now(UTC):%Y-%m}"
    status, _, error = call("POST", "/v1/invoices", body={**body, "month": this_month}, key="current-month")
    assert status == 409 and error["error"]["code"] == "month_not_closed"
    status, _, error = call(
        "POST", "/v1/invoices", body={"account_id": "NOBODY", "month": "2026-03"}, key="k-nobody"
    )
    assert status == 409 and error["error"]["code"] == "nothing_to_invoice"
    assert (
        call("POST", "/v1/invoices", body={"account_id": "X", "month": "2026-13"}, key="bad-month")[0] == 400
    )
