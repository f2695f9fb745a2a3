"""HTTP bodies of the operator API for id tags (pydantic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from voltway.idtags.model import IdTag

# OCPP IdToken is CiString20Type.
ID_TAG_PATTERN = r"^[\x21-\x7e]{1,20}$"


class PutIdTagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["Accepted", "Blocked", "Expired", "Invalid"]
    expiry_date: AwareDatetime | None = None
    parent_id_tag: str | None = Field(default=None, pattern=ID_TAG_PATTERN)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def id_tag_view(tag: IdTag) -> dict[str, Any]:
    return {
        "id_tag": tag.id_tag,
        "tenant_id": tag.tenant_id,
        "status": tag.status.value,
        "expiry_date": _iso(tag.expiry_date),
        "parent_id_tag": tag.parent_id_tag,
        "updated_at": _iso(tag.updated_at),
    }
