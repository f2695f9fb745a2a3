"""Errors of the payments context; HTTP maps them once (``voltway.adapters.http``)."""

from __future__ import annotations


class PaymentError(Exception):
    """Base of the payments context's errors."""


class PaymentNotFound(PaymentError):
    """No such payment in the caller's tenant."""


class PaymentMethodRequired(PaymentError):
    """The driver has no payment method registered: a paid start cannot be authorised."""


class PaymentDeclined(PaymentError):
    """The provider declined the pre-authorisation: the charge is not started."""


class PaymentProviderUnavailable(PaymentError):
    """The provider did not answer (5xx, timeout, network) after the adapter's retries."""


class PaymentStateConflict(PaymentError):
    """The operation does not apply in the payment's state (e.g. void after capture)."""


class InvalidRefund(PaymentError):
    """The refund amount is not positive or exceeds what was captured and not yet refunded."""


class PaymentConflict(PaymentError):
    """A concurrent writer changed the payment (optimistic version); the caller re-reads."""


class CaptureFailed(PaymentError):
    """The capture of an issued CDR failed; the payment is ``capture_failed`` and the caller retries."""
