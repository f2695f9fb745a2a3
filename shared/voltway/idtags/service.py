"""Id tag use cases: the operator sets and reads tags; the central system authorizes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from voltway.idtags.errors import IdTagNotFound
from voltway.idtags.model import IdTag, IdTagInfo, IdTagStatus
from voltway.idtags.ports import IdTagRepository
from voltway.observability import count

Clock = Callable[[], datetime]


class IdTagService:
    def __init__(self, tags: IdTagRepository, clock: Clock | None = None) -> None:
        self._tags = tags
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    def put(self, tag: IdTag) -> IdTag:
        if tag.status is IdTagStatus.CONCURRENT_TX:
            raise ValueError("ConcurrentTx is an answer, not a status an operator sets")
        saved = self._tags.put(replace(tag, updated_at=self._clock()))
        count("IdTagSaved")
        return saved

    def get(self, tenant_id: str, id_tag: str) -> IdTag:
        tag = self._tags.get(tenant_id, id_tag)
        if tag is None:
            raise IdTagNotFound(id_tag)
        return tag

    def authorize(self, tenant_id: str, id_tag: str, at: datetime) -> IdTagInfo:
        """The idTagInfo for ``id_tag`` used at a charger of ``tenant_id`` at ``at``: unknown (or of
        another tenant) -> Invalid; an expiry date not after ``at`` -> Expired; else the stored status."""
        tag = self._tags.get(tenant_id, id_tag)
        if tag is None:
            count("IdTagUnknown")
            return IdTagInfo(IdTagStatus.INVALID)
        status = tag.status
        if status is IdTagStatus.ACCEPTED and tag.expiry_date is not None and tag.expiry_date <= at:
            status = IdTagStatus.EXPIRED
        return IdTagInfo(status, tag.expiry_date, tag.parent_id_tag)
