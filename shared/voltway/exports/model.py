"""Export requests, jobs and the messages of the fan-out."""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from voltway.archive import ArchiveKind, PartitionSnapshot

MAX_FILTER_VALUES = 100
MAX_RANGE_DAYS = 731
FilterValues = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=MAX_FILTER_VALUES)
]


def _utc_moment(value: Any) -> Any:
    """A date means its midnight UTC; a naive datetime is UTC; offsets are accepted and converted."""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return value


UtcMoment = Annotated[datetime, BeforeValidator(_utc_moment)]


class ExportFilters(BaseModel):
    """Each list restricts the rows to those values; an empty list means no restriction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stations: FilterValues = Field(default_factory=list)
    sites: FilterValues = Field(default_factory=list)
    accounts: FilterValues = Field(default_factory=list)
    partners: FilterValues = Field(default_factory=list)

    def describe(self) -> dict[str, str]:
        named = {"Stations": self.stations, "Sites": self.sites, "Accounts": self.accounts}
        named["Partners"] = self.partners
        return {name: ", ".join(values) if values else "all" for name, values in named.items()}


class ExportRequest(BaseModel):
    """Body of ``POST /v1/exports``: rows whose time (session/CDR end, meter value time) is in [from, to)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: ArchiveKind
    from_at: UtcMoment = Field(alias="from")
    to_at: UtcMoment = Field(alias="to")
    filters: ExportFilters = Field(default_factory=ExportFilters)

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.to_at <= self.from_at:
            raise ValueError("'to' must be after 'from'")
        if self.to_at - self.from_at > timedelta(days=MAX_RANGE_DAYS):
            raise ValueError(f"the range may span at most {MAX_RANGE_DAYS} days")
        return self

    def fingerprint(self) -> str:
        """Same request → same fingerprint (an Idempotency-Key replay must carry the same request)."""
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


class ExportStatus(enum.StrEnum):
    PLANNING = "planning"
    RUNNING = "running"
    MERGING = "merging"
    DONE = "done"
    FAILED = "failed"


class ExportJob(BaseModel):
    """One export, as the ExportsTable holds it (key: tenant_id + export_id)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    export_id: str
    kind: ArchiveKind
    from_at: datetime
    to_at: datetime
    filters: ExportFilters
    requested_by: str
    requester_email: str | None = None
    status: ExportStatus = ExportStatus.PLANNING
    created_at: datetime
    planned_at: datetime | None = None
    finished_at: datetime | None = None
    shards_total: int | None = None
    done_shards: frozenset[int] = frozenset()
    rows_total: int | None = None
    rows_written: int = 0
    shard_rows: int | None = None
    sheet_capacity: int | None = None
    plan_key: str | None = None
    merge_owner: str | None = None
    file_key: str | None = None
    file_size: int | None = None
    last_error: str | None = None
    error: str | None = None

    @property
    def shards_done(self) -> int:
        return len(self.done_shards)

    @property
    def request(self) -> ExportRequest:
        return ExportRequest.model_validate(
            {"kind": self.kind, "from": self.from_at, "to": self.to_at, "filters": self.filters}
        )


class ShardTask(BaseModel):
    """One SQS message of the ExportShardsQueue: write data rows first_row..first_row+rows-1.

    ``parts`` are the day partitions (object keys frozen at planning time) the rows come from, in order;
    the first ``skip`` matching rows of the first part belong to earlier shards.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = "shard"
    tenant_id: str
    export_id: str
    index: int = Field(ge=0)
    first_row: int = Field(ge=0)
    rows: int = Field(ge=1)
    skip: int = Field(ge=0)
    parts: list[list[Any]]

    def snapshots(self) -> list[PartitionSnapshot]:
        return [PartitionSnapshot.from_json(p) for p in self.parts]


class PlanTask(BaseModel):
    """One SQS message of the ExportPlanQueue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = "plan"
    tenant_id: str
    export_id: str
