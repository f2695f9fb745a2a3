"""Drivers' station routes through the Chalice app on moto: search, detail with live status written
the way the OCPP path writes it (the chargers table), validation, roles and tenant isolation."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from tests.unit.test_sites_support import Api, aws, site_body
from voltway.adapters.dynamo import DynamoChargerRepository
from voltway.adapters.dynamo_models import ChargerItem, bind
from voltway.chargers.model import ConnectorState

pytestmark = pytest.mark.usefixtures("aws")
__all__ = ["aws"]

API = Api()
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
DRIVER = "[driver]"
NEAR = {"lat": "52.52", "lon": "13.405"}


def chargers() -> DynamoChargerRepository:
    return DynamoChargerRepository(
        bind(ChargerItem, os.environ["CHARGERS_TABLE"], region="eu-west-1", host=None)
    )


def station(site_id: str, lat: float, lon: float, kind: str, kw: float, *, tenant: str = "t1") -> None:
    assert (
        API(
            "PUT", "/v1/sites/{siteId}", {"siteId": site_id}, body=site_body(site_id, lat, lon), tenant=tenant
        )[0]
        == 200
    )
    cp = f"CP-{site_id}"
    assert (
        API(
            "PUT",
            "/v1/chargers/{chargePointId}",
            {"chargePointId": cp},
            body={"password": "secret-pw-1"},
            tenant=tenant,
        )[0]
        == 200
    )
    body = {"connectors": [{"connector_id": 1, "type": kind, "max_power_kw": kw}]}
    status, placed = API(
        "PUT",
        "/v1/sites/{siteId}/chargers/{chargePointId}",
        {"siteId": site_id, "chargePointId": cp},
        body=body,
        tenant=tenant,
    )
    assert status == 200, placed


def report(cp: str, status: str) -> None:
    repo = chargers()
    repo.mark_online(cp, "conn-1", NOW)
    repo.record_connector(cp, 1, ConnectorState(status, "NoError", datetime.now(UTC)), NOW)


@pytest.fixture
def stations(aws: None) -> None:
    station("NEAR", 52.521, 13.41, "IEC_62196_T2", 22)
    station("MID", 52.55, 13.45, "IEC_62196_T2_COMBO", 150)
    station("FAR", 52.40, 13.07, "CHADEMO", 50)
    station("OTHER", 52.52, 13.405, "IEC_62196_T2", 22, tenant="t2")


@pytest.mark.usefixtures("stations")
def test_driver_search_by_distance_filters_and_live_availability() -> None:
    status, page = API("GET", "/v1/stations", query={**NEAR, "radius_km": "50"}, groups=DRIVER)
    assert status == 200, page
    assert [s["site_id"] for s in page["items"]] == ["NEAR", "MID", "FAR"]
    assert page["items"][0]["distance_km"] < page["items"][1]["distance_km"] < page["items"][2]["distance_km"]
    assert page["items"][0]["connectors"][0]["status"] == "Offline" and page["next_cursor"] is None
    query = {**NEAR, "radius_km": "10"}
    assert [s["site_id"] for s in API("GET", "/v1/stations", query=query, groups=DRIVER)[1]["items"]] == [
        "NEAR",
        "MID",
    ]
    ccs = {**NEAR, "connector_type": "IEC_62196_T2_COMBO"}
    assert [s["site_id"] for s in API("GET", "/v1/stations", query=ccs, groups=DRIVER)[1]["items"]] == ["MID"]
    strong = {**NEAR, "radius_km": "50", "min_power_kw": "40"}
    assert [s["site_id"] for s in API("GET", "/v1/stations", query=strong, groups=DRIVER)[1]["items"]] == [
        "MID",
        "FAR",
    ]
    free = {**NEAR, "radius_km": "50", "available": "true"}
    assert API("GET", "/v1/stations", query=free, groups=DRIVER)[1]["items"] == []
    report("CP-FAR", "Available")
    report("CP-NEAR", "Charging")
    _, page = API("GET", "/v1/stations", query=free, groups=DRIVER)
    assert [(s["site_id"], s["available_connectors"]) for s in page["items"]] == [("FAR", 1)]
    status, detail = API("GET", "/v1/stations/{siteId}", {"siteId": "NEAR"}, query=NEAR, groups=DRIVER)
    assert status == 200 and detail["connectors"][0]["status"] == "Charging" and detail["distance_km"] < 1
    report("CP-NEAR", "Available")
    assert (
        API("GET", "/v1/stations/{siteId}", {"siteId": "NEAR"}, groups=DRIVER)[1]["connectors"][0][
            "available"
        ]
        is True
    )


@pytest.mark.usefixtures("stations")
def test_text_search_and_pagination() -> None:
    _, page = API("GET", "/v1/stations", query={"q": "main street", "limit": "2"}, groups=DRIVER)
    assert [s["site_id"] for s in page["items"]] == ["FAR", "MID"] and page["items"][0]["distance_km"] is None
    _, rest = API(
        "GET",
        "/v1/stations",
        query={"q": "main street", "limit": "2", "cursor": page["next_cursor"]},
        groups=DRIVER,
    )
    assert [s["site_id"] for s in rest["items"]] == ["NEAR"] and rest["next_cursor"] is None
    other = {"q": "berlin", "limit": "2", "cursor": page["next_cursor"]}  # another query
    assert API("GET", "/v1/stations", query=other, groups=DRIVER)[1]["error"]["code"] == "invalid_cursor"


@pytest.mark.usefixtures("stations")
def test_roles_tenants_and_validation() -> None:
    assert API("GET", "/v1/stations", query=NEAR, groups=None)[0] == 401
    assert API("GET", "/v1/stations", query=NEAR, groups="[finance]")[0] == 403
    assert API("GET", "/v1/stations", query=NEAR, groups="[operator]")[0] == 200
    status, body = API("GET", "/v1/stations/{siteId}", {"siteId": "OTHER"}, groups=DRIVER)
    assert status == 404 and "OTHER" not in str(body.get("items", ""))
    _, page = API("GET", "/v1/stations", query={**NEAR, "radius_km": "5"}, groups=DRIVER, tenant="t2")
    assert [s["site_id"] for s in page["items"]] == ["OTHER"]
    for bad in (
        {"lat": "52.5"},
        {"radius_km": "5"},
        {**NEAR, "radius_km": "0"},
        {**NEAR, "limit": "0"},
        {**NEAR, "connector_type": "SCHUKO"},
        {**NEAR, "available": "perhaps"},
        {"lat": "nan", "lon": "1"},
        {**NEAR, "unknown": "1"},
    ):
        status, body = API("GET", "/v1/stations", query=bad, groups=DRIVER)
        assert status == 400 and body["error"]["code"] == "validation_error", bad
