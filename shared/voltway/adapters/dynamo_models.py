"""PynamoDB item models. Table names are configuration: ``bind`` makes a subclass with its own
``Meta`` per table at the composition root, so no model class holds a global table name."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class ChargersByTenant(GlobalSecondaryIndex["ChargerItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_tenant"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    charge_point_id = UnicodeAttribute(range_key=True)


class ChargerItem(Model):
    charge_point_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    security_profile = NumberAttribute(default=1)
    enabled = BooleanAttribute(default=True)
    registration_status = UnicodeAttribute(null=True)
    boot = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    # connectorId (as a string) -> {status, error_code, timestamp, info?, vendor_id?, vendor_error_code?}
    connectors = MapAttribute[str, Any](default=dict)  # type: ignore[no-untyped-call]
    online = BooleanAttribute(default=False)
    connection_id = UnicodeAttribute(null=True)
    last_seen = UTCDateTimeAttribute(null=True)
    offline_alerted = BooleanAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    write_token = UnicodeAttribute(null=True)  # the last guarded write's token (adapters.conditional)
    by_tenant = ChargersByTenant()


class ConnectionItem(Model):
    connection_id = UnicodeAttribute(hash_key=True)
    charge_point_id = UnicodeAttribute()
    connected_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


class MessageItem(Model):
    charge_point_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # <UTC time, fixed width>#<in|out>#<unique id>
    direction = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    unique_id = UnicodeAttribute(null=True)
    message_type = NumberAttribute(null=True)
    action = UnicodeAttribute(null=True)
    frame = UnicodeAttribute()
    connection_id = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()


class IdempotencyItem(Model):
    charge_point_id = UnicodeAttribute(hash_key=True)
    unique_id = UnicodeAttribute(range_key=True)
    fingerprint = UnicodeAttribute()
    response = UnicodeAttribute(null=True)
    claimed_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
    write_token = UnicodeAttribute(null=True)  # the last guarded write's token (adapters.conditional)


M = TypeVar("M", bound=Model)


def bind(model: type[M], table_name: str, *, region: str, host: str | None) -> type[M]:
    """A subclass of ``model`` bound to ``table_name`` at ``host`` (None: AWS's own endpoint)."""
    meta = type("Meta", (), {"table_name": table_name, "region": region, "host": host})
    attrs: dict[str, Any] = {"Meta": meta, "__module__": model.__module__}
    if model is ChargerItem:
        # Indexes are bound to their model's Meta when the class is created: give the subclass its own.
        attrs["by_tenant"] = ChargersByTenant()
    return type(f"{model.__name__}_{table_name}", (model,), attrs)
