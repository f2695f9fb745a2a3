"""Charger registry domain: password hashing, Basic auth parsing, handshake, monitor (in-memory)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from voltway.chargers.errors import AuthenticationFailed
from voltway.chargers.memory import (
    InMemoryAlertPublisher,
    InMemoryChargerRepository,
    InMemoryConnectionRegistry,
)
from voltway.chargers.model import Registration
from voltway.chargers.passwords import hash_password, verify_password
from voltway.chargers.service import ChargerRegistry, Handshake, SubprotocolRefused, parse_basic_auth

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_password_hashes_are_salted_and_verified() -> None:
    a, b = hash_password("secret-pw-1"), hash_password("secret-pw-1")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("secret-pw-1", a) and not verify_password("secret-pw-2", a)
    assert not verify_password("x", "garbage")


def test_basic_auth_parsing() -> None:
    assert parse_basic_auth("Basic " + base64.b64encode(b"CP1:p:w").decode()) == ("CP1", "p:w")
    assert parse_basic_auth("Bearer abc") is None and parse_basic_auth("Basic !!!") is None
    assert parse_basic_auth(None) is None


def registry() -> tuple[ChargerRegistry, InMemoryChargerRepository, InMemoryConnectionRegistry]:
    repo, conns = InMemoryChargerRepository(), InMemoryConnectionRegistry()
    reg = ChargerRegistry(repo, conns, clock=lambda: NOW)
    reg.register(Registration("CP1", "t1", "secret-pw-1"))
    return reg, repo, conns


def handshake(user: str = "CP1", pw: str = "secret-pw-1", proto: tuple[str, ...] = ("ocpp1.6",)) -> Handshake:
    auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
    return Handshake("c1", "CP1", auth, proto)


def test_handshake_rules() -> None:
    reg, repo, conns = registry()
    with pytest.raises(SubprotocolRefused):
        reg.connect(handshake(proto=("ocpp2.0.1",)))
    with pytest.raises(AuthenticationFailed) as missing:
        reg.connect(Handshake("c1", "CP1", None, ("ocpp1.6",)))
    assert missing.value.missing_credentials
    for bad in (handshake(pw="nope-nope"), handshake(user="CP2")):
        with pytest.raises(AuthenticationFailed):
            reg.connect(bad)
    reg.connect(handshake())
    assert conns.lookup("c1") == "CP1" and repo.items["CP1"].online


def test_monitor_alerts_once_per_absence() -> None:
    reg, repo, _ = registry()
    reg.connect(handshake())
    alerts = InMemoryAlertPublisher()
    later = ChargerRegistry(repo, clock=lambda: NOW + timedelta(hours=1))
    assert later.report_offline(timedelta(minutes=15), alerts) == ["CP1"]
    assert later.report_offline(timedelta(minutes=15), alerts) == []
    assert len(alerts.published) == 1 and not repo.items["CP1"].online
    repo.touch("CP1", NOW + timedelta(hours=1))  # heard again: a later absence alerts again
    muchlater = ChargerRegistry(repo, clock=lambda: NOW + timedelta(hours=2))
    assert muchlater.report_offline(timedelta(minutes=15), alerts) == ["CP1"]
