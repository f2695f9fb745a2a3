"""Tariff storage and selection precedence: charger > site > tenant default > none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voltway.billing.errors import NoTariffAssigned, TariffNotFound
from voltway.billing.memory import MemoryTariffs
from voltway.billing.service import TariffService
from voltway.tariffs import Tariff


def tariff(tariff_id: str) -> Tariff:
    return Tariff.model_validate(
        {
            "country_code": "NL",
            "party_id": "VWY",
            "id": tariff_id,
            "currency": "EUR",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
        }
    )


@pytest.fixture
def service() -> TariffService:
    svc = TariffService(MemoryTariffs(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    for tid in ("DEFAULT", "SITE", "CHARGER"):
        svc.put("t1", tid, tariff(tid), default=tid == "DEFAULT")
    return svc


def test_charger_beats_site_beats_default(service: TariffService) -> None:
    assert service.select("t1", "CP1").id == "DEFAULT"
    assert service.select("t1", "CP1", site_tariff_id="SITE").id == "SITE"
    service.assign_charger("t1", "CP1", "CHARGER")
    assert service.select("t1", "CP1", site_tariff_id="SITE").id == "CHARGER"
    service.assign_charger("t1", "CP1", None)
    assert service.select("t1", "CP1").id == "DEFAULT"


def test_no_tariff_at_all_is_an_error_and_tenants_are_separate(service: TariffService) -> None:
    with pytest.raises(NoTariffAssigned):
        service.select("t2", "CP1")
    with pytest.raises(TariffNotFound):
        service.get("t2", "DEFAULT")
    with pytest.raises(TariffNotFound):
        service.assign_charger("t2", "CP1", "DEFAULT")


def test_default_moves_and_path_id_must_match(service: TariffService) -> None:
    stored = service.put("t1", "SITE", tariff("SITE"), default=True)
    assert service.is_default(stored)
    assert not service.is_default(service.get("t1", "DEFAULT"))
    assert service.select("t1", "CPX").id == "SITE"
    with pytest.raises(ValueError):
        service.put("t1", "OTHER", tariff("SITE"), default=False)


def test_listing_is_paged_by_id(service: TariffService) -> None:
    page, cursor = service.list_tariffs("t1", 2, None)
    assert [t.tariff_id for t in page] == ["CHARGER", "DEFAULT"]
    rest, end = service.list_tariffs("t1", 2, cursor)
    assert [t.tariff_id for t in rest] == ["SITE"] and end is None
