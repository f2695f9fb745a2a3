"""Shared HTTP conventions of the Chalice API: signed cursors, the error shape for Chalice's own errors,
idempotency keys, the OpenAPI document, and the blueprints of the sites and stations routes."""
