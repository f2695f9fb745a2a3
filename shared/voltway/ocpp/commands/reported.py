"""What chargers reported through accepted commands ("as last read / as last accepted"), per charger.

Only what the charger confirmed is recorded: nothing is derived beyond the OCPP 1.6 rules the charger
itself follows (e.g. the charging-profile replace rules of section 3.13.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ReportedState:
    charge_point_id: str
    # configuration key -> {"value", "readonly", "at", "source", "reboot_required"?}
    configuration: dict[str, dict[str, Any]] = field(default_factory=dict)
    # keys the charger reported as unknown in its last GetConfiguration answer
    unknown_configuration_keys: tuple[str, ...] = ()
    # {"version", "update_type" (Full | Differential | None when only read), "at", "source", "entries"?}
    local_list: dict[str, Any] | None = None
    # str(chargingProfileId) -> {"connector_id", "purpose", "stack_level", "transaction_id",
    #                            "profile" (csChargingProfiles as sent), "installed_at", "command_id"}
    charging_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # str(reservationId) -> {"connector_id", "id_tag", "parent_id_tag", "expiry_date", "status"
    #                        (Reserved | Cancelled | Expired | Used | Removed), "reserved_at",
    #                        "cancelled_at"?, "ended_at"?, "ended_reason"? (Removed: Faulted | Unavailable),
    #                        "transaction_id"? (Used), "command_id"}
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # when the charger's full configuration was last read (GetConfiguration without keys), UTC text
    configuration_read_at: str | None = None
    # optimistic-concurrency version of the stored record (0: nothing stored yet)
    version: int = 0

    def to_document(self) -> dict[str, Any]:
        return {
            "configuration": self.configuration,
            "unknown_configuration_keys": list(self.unknown_configuration_keys),
            "local_list": self.local_list,
            "charging_profiles": self.charging_profiles,
            "reservations": self.reservations,
            "configuration_read_at": self.configuration_read_at,
        }

    @classmethod
    def from_document(cls, charge_point_id: str, document: dict[str, Any], version: int) -> ReportedState:
        return cls(
            charge_point_id=charge_point_id,
            configuration=dict(document.get("configuration") or {}),
            unknown_configuration_keys=tuple(document.get("unknown_configuration_keys") or ()),
            local_list=document.get("local_list"),
            charging_profiles=dict(document.get("charging_profiles") or {}),
            reservations=dict(document.get("reservations") or {}),
            configuration_read_at=document.get("configuration_read_at"),
            version=version,
        )
