"""Operators hear of failed captures twice over: a message on the alerts topic (e-mail) and an alert in
the alert list (GET /v1/alerts, kind ``payment_capture_failed``, one per payment), which a successful
capture — the worker's redelivery or the operator's retry — resolves."""

from __future__ import annotations

from voltway.adapters.sns import SnsAlertPublisher
from voltway.alerts.service import AlertService
from voltway.payments.model import Payment


class PaymentAlerts:
    def __init__(self, topic: SnsAlertPublisher | None, alerts: AlertService | None) -> None:
        self._topic = topic
        self._alerts = alerts

    def capture_failed(self, payment: Payment) -> None:
        if self._alerts is not None:
            self._alerts.payment_capture_failed(
                tenant_id=payment.tenant_id,
                charge_point_id=payment.charge_point_id,
                payment_id=payment.payment_id,
                details={
                    "payment_id": payment.payment_id,
                    "cdr_id": payment.cdr_id,
                    "amount": str(payment.due),
                    "currency": payment.currency,
                    "last_error": payment.last_error,
                },
            )
        if self._topic is not None:
            self._topic.publish(
                "Payment capture failed",
                f"Capture of {payment.payment_id} (CDR {payment.cdr_id}, {payment.due} {payment.currency}) "
                f"failed {payment.capture_attempts} time(s): {payment.last_error}. "
                "GET /v1/payments?status=capture_failed; retry with POST /v1/payments/{id}/capture.",
                {"kind": "payment_capture_failed", "payment_id": payment.payment_id},
            )

    def captured_after_failure(self, payment: Payment) -> None:
        if self._alerts is not None:
            self._alerts.payment_captured(
                charge_point_id=payment.charge_point_id, payment_id=payment.payment_id
            )
