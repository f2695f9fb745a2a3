"""Charger registry use cases: operator registration and reads, the WebSocket handshake, the monitor."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from voltway.chargers.errors import AuthenticationFailed, ChargerNotFound, InvalidRegistration
from voltway.chargers.model import Charger, Page, Registration
from voltway.chargers.passwords import hash_password, verify_password
from voltway.chargers.ports import AlertPublisher, ChargerRepository, ConnectionRegistry
from voltway.observability import count, logger

OCPP16_SUBPROTOCOL = "ocpp1.6"
Clock = Callable[[], datetime]


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown chargers, so their refusal costs what a wrong password costs.
    Made on first need, not at import: scrypt costs ~0.2 s of every function's cold start otherwise."""
    return hash_password("voltway-no-such-charger")


@dataclass(frozen=True, slots=True)
class Handshake:
    """What $connect needs from the WebSocket upgrade request."""

    connection_id: str
    charge_point_id: str | None
    authorization: str | None
    subprotocols: tuple[str, ...]


class SubprotocolRefused(Exception):
    """The charger offered no subprotocol we speak (OCPP-J 1.6 section 3.2)."""


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class ChargerRegistry:
    def __init__(
        self,
        chargers: ChargerRepository,
        connections: ConnectionRegistry | None = None,
        clock: Clock | None = None,
        *,
        on_connected: Callable[[Charger], object] | None = None,
    ) -> None:
        self._chargers = chargers
        self._connections = connections
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        # Told of every accepted connection (the operators' offline alert is resolved); never fails it.
        self._on_connected = on_connected

    # ------------------------------------------------------------------ operator API
    def register(self, registration: Registration) -> Charger:
        if registration.security_profile not in (1, 2):
            raise InvalidRegistration("security_profile must be 1 or 2")
        password_hash = hash_password(registration.password) if registration.password else None
        charger = self._chargers.save_registration(
            registration.charge_point_id,
            registration.tenant_id,
            password_hash=password_hash,
            security_profile=registration.security_profile,
            enabled=registration.enabled,
            now=self._clock(),
        )
        count("ChargerRegistered")
        return charger

    def get(self, tenant_id: str, charge_point_id: str) -> Charger:
        charger = self._chargers.get(charge_point_id)
        if charger is None or charger.tenant_id != tenant_id:
            raise ChargerNotFound(charge_point_id)
        return charger

    def list_chargers(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        return self._chargers.list_by_tenant(tenant_id, limit, cursor)

    # ------------------------------------------------------------------ WebSocket lifecycle
    def connect(self, handshake: Handshake) -> Charger:
        """Authenticate the charger (Basic auth, OCPP security profiles 1 and 2) and register the
        connection. Raises ``AuthenticationFailed`` or ``SubprotocolRefused``."""
        # Refuse before the (deliberately slow) password check: nothing to authenticate for.
        if OCPP16_SUBPROTOCOL not in handshake.subprotocols:
            raise SubprotocolRefused(f"offered {list(handshake.subprotocols)}, we speak ocpp1.6 only")
        credentials = parse_basic_auth(handshake.authorization)
        if credentials is None:
            raise AuthenticationFailed("no Basic credentials", missing_credentials=True)
        username, password = credentials
        charge_point_id = handshake.charge_point_id or username
        if username != charge_point_id:
            raise AuthenticationFailed("username differs from the charge point id")
        charger = self._chargers.get(charge_point_id)
        # Unknown ids cost a hash too, so response times do not tell which ids exist.
        stored = charger.password_hash if charger is not None else _dummy_hash()
        if not verify_password(password, stored) or charger is None:
            raise AuthenticationFailed("unknown charger or wrong password")
        if not charger.enabled:
            raise AuthenticationFailed("charger disabled")
        now = self._clock()
        assert self._connections is not None, "connect needs a connection registry"
        self._connections.register(handshake.connection_id, charge_point_id, now)
        self._chargers.mark_online(charge_point_id, handshake.connection_id, now)
        count("ChargerConnected")
        if self._on_connected is not None:
            try:
                self._on_connected(charger)
            except Exception:
                logger.exception("connect side effect failed")
        return charger

    def disconnect(self, connection_id: str) -> str | None:
        assert self._connections is not None, "disconnect needs a connection registry"
        charge_point_id = self._connections.forget(connection_id)
        if charge_point_id is not None and self._chargers.mark_offline(charge_point_id, connection_id):
            count("ChargerDisconnected")
        return charge_point_id

    # ------------------------------------------------------------------ monitor
    def report_offline(
        self,
        offline_after: timedelta,
        alerts: AlertPublisher,
        opened: Callable[[Charger], object] | None = None,
    ) -> list[str]:
        """Mark chargers not heard from for ``offline_after`` offline; one alert per absence (SNS, and
        ``opened`` — the operators' alert store)."""
        heard_before = self._clock() - offline_after
        reported: list[str] = []
        for charger in self._chargers.find_unheard_since(heard_before):
            if not self._chargers.mark_stale_offline(charger.charge_point_id, heard_before):
                continue  # lost the race to another run, or the charger spoke meanwhile
            last_seen = charger.last_seen.isoformat() if charger.last_seen else None
            alerts.publish(
                f"Charger {charger.charge_point_id} offline"[:100],
                json.dumps(
                    {
                        "event": "ChargerOffline",
                        "charge_point_id": charger.charge_point_id,
                        "tenant_id": charger.tenant_id,
                        "last_seen": last_seen,
                    }
                ),
                {"event": "ChargerOffline", "tenant_id": charger.tenant_id},
            )
            if opened is not None:
                opened(charger)
            count("ChargerOfflineAlert")
            logger.warning("charger offline", charge_point_id=charger.charge_point_id, last_seen=last_seen)
            reported.append(charger.charge_point_id)
        return reported
