"""The DynamoDB site repository on moto (table from template.yaml): the index snapshot follows every
write, a move is one guarded transaction, and ``rebuild_index`` repairs a snapshot."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import boto3
import pytest

from tests.unit.test_sites_support import aws
from voltway.sites import snapshot
from voltway.sites.dynamo import DynamoSiteRepository
from voltway.sites.errors import SiteNotFound
from voltway.sites.model import (
    ConnectorSpec,
    ConnectorType,
    Coordinates,
    OpeningHours,
    Placement,
    RegularHours,
    SiteDetails,
)

pytestmark = pytest.mark.usefixtures("aws")
__all__ = ["aws"]

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HOURS = OpeningHours(False, (RegularHours(1, "08:00", "20:00"),))


def details(name: str, lat: float = 52.5) -> SiteDetails:
    return SiteDetails(
        name, "Street 1", "Berlin", "DEU", Coordinates(lat, 13.4), "Europe/Berlin", 50.0, HOURS
    )


def repo() -> DynamoSiteRepository:
    return DynamoSiteRepository(boto3.client("dynamodb", region_name="eu-west-1"), os.environ["SITES_TABLE"])


def test_the_snapshot_follows_every_write() -> None:
    sites = repo()
    assert sites.all_sites("t1") == [] and sites.index_version("t1") == 0
    for i in range(40):
        sites.save_details("t1", f"S{i:02d}", details(f"Site {i}"), NOW)
    sites.save_details("t2", "S00", details("Other tenant"), NOW)
    v1 = sites.index_version("t1")
    indexed = sites.all_sites("t1")
    assert [s.site_id for s in indexed] == [f"S{i:02d}" for i in range(40)]
    assert indexed[0].details == details("Site 0")
    placement = Placement("CP1", (ConnectorSpec(1, ConnectorType.CHADEMO, 50.0),))
    sites.place_charger("t1", "S01", placement, NOW)
    sites.place_charger("t1", "S02", placement, NOW)  # a move
    by_id = {s.site_id: s for s in sites.all_sites("t1")}
    assert by_id["S01"].chargers == {} and by_id["S02"].chargers == {"CP1": placement}
    assert sites.get("t1", "S02") is not None and sites.get("t1", "S02").chargers == {"CP1": placement}  # type: ignore[union-attr]
    sites.remove_charger("t1", "S02", "CP1", NOW)
    assert {s.site_id: s for s in sites.all_sites("t1")}["S02"].chargers == {}
    assert sites.index_version("t1") > v1
    with pytest.raises(SiteNotFound):
        sites.place_charger("t1", "NOPE", placement, NOW)
    assert [s.details.name for s in sites.all_sites("t2")] == ["Other tenant"]
    # Bookkeeping items never show up in listings.
    page = sites.list_sites("t1", 100, None)
    assert len(page.items) == 40 and page.cursor is None


def test_rebuild_index_repairs_a_lost_snapshot() -> None:
    sites = repo()
    for i in range(5):
        sites.save_details("t1", f"S{i}", details(f"Site {i}"), NOW)
    db = boto3.client("dynamodb", region_name="eu-west-1")
    for shard in range(snapshot.SHARDS):
        db.delete_item(
            TableName=os.environ["SITES_TABLE"],
            Key={"tenant_id": {"S": "t1"}, "site_id": {"S": snapshot.shard_key(shard)}},
        )
    assert sites.all_sites("t1") == []
    assert sites.rebuild_index("t1") == 5
    assert [s.site_id for s in sites.all_sites("t1")] == [f"S{i}" for i in range(5)]
