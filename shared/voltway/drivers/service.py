"""Drivers' use cases: tokens, app-started sessions (state machine), the live view, history and CDRs.

Session state machine (refreshed on read, persisted with optimistic versions)::

    requested --charger accepts RemoteStart--> accepted --StartTransaction--> started --Stop--> stopped
        |--> rejected | offline | timeout (a StartTransaction after a timeout still links)
    accepted | timeout --no StartTransaction within the start timeout--> expired

Paid starts (``payments`` given): the card is pre-authorised before RemoteStartTransaction is sent (a
decline sends nothing and creates no session); the hold is voided when the session ends without a
transaction (rejected, offline, expired) and captured by the CDR worker (docs/payments.md).

The link to the transaction is key lookups only: the app token's active-transaction lock
(``LOCK#<tenant>#<idTag>`` in TransactionsTable) names the running transaction, which must be on the
session's charger and connector and received after the session was requested.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from voltway.billing.model import IssuedCdr, cdr_id_of
from voltway.drivers.errors import (
    DriverCdrNotFound,
    SessionConflict,
    SessionNotFound,
    SessionNotRunning,
    TokenNotFound,
    TokenNotUsable,
    TokenOwned,
)
from voltway.drivers.model import (
    ChargingSession,
    CostEstimate,
    LiveFigures,
    SessionPage,
    SessionState,
    TokenKind,
    TokenLink,
)
from voltway.drivers.ports import (
    Cdrs,
    Commands,
    CostEstimator,
    DriverStore,
    SessionPayments,
    Transactions,
)
from voltway.idtags.errors import IdTagNotFound
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.idtags.service import IdTagService
from voltway.observability import count, logger
from voltway.ocpp.commands.model import CommandStatus
from voltway.payments.model import Payment
from voltway.transactions.model import Transaction

Clock = Callable[[], datetime]
# A StartTransaction may carry a charger clock slightly behind ours; we compare our receive time.
LINK_SLACK = timedelta(seconds=5)
# Accepted by the charger (or unanswered) and no StartTransaction after this long: the session expires.
START_TIMEOUT = timedelta(seconds=120)
_APP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

_FROM_COMMAND = {
    CommandStatus.ACCEPTED: SessionState.ACCEPTED,
    CommandStatus.REJECTED: SessionState.REJECTED,
    CommandStatus.ERROR: SessionState.REJECTED,
    CommandStatus.OFFLINE: SessionState.OFFLINE,
    CommandStatus.TIMEOUT: SessionState.TIMEOUT,
}


def new_app_token() -> str:
    """``APP`` + 16 random characters: 19 <= 20 (OCPP IdToken), ~80 bits."""
    return "APP" + "".join(secrets.choice(_APP_ALPHABET) for _ in range(16))


@dataclass(frozen=True, slots=True)
class TokenView:
    link: TokenLink
    status: IdTagStatus


@dataclass(frozen=True, slots=True)
class SessionDetail:
    session: ChargingSession
    live: LiveFigures | None
    stop_status: str | None  # the RemoteStopTransaction's public status, once requested
    payment: Payment | None = None  # paid starts only


class DriverService:
    def __init__(
        self,
        *,
        store: DriverStore,
        id_tags: IdTagService,
        commands: Commands,
        transactions: Transactions,
        cdrs: Cdrs,
        estimator: CostEstimator,
        clock: Clock | None = None,
        app_token_factory: Callable[[], str] = new_app_token,
        payments: SessionPayments | None = None,
        start_timeout: timedelta = START_TIMEOUT,
    ) -> None:
        self._store = store
        self._id_tags = id_tags
        self._commands = commands
        self._transactions = transactions
        self._cdrs = cdrs
        self._estimator = estimator
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._new_app_token = app_token_factory
        self._payments = payments
        self._start_timeout = start_timeout

    # ------------------------------------------------------------------ tokens
    def app_token(self, tenant_id: str, user_id: str) -> str:
        """The user's app token, created (Accepted) on first use. Each step is idempotent, so a crash
        between them is repaired by the next call."""
        id_tag = self._store.app_token(tenant_id, user_id)
        if id_tag is None:
            id_tag = self._store.claim_app_token(tenant_id, user_id, self._new_app_token())
        link = self._store.owner_of(tenant_id, id_tag) or self._store.claim_token(
            TokenLink(tenant_id, user_id, id_tag, TokenKind.APP, self._clock())
        )
        if link.user_id != user_id:  # 80 random bits: practically never
            raise TokenOwned(f"app token {id_tag} is owned by someone else")
        if self._id_tags_get(tenant_id, id_tag) is None:
            self._id_tags.put(IdTag(tenant_id, id_tag, IdTagStatus.ACCEPTED))
            count("DriverAppTokenCreated")
        return id_tag

    def tokens(self, tenant_id: str, user_id: str) -> list[TokenView]:
        self.app_token(tenant_id, user_id)
        views = []
        for link in self._store.tokens_of(tenant_id, user_id):
            tag = self._id_tags_get(tenant_id, link.id_tag)
            views.append(TokenView(link, tag.status if tag else IdTagStatus.INVALID))
        return views

    def add_token(self, tenant_id: str, user_id: str, uid: str) -> tuple[TokenView, bool]:
        """Link an RFID uid: creates the id tag Accepted. (view, created); a uid linked to someone else,
        or an operator's tag no driver owns, is ``TokenOwned``. Adding one's own uid again changes nothing
        (a blocked card stays blocked)."""
        owner = self._store.owner_of(tenant_id, uid)
        if owner is not None:
            if owner.user_id != user_id:
                raise TokenOwned(f"{uid} belongs to someone else")
            tag = self._id_tags_get(tenant_id, uid)
            return TokenView(owner, tag.status if tag else IdTagStatus.INVALID), False
        if self._id_tags_get(tenant_id, uid) is not None:
            raise TokenOwned(f"{uid} is already an id tag of this operator")
        link = self._store.claim_token(TokenLink(tenant_id, user_id, uid, TokenKind.RFID, self._clock()))
        if link.user_id != user_id:
            raise TokenOwned(f"{uid} belongs to someone else")
        self._id_tags.put(IdTag(tenant_id, uid, IdTagStatus.ACCEPTED))
        count("DriverTokenAdded")
        return TokenView(link, IdTagStatus.ACCEPTED), True

    def block_token(self, tenant_id: str, user_id: str, id_tag: str) -> TokenView:
        link = self._owned(tenant_id, user_id, id_tag)
        tag = self._id_tags_get(tenant_id, id_tag) or IdTag(tenant_id, id_tag, IdTagStatus.ACCEPTED)
        self._id_tags.put(replace(tag, status=IdTagStatus.BLOCKED))
        count("DriverTokenBlocked")
        return TokenView(link, IdTagStatus.BLOCKED)

    def _owned(self, tenant_id: str, user_id: str, id_tag: str) -> TokenLink:
        link = self._store.owner_of(tenant_id, id_tag)
        if link is None or link.user_id != user_id:
            raise TokenNotFound(id_tag)
        return link

    def _id_tags_get(self, tenant_id: str, id_tag: str) -> IdTag | None:
        try:
            return self._id_tags.get(tenant_id, id_tag)
        except IdTagNotFound:
            return None

    # ------------------------------------------------------------------ sessions
    def start(self, tenant_id: str, user_id: str, charge_point_id: str, connector_id: int) -> SessionDetail:
        id_tag = self.app_token(tenant_id, user_id)
        info = self._id_tags.authorize(tenant_id, id_tag, self._clock())
        if not info.accepted:
            raise TokenNotUsable(f"the app token is {info.status.value}")
        session_id = str(uuid.uuid4())
        payment = None
        if self._payments is not None:  # declined / no card: raises, nothing is sent
            payment = self._payments.hold(
                tenant_id=tenant_id,
                user_id=user_id,
                session_id=session_id,
                charge_point_id=charge_point_id,
                connector_id=connector_id,
                id_tag=id_tag,
            )
        try:
            command = self._commands.submit(
                tenant_id,
                charge_point_id,
                "RemoteStartTransaction",
                {"connectorId": connector_id, "idTag": id_tag},
            )
        except Exception:
            if self._payments is not None:  # unknown charger, full queue...: release the hold
                self._payments.release(session_id)
            raise
        now = self._clock()
        session = ChargingSession(
            session_id=session_id,
            tenant_id=tenant_id,
            user_id=user_id,
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            id_tag=id_tag,
            state=SessionState.REQUESTED,
            created_at=now,
            start_command_id=command.command_id,
        )
        self._store.create_session(session)
        count("DriverSessionRequested")
        if command.status.terminal:  # e.g. offline: answered at once
            session = self._refresh(replace(session, version=1))
        logger.info(
            "driver session requested", session_id=session.session_id, charge_point_id=charge_point_id
        )
        if self._payments is not None:
            payment = self._payments.of_session(session_id) or payment
        return SessionDetail(session, None, None, payment)

    def settle_stale_holds(self, limit: int = 100) -> int:
        """Sweep (scheduled): refresh the sessions of holds older than the start timeout that nobody
        reads any more, so that those which ended without a transaction (or never existed: a crash
        between the hold and the session) release their hold. Running sessions keep theirs. Returns the
        number of holds released."""
        if self._payments is None:
            return 0
        released = 0
        for payment in self._payments.stale_holds(self._start_timeout + LINK_SLACK, limit):
            session = self._store.get_session(payment.session_id)
            if session is not None:
                session = self._refresh(session)
                if not session.state.ended_without_transaction:
                    continue
            after = self._payments.release(payment.session_id)
            released += 1 if after is not None and after.status is not payment.status else 0
        if released:
            count("DriverStaleHoldsReleased", released)
        return released

    def get(self, tenant_id: str, user_id: str, session_id: str) -> SessionDetail:
        session = self._refresh(self._own_session(tenant_id, user_id, session_id))
        if session.state.ended_without_transaction:
            self._release(session)  # idempotent: repairs a void that failed earlier
        return self._detail(session)

    def stop(self, tenant_id: str, user_id: str, session_id: str) -> SessionDetail:
        session = self._refresh(self._own_session(tenant_id, user_id, session_id))
        if session.state is not SessionState.STARTED or session.transaction_id is None:
            raise SessionNotRunning(f"the session is {session.state.value}")
        if session.stop_command_id is not None:
            previous = self._commands.get(tenant_id, session.stop_command_id)
            if not previous.status.terminal or previous.status is CommandStatus.ACCEPTED:
                return self._detail(session)  # a stop is on its way: do not send another
        command = self._commands.submit(
            tenant_id,
            session.charge_point_id,
            "RemoteStopTransaction",
            {"transactionId": session.transaction_id},
        )
        stopping = replace(session, stop_command_id=command.command_id, stop_requested_at=self._clock())
        try:
            session = self._store.save_session(stopping)
        except SessionConflict:
            session = self._refresh(self._own_session(tenant_id, user_id, session_id))
        count("DriverSessionStopRequested")
        return self._detail(session)

    def history(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> SessionPage:
        page = self._store.sessions_of(tenant_id, user_id, limit, cursor)
        return SessionPage([s if s.state.settled else self._refresh(s) for s in page.items], page.cursor)

    def cdr(self, tenant_id: str, user_id: str, cdr_id: str) -> IssuedCdr:
        """A CDR of one of the caller's tokens (else ``DriverCdrNotFound``: 404, never another's)."""
        cdr = self._cdrs.get(cdr_id)
        if cdr is None or cdr.tenant_id != tenant_id:
            raise DriverCdrNotFound(cdr_id)
        token = cdr.ocpi.get("cdr_token") if isinstance(cdr.ocpi, dict) else None
        uid = token.get("uid") if isinstance(token, dict) else None
        owner = self._store.owner_of(tenant_id, uid) if isinstance(uid, str) else None
        if owner is None or owner.user_id != user_id:
            raise DriverCdrNotFound(cdr_id)
        return cdr

    def _own_session(self, tenant_id: str, user_id: str, session_id: str) -> ChargingSession:
        session = self._store.get_session(session_id)
        if session is None or session.tenant_id != tenant_id or session.user_id != user_id:
            raise SessionNotFound(session_id)
        return session

    def _refresh(self, session: ChargingSession) -> ChargingSession:
        updated = self._advance(session)
        if updated == session:
            return session
        try:
            saved = self._store.save_session(updated)
        except SessionConflict:  # another reader advanced it: its result is at least as new
            stored = self._store.get_session(session.session_id)
            return stored if stored is not None else session
        if saved.state.ended_without_transaction:
            self._release(saved)
        return saved

    def _release(self, session: ChargingSession) -> None:
        if self._payments is not None:
            self._payments.release(session.session_id)

    def _advance(self, session: ChargingSession) -> ChargingSession:
        s = session
        if s.state is SessionState.REQUESTED:
            command = self._commands.get(s.tenant_id, s.start_command_id)
            if command.status.terminal:
                s = replace(s, state=_FROM_COMMAND[command.status], answered_at=command.completed_at)
        if s.state.may_start:
            tx = self._linked_transaction(s)
            if tx is not None:
                s = replace(
                    s, state=SessionState.STARTED, transaction_id=tx.transaction_id, started_at=tx.started_at
                )
        if s.state in (SessionState.ACCEPTED, SessionState.TIMEOUT):
            since = s.answered_at or s.created_at
            if self._clock() - since > self._start_timeout:
                s = replace(s, state=SessionState.EXPIRED)
                count("DriverSessionExpired")
        if s.state is SessionState.STARTED and s.transaction_id is not None:
            tx = self._transactions.transaction(s.transaction_id)
            if tx is not None and tx.stopped_at is not None:
                s = replace(s, state=SessionState.STOPPED, stopped_at=tx.stopped_at)
                count("DriverSessionStopped")
        return s

    def _linked_transaction(self, s: ChargingSession) -> Transaction | None:
        transaction_id = self._transactions.active_for_tag(s.tenant_id, s.id_tag)
        if transaction_id is None:
            return None
        tx = self._transactions.transaction(transaction_id)
        if tx is None or tx.charge_point_id != s.charge_point_id or tx.connector_id != s.connector_id:
            return None
        received = tx.received_at or tx.started_at
        return tx if received >= s.created_at - LINK_SLACK else None

    def _detail(self, session: ChargingSession) -> SessionDetail:
        stop_status = None
        if session.stop_command_id is not None:
            stop_status = self._commands.get(session.tenant_id, session.stop_command_id).status.public
        payment = self._payments.of_session(session.session_id) if self._payments else None
        if session.transaction_id is None:
            return SessionDetail(session, None, stop_status, payment)
        tx = self._transactions.transaction(session.transaction_id)
        if tx is None:
            return SessionDetail(session, None, stop_status, payment)
        return SessionDetail(session, self._live(tx), stop_status, payment)

    def _live(self, tx: Transaction) -> LiveFigures:
        now = self._clock()
        end = tx.stopped_at or max(now, tx.last_register_at or tx.started_at)
        cdr = self._cdrs.get(cdr_id_of(tx.transaction_id)) if tx.stopped_at is not None else None
        if cdr is not None:
            cost: CostEstimate | None = CostEstimate(
                cdr.currency, cdr.total_excl_vat, cdr.total_incl_vat, cdr.tariff_id or "", estimate=False
            )
        else:
            cost = self._estimator.estimate(tx, self._transactions.samples(tx.transaction_id), now)
        updated = max((t for t in (tx.last_register_at, tx.last_power_at, tx.stopped_at) if t), default=None)
        return LiveFigures(
            energy_wh=tx.energy_wh or 0,
            power_w=None if tx.stopped_at is not None else tx.last_power_w,
            duration_seconds=max(0, int((end - tx.started_at).total_seconds())),
            cost=cost,
            cdr_id=cdr.cdr_id if cdr else None,
            updated_at=updated,
        )
