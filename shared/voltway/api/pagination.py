"""Opaque, tamper-evident pagination cursors.

Repositories return plain cursors (e.g. an encoded DynamoDB key). At the HTTP edge each one is wrapped
as ``v1.<payload>.<mac>``: an HMAC-SHA256 over the payload *and a scope* (the caller's tenant and the
route), so a client can neither edit a cursor nor replay one in another tenant or on another route.
Route code never sees signed cursors: ``voltway.api.conventions`` signs ``next_cursor`` in responses and
verifies ``?cursor=`` in requests for every route.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

PREFIX = "v1"


class CursorRejected(Exception):
    """A cursor this API did not issue for this caller and route (HTTP 400 ``invalid_cursor``)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a cursor signing key needs at least 16 bytes")
        self._key = key

    def _mac(self, payload: str, scope: str) -> str:
        digest = hmac.new(self._key, f"{scope}\n{payload}".encode(), hashlib.sha256).digest()
        return _b64(digest[:18])

    def sign(self, raw: str, scope: str) -> str:
        payload = _b64(raw.encode())
        return f"{PREFIX}.{payload}.{self._mac(payload, scope)}"

    def verify(self, token: str, scope: str) -> str:
        """The raw cursor inside ``token``; ``CursorRejected`` if it was not signed for ``scope``."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise CursorRejected("invalid cursor")
        _, payload, mac = parts
        if not hmac.compare_digest(mac, self._mac(payload, scope)):
            raise CursorRejected("invalid cursor")
        try:
            return _unb64(payload).decode()
        except (binascii.Error, UnicodeDecodeError) as e:
            raise CursorRejected("invalid cursor") from e
