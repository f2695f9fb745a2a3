"""Operators' site routes: happy paths, validation, roles, tenant isolation, pagination."""

from __future__ import annotations

import pytest

from tests.unit.test_sites_support import Api, aws, site_body

pytestmark = pytest.mark.usefixtures("aws")
__all__ = ["aws"]

API = Api()
SITE = "/v1/sites/{siteId}"
PLACE = "/v1/sites/{siteId}/chargers/{chargePointId}"
CHARGER = "/v1/chargers/{chargePointId}"
T2 = {"connectors": [{"connector_id": 1, "type": "IEC_62196_T2", "max_power_kw": 22}]}


def register(cp: str, tenant: str = "t1") -> None:
    status, body = API("PUT", CHARGER, {"chargePointId": cp}, body={"password": "secret-pw-1"}, tenant=tenant)
    assert status == 200, body


def test_put_get_and_update_a_site() -> None:
    hours = {
        "twentyfourseven": False,
        "regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}],
    }
    status, site = API("PUT", SITE, {"siteId": "S1"}, body=site_body(opening_hours=hours))
    assert status == 200, site
    assert site["site_id"] == "S1" and site["coordinates"] == {"lat": 52.52, "lon": 13.405}
    assert site["opening_hours"]["regular_hours"][0]["period_end"] == "20:00"
    assert site["created_at"].endswith("Z") and site["version"] == 1 and site["chargers"] == []
    status, again = API("PUT", SITE, {"siteId": "S1"}, body=site_body(name="Renamed"))
    assert status == 200 and again["name"] == "Renamed" and again["opening_hours"] is None
    assert again["created_at"] == site["created_at"] and again["version"] == 2
    assert API("GET", SITE, {"siteId": "S1"}) == (200, again)


def test_validation_errors_name_the_fields() -> None:
    bad = site_body(time_zone="Mars/Olympus", grid_limit_kw=-1, coordinates={"lat": 91, "lon": 0})
    status, body = API("PUT", SITE, {"siteId": "S1"}, body=bad)
    assert status == 400 and body["error"]["code"] == "validation_error"
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"time_zone", "grid_limit_kw", "coordinates.lat"} <= fields
    assert API("PUT", SITE, {"siteId": "S1"}, body=site_body(time_zone="localtime"))[0] == 400
    assert API("PUT", SITE, {"siteId": "S1"}, body=site_body(extra_field=1))[0] == 400
    assert API("PUT", SITE, {"siteId": "S1"}, raw_body="{not json")[0] == 400
    hours = {
        "twentyfourseven": True,
        "regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "07:00"}],
    }
    assert API("PUT", SITE, {"siteId": "S1"}, body=site_body(opening_hours=hours))[0] == 400
    status, body = API("PUT", SITE, {"siteId": "bad id!"}, body=site_body())
    assert status == 400 and body["error"]["details"] == {"field": "siteId"}


def test_roles_and_tenants() -> None:
    assert API("PUT", SITE, {"siteId": "S1"}, body=site_body(), groups=None)[0] == 401
    status, body = API("PUT", SITE, {"siteId": "S1"}, body=site_body(), groups="[driver]")
    assert status == 403 and set(body["error"]) == {"code", "message", "details"}
    assert API("GET", "/v1/sites", groups="[finance]")[0] == 403
    assert API("PUT", SITE, {"siteId": "S1"}, body=site_body(), groups="[admin]")[0] == 200
    status, body = API("GET", SITE, {"siteId": "S1"}, tenant="t2")
    assert status == 404 and body["error"]["code"] == "not_found" and "Berlin" not in str(body)
    assert API("GET", "/v1/sites", tenant="t2")[1]["items"] == []
    # The same id in another tenant is another site.
    assert (
        API("PUT", SITE, {"siteId": "S1"}, body=site_body(name="T2 site"), tenant="t2")[1]["name"]
        == "T2 site"
    )
    assert API("GET", SITE, {"siteId": "S1"})[1]["name"] == "Main Street Hub"


def test_list_pages_with_signed_cursors() -> None:
    for i in range(5):
        API("PUT", SITE, {"siteId": f"S{i}"}, body=site_body(name=f"Site {i}"))
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page = API("GET", "/v1/sites", query=query)
        assert status == 200
        seen += [s["site_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor.startswith("v1.")
    assert seen == ["S0", "S1", "S2", "S3", "S4"]
    _, first = API("GET", "/v1/sites", query={"limit": "2"})
    token = first["next_cursor"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, body = API("GET", "/v1/sites", query={"limit": "2", "cursor": tampered})
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    # A cursor is bound to its tenant and route.
    assert API("GET", "/v1/sites", query={"cursor": token}, tenant="t2")[0] == 400
    assert API("GET", "/v1/chargers", query={"cursor": token})[0] == 400


def test_place_move_and_remove_chargers() -> None:
    API("PUT", SITE, {"siteId": "A"}, body=site_body(name="A"))
    API("PUT", SITE, {"siteId": "B"}, body=site_body(name="B"))
    register("CP1")
    two = {
        "connectors": [
            {"connector_id": 2, "type": "IEC_62196_T2_COMBO", "max_power_kw": 150},
            {"connector_id": 1, "type": "CHADEMO", "max_power_kw": 50},
        ]
    }
    status, site = API("PUT", PLACE, {"siteId": "A", "chargePointId": "CP1"}, body=two)
    assert status == 200, site
    (placed,) = site["chargers"]
    assert placed["charge_point_id"] == "CP1" and [c["connector_id"] for c in placed["connectors"]] == [1, 2]
    status, site_b = API("PUT", PLACE, {"siteId": "B", "chargePointId": "CP1"}, body=T2)
    assert status == 200 and site_b["chargers"][0]["connectors"][0]["type"] == "IEC_62196_T2"
    assert API("GET", SITE, {"siteId": "A"})[1]["chargers"] == []
    status, removed = API("DELETE", PLACE, {"siteId": "B", "chargePointId": "CP1"})
    assert status == 200 and removed["chargers"] == []
    assert API("DELETE", PLACE, {"siteId": "B", "chargePointId": "CP1"})[0] == 404
    # The charger contract is unchanged.
    status, charger = API("GET", CHARGER, {"chargePointId": "CP1"})
    assert status == 200 and "site_id" not in charger


def test_placement_errors() -> None:
    API("PUT", SITE, {"siteId": "A"}, body=site_body())
    register("CP1")
    register("CPX", tenant="t2")
    assert API("PUT", PLACE, {"siteId": "A", "chargePointId": "CPX"}, body=T2)[0] == 404  # other tenant's
    assert API("PUT", PLACE, {"siteId": "A", "chargePointId": "NOPE"}, body=T2)[0] == 404
    assert API("PUT", PLACE, {"siteId": "Z", "chargePointId": "CP1"}, body=T2)[0] == 404
    dup = {"connectors": [T2["connectors"][0], T2["connectors"][0]]}
    assert API("PUT", PLACE, {"siteId": "A", "chargePointId": "CP1"}, body=dup)[0] == 409
    bad = {"connectors": [{"connector_id": 0, "type": "SCHUKO", "max_power_kw": 0}]}
    status, body = API("PUT", PLACE, {"siteId": "A", "chargePointId": "CP1"}, body=bad)
    assert status == 400 and len(body["error"]["details"]) == 3
    assert API("PUT", PLACE, {"siteId": "A", "chargePointId": "CP1"}, body=T2, groups="[driver]")[0] == 403
    assert API("PUT", PLACE, {"siteId": "A", "chargePointId": "CP1"}, body=T2, tenant="t2")[0] == 404
