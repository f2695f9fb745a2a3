"""Id tags: operator writes, lookups and the authorization rules (in-memory adapter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from voltway.idtags.errors import IdTagNotFound
from voltway.idtags.http_models import PutIdTagRequest, id_tag_view
from voltway.idtags.memory import InMemoryIdTagRepository
from voltway.idtags.model import IdTag, IdTagInfo, IdTagStatus
from voltway.idtags.service import IdTagService

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def service() -> IdTagService:
    return IdTagService(InMemoryIdTagRepository(), clock=lambda: NOW)


def test_put_stamps_and_get_is_tenant_scoped(service: IdTagService) -> None:
    saved = service.put(IdTag("t1", "TAG", IdTagStatus.ACCEPTED))
    assert saved.updated_at == NOW and service.get("t1", "TAG") == saved
    with pytest.raises(IdTagNotFound):
        service.get("t2", "TAG")


def test_concurrent_tx_is_not_a_status_to_set(service: IdTagService) -> None:
    with pytest.raises(ValueError, match="ConcurrentTx"):
        service.put(IdTag("t1", "TAG", IdTagStatus.CONCURRENT_TX))


def test_expiry_is_checked_at_the_given_moment(service: IdTagService) -> None:
    service.put(IdTag("t1", "TAG", IdTagStatus.ACCEPTED, expiry_date=NOW))
    assert service.authorize("t1", "TAG", NOW - timedelta(seconds=1)).status is IdTagStatus.ACCEPTED
    assert service.authorize("t1", "TAG", NOW).status is IdTagStatus.EXPIRED
    service.put(IdTag("t1", "BLOCKED", IdTagStatus.BLOCKED, expiry_date=NOW - timedelta(days=1)))
    assert service.authorize("t1", "BLOCKED", NOW).status is IdTagStatus.BLOCKED
    assert service.authorize("t1", "NOPE", NOW) == IdTagInfo(IdTagStatus.INVALID)


def test_id_tag_info_on_the_wire_is_utc_with_milliseconds() -> None:
    info = IdTagInfo(IdTagStatus.ACCEPTED, datetime(2026, 5, 1, 12, 0, tzinfo=UTC), "PARENT")
    assert info.to_ocpp() == {
        "status": "Accepted",
        "expiryDate": "2026-05-01T12:00:00.000Z",
        "parentIdTag": "PARENT",
    }


def test_put_request_needs_an_offset_and_a_known_status() -> None:
    ok = PutIdTagRequest.model_validate_json(
        '{"status": "Blocked", "expiry_date": "2026-01-01T00:00:00+02:00"}'
    )
    assert ok.expiry_date is not None and ok.expiry_date.utcoffset() == timedelta(hours=2)
    for body in (
        '{"status": "Blocked", "expiry_date": "2026-01-01T00:00:00"}',
        '{"status": "ConcurrentTx"}',
        '{"status": "Accepted", "parent_id_tag": "' + "X" * 21 + '"}',
        '{"status": "Accepted", "extra": 1}',
    ):
        with pytest.raises(ValidationError):
            PutIdTagRequest.model_validate_json(body)


def test_view() -> None:
    tag = IdTag("t1", "TAG", IdTagStatus.ACCEPTED, datetime(2026, 1, 1, 1, tzinfo=UTC), "P", NOW)
    assert id_tag_view(tag)["expiry_date"] == "2026-01-01T01:00:00Z"
