"""Ports of the id tags context. DynamoDB adapter: ``voltway.adapters.dynamo_idtags``; in-memory twin:
``voltway.idtags.memory``."""

from __future__ import annotations

from typing import Protocol

from voltway.idtags.model import IdTag


class IdTagRepository(Protocol):
    """Id tags keyed by (tenant, id tag): a tag of another tenant is simply not there."""

    def get(self, tenant_id: str, id_tag: str) -> IdTag | None: ...

    def put(self, tag: IdTag) -> IdTag: ...
