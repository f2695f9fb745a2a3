"""Feeds the CDR queue from the OCPP $default function, after the charger has its answer.

Called with the raw frame once the central system has replied: a StopTransaction CALL asks for the
transaction's CDR. It never raises (the charger's exchange is done; a failure is logged and counted:
the stop is recorded, so an operator can re-request the CDR - see docs/billing.md).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, ValidationError

from voltway.billing.ports import CdrQueue
from voltway.observability import count, logger

CALL = 2


class CdrRequest(BaseModel):
    """The CDR queue's message body."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    transaction_id: int


def stopped_transaction(frame_text: str) -> int | None:
    """The transaction id of a StopTransaction CALL frame, else None (anything unreadable included)."""
    if "StopTransaction" not in frame_text:  # every frame passes here: skip the second parse
        return None
    try:
        frame = json.loads(frame_text)
    except ValueError:
        return None
    if (
        isinstance(frame, list)
        and len(frame) == 4
        and frame[0] == CALL
        and frame[2] == "StopTransaction"
        and isinstance(frame[3], dict)
    ):
        tx = frame[3].get("transactionId")
        return tx if isinstance(tx, int) and not isinstance(tx, bool) else None
    return None


class CdrTrigger:
    def __init__(self, queue: CdrQueue) -> None:
        self._queue = queue

    def after_frame(self, frame_text: str) -> None:
        transaction_id = stopped_transaction(frame_text)
        if transaction_id is None:
            return
        try:
            self._queue.enqueue(transaction_id)
            count("CdrRequested")
        except Exception:  # the charger has its answer already; never fail the invocation for billing
            count("CdrRequestFailed")
            logger.exception("cannot request the CDR", transaction_id=transaction_id)


def parse_request(body: str) -> CdrRequest:
    try:
        return CdrRequest.model_validate_json(body)
    except ValidationError as e:
        raise ValueError(f"not a CDR request: {body[:200]!r}") from e
