"""Operator / finance HTTP routes of billing (a Chalice blueprint registered by functions/api/app.py).

Drivers are not served yet: there is no id tag <-> user mapping to tell them their own CDRs, so every
CDR route needs the operator or finance role (docs/billing.md).
"""

from __future__ import annotations

import json
from typing import Any, ParamSpec

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from voltway.adapters.http import BadRequest, int_param, mapped, path_param, principal
from voltway.adapters.roots import cached_api
from voltway.api.openapi import Operation, documented
from voltway.billing.model import CDR_ID_PATTERN, ID_PATTERN, Contract, IssuedCdr, StoredTariff
from voltway.billing.roots import cached_billing
from voltway.identity import Principal, Role
from voltway.invoices.roots import cached_documents_api
from voltway.tariffs import Tariff

P = ParamSpec("P")
STAFF = (Role.OPERATOR, Role.FINANCE, Role.ADMIN)
PATTERNS = {"tariffId": ID_PATTERN, "contractId": ID_PATTERN, "cdrId": CDR_ID_PATTERN}


class PutContractRequest(BaseModel):
    """A contract's terms (the id comes from the path); see ``voltway.billing.model.Contract``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scope: str = Field(pattern="^(tenant|account|partner)$")
    subject_id: str | None = None
    currency: str
    discount_percent: str | float | int = 0
    energy_price_per_kwh: str | float | None = None
    session_fee: str | float | None = None
    monthly_fee: str | float | None = None
    vat: str | float | None = None
    description: str | None = None
    max_session_minutes: str | float | int | None = None
    tx_profile_safety_net: bool = False


def tariff_view(stored: StoredTariff, is_default: bool) -> dict[str, Any]:
    return {
        "tariff_id": stored.tariff_id,
        "default": is_default,
        "updated_at": stored.updated_at.isoformat(),
        "tariff": json.loads(stored.tariff.model_dump_json(exclude_none=True)),
    }


def contract_view(contract: Contract) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(contract.model_dump_json())
    return out


def cdr_view(cdr: IssuedCdr) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR object, plus a ``voltway`` block (not OCPI) with what the platform adds."""
    return {
        **cdr.ocpi,
        "voltway": {
            "kind": cdr.kind.value,
            "tenant_id": cdr.tenant_id,
            "charge_point_id": cdr.charge_point_id,
            "transaction_id": cdr.transaction_id,
            "tariff_id": cdr.tariff_id,
            "contract_id": cdr.contract_id,
            "credit_of": cdr.credit_of,
            "anomalies": list(cdr.anomalies),
            "issued_at": cdr.issued_at.isoformat(),
            "stop_reason": cdr.stop_reason,
        },
    }


def billing_blueprint() -> Blueprint:
    bp = Blueprint(__name__)

    def staff() -> Principal:
        caller = principal(bp.current_request.context)
        caller.require(Role.OPERATOR, Role.FINANCE)
        return caller

    def json_body() -> dict[str, Any]:
        try:
            data = json.loads(bp.current_request.raw_body or b"{}")
        except ValueError as e:
            raise BadRequest("the body is not JSON") from e
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    @bp.route("/v1/tariffs/{tariffId}", methods=["PUT"])
    @documented(
        Operation(
            'Store an OCPI 2.2.1 tariff ("default": true = tenant default)',
            "billing",
            roles=STAFF,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def put_tariff(tariffId: str) -> dict[str, Any]:
        caller = staff()
        data = json_body()
        default = data.pop("default", False)
        if not isinstance(default, bool):
            raise BadRequest("default must be a boolean", {"field": "default"})
        tariff = Tariff.model_validate(data)
        tariff_id = path_param(PATTERNS, "tariffId", tariffId)
        if tariff.id != tariff_id:
            raise BadRequest("the tariff's id must equal the path's tariffId", {"field": "id"})
        tariffs = cached_billing().tariffs
        stored = tariffs.put(caller.tenant_id, tariff_id, tariff, default=default)
        return tariff_view(stored, tariffs.is_default(stored))

    @bp.route("/v1/tariffs/{tariffId}", methods=["GET"])
    @documented(Operation("A stored tariff", "billing", roles=STAFF, path_patterns=PATTERNS))
    @mapped
    def get_tariff(tariffId: str) -> dict[str, Any]:
        caller = staff()
        tariffs = cached_billing().tariffs
        stored = tariffs.get(caller.tenant_id, tariffId)
        return tariff_view(stored, tariffs.is_default(stored))

    @bp.route("/v1/tariffs", methods=["GET"])
    @documented(Operation("The tenant's tariffs, by id", "billing", roles=STAFF))
    @mapped
    def list_tariffs() -> dict[str, Any]:
        caller = staff()
        params = bp.current_request.query_params
        limit = int_param(params, "limit", 25, 1, 100)
        cursor = params.get("cursor") if params else None
        try:
            items, next_cursor = cached_billing().tariffs.list_tariffs(caller.tenant_id, limit, cursor)
        except ValueError as e:
            raise BadRequest(str(e), {"field": "cursor"}) from e
        return {"items": [tariff_view(t, t.is_default) for t in items], "next_cursor": next_cursor}

    @bp.route("/v1/contracts/{contractId}", methods=["PUT"])
    @documented(
        Operation(
            "Store a contract price (tenant / account / partner)",
            "billing",
            PutContractRequest,
            roles=STAFF,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def put_contract(contractId: str) -> dict[str, Any]:
        caller = staff()
        data = json_body()
        PutContractRequest.model_validate(data)
        contract = Contract.model_validate(
            {**data, "contract_id": path_param(PATTERNS, "contractId", contractId)}
        )
        return contract_view(cached_billing().contracts.put(caller.tenant_id, contract))

    @bp.route("/v1/contracts/{contractId}", methods=["GET"])
    @documented(Operation("A contract price", "billing", roles=STAFF, path_patterns=PATTERNS))
    @mapped
    def get_contract(contractId: str) -> dict[str, Any]:
        caller = staff()
        return contract_view(cached_billing().contracts.get(caller.tenant_id, contractId))

    @bp.route("/v1/contracts", methods=["GET"])
    @documented(Operation("The tenant's contract prices", "billing", roles=STAFF))
    @mapped
    def list_contracts() -> dict[str, Any]:
        caller = staff()
        items = cached_billing().contracts.list_contracts(caller.tenant_id)
        return {"items": [contract_view(c) for c in items], "next_cursor": None}

    @bp.route("/v1/cdrs/{cdrId}", methods=["GET"])
    @documented(Operation("A CDR (OCPI 2.2.1 shape)", "billing", roles=STAFF, path_patterns=PATTERNS))
    @mapped
    def get_cdr(cdrId: str) -> dict[str, Any]:
        caller = staff()
        return cdr_view(cached_billing().cdrs.get(caller.tenant_id, path_param(PATTERNS, "cdrId", cdrId)))

    @bp.route("/v1/cdrs/{cdrId}/credit", methods=["POST"])
    @documented(
        Operation(
            "Credit a CDR (a credit CDR mirroring its total_cost)",
            "billing",
            roles=STAFF,
            status=201,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def credit_cdr(cdrId: str) -> Response:
        caller = staff()
        credit = cached_billing().cdrs.credit(caller.tenant_id, path_param(PATTERNS, "cdrId", cdrId))
        # Its credit note (idempotent like the credit: a retried POST finds both and writes nothing again).
        cached_documents_api().receipts.issue(credit)
        return Response(cdr_view(credit), {"Location": f"/v1/cdrs/{credit.cdr_id}"}, 201)

    @bp.route("/v1/transactions/{transactionId}/cdr", methods=["GET"])
    @documented(Operation("The CDR of a transaction", "billing", roles=STAFF))
    @mapped
    def transaction_cdr(transactionId: str) -> dict[str, Any]:
        caller = staff()
        if not transactionId.isdigit() or len(transactionId) > 12:
            raise BadRequest("invalid transaction id", {"field": "transactionId"})
        return cdr_view(cached_billing().cdrs.for_transaction(caller.tenant_id, int(transactionId)))

    @bp.route("/v1/chargers/{chargePointId}/cdrs", methods=["GET"])
    @documented(Operation("A charger's CDRs, newest first", "billing", roles=STAFF))
    @mapped
    def charger_cdrs(chargePointId: str) -> dict[str, Any]:
        caller = staff()
        cached_api().chargers.get(caller.tenant_id, chargePointId)  # 404 unless the caller's tenant owns it
        params = bp.current_request.query_params
        limit = int_param(params, "limit", 25, 1, 100)
        cursor = params.get("cursor") if params else None
        try:
            page = cached_billing().cdrs.list_for_charger(chargePointId, limit, cursor)
        except ValueError as e:
            raise BadRequest(str(e), {"field": "cursor"}) from e
        return {"items": [cdr_view(c) for c in page.items], "next_cursor": page.cursor}

    return bp
