"""In-memory twin of the id tag repository."""

from __future__ import annotations

from voltway.idtags.model import IdTag


class InMemoryIdTagRepository:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], IdTag] = {}

    def get(self, tenant_id: str, id_tag: str) -> IdTag | None:
        return self.items.get((tenant_id, id_tag))

    def put(self, tag: IdTag) -> IdTag:
        self.items[(tag.tenant_id, tag.id_tag)] = tag
        return tag
