"""Payments on in-memory twins and the fake gateway: holds, declines, capture once, failed captures
retried and alerted, void/refund rules; and the drivers' paid start (decline = nothing sent)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from tests.unit.test_driver_service import Clock, FakeCommands, FakeTransactions
from voltway.billing.memory import MemoryAccounts, MemoryCdrs, MemoryContracts, MemoryLocations, MemoryTariffs
from voltway.billing.model import CdrKind, IssuedCdr
from voltway.billing.service import ContractService, TariffService
from voltway.drivers.estimate import TariffEstimator
from voltway.drivers.memory import InMemoryDriverStore
from voltway.drivers.model import SessionState
from voltway.drivers.service import DriverService
from voltway.idtags.memory import InMemoryIdTagRepository
from voltway.idtags.service import IdTagService
from voltway.ocpp.commands.model import CommandStatus
from voltway.payments.errors import (
    CaptureFailed,
    InvalidRefund,
    PaymentDeclined,
    PaymentMethodRequired,
    PaymentNotFound,
    PaymentProviderUnavailable,
    PaymentStateConflict,
)
from voltway.payments.fake import FakePaymentProvider
from voltway.payments.fiserv import FiservCommerceHub
from voltway.payments.memory import InMemoryPaymentStore
from voltway.payments.model import ChargeFacts, Money, Payment, PaymentStatus, payment_id_of
from voltway.payments.roots import PaymentsSettings, provider_of
from voltway.payments.service import PaymentService, PaymentSettings, charge_facts

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SESSION = "0b0e8c9e-1111-4222-8333-444455556666"


@dataclass
class Alerts:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def capture_failed(self, payment: Payment) -> None:
        self.sent.append(("failed", payment.payment_id))

    def captured_after_failure(self, payment: Payment) -> None:
        self.sent.append(("recovered", payment.payment_id))


@dataclass
class Pay:
    service: PaymentService
    provider: FakePaymentProvider
    store: InMemoryPaymentStore
    alerts: Alerts
    clock: Clock


@pytest.fixture
def pay() -> Pay:
    clock, store, provider, alerts = Clock(), InMemoryPaymentStore(), FakePaymentProvider(), Alerts()
    service = PaymentService(
        store=store,
        provider=provider,
        settings=PaymentSettings(hold_amount=Decimal("50.00")),
        currency_of=lambda tenant, cp: "NOK" if cp == "CP-NO" else None,
        alerts=alerts,
        clock=clock,
    )
    return Pay(service, provider, store, alerts, clock)


def hold(pay: Pay, token: str = "tok_ok", session: str = SESSION, cp: str = "CP1") -> None:
    pay.service.set_method("t1", "alice", token, "Visa 4242")
    pay.service.hold(
        tenant_id="t1",
        user_id="alice",
        session_id=session,
        charge_point_id=cp,
        connector_id=1,
        id_tag="APPTAG",
    )


def facts(total: str = "12.34", cdr_id: str = "TX7", tx: int = 7) -> ChargeFacts:
    return ChargeFacts(cdr_id, "t1", "CP1", 1, tx, "APPTAG", "EUR", Decimal(total), T0 + timedelta(hours=1))


def test_hold_in_the_tariff_currency_or_the_default(pay: Pay) -> None:
    hold(pay)
    p = pay.service.of_session(SESSION)
    assert p is not None and p.status is PaymentStatus.AUTHORIZED
    assert (p.held, p.currency, p.payment_id) == (Decimal("50.00"), "EUR", payment_id_of(SESSION))
    other = "0b0e8c9e-1111-4222-8333-000000000002"
    hold(pay, session=other, cp="CP-NO")
    assert pay.service.of_session(other).currency == "NOK"  # type: ignore[union-attr]
    (call, _) = [c for c in pay.provider.calls if c.operation == "preauthorize"]
    assert call.key == f"preauth:{SESSION}" and call.amount == Money(Decimal("50.00"), "EUR")


def test_no_card_declined_and_unreachable_place_no_hold(pay: Pay) -> None:
    with pytest.raises(PaymentMethodRequired):
        pay.service.hold(
            tenant_id="t1",
            user_id="bob",
            session_id=SESSION,
            charge_point_id="CP1",
            connector_id=1,
            id_tag="X",
        )
    assert pay.provider.calls == []
    with pytest.raises(PaymentDeclined):
        hold(pay, token="tok_decline")
    assert pay.service.of_session(SESSION).status is PaymentStatus.DECLINED  # type: ignore[union-attr]
    other = "0b0e8c9e-1111-4222-8333-000000000003"
    with pytest.raises(PaymentProviderUnavailable):
        hold(pay, token="tok_unavailable", session=other)
    assert pay.service.of_session(other).status is PaymentStatus.FAILED  # type: ignore[union-attr]
    limited = PaymentService(
        store=InMemoryPaymentStore(), provider=FakePaymentProvider(decline_above=Decimal("20"))
    )
    limited.set_method("t1", "alice", "tok_ok", None)
    with pytest.raises(PaymentDeclined, match="insufficient"):
        limited.hold(
            tenant_id="t1",
            user_id="alice",
            session_id=SESSION,
            charge_point_id="C",
            connector_id=1,
            id_tag="A",
        )


def test_capture_twice_captures_once(pay: Pay) -> None:
    hold(pay)
    first = pay.service.capture_for_cdr(facts())
    again = pay.service.capture_for_cdr(facts())  # an SQS redelivery
    assert first is not None and first.status is PaymentStatus.CAPTURED
    assert again == first and first.captured == Decimal("12.34") and first.shortfall == 0
    assert (first.cdr_id, first.transaction_id, first.due) == ("TX7", 7, Decimal("12.34"))
    captures = [c for c in pay.provider.calls if c.operation == "capture"]
    assert [c.key for c in captures] == ["capture:TX7"]
    assert pay.service.retry_capture("t1", first.payment_id) == first  # nothing to retry


def test_total_above_the_hold_captures_the_hold_and_records_the_shortfall(pay: Pay) -> None:
    hold(pay)
    p = pay.service.capture_for_cdr(facts("70.10"))
    assert p is not None and (p.captured, p.shortfall, p.due) == (
        Decimal("50.00"),
        Decimal("20.10"),
        Decimal("70.10"),
    )


def test_zero_total_releases_the_hold(pay: Pay) -> None:
    hold(pay)
    p = pay.service.capture_for_cdr(facts("0.00"))
    assert p is not None and p.status is PaymentStatus.VOIDED and p.captured == 0
    assert [c.operation for c in pay.provider.calls][-1] == "void"


def test_failed_capture_is_recorded_alerted_and_retried_with_the_same_key(pay: Pay) -> None:
    hold(pay, token="tok_capture_fail_2")
    for attempt in (1, 2):
        with pytest.raises(CaptureFailed):
            pay.service.capture_for_cdr(facts())
        p = pay.service.of_session(SESSION)
        assert p is not None and p.status is PaymentStatus.CAPTURE_FAILED
        assert p.capture_attempts == attempt and "502" in (p.last_error or "")
    page = pay.service.list_by_status("t1", PaymentStatus.CAPTURE_FAILED, 10, None)
    assert [x.payment_id for x in page.items] == [payment_id_of(SESSION)]
    assert pay.alerts.sent == [("failed", payment_id_of(SESSION))] * 2
    done = pay.service.retry_capture("t1", payment_id_of(SESSION))  # the operator's retry
    assert pay.alerts.sent[-1] == ("recovered", payment_id_of(SESSION))
    assert done.status is PaymentStatus.CAPTURED and done.capture_attempts == 3 and done.last_error is None
    keys = {c.key for c in pay.provider.calls if c.operation == "capture"}
    assert keys == {"capture:TX7"}  # every attempt under one key: the gateway charges once
    assert pay.service.list_by_status("t1", PaymentStatus.CAPTURE_FAILED, 10, None).items == []


def test_void_release_and_void_after_capture_refused(pay: Pay) -> None:
    hold(pay)
    released = pay.service.release(SESSION)
    assert released is not None and released.status is PaymentStatus.VOIDED
    assert pay.service.release(SESSION) == released  # idempotent
    assert [c.key for c in pay.provider.calls if c.operation == "void"] == [f"void:{payment_id_of(SESSION)}"]
    other = "0b0e8c9e-1111-4222-8333-000000000004"
    hold(pay, session=other)
    captured = pay.service.capture_for_cdr(facts())
    assert captured is not None and captured.session_id == other  # the voided hold is not this one's
    with pytest.raises(PaymentStateConflict):
        pay.service.void("t1", captured.payment_id)
    assert pay.service.release(other) == captured  # a read path never voids a captured payment
    with pytest.raises(PaymentNotFound):
        pay.service.void("t2", captured.payment_id)


def test_refunds_up_to_the_captured_amount_once_per_key(pay: Pay) -> None:
    hold(pay)
    p = pay.service.capture_for_cdr(facts("20.00"))
    assert p is not None
    with pytest.raises(PaymentStateConflict):
        uncaptured = "0b0e8c9e-1111-4222-8333-000000000005"
        hold(pay, session=uncaptured)
        pay.service.refund("t1", payment_id_of(uncaptured), Decimal("1.00"), "k-1")
    for bad in (Decimal("0"), Decimal("-1"), Decimal("20.01"), Decimal("1.001")):
        with pytest.raises(InvalidRefund):
            pay.service.refund("t1", p.payment_id, bad, "k-bad")
    part = pay.service.refund("t1", p.payment_id, Decimal("5.00"), "k-1")
    assert part.status is PaymentStatus.PARTIALLY_REFUNDED and part.refunded == Decimal("5.00")
    assert pay.service.refund("t1", p.payment_id, Decimal("5.00"), "k-1") == part  # same key: once
    with pytest.raises(InvalidRefund):
        pay.service.refund("t1", p.payment_id, Decimal("15.01"), "k-2")
    full = pay.service.refund("t1", p.payment_id, Decimal("15.00"), "k-2")
    assert full.status is PaymentStatus.REFUNDED and full.refunded == Decimal("20.00")
    assert len([c for c in pay.provider.calls if c.operation == "refund"]) == 2


def test_capture_finds_no_hold_for_rfid_or_other_connectors(pay: Pay) -> None:
    assert pay.service.capture_for_cdr(facts()) is None  # RFID / post-paid: nothing to capture
    hold(pay)
    elsewhere = ChargeFacts("TX8", "t1", "CP1", 2, 8, "APPTAG", "EUR", Decimal(1), T0 + timedelta(hours=1))
    assert pay.service.capture_for_cdr(elsewhere) is None
    early = ChargeFacts("TX9", "t1", "CP1", 1, 9, "APPTAG", "EUR", Decimal(1), T0 - timedelta(hours=1))
    assert pay.service.capture_for_cdr(early) is None  # ended before the hold existed


def test_charge_facts_of_an_issued_cdr() -> None:
    ocpi = {"cdr_token": {"uid": "APPTAG"}, "end_date_time": "2026-03-02T11:00:00Z"}
    cdr = IssuedCdr("TX7", "t1", "CP1", 1, 7, CdrKind.DEBIT, T0, "EUR", Decimal(10), Decimal("12.10"), ocpi)
    got = charge_facts(cdr)
    assert (
        got is not None and got.total_incl_vat == Decimal("12.10") and got.ended_at == T0 + timedelta(hours=1)
    )
    assert (
        charge_facts(
            IssuedCdr("TX7-CR", "t1", "CP1", 1, 7, CdrKind.CREDIT, T0, "EUR", Decimal(-1), None, ocpi)
        )
        is None
    )


# ---------------------------------------------------------------------- the drivers' paid start


@dataclass
class Driving:
    drivers: DriverService
    pay: Pay
    commands: FakeCommands
    transactions: FakeTransactions


@pytest.fixture
def driving(pay: Pay) -> Driving:
    tariffs = TariffService(MemoryTariffs(), clock=pay.clock)
    estimator = TariffEstimator(
        tariffs, ContractService(MemoryContracts()), MemoryAccounts(), MemoryLocations()
    )
    commands, transactions = FakeCommands(), FakeTransactions()
    drivers = DriverService(
        store=InMemoryDriverStore(),
        id_tags=IdTagService(InMemoryIdTagRepository(), clock=pay.clock),
        commands=commands,
        transactions=transactions,
        cdrs=MemoryCdrs(),
        estimator=estimator,
        clock=pay.clock,
        app_token_factory=lambda: "APPTAG",
        payments=pay.service,
        start_timeout=timedelta(seconds=120),
    )
    return Driving(drivers, pay, commands, transactions)


def test_declined_or_missing_card_sends_no_remote_start(driving: Driving) -> None:
    with pytest.raises(PaymentMethodRequired):
        driving.drivers.start("t1", "alice", "CP1", 1)
    driving.pay.service.set_method("t1", "alice", "tok_decline_1", None)
    with pytest.raises(PaymentDeclined):
        driving.drivers.start("t1", "alice", "CP1", 1)
    assert driving.commands.commands == {}
    assert driving.drivers.history("t1", "alice", 10, None).items == []


def test_paid_session_view_and_void_when_the_charger_rejects(driving: Driving) -> None:
    driving.pay.service.set_method("t1", "alice", "tok_ok", None)
    detail = driving.drivers.start("t1", "alice", "CP1", 1)
    assert detail.payment is not None and detail.payment.status is PaymentStatus.AUTHORIZED
    driving.commands.answer(detail.session.start_command_id, CommandStatus.REJECTED)
    got = driving.drivers.get("t1", "alice", detail.session.session_id)
    assert got.session.state is SessionState.REJECTED
    assert got.payment is not None and got.payment.status is PaymentStatus.VOIDED


def test_offline_charger_voids_at_once(driving: Driving) -> None:
    driving.pay.service.set_method("t1", "alice", "tok_ok", None)
    driving.commands.online = False
    detail = driving.drivers.start("t1", "alice", "CP1", 1)
    assert detail.session.state is SessionState.OFFLINE
    assert detail.payment is not None and detail.payment.status is PaymentStatus.VOIDED


def test_accepted_without_start_transaction_expires_and_voids(driving: Driving) -> None:
    driving.pay.service.set_method("t1", "alice", "tok_ok", None)
    detail = driving.drivers.start("t1", "alice", "CP1", 1)
    sid = detail.session.session_id
    driving.commands.answer(detail.session.start_command_id, CommandStatus.ACCEPTED)  # completed at T0
    driving.pay.clock.now = T0 + timedelta(seconds=119)
    assert driving.drivers.get("t1", "alice", sid).session.state is SessionState.ACCEPTED
    driving.pay.clock.now = T0 + timedelta(seconds=121)
    got = driving.drivers.get("t1", "alice", sid)
    assert got.session.state is SessionState.EXPIRED and got.payment is not None
    assert got.payment.status is PaymentStatus.VOIDED
    # Expired is final: a late StartTransaction no longer links it.
    driving.transactions.start(5, "t1", "CP1", 1, "APPTAG", at=T0 + timedelta(seconds=130))
    assert driving.drivers.get("t1", "alice", sid).session.state is SessionState.EXPIRED


def test_started_session_is_not_voided_and_capture_finds_its_hold(driving: Driving) -> None:
    driving.pay.service.set_method("t1", "alice", "tok_ok", None)
    detail = driving.drivers.start("t1", "alice", "CP1", 1)
    driving.commands.answer(detail.session.start_command_id, CommandStatus.ACCEPTED)
    driving.transactions.start(7, "t1", "CP1", 1, "APPTAG", at=T0 + timedelta(seconds=3))
    driving.pay.clock.now = T0 + timedelta(hours=1)
    got = driving.drivers.get("t1", "alice", detail.session.session_id)
    assert got.session.state is SessionState.STARTED and got.payment is not None
    assert got.payment.status is PaymentStatus.AUTHORIZED
    driving.pay.service.capture_for_cdr(facts("9.99"))
    got = driving.drivers.get("t1", "alice", detail.session.session_id)
    assert got.payment is not None and got.payment.status is PaymentStatus.CAPTURED
    assert got.payment.captured == Decimal("9.99")


# ---------------------------------------------------------------------- configuration


def test_provider_choice_is_validated_and_fiserv_reads_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"STAGE": "prod", "PAYMENTS_TABLE": "p", "AWS_REGION": "eu-west-1"}
    with pytest.raises(ValidationError, match="not allowed on stage prod"):
        PaymentsSettings.from_env({**base, "PAYMENT_PROVIDER": "fake"})
    with pytest.raises(ValidationError, match="needs PAYMENT_GATEWAY_SECRET_ARN"):
        PaymentsSettings.from_env({**base, "PAYMENT_PROVIDER": "fiserv"})
    assert (
        PaymentsSettings.from_env({**base, "STAGE": "local", "PAYMENT_PROVIDER": "fake"}).payment_hold_amount
        == 50
    )
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        secret = {"base_url": "https://gw.example/ch", "api_key": "k", "api_secret": "s"}
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="gw", SecretString=json.dumps({**secret, "merchant_id": "m", "terminal_id": "t"})
        )["ARN"]
        settings = PaymentsSettings.from_env(
            {**base, "PAYMENT_PROVIDER": "fiserv", "PAYMENT_GATEWAY_SECRET_ARN": arn}
        )
        provider = provider_of(settings)
    assert isinstance(provider, FiservCommerceHub) and provider.name == "fiserv"


def test_sweep_releases_holds_of_sessions_nobody_reads(driving: Driving) -> None:
    driving.pay.service.set_method("t1", "alice", "tok_ok", None)
    rejected = driving.drivers.start("t1", "alice", "CP1", 1).session
    driving.commands.answer(rejected.start_command_id, CommandStatus.REJECTED)  # never read again
    running = driving.drivers.start("t1", "alice", "CP1", 2).session
    driving.commands.answer(running.start_command_id, CommandStatus.ACCEPTED)
    driving.transactions.start(11, "t1", "CP1", 2, "APPTAG", at=T0 + timedelta(seconds=2))
    orphan = "0b0e8c9e-1111-4222-8333-000000000009"  # a crash between the hold and the session
    hold(driving.pay, session=orphan)
    assert driving.drivers.settle_stale_holds() == 0  # too young: a start may be in flight
    driving.pay.clock.now = T0 + timedelta(minutes=10)
    assert driving.drivers.settle_stale_holds() == 2
    status = {p.session_id: p.status for p in driving.pay.store.payments.values()}
    assert status == {
        rejected.session_id: PaymentStatus.VOIDED,
        running.session_id: PaymentStatus.AUTHORIZED,  # started: captured from its CDR later
        orphan: PaymentStatus.VOIDED,
    }
    assert driving.drivers.settle_stale_holds() == 0
