"""Id tags and the idTagInfo OCPP answers with. Times are timezone-aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from voltway.ocpp.timestamps import format_datetime


class IdTagStatus(StrEnum):
    """OCPP 1.6 AuthorizationStatus."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True, slots=True)
class IdTag:
    """An id tag of one tenant. ``status`` is what the operator set (never ConcurrentTx)."""

    tenant_id: str
    id_tag: str
    status: IdTagStatus
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    """OCPP IdTagInfo: the answer about one id tag at one moment."""

    status: IdTagStatus
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None

    def to_ocpp(self) -> dict[str, Any]:
        info: dict[str, Any] = {"status": self.status.value}
        if self.expiry_date is not None:
            info["expiryDate"] = format_datetime(self.expiry_date)
        if self.parent_id_tag is not None:
            info["parentIdTag"] = self.parent_id_tag
        return info

    @property
    def accepted(self) -> bool:
        return self.status is IdTagStatus.ACCEPTED
