"""In-memory twin of the drivers store (unit tests)."""

from __future__ import annotations

from dataclasses import replace

from voltway.drivers.errors import SessionConflict
from voltway.drivers.model import ChargingSession, SessionPage, TokenLink


class InMemoryDriverStore:
    def __init__(self) -> None:
        self.owners: dict[tuple[str, str], TokenLink] = {}
        self.apps: dict[tuple[str, str], str] = {}
        self.sessions: dict[str, ChargingSession] = {}

    def claim_token(self, link: TokenLink) -> TokenLink:
        return self.owners.setdefault((link.tenant_id, link.id_tag), link)

    def owner_of(self, tenant_id: str, id_tag: str) -> TokenLink | None:
        return self.owners.get((tenant_id, id_tag))

    def tokens_of(self, tenant_id: str, user_id: str) -> list[TokenLink]:
        links = [v for (t, _), v in self.owners.items() if t == tenant_id and v.user_id == user_id]
        return sorted(links, key=lambda link: link.id_tag)

    def app_token(self, tenant_id: str, user_id: str) -> str | None:
        return self.apps.get((tenant_id, user_id))

    def claim_app_token(self, tenant_id: str, user_id: str, id_tag: str) -> str:
        return self.apps.setdefault((tenant_id, user_id), id_tag)

    def create_session(self, session: ChargingSession) -> None:
        if session.session_id in self.sessions:
            raise SessionConflict(session.session_id)
        self.sessions[session.session_id] = replace(session, version=1)

    def get_session(self, session_id: str) -> ChargingSession | None:
        return self.sessions.get(session_id)

    def save_session(self, session: ChargingSession) -> ChargingSession:
        stored = self.sessions.get(session.session_id)
        if stored is None or stored.version != session.version:
            raise SessionConflict(session.session_id)
        saved = replace(session, version=session.version + 1)
        self.sessions[session.session_id] = saved
        return saved

    def sessions_of(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> SessionPage:
        mine = sorted(
            (s for s in self.sessions.values() if s.tenant_id == tenant_id and s.user_id == user_id),
            key=lambda s: (s.created_at, s.session_id),
            reverse=True,
        )
        start = int(cursor) if cursor else 0
        page = mine[start : start + limit]
        more = start + limit < len(mine)
        return SessionPage(page, str(start + limit) if more else None)
