"""Charging transactions: start, meter values, stop; the operator's view of them."""
