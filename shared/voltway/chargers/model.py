"""The charger entity and its parts. Times are timezone-aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RegistrationStatus(StrEnum):
    """The answer the charger got to its last BootNotification (OCPP 1.6 RegistrationStatus)."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    booted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """Last StatusNotification of one connector; connector 0 is the charger itself."""

    status: str
    error_code: str
    timestamp: datetime
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True, slots=True)
class Charger:
    charge_point_id: str
    tenant_id: str
    password_hash: str
    security_profile: int = 1
    enabled: bool = True
    registration_status: RegistrationStatus | None = None
    boot: BootInfo | None = None
    connectors: dict[int, ConnectorState] = field(default_factory=dict)
    online: bool = False
    connection_id: str | None = None
    last_seen: datetime | None = None
    offline_alerted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.registration_status is RegistrationStatus.ACCEPTED


@dataclass(frozen=True, slots=True)
class Registration:
    """What an operator sets for a charger. ``password`` is plain text here and hashed before storage."""

    charge_point_id: str
    tenant_id: str
    password: str | None
    security_profile: int = 1
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Charger]
    cursor: str | None
