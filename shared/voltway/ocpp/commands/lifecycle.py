"""What changes in the reported state without a command answer: reservations end (expiry, or used by a
StartTransaction) and TxProfiles end with their transaction; plus the readable smart-charging capabilities
derived from the configuration keys as last read.

Pure functions over ``ReportedState`` (each returns ``None`` when nothing changes, so callers skip the
write), and ``ReportedLifecycle``, which applies them with the store's optimistic concurrency.
OCPP 1.6 edition 2 references: section 5.13 (a reservation is terminated when a transaction is started for
it or when ``expiryDate`` is reached), sections 3.13.1 and 7.23 (a TxProfile ceases to be valid when its
transaction terminates; "after the transaction is stopped, the profile SHOULD be deleted"), section 3.13.5
(discovery of charge point capabilities: the smart-charging configuration keys of section 9.4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from voltway.observability import count, logger
from voltway.ocpp.commands.errors import ConcurrentUpdate
from voltway.ocpp.commands.ports import ReportedStateStore
from voltway.ocpp.commands.reported import ReportedState
from voltway.ocpp.timestamps import format_datetime, parse_datetime

# Bounds the optimistic-concurrency retries of one update.
MAX_ATTEMPTS = 8
RESERVED = "Reserved"
EXPIRED = "Expired"
USED = "Used"
REMOVED = "Removed"  # ended by the connector (or the charger) going Faulted / Unavailable
ENDING_STATUSES = frozenset({"Faulted", "Unavailable"})

# Section 3.13.5 / 9.4 (Smart Charging keys) + SupportedFeatureProfiles (9.1): the keys that tell what a
# charger can do with charging profiles. key -> kind ("int", "csl", "bool").
CAPABILITY_KEYS: dict[str, str] = {
    "ChargeProfileMaxStackLevel": "int",
    "ChargingScheduleAllowedChargingRateUnit": "csl",
    "ChargingScheduleMaxPeriods": "int",
    "MaxChargingProfilesInstalled": "int",
    "ConnectorSwitch3to1PhaseSupported": "bool",
    "SupportedFeatureProfiles": "csl",
}


def _parse_capability(kind: str, raw: str | None) -> Any:
    if raw is None:
        return None
    text = raw.strip()
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            return None  # a charger's garbage stays visible in ``configuration``, not here
    if kind == "bool":
        return {"true": True, "false": False}.get(text.lower())
    return [part.strip() for part in text.split(",") if part.strip()]


def capabilities(state: ReportedState) -> dict[str, Any]:
    """The smart-charging capability keys as last read, typed (ints, booleans, lists for comma-separated
    lists); a key the charger did not report is ``None``. ``smart_charging``: whether the charger listed
    the SmartCharging feature profile (``None`` while SupportedFeatureProfiles is unknown)."""
    values = {
        key: _parse_capability(kind, (state.configuration.get(key) or {}).get("value"))
        for key, kind in CAPABILITY_KEYS.items()
    }
    profiles = values["SupportedFeatureProfiles"]
    return {
        "smart_charging": None if profiles is None else "SmartCharging" in profiles,
        "read_at": state.configuration_read_at,
        **values,
    }


def _expiry(reservation: dict[str, Any]) -> datetime | None:
    raw = reservation.get("expiry_date")
    try:
        return parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def next_reservation_expiry(state: ReportedState) -> datetime | None:
    """The earliest expiry among reservations still ``Reserved`` (what the monitor's sweep looks for)."""
    due = [
        e
        for r in state.reservations.values()
        if r.get("status") == RESERVED and (e := _expiry(r)) is not None
    ]
    return min(due) if due else None


def reservations_expired(state: ReportedState, now: datetime) -> ReportedState | None:
    """Reservations still ``Reserved`` whose ``expiryDate`` is not after ``now`` become ``Expired``."""
    changed = {}
    for rid, r in state.reservations.items():
        expiry = _expiry(r)
        if r.get("status") == RESERVED and expiry is not None and expiry <= now:
            changed[rid] = {**r, "status": EXPIRED, "ended_at": format_datetime(now)}
    if not changed:
        return None
    return replace(state, reservations={**state.reservations, **changed})


def reservation_used(
    state: ReportedState, reservation_id: int, transaction_id: int, connector_id: int, at: datetime
) -> ReportedState | None:
    """A StartTransaction carrying ``reservationId`` consumed the reservation (whatever its status: the
    charger is the truth, e.g. a start timestamped before the expiry but delivered late)."""
    key = str(reservation_id)
    existing = state.reservations.get(key)
    if existing is not None and existing.get("status") == USED:
        return None  # a retried StartTransaction
    base = existing or {
        "connector_id": connector_id,
        "id_tag": None,
        "parent_id_tag": None,
        "expiry_date": None,
    }
    used = {**base, "status": USED, "transaction_id": transaction_id, "ended_at": format_datetime(at)}
    return replace(state, reservations={**state.reservations, key: used})


def reservations_ended_by_status(
    state: ReportedState, connector_id: int, status: str, at: datetime
) -> ReportedState | None:
    """Section 5.13 (3): a reservation is terminated when its connector (or the whole charger,
    connector 0) is set to Faulted or Unavailable. A status older than the reservation (delivered late)
    ends nothing."""
    if status not in ENDING_STATUSES:
        return None
    changed = {}
    for rid, r in state.reservations.items():
        if r.get("status") != RESERVED or (connector_id != 0 and r.get("connector_id") != connector_id):
            continue
        reserved_at = r.get("reserved_at")
        if isinstance(reserved_at, str) and parse_datetime(reserved_at) > at:
            continue
        changed[rid] = {**r, "status": REMOVED, "ended_reason": status, "ended_at": format_datetime(at)}
    if not changed:
        return None
    return replace(state, reservations={**state.reservations, **changed})


def tx_profiles_ended(
    state: ReportedState, transaction_id: int, connector_id: int | None
) -> ReportedState | None:
    """Remove the TxProfiles of a stopped transaction: those installed for ``transaction_id``, and those
    installed without a transaction id on the transaction's connector (they applied to it)."""

    def ended(p: dict[str, Any]) -> bool:
        if p.get("purpose") != "TxProfile":
            return False
        tx = p.get("transaction_id")
        if tx is not None:
            return bool(tx == transaction_id)
        return connector_id is not None and p.get("connector_id") == connector_id

    kept = {pid: p for pid, p in state.charging_profiles.items() if not ended(p)}
    if len(kept) == len(state.charging_profiles):
        return None
    return replace(state, charging_profiles=kept)


def has_unbound_tx_profile(state: ReportedState) -> bool:
    return any(
        p.get("purpose") == "TxProfile" and p.get("transaction_id") is None
        for p in state.charging_profiles.values()
    )


class ReservationSweep(Protocol):
    def due_reservations(self, now: datetime) -> list[str]:
        """Charge point ids with a reservation still Reserved whose expiry is not after ``now``."""
        ...


class ReportedLifecycle:
    """Applies the functions above to the stored state (optimistic concurrency, bounded retries)."""

    def __init__(self, store: ReportedStateStore, sweep: ReservationSweep | None = None) -> None:
        self._store = store
        self._sweep = sweep

    def _update(self, charge_point_id: str, change: Callable[[ReportedState], ReportedState | None]) -> bool:
        for _ in range(MAX_ATTEMPTS):
            state = self._store.get(charge_point_id)
            new = change(state)
            if new is None:
                return False
            if self._store.save(new):
                return True
        raise ConcurrentUpdate(f"could not update the reported state of {charge_point_id}")

    def reservation_used(
        self, charge_point_id: str, reservation_id: int, transaction_id: int, connector_id: int, at: datetime
    ) -> bool:
        used = self._update(
            charge_point_id, lambda s: reservation_used(s, reservation_id, transaction_id, connector_id, at)
        )
        if used:
            count("ReservationUsed")
        return used

    def connector_status(self, charge_point_id: str, connector_id: int, status: str, at: datetime) -> bool:
        """StatusNotification: Faulted / Unavailable end the reservations on that connector (section 5.13).
        Other statuses cost nothing (no read)."""
        if status not in ENDING_STATUSES:
            return False
        ended = self._update(
            charge_point_id, lambda s: reservations_ended_by_status(s, connector_id, status, at)
        )
        if ended:
            count("ReservationRemoved")
        return ended

    def transaction_stopped(
        self, charge_point_id: str, transaction_id: int, connector_of: Callable[[], int | None]
    ) -> bool:
        """``connector_of`` is only called when a TxProfile without a transaction id is installed."""
        state = self._store.get(charge_point_id)
        if not any(p.get("purpose") == "TxProfile" for p in state.charging_profiles.values()):
            return False
        connector_id = connector_of() if has_unbound_tx_profile(state) else None
        removed = self._update(charge_point_id, lambda s: tx_profiles_ended(s, transaction_id, connector_id))
        if removed:
            count("TxProfileEnded")
        return removed

    def expire_reservations(self, now: datetime) -> int:
        """Monitor sweep: mark due reservations Expired. The number of chargers changed."""
        if self._sweep is None:
            return 0
        changed = 0
        for charge_point_id in self._sweep.due_reservations(now):
            try:
                if self._update(charge_point_id, lambda s: reservations_expired(s, now)):
                    changed += 1
                    count("ReservationExpired")
            except Exception:
                logger.exception("reservation sweep failed", charge_point_id=charge_point_id)
        return changed
