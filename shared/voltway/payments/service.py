"""Payment use cases: hold at start, release (void) when no transaction follows, capture the CDR's total,
operator retries and refunds. Domain only: the provider, the store and alerts are ports.

States (``PaymentStatus``)::

    pending --approved--> authorized --capture ok--> captured --refund--> partially_refunded --> refunded
       |--declined--> declined          |--capture fails--> capture_failed --retry ok--> captured
       |--unreachable--> failed         |--void (no transaction / nothing due)--> voided

Every provider call carries a key derived from platform ids (``voltway.payments.model``), and every
state change is a versioned write, so SQS redeliveries, HTTP retries and racing readers never capture,
void or refund twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from voltway.billing.model import CdrKind, IssuedCdr
from voltway.observability import count, logger
from voltway.payments.errors import (
    CaptureFailed,
    InvalidRefund,
    PaymentConflict,
    PaymentDeclined,
    PaymentMethodRequired,
    PaymentNotFound,
    PaymentProviderUnavailable,
    PaymentStateConflict,
)
from voltway.payments.model import (
    CENT,
    ChargeFacts,
    Money,
    Payment,
    PaymentMethod,
    PaymentPage,
    PaymentStatus,
    Refund,
    capture_key,
    payment_id_of,
    preauth_key,
    refund_key,
    void_key,
)
from voltway.payments.ports import Alerts, PaymentProvider, PaymentRepository

Clock = Callable[[], datetime]
CurrencyOf = Callable[[str, str], str | None]  # (tenant, charger) -> the tariff's currency, if any
# A charger's clock may run behind ours: a hold created up to this long after the transaction's end still
# belongs to it (it cannot, in practice: the hold comes before the RemoteStart).
MATCH_SLACK = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PaymentSettings:
    hold_amount: Decimal = Decimal("50.00")  # per pre-authorisation, in the charger tariff's currency
    default_currency: str = "EUR"  # when the charger has no tariff yet
    tag_lookup: int = 10  # newest payments of an id tag examined to find a transaction's hold


def charge_facts(cdr: IssuedCdr) -> ChargeFacts | None:
    """What capture needs of a debit CDR: its id tag (``cdr_token.uid``), total incl. VAT (excl. when
    the tariff has no VAT) and end time."""
    token = cdr.ocpi.get("cdr_token")
    uid = token.get("uid") if isinstance(token, dict) else None
    if cdr.kind is not CdrKind.DEBIT or not isinstance(uid, str):
        return None
    end = cdr.ocpi.get("end_date_time")
    ended_at = datetime.fromisoformat(end.replace("Z", "+00:00")) if isinstance(end, str) else cdr.issued_at
    return ChargeFacts(
        cdr_id=cdr.cdr_id,
        tenant_id=cdr.tenant_id,
        charge_point_id=cdr.charge_point_id,
        connector_id=cdr.connector_id,
        transaction_id=cdr.transaction_id,
        id_tag=uid,
        currency=cdr.currency,
        total_incl_vat=cdr.total_incl_vat if cdr.total_incl_vat is not None else cdr.total_excl_vat,
        ended_at=ended_at,
    )


class PaymentService:
    def __init__(
        self,
        *,
        store: PaymentRepository,
        provider: PaymentProvider,
        settings: PaymentSettings = PaymentSettings(),
        currency_of: CurrencyOf | None = None,
        alerts: Alerts | None = None,
        clock: Clock = _now,
    ) -> None:
        self._store = store
        self._provider = provider
        self._settings = settings
        self._currency_of = currency_of
        self._alerts = alerts
        self._clock = clock

    # ------------------------------------------------------------------ payment methods (drivers)
    def set_method(self, tenant_id: str, user_id: str, token: str, label: str | None) -> PaymentMethod:
        method = PaymentMethod(tenant_id, user_id, token, label, self._clock())
        self._store.put_method(method)
        count("PaymentMethodSet")
        return method

    def method(self, tenant_id: str, user_id: str) -> PaymentMethod | None:
        return self._store.method(tenant_id, user_id)

    # ------------------------------------------------------------------ start: the hold
    def hold(
        self,
        *,
        tenant_id: str,
        user_id: str,
        session_id: str,
        charge_point_id: str,
        connector_id: int,
        id_tag: str,
    ) -> Payment:
        """Pre-authorise the hold amount on the driver's card. ``PaymentMethodRequired`` without a card,
        ``PaymentDeclined`` / ``PaymentProviderUnavailable`` when no hold was placed (the payment is
        stored ``declined`` / ``failed`` for the record)."""
        method = self._store.method(tenant_id, user_id)
        if method is None:
            raise PaymentMethodRequired("register a payment method first (PUT /v1/me/payment-method)")
        currency = (self._currency_of(tenant_id, charge_point_id) if self._currency_of else None) or (
            self._settings.default_currency
        )
        amount = Money(self._settings.hold_amount.quantize(CENT), currency)
        now = self._clock()
        payment = self._store.create(
            Payment(
                payment_id=payment_id_of(session_id),
                tenant_id=tenant_id,
                user_id=user_id,
                session_id=session_id,
                charge_point_id=charge_point_id,
                connector_id=connector_id,
                id_tag=id_tag,
                provider=self._provider.name,
                currency=currency,
                held=amount.amount,
                status=PaymentStatus.PENDING,
                created_at=now,
                updated_at=now,
            )
        )
        try:
            result = self._provider.preauthorize(
                key=preauth_key(session_id), token=method.token, amount=amount, reference=payment.payment_id
            )
        except PaymentProviderUnavailable as e:
            self._save(replace(payment, status=PaymentStatus.FAILED, last_error=str(e)))
            count("PaymentHoldFailed")
            raise
        if not result.approved:
            self._save(replace(payment, status=PaymentStatus.DECLINED, last_error=result.reason))
            count("PaymentDeclined")
            raise PaymentDeclined(result.reason or "the card was declined")
        count("PaymentAuthorized")
        return self._save(
            replace(payment, status=PaymentStatus.AUTHORIZED, provider_reference=result.reference)
        )

    # ------------------------------------------------------------------ no transaction: release
    def release(self, session_id: str) -> Payment | None:
        """Void the session's hold if it is still authorised and unbound to a CDR (the session ended
        without a transaction). Best effort, for read paths: a provider failure leaves it authorised with
        ``last_error`` and the next read (or sweep) tries again."""
        payment = self._store.get(payment_id_of(session_id))
        if payment is None or payment.status is not PaymentStatus.AUTHORIZED or payment.cdr_id is not None:
            return payment
        try:
            return self._void(payment)
        except PaymentProviderUnavailable as e:
            logger.warning("void failed; retried on the next read", payment_id=payment.payment_id)
            count("PaymentVoidFailed")
            return self._save_quietly(replace(payment, last_error=str(e)))

    def void(self, tenant_id: str, payment_id: str) -> Payment:
        """Release a hold explicitly; refused once captured (refund instead)."""
        payment = self.get(tenant_id, payment_id)
        if payment.status is PaymentStatus.VOIDED:
            return payment
        if payment.status is not PaymentStatus.AUTHORIZED:
            raise PaymentStateConflict(f"a {payment.status.value} payment cannot be voided")
        return self._void(payment)

    def _void(self, payment: Payment) -> Payment:
        if payment.provider_reference is not None:
            result = self._provider.void(
                key=void_key(payment.payment_id),
                provider_reference=payment.provider_reference,
                amount=Money(payment.held, payment.currency),
            )
            # A refused void (the issuer already released the hold) leaves nothing held either.
            error = None if result.approved else result.reason
        else:
            error = None
        count("PaymentVoided")
        return self._save_quietly(replace(payment, status=PaymentStatus.VOIDED, last_error=error))

    # ------------------------------------------------------------------ stop: capture the CDR
    def capture_for_cdr(self, facts: ChargeFacts) -> Payment | None:
        """Capture the CDR's total (incl. VAT, capped at the hold) from the hold of its session. None when
        the transaction has no hold (RFID / post-paid). Idempotent: a redelivery of the same CDR returns
        the captured payment. A failed capture marks the payment ``capture_failed`` and raises
        ``CaptureFailed`` so the queue retries it."""
        payment = self._hold_of(facts)
        if payment is None:
            return None
        if payment.status is PaymentStatus.VOIDED:
            # The session expired (hold released) and the charger started it late: unpaid, but visible.
            logger.warning("transaction started after its hold was voided", payment_id=payment.payment_id)
            count("PaymentHoldVoidedBeforeCapture")
            return payment
        if payment.cdr_id is None:
            payment = self._save(
                replace(
                    payment,
                    cdr_id=facts.cdr_id,
                    transaction_id=facts.transaction_id,
                    due=facts.total_incl_vat,
                    updated_at=self._clock(),
                )
            )
        return self._capture(payment)

    def capture_issued(self, cdr: IssuedCdr) -> Payment | None:
        """``capture_for_cdr`` for an issued debit CDR (credits and CDRs without a token: None)."""
        facts = charge_facts(cdr)
        return self.capture_for_cdr(facts) if facts is not None else None

    def retry_capture(self, tenant_id: str, payment_id: str) -> Payment:
        payment = self.get(tenant_id, payment_id)
        if payment.status is PaymentStatus.CAPTURED or payment.status.refundable:
            return payment
        if payment.status is not PaymentStatus.CAPTURE_FAILED or payment.cdr_id is None:
            raise PaymentStateConflict(f"a {payment.status.value} payment has no capture to retry")
        return self._capture(payment)

    def _hold_of(self, facts: ChargeFacts) -> Payment | None:
        """The payment already bound to this CDR, else the newest open hold of the id tag on this
        connector created before the transaction ended (an app token runs one transaction at a time),
        else a voided one (reported: the transaction started after its session expired)."""
        voided = None
        for payment in self._store.for_tag(facts.tenant_id, facts.id_tag, self._settings.tag_lookup):
            if payment.cdr_id == facts.cdr_id:
                return payment
            if (
                payment.cdr_id is None
                and payment.charge_point_id == facts.charge_point_id
                and payment.connector_id == facts.connector_id
                and payment.created_at <= facts.ended_at + MATCH_SLACK
            ):
                if payment.status is PaymentStatus.AUTHORIZED:
                    return payment
                if payment.status is PaymentStatus.VOIDED and voided is None:
                    voided = payment
        return voided

    def _capture(self, payment: Payment) -> Payment:
        if not payment.status.capturable:
            return payment  # captured (or refunded) already: a redelivery
        assert payment.cdr_id is not None and payment.due is not None
        amount = min(payment.due, payment.held)
        shortfall = max(Decimal(0), payment.due - payment.held)
        attempts = payment.capture_attempts + 1
        try:
            if payment.provider_reference is None:
                raise PaymentProviderUnavailable("the hold has no provider reference")
            if amount == 0:  # nothing to pay: release the hold
                result = self._provider.void(
                    key=void_key(payment.payment_id),
                    provider_reference=payment.provider_reference,
                    amount=Money(payment.held, payment.currency),
                )
            else:
                result = self._provider.capture(
                    key=capture_key(payment.cdr_id),
                    provider_reference=payment.provider_reference,
                    amount=Money(amount, payment.currency),
                )
            error = None if result.approved else (result.reason or "capture refused")
        except PaymentProviderUnavailable as e:
            error = str(e) or "provider unavailable"
        now = self._clock()
        if error is not None:
            failed = self._save_quietly(
                replace(
                    payment,
                    status=PaymentStatus.CAPTURE_FAILED,
                    capture_attempts=attempts,
                    last_error=error,
                    updated_at=now,
                )
            )
            count("PaymentCaptureFailed")
            self._tell(lambda alerts: alerts.capture_failed(failed))
            raise CaptureFailed(f"{payment.payment_id}: {error}")
        done = replace(
            payment,
            status=PaymentStatus.VOIDED if amount == 0 else PaymentStatus.CAPTURED,
            captured=amount,
            shortfall=shortfall,
            capture_attempts=attempts,
            last_error=None,
            updated_at=now,
        )
        count("PaymentCaptured")
        if payment.status is PaymentStatus.CAPTURE_FAILED:
            self._tell(lambda alerts: alerts.captured_after_failure(done))
        if shortfall:
            count("PaymentShortfall")
            logger.warning(
                "CDR total exceeds the hold", payment_id=payment.payment_id, shortfall=str(shortfall)
            )
        return self._save_quietly(done)

    def _tell(self, what: Callable[[Alerts], None]) -> None:
        if self._alerts is None:
            return
        try:
            what(self._alerts)
        except Exception:  # an alert must never hide the failure it reports
            logger.exception("payment alert not recorded")

    # ------------------------------------------------------------------ finance: refunds
    def refund(self, tenant_id: str, payment_id: str, amount: Decimal, request_key: str) -> Payment:
        """Refund ``amount`` (> 0, <= captured - refunded); one refund per ``request_key``."""
        payment = self.get(tenant_id, payment_id)
        if any(r.key == request_key for r in payment.refunds):
            return payment
        if not payment.status.refundable or payment.provider_reference is None:
            raise PaymentStateConflict(f"a {payment.status.value} payment cannot be refunded")
        if amount <= 0 or amount != amount.quantize(CENT) or amount > payment.captured - payment.refunded:
            raise InvalidRefund(
                f"refund must be > 0 and <= {payment.captured - payment.refunded} {payment.currency}"
            )
        result = self._provider.refund(
            key=refund_key(payment_id, request_key),
            provider_reference=payment.provider_reference,
            amount=Money(amount, payment.currency),
        )
        if not result.approved:
            raise PaymentStateConflict(f"the provider refused the refund: {result.reason}")
        refunded = payment.refunded + amount
        now = self._clock()
        count("PaymentRefunded")
        return self._save(
            replace(
                payment,
                refunded=refunded,
                refunds=(*payment.refunds, Refund(request_key, amount, now, result.reference)),
                status=PaymentStatus.REFUNDED
                if refunded == payment.captured
                else PaymentStatus.PARTIALLY_REFUNDED,
                updated_at=now,
            )
        )

    # ------------------------------------------------------------------ reads
    def get(self, tenant_id: str, payment_id: str) -> Payment:
        payment = self._store.get(payment_id)
        if payment is None or payment.tenant_id != tenant_id:
            raise PaymentNotFound(payment_id)
        return payment

    def of_session(self, session_id: str) -> Payment | None:
        return self._store.get(payment_id_of(session_id))

    def stale_holds(self, older_than: timedelta, limit: int) -> list[Payment]:
        """Authorised holds, unbound to a CDR, placed more than ``older_than`` ago (oldest first)."""
        return self._store.open_holds(self._clock() - older_than, limit)

    def list_by_status(
        self, tenant_id: str, status: PaymentStatus, limit: int, cursor: str | None
    ) -> PaymentPage:
        return self._store.by_status(tenant_id, status, limit, cursor)

    # ------------------------------------------------------------------ persistence
    def _save(self, payment: Payment) -> Payment:
        return self._store.save(replace(payment, updated_at=self._clock()))

    def _save_quietly(self, payment: Payment) -> Payment:
        """Save after a provider call: a lost race means another worker recorded its own outcome of the
        same idempotent call, which is at least as new."""
        try:
            return self._save(payment)
        except PaymentConflict:
            stored = self._store.get(payment.payment_id)
            return stored if stored is not None else payment
