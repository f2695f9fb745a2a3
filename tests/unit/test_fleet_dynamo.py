"""Fleet deadlines on moto (in-process), FleetDeadlinesTable created from template.yaml: the sparse
due-minute index, the conditional claim (one stop under repeated and concurrent sweeps), the forwards-only
cursor, and a restart = a new composition root reading what the previous one persisted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from voltway.adapters.aws import client
from voltway.adapters.roots_transactions import cached_transactions_api
from voltway.billing.aws import DynamoContracts, DynamoTariffs
from voltway.billing.model import Contract, ContractScope
from voltway.fleet.aws import DynamoDeadlines
from voltway.fleet.model import DeadlineStatus, SessionDeadline, minute_bucket
from voltway.fleet.roots import fleet_limits
from voltway.fleet.service import StartedSession
from voltway.idtags.model import IdTag, IdTagInfo, IdTagStatus
from voltway.local.resources import provision_template
from voltway.transactions.service import StartRequest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# The recording side files a deadline under max(due, now): sessions in this test start from now.
LIVE = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)


@dataclass
class RecordingCommands:
    sent: list[tuple[str, str, str, Any]] = field(default_factory=list)

    def submit(self, tenant_id: str, charge_point_id: str, action: str, payload: Any) -> Any:
        self.sent.append((tenant_id, charge_point_id, action, payload))
        return None


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        provisioned = provision_template(None, REPO / "template.yaml")
        values: dict[str, str] = {}
        for fn in ("OcppMessageFunction", "ChargerMonitorFunction"):
            values.update(provisioned.function_environment(fn))
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        cached_transactions_api.cache_clear()
        yield values
        cached_transactions_api.cache_clear()


def deadline(tx: int, due: datetime) -> SessionDeadline:
    return SessionDeadline(tx, "t1", "CP1", 1, "fleet", due - timedelta(minutes=30), due)


def test_store_add_once_index_claim_once_cursor_forwards(env: dict[str, str]) -> None:
    store = DynamoDeadlines(client("dynamodb", region="eu-west-1"), env["FLEET_DEADLINES_TABLE"])
    due = T0 + timedelta(seconds=20)
    assert store.add(deadline(1, due), minute_bucket(due)) is True
    assert store.add(deadline(1, due), minute_bucket(due)) is False
    assert store.due_in(minute_bucket(due), T0 + timedelta(seconds=10)) == []
    assert [d.transaction_id for d in store.due_in(minute_bucket(due), T0 + timedelta(seconds=30))] == [1]
    assert store.claim(1, T0 + timedelta(seconds=30)) is True
    assert store.claim(1, T0 + timedelta(seconds=31)) is False
    assert store.due_in(minute_bucket(due), T0 + timedelta(minutes=1)) == []  # left the sparse index
    got = store.get(1)
    assert got is not None and got.status is DeadlineStatus.STOP_REQUESTED
    store.close(1)  # a stop after the claim changes nothing
    got = store.get(1)
    assert got is not None and got.status is DeadlineStatus.STOP_REQUESTED
    store.set_swept_through("2026-11-25T10:05")
    store.set_swept_through("2026-11-25T10:01")
    assert store.swept_through() == "2026-11-25T10:05"


def test_start_sweep_restart_one_stop_and_the_transaction_reason(env: dict[str, str]) -> None:
    dynamodb = client("dynamodb", region="eu-west-1")
    DynamoContracts(DynamoTariffs(dynamodb, env["TARIFFS_TABLE"])).put(
        "t1",
        Contract(
            contract_id="fleet",
            scope=ContractScope.ACCOUNT,
            subject_id="ACME",
            currency="EUR",
            max_session_minutes=Decimal("30"),
        ),
    )
    api = cached_transactions_api()
    api.id_tags.put(IdTag("t1", "TAG1", IdTagStatus.ACCEPTED, parent_id_tag="ACME"))
    started = api.transactions.start(StartRequest("t1", "CP1", 1, "TAG1", 0, LIVE, None, LIVE))
    commands = RecordingCommands()
    first = fleet_limits(commands, env)
    assert first is not None
    recorded = first.transaction_started(
        StartedSession("t1", "CP1", 1, started.transaction_id, started.id_tag_info, LIVE, LIVE)
    )
    assert recorded is not None and recorded.due_at == LIVE + timedelta(minutes=30)
    assert first.sweep(LIVE + timedelta(minutes=10)) == 0
    # the process dies; a new one (a new container) sweeps after the deadline, twice
    restarted = fleet_limits(commands, env)
    assert restarted is not None
    assert restarted.sweep(LIVE + timedelta(minutes=30, seconds=5)) == 1
    assert restarted.sweep(LIVE + timedelta(minutes=30, seconds=6)) == 0
    assert fleet_limits(commands, env).sweep(LIVE + timedelta(minutes=31)) == 0  # type: ignore[union-attr]
    assert [(a, p) for (_, _, a, p) in commands.sent] == [
        ("RemoteStopTransaction", {"transactionId": started.transaction_id})
    ]
    tx = api.transactions.get("t1", started.transaction_id).transaction
    assert tx.stop_reason_requested == "time_limit"


def test_no_contract_no_deadline(env: dict[str, str]) -> None:
    limits = fleet_limits(RecordingCommands(), env)
    assert limits is not None
    info = IdTagInfo(IdTagStatus.ACCEPTED, parent_id_tag="NOBODY")
    assert limits.transaction_started(StartedSession("t1", "CP1", 1, 99, info, T0, T0)) is None
