"""What the archive holds: one pydantic model per kind, validated when a record is written.

Conventions (house style): energy in Wh (int), money in integer minor units with an ISO 4217 currency,
times in UTC. In the NDJSON every time is written as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (fixed width, so
string order is time order). ``id`` is the record's identity: the same id is the same record, and a
reader keeps one copy whatever the number of batches it appears in.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:#@+=-]{0,199}$"
TENANT_PATTERN = r"^[^/\s]{1,128}$"  # any tenant id that is one safe S3 key segment


def format_ts(moment: datetime) -> str:
    """UTC, millisecond precision, fixed width; naive values are taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"  # C-fast; always 23 characters + Z


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc), PlainSerializer(format_ts, return_type=str)]


class ArchiveKind(enum.StrEnum):
    SESSIONS = "sessions"
    CDRS = "cdrs"
    METER_VALUES = "meter_values"


class ArchiveRecord(BaseModel):
    """Fields every archived record has: identity, tenant and the filter dimensions of exports."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[ArchiveKind]
    #: The field whose UTC day partitions the record and whose value orders it within the day.
    time_field: ClassVar[str]

    id: str = Field(pattern=ID_PATTERN)
    tenant_id: str = Field(pattern=TENANT_PATTERN)
    charge_point_id: str = Field(min_length=1, max_length=64)
    connector_id: int = Field(ge=0)
    site_id: str | None = None
    account_id: str | None = None
    partner_id: str | None = None

    @property
    def at(self) -> datetime:
        value: datetime = getattr(self, self.time_field)
        return value

    @property
    def day(self) -> date:
        return self.at.date()

    def to_json_line(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)


class SessionRecord(ArchiveRecord):
    """A finished charging session (StartTransaction … StopTransaction)."""

    kind: ClassVar[ArchiveKind] = ArchiveKind.SESSIONS
    time_field: ClassVar[str] = "stopped_at"

    transaction_id: int
    id_tag: str | None = Field(default=None, max_length=20)
    started_at: UtcTime
    stopped_at: UtcTime
    meter_start_wh: int = Field(ge=0)
    meter_stop_wh: int = Field(ge=0)
    energy_wh: int = Field(ge=0)
    stop_reason: str | None = None


class CdrRecord(ArchiveRecord):
    """An issued charge detail record (priced session)."""

    kind: ClassVar[ArchiveKind] = ArchiveKind.CDRS
    time_field: ClassVar[str] = "stopped_at"

    session_id: str
    id_tag: str | None = Field(default=None, max_length=36)
    started_at: UtcTime
    stopped_at: UtcTime
    energy_wh: int = Field(ge=0)
    tariff_id: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    price_excl_vat_minor: int
    vat_minor: int
    price_incl_vat_minor: int
    issued_at: UtcTime


class MeterValueRecord(ArchiveRecord):
    """One sampled value of a transaction (OCPP MeterValues / StopTransaction transactionData)."""

    kind: ClassVar[ArchiveKind] = ArchiveKind.METER_VALUES
    time_field: ClassVar[str] = "timestamp"

    session_id: str
    timestamp: UtcTime
    measurand: str = "Energy.Active.Import.Register"
    phase: str | None = None
    value: float
    unit: Literal["Wh", "kWh", "W", "kW", "A", "V", "Percent", "Celsius", "varh", "var"] = "Wh"


RECORD_TYPES: dict[ArchiveKind, type[ArchiveRecord]] = {
    ArchiveKind.SESSIONS: SessionRecord,
    ArchiveKind.CDRS: CdrRecord,
    ArchiveKind.METER_VALUES: MeterValueRecord,
}


def record_of(kind: ArchiveKind, data: dict[str, Any]) -> ArchiveRecord:
    """Validate a decoded line as a record of ``kind``."""
    return RECORD_TYPES[kind].model_validate(data)
