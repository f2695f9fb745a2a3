"""Payments: card pre-authorisation at start, capture at stop, void and refund (docs/payments.md)."""
