"""Alert use cases on the in-memory store: opening once per occurrence, resolving, acknowledging."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from voltway.alerts.errors import AlertNotFound, AlertResolved
from voltway.alerts.memory import InMemoryAlertStore
from voltway.alerts.model import AlertKey, AlertKind, AlertStatus, parse_alert_id
from voltway.alerts.service import AlertService
from voltway.chargers.model import Charger

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _service() -> tuple[AlertService, InMemoryAlertStore]:
    store = InMemoryAlertStore()
    return AlertService(store, clock=lambda: NOW), store


def _status(service: AlertService, status: str, previous: str | None, connector: int = 1) -> None:
    service.connector_status(
        tenant_id="t1",
        charge_point_id="CP1",
        connector_id=connector,
        status=status,
        details={"error_code": "GroundFailure" if status == "Faulted" else "NoError"},
        previous_status=previous,
        at=NOW,
    )


def test_faulted_opens_once_and_leaving_faulted_resolves() -> None:
    service, store = _service()
    _status(service, "Available", None)
    assert store.items == {}
    _status(service, "Faulted", "Available")
    _status(service, "Faulted", "Faulted")  # repeated: still the one occurrence
    (alert,) = service.listing("t1", AlertStatus.OPEN, 10, None).items
    assert alert.alert_id == "CP1~connector_faulted~1~1" and alert.details["error_code"] == "GroundFailure"
    _status(service, "Charging", "Available", connector=2)  # another connector: nothing
    _status(service, "Available", "Faulted")
    assert service.listing("t1", AlertStatus.OPEN, 10, None).items == []
    _status(service, "Faulted", "Available")
    (again,) = service.listing("t1", AlertStatus.OPEN, 10, None).items
    assert again.occurrence == 2


def test_acknowledge_is_per_tenant_and_occurrence() -> None:
    service, _ = _service()
    _status(service, "Faulted", None)
    alert_id = "CP1~connector_faulted~1~1"
    with pytest.raises(AlertNotFound):
        service.acknowledge("t2", alert_id, "u2")
    with pytest.raises(AlertNotFound):
        service.acknowledge("t1", "CP1~connector_faulted~1~2", "u1")
    with pytest.raises(AlertNotFound):
        service.acknowledge("t1", "not-an-id", "u1")
    acked = service.acknowledge("t1", alert_id, "u1")
    assert acked.status is AlertStatus.ACKNOWLEDGED and acked.acknowledged_by == "u1"
    assert service.acknowledge("t1", alert_id, "u9") == acked  # again: as it is
    _status(service, "Available", "Faulted")  # acknowledged alerts resolve too
    with pytest.raises(AlertResolved):
        service.acknowledge("t1", alert_id, "u1")


def test_offline_alerts_resolve_once_the_charger_was_heard_from() -> None:
    service, _ = _service()
    charger = Charger(
        "CP1", "t1", "hash", last_seen=NOW - timedelta(minutes=10), offline_alerted=True, online=False
    )
    known = {"CP1": charger}
    assert service.charger_offline(charger) is not None
    assert service.charger_offline(charger) is None  # one per absence
    assert service.resolve_back_online(_Lookup(known)) == 0
    known["CP1"] = dataclasses.replace(charger, offline_alerted=False)
    assert service.resolve_back_online(_Lookup(known)) == 1
    (resolved,) = service.listing("t1", AlertStatus.RESOLVED, 10, None).items
    assert resolved.key == AlertKey("CP1", AlertKind.CHARGER_OFFLINE) and resolved.resolved_at == NOW


def test_alert_ids_round_trip() -> None:
    key = AlertKey("CP-1.a_b", AlertKind.UNKNOWN_TRANSACTION_STOP, "4711")
    assert parse_alert_id(key.alert_id(3)) == (key, 3)
    assert parse_alert_id("CP1~nope~0~1") is None and parse_alert_id("CP1~charger_offline~0~x") is None


class _Lookup:
    def __init__(self, chargers: dict[str, Charger]) -> None:
        self._chargers = chargers

    def get(self, charge_point_id: str) -> Charger | None:
        return self._chargers.get(charge_point_id)
