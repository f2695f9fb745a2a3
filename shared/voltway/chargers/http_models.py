"""HTTP request/response bodies of the operator API for chargers (pydantic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voltway.chargers.model import Charger
from voltway.ocpp.ports import AuditEntry

# Safe in a URL path segment and as a Basic-auth username (no ':'); OCPP's identity is CiString25-ish.
CHARGE_POINT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,47}$"


class PutChargerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # OCPP AuthorizationKey: at most 40 characters (OCPP 1.6 errata 3.10).
    password: str | None = Field(default=None, min_length=8, max_length=40)
    security_profile: Literal[1, 2] = 1
    enabled: bool = True
    tenant_id: str | None = Field(default=None, min_length=1, max_length=64)
    # Optional, additive: the charger's own tariff (billing; absent = unchanged, null = none of its own).
    tariff_id: str | None = Field(default=None, min_length=1, max_length=36)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def charger_view(charger: Charger) -> dict[str, Any]:
    """The charger as operators see it: never the password hash."""
    boot = charger.boot
    return {
        "charge_point_id": charger.charge_point_id,
        "tenant_id": charger.tenant_id,
        "security_profile": charger.security_profile,
        "enabled": charger.enabled,
        "registration_status": charger.registration_status.value if charger.registration_status else None,
        "online": charger.online,
        "last_seen": _iso(charger.last_seen),
        "boot": None
        if boot is None
        else {
            "vendor": boot.vendor,
            "model": boot.model,
            "serial_number": boot.serial_number,
            "charge_box_serial_number": boot.charge_box_serial_number,
            "firmware_version": boot.firmware_version,
            "iccid": boot.iccid,
            "imsi": boot.imsi,
            "meter_type": boot.meter_type,
            "meter_serial_number": boot.meter_serial_number,
            "booted_at": _iso(boot.booted_at),
        },
        "connectors": [
            {
                "connector_id": connector_id,
                "status": state.status,
                "error_code": state.error_code,
                "info": state.info,
                "vendor_id": state.vendor_id,
                "vendor_error_code": state.vendor_error_code,
                "timestamp": _iso(state.timestamp),
            }
            for connector_id, state in sorted(charger.connectors.items())
        ],
        "created_at": _iso(charger.created_at),
        "updated_at": _iso(charger.updated_at),
    }


def message_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": _iso(entry.at),
        "direction": entry.direction,
        "unique_id": entry.unique_id,
        "message_type": entry.message_type,
        "action": entry.action,
        "frame": entry.frame,
    }
