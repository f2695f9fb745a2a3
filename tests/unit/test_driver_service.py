"""The drivers' domain on in-memory twins: tokens, the session state machine, live figures and cost
estimate, history and CDR ownership."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from voltway.billing.memory import MemoryAccounts, MemoryCdrs, MemoryContracts, MemoryLocations, MemoryTariffs
from voltway.billing.model import CdrKind, IssuedCdr
from voltway.billing.service import ContractService, TariffService
from voltway.drivers.errors import (
    DriverCdrNotFound,
    SessionNotFound,
    SessionNotRunning,
    TokenNotFound,
    TokenNotUsable,
    TokenOwned,
)
from voltway.drivers.estimate import TariffEstimator, running_snapshot
from voltway.drivers.memory import InMemoryDriverStore
from voltway.drivers.model import SessionState, TokenKind
from voltway.drivers.service import DriverService
from voltway.idtags.memory import InMemoryIdTagRepository
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.idtags.service import IdTagService
from voltway.ocpp.commands.errors import CommandNotFound
from voltway.ocpp.commands.model import Command, CommandStatus
from voltway.tariffs import Tariff
from voltway.transactions.model import MeterSample, SampledValue, Transaction

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TARIFF = Tariff.model_validate(
    {
        "country_code": "NL",
        "party_id": "VWY",
        "id": "T1",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 20.0, "step_size": 1}]}],
        "last_updated": "2026-01-01T00:00:00Z",
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeCommands:
    """The command flow's contract: submit stores a command; tests set its outcome."""

    commands: dict[str, Command] = field(default_factory=dict)
    online: bool = True

    def submit(self, tenant_id: str, charge_point_id: str, action: str, payload: Any) -> Command:
        status = CommandStatus.SENT if self.online else CommandStatus.OFFLINE
        command = Command(
            f"cmd-{len(self.commands) + 1}", charge_point_id, tenant_id, action, payload, status, T0
        )
        self.commands[command.command_id] = command
        return command

    def get(self, tenant_id: str, command_id: str) -> Command:
        command = self.commands.get(command_id)
        if command is None or command.tenant_id != tenant_id:
            raise CommandNotFound(command_id)
        return command

    def answer(self, command_id: str, status: CommandStatus) -> None:
        self.commands[command_id] = replace(self.commands[command_id], status=status, completed_at=T0)


@dataclass
class FakeTransactions:
    locks: dict[tuple[str, str], int] = field(default_factory=dict)
    txs: dict[int, Transaction] = field(default_factory=dict)
    meter: dict[int, list[MeterSample]] = field(default_factory=dict)

    def active_for_tag(self, tenant_id: str, id_tag: str) -> int | None:
        return self.locks.get((tenant_id, id_tag))

    def transaction(self, transaction_id: int) -> Transaction | None:
        return self.txs.get(transaction_id)

    def samples(self, transaction_id: int) -> list[MeterSample]:
        return self.meter.get(transaction_id, [])

    def start(self, tx_id: int, tenant: str, cp: str, connector: int, tag: str, *, at: datetime) -> None:
        self.locks[(tenant, tag)] = tx_id
        self.txs[tx_id] = Transaction(
            tx_id, tenant, cp, connector, tag, IdTagStatus.ACCEPTED, 1000, at, received_at=at
        )

    def reading(self, tx_id: int, wh: int, w: float, at: datetime) -> None:
        self.txs[tx_id] = replace(
            self.txs[tx_id], last_register_wh=wh, last_register_at=at, last_power_w=w, last_power_at=at
        )
        self.meter.setdefault(tx_id, []).append(
            MeterSample(at, SampledValue(str(wh), measurand="Energy.Active.Import.Register", unit="Wh"))
        )

    def stop(self, tx_id: int, wh: int, at: datetime) -> None:
        tx = self.txs[tx_id]
        self.txs[tx_id] = replace(tx, stopped_at=at, meter_stop=wh)
        self.locks.pop((tx.tenant_id, tx.id_tag), None)


@dataclass
class World:
    service: DriverService
    commands: FakeCommands
    transactions: FakeTransactions
    tags: InMemoryIdTagRepository
    cdrs: MemoryCdrs
    tariffs: TariffService
    clock: Clock


@pytest.fixture
def world() -> World:
    clock = Clock()
    tags = InMemoryIdTagRepository()
    commands, transactions, cdrs = FakeCommands(), FakeTransactions(), MemoryCdrs()
    tariffs = TariffService(MemoryTariffs(), clock=clock)
    estimator = TariffEstimator(
        tariffs, ContractService(MemoryContracts()), MemoryAccounts(), MemoryLocations()
    )
    tokens = iter(f"APPTOKEN{i:02d}" for i in range(100))
    service = DriverService(
        store=InMemoryDriverStore(),
        id_tags=IdTagService(tags, clock=clock),
        commands=commands,
        transactions=transactions,
        cdrs=cdrs,
        estimator=estimator,
        clock=clock,
        app_token_factory=lambda: next(tokens),
    )
    return World(service, commands, transactions, tags, cdrs, tariffs, clock)


def test_app_token_is_created_once_and_accepted(world: World) -> None:
    first = world.service.tokens("t1", "alice")
    again = world.service.tokens("t1", "alice")
    assert [(v.link.id_tag, v.link.kind, v.status) for v in first] == [
        ("APPTOKEN00", TokenKind.APP, IdTagStatus.ACCEPTED)
    ]
    assert again == first
    assert world.tags.get("t1", "APPTOKEN00") is not None


def test_add_rfid_block_and_ownership(world: World) -> None:
    view, created = world.service.add_token("t1", "alice", "CARD1")
    assert created and view.status is IdTagStatus.ACCEPTED and view.link.kind is TokenKind.RFID
    assert world.service.add_token("t1", "alice", "CARD1")[1] is False
    with pytest.raises(TokenOwned):
        world.service.add_token("t1", "bob", "CARD1")
    world.tags.put(IdTag("t1", "FLEET1", IdTagStatus.ACCEPTED))  # an operator's tag
    with pytest.raises(TokenOwned):
        world.service.add_token("t1", "bob", "FLEET1")
    # Another tenant's uid space is its own.
    assert world.service.add_token("t2", "bob", "CARD1")[1] is True
    with pytest.raises(TokenNotFound):
        world.service.block_token("t1", "bob", "CARD1")
    blocked = world.service.block_token("t1", "alice", "CARD1")
    assert blocked.status is IdTagStatus.BLOCKED
    assert world.service.add_token("t1", "alice", "CARD1")[0].status is IdTagStatus.BLOCKED  # stays blocked


def test_session_state_machine_to_stopped_with_live_figures(world: World) -> None:
    world.tariffs.put("t1", "T1", TARIFF, default=True)
    detail = world.service.start("t1", "alice", "CP1", 2)
    s = detail.session
    assert s.state is SessionState.REQUESTED and s.id_tag == "APPTOKEN00"
    command = world.commands.commands[s.start_command_id]
    assert command.action == "RemoteStartTransaction"
    assert command.payload == {"connectorId": 2, "idTag": "APPTOKEN00"}
    assert world.service.get("t1", "alice", s.session_id).session.state is SessionState.REQUESTED

    world.commands.answer(s.start_command_id, CommandStatus.ACCEPTED)
    assert world.service.get("t1", "alice", s.session_id).session.state is SessionState.ACCEPTED
    with pytest.raises(SessionNotRunning):
        world.service.stop("t1", "alice", s.session_id)

    # A transaction of the same tag on another connector does not link.
    world.transactions.start(7, "t1", "CP1", 1, "APPTOKEN00", at=T0)
    assert world.service.get("t1", "alice", s.session_id).session.state is SessionState.ACCEPTED
    world.transactions.start(8, "t1", "CP1", 2, "APPTOKEN00", at=T0 + timedelta(seconds=1))
    world.clock.now = T0 + timedelta(minutes=30)
    world.transactions.reading(8, 1000 + 5500, 11000.0, T0 + timedelta(minutes=30))
    got = world.service.get("t1", "alice", s.session_id)
    assert got.session.state is SessionState.STARTED and got.session.transaction_id == 8
    assert got.live is not None and got.live.energy_wh == 5500 and got.live.power_w == 11000.0
    assert got.live.duration_seconds == 30 * 60 - 1
    assert got.live.cost is not None and got.live.cost.estimate
    assert got.live.cost.excl_vat == Decimal("2.20") and got.live.cost.currency == "EUR"

    stopping = world.service.stop("t1", "alice", s.session_id)
    stop_cmd = world.commands.commands[stopping.session.stop_command_id or ""]
    assert stop_cmd.action == "RemoteStopTransaction" and stop_cmd.payload == {"transactionId": 8}
    assert stopping.stop_status == "pending"
    # A second stop while the first is on its way sends nothing.
    world.service.stop("t1", "alice", s.session_id)
    assert len(world.commands.commands) == 2

    world.transactions.stop(8, 1000 + 6000, T0 + timedelta(minutes=33))
    done = world.service.get("t1", "alice", s.session_id)
    assert done.session.state is SessionState.STOPPED and done.live is not None
    assert done.live.power_w is None and done.live.cdr_id is None and done.live.cost is not None
    assert done.live.cost.excl_vat == Decimal("2.40")
    world.cdrs.put_new(
        IssuedCdr(
            "TX8",
            "t1",
            "CP1",
            2,
            8,
            CdrKind.DEBIT,
            T0,
            "EUR",
            Decimal("2.40"),
            Decimal("2.88"),
            {"cdr_token": {"uid": "APPTOKEN00"}},
            tariff_id="T1",
        )
    )
    billed = world.service.get("t1", "alice", s.session_id)
    assert billed.live is not None and billed.live.cdr_id == "TX8"
    assert billed.live.cost is not None and not billed.live.cost.estimate
    assert world.service.cdr("t1", "alice", "TX8").cdr_id == "TX8"
    for tenant, user, cdr_id in (("t1", "bob", "TX8"), ("t2", "alice", "TX8"), ("t1", "alice", "TX9")):
        with pytest.raises(DriverCdrNotFound):
            world.service.cdr(tenant, user, cdr_id)


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (CommandStatus.REJECTED, SessionState.REJECTED),
        (CommandStatus.ERROR, SessionState.REJECTED),
        (CommandStatus.TIMEOUT, SessionState.TIMEOUT),
        (CommandStatus.OFFLINE, SessionState.OFFLINE),
    ],
)
def test_unsuccessful_starts(world: World, answer: CommandStatus, state: SessionState) -> None:
    s = world.service.start("t1", "alice", "CP1", 1).session
    world.commands.answer(s.start_command_id, answer)
    assert world.service.get("t1", "alice", s.session_id).session.state is state


def test_a_late_start_after_a_timeout_still_links(world: World) -> None:
    s = world.service.start("t1", "alice", "CP1", 1).session
    world.commands.answer(s.start_command_id, CommandStatus.TIMEOUT)
    world.service.get("t1", "alice", s.session_id)
    world.transactions.start(3, "t1", "CP1", 1, s.id_tag, at=T0)
    got = world.service.get("t1", "alice", s.session_id)
    assert got.session.state is SessionState.STARTED and got.live is not None and got.live.cost is None


def test_an_older_transaction_of_the_tag_does_not_link(world: World) -> None:
    world.clock.now = T0 + timedelta(hours=1)
    s = world.service.start("t1", "alice", "CP1", 1).session
    world.transactions.start(3, "t1", "CP1", 1, s.id_tag, at=T0)  # received an hour before the request
    assert world.service.get("t1", "alice", s.session_id).session.state is SessionState.REQUESTED


def test_a_blocked_app_token_cannot_start(world: World) -> None:
    (app,) = world.service.tokens("t1", "alice")
    world.service.block_token("t1", "alice", app.link.id_tag)
    with pytest.raises(TokenNotUsable):
        world.service.start("t1", "alice", "CP1", 1)
    assert world.commands.commands == {}


def test_sessions_are_private_and_history_is_newest_first(world: World) -> None:
    ids = []
    for minute in range(3):
        world.clock.now = T0 + timedelta(minutes=minute)
        ids.append(world.service.start("t1", "alice", "CP1", 1).session.session_id)
    world.service.start("t1", "bob", "CP1", 1)
    for tenant, user in (("t1", "bob"), ("t2", "alice")):
        with pytest.raises(SessionNotFound):
            world.service.get(tenant, user, ids[0])
        with pytest.raises(SessionNotFound):
            world.service.stop(tenant, user, ids[0])
    first = world.service.history("t1", "alice", 2, None)
    assert [s.session_id for s in first.items] == ids[::-1][:2] and first.cursor is not None
    rest = world.service.history("t1", "alice", 2, first.cursor)
    assert [s.session_id for s in rest.items] == [ids[0]] and rest.cursor is None


def test_running_snapshot_never_ends_before_the_newest_reading() -> None:
    tx = Transaction(
        1,
        "t1",
        "CP1",
        1,
        "A",
        IdTagStatus.ACCEPTED,
        100,
        T0,
        last_register_wh=50,
        last_register_at=T0 + timedelta(hours=2),
    )
    snap = running_snapshot(tx, T0)
    assert snap.stopped_at == T0 + timedelta(hours=2) and snap.meter_stop == 100
