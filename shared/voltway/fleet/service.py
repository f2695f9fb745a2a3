"""Fleet time limits (docs/fleet-limits.md).

At StartTransaction the session's deadline (the charger's start timestamp + the contract's
``max_session_minutes``) is persisted, filed under its due minute. A scheduled sweep queries the minute
buckets that are due, claims each due deadline with a conditional update (pending -> stop_requested) and
only the winner records ``stop_reason_requested = "time_limit"`` and queues one RemoteStopTransaction:
sweeps that run twice, overlap or restart never send a second stop. Nothing lives in process memory, so
a restart (a new Lambda container) resumes from the persisted items and the sweep's persisted cursor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from voltway.billing.model import Contract
from voltway.fleet.model import (
    TIME_LIMIT,
    SessionDeadline,
    bucket_start,
    buckets_between,
    deadline_of,
    minute_bucket,
)
from voltway.fleet.ports import ChargerCommands, ContractLookup, DeadlineStore, StopReasons
from voltway.idtags.model import IdTagInfo
from voltway.observability import count, logger

Clock = Callable[[], datetime]
# With no cursor yet (first sweep ever), look back this far; and never query more buckets than this
# in one sweep (a monitor that was down for days catches up over several runs, oldest first).
FIRST_LOOKBACK = timedelta(hours=1)
MAX_BUCKETS_PER_SWEEP = 24 * 60
# The sweep re-queries the previous minute: a start recorded at hh:mm:59.9 by a frame while a sweep at
# hh:(mm+1):00 advances the cursor is still found (clock skew between functions, GSI propagation).
SETTLE = timedelta(minutes=1)
# A TxProfile's first period must state a limit; this is above any charger's power, so only the
# drop to 0 W at the deadline constrains the session.
UNCONSTRAINED_W = 1_000_000


@dataclass(frozen=True, slots=True)
class StartedSession:
    tenant_id: str
    charge_point_id: str
    connector_id: int
    transaction_id: int
    id_tag_info: IdTagInfo
    started_at: datetime  # the charger's timestamp
    received_at: datetime


def safety_net_profile(deadline: SessionDeadline, limit_seconds: int) -> dict[str, Any]:
    """SetChargingProfile (OCPP 1.6) payload: a TxProfile for this transaction whose schedule, relative
    to the transaction's start, allows full power until ``limit_seconds`` and 0 W from then on.

    No ``duration``: with duration = limit the 0 W period would lie outside the schedule and the charger
    would fall back to its default profile (usually unlimited); without it the last period holds until the
    transaction ends. ``chargingProfileId`` = the transaction id (platform-unique)."""
    return {
        "connectorId": deadline.connector_id,
        "csChargingProfiles": {
            "chargingProfileId": deadline.transaction_id,
            "transactionId": deadline.transaction_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": UNCONSTRAINED_W},
                    {"startPeriod": limit_seconds, "limit": 0},
                ],
            },
        },
    }


def limit_seconds_of(minutes: Decimal) -> int:
    return max(1, math.ceil(minutes * 60))


class FleetLimits:
    def __init__(
        self,
        *,
        deadlines: DeadlineStore,
        contracts: ContractLookup | None,
        commands: ChargerCommands,
        stop_reasons: StopReasons,
        clock: Clock | None = None,
    ) -> None:
        self._deadlines = deadlines
        self._contracts = contracts
        self._commands = commands
        self._stop_reasons = stop_reasons
        self._clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ StartTransaction
    def transaction_started(self, session: StartedSession) -> SessionDeadline | None:
        """Persist the deadline of an accepted session whose contract caps it (idempotent: a retried
        start finds the item). Raises store errors: the frame fails and the charger's retry records it."""
        if self._contracts is None or not session.id_tag_info.accepted:
            return None
        account = session.id_tag_info.parent_id_tag
        contract = self._contracts.contract_for(session.tenant_id, account)
        if contract is None or contract.max_session_minutes is None:
            return None
        deadline = SessionDeadline(
            transaction_id=session.transaction_id,
            tenant_id=session.tenant_id,
            charge_point_id=session.charge_point_id,
            connector_id=session.connector_id,
            contract_id=contract.contract_id,
            started_at=session.started_at,
            due_at=deadline_of(session.started_at, contract.max_session_minutes),
        )
        # A late-delivered start whose deadline already passed is filed under the current minute:
        # the cursor may have moved past its own minute, and it must be stopped at the next sweep.
        bucket = minute_bucket(max(deadline.due_at, session.received_at, self._clock()))
        if not self._deadlines.add(deadline, bucket):
            return self._deadlines.get(session.transaction_id)
        count("FleetDeadlineRecorded")
        logger.info("session deadline recorded", due_at=deadline.due_at.isoformat(), bucket=bucket)
        if contract.tx_profile_safety_net:
            self._send_safety_net(deadline, contract)
        return deadline

    def _send_safety_net(self, deadline: SessionDeadline, contract: Contract) -> None:
        assert contract.max_session_minutes is not None
        payload = safety_net_profile(deadline, limit_seconds_of(contract.max_session_minutes))
        try:
            self._commands.submit(deadline.tenant_id, deadline.charge_point_id, "SetChargingProfile", payload)
            count("FleetSafetyNetSent")
        except Exception:  # the RemoteStop at the deadline still stands
            logger.exception("TxProfile safety net not sent")

    # ------------------------------------------------------------------ StopTransaction
    def transaction_stopped(self, transaction_id: int) -> None:
        """The session ended first: its deadline leaves the due index (no stop is sent any more)."""
        self._deadlines.close(transaction_id)

    # ------------------------------------------------------------------ schedule
    def sweep(self, now: datetime | None = None) -> int:
        """Stop every session whose deadline passed; returns how many stops this run requested."""
        now = now or self._clock()
        last = minute_bucket(now)
        cursor = self._deadlines.swept_through() or minute_bucket(now - FIRST_LOOKBACK)
        buckets = buckets_between(cursor, last)[:MAX_BUCKETS_PER_SWEEP]
        stopped = 0
        for bucket in buckets:
            for deadline in self._deadlines.due_in(bucket, now):
                if self._stop(deadline, now):
                    stopped += 1
        if buckets:
            settled = minute_bucket(min(bucket_start(buckets[-1]), now - SETTLE))
            if settled > cursor:
                self._deadlines.set_swept_through(settled)
        return stopped

    def _stop(self, deadline: SessionDeadline, now: datetime) -> bool:
        if not self._deadlines.claim(deadline.transaction_id, now):
            return False  # another sweep won, or the transaction stopped meanwhile
        # Recorded before the command is sent: the charger's StopTransaction (and the CDR built from
        # it) may follow within milliseconds.
        self._stop_reasons.request_stop(deadline.transaction_id, TIME_LIMIT)
        try:
            self._commands.submit(
                deadline.tenant_id,
                deadline.charge_point_id,
                "RemoteStopTransaction",
                {"transactionId": deadline.transaction_id},
            )
        except Exception:  # claimed: not retried (one stop per transaction); the TxProfile may still hold
            logger.exception("RemoteStopTransaction at the time limit not queued")
            count("FleetStopFailed")
            return False
        count("FleetTimeLimitStop")
        logger.info(
            "time limit reached: RemoteStopTransaction queued",
            transaction_id=deadline.transaction_id,
            late_by_s=(now - deadline.due_at).total_seconds(),
        )
        return True
