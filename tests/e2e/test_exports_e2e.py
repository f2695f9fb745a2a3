"""Exports end to end: the real template.yaml on the local runtime (small shards and sheets through
stage parameters), archive seeded in S3, finance users on the HTTP API, workers fed by the SQS pollers
(and, for the race and crash cases, invoked directly with hand-made SQS events), files read back with
openpyxl and compared row by row with the source data.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import openpyxl
import pytest
import requests

from voltway.archive import ArchiveWriter
from voltway.archive.s3 import S3Blobs
from voltway.archive.synthetic import Fleet, archive_rows, sessions
from voltway.exports.aws import DynamoExportJobs, S3ExportFiles
from voltway.exports.memory import MemoryExportQueue, MemoryNotifier
from voltway.exports.model import ExportFilters, ExportJob, PlanTask, ShardTask
from voltway.exports.pipeline import ExportPipeline
from voltway.local.runtime import LocalRuntime, RuntimeSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
SHARD_ROWS = 400
SHEET_CAPACITY = 1500
ROWS = 3100  # 9 shards (400, 400, 400, 300 per sheet), 3 sheets (1500 + 1500 + 100)
SHARDS = 9
TENANT = "e2e-fin"
OTHER = "e2e-other"
FIRST_DAY = date(2025, 3, 1)
DAYS = 10
RANGE = {"from": "2025-03-01", "to": "2025-03-11"}


def _stage_dir(tmp: Path) -> Path:
    """The real template with the local stage's parameters, but small shards/sheets and fast retries."""
    (tmp / "stacks").mkdir()
    shutil.copy(ROOT / "template.yaml", tmp / "template.yaml")
    (tmp / "functions").symlink_to(ROOT / "functions")
    config = tomllib.loads((ROOT / "stacks" / "samconfig.toml").read_text())
    params = dict(
        p.split("=", 1) for p in config["local"]["deploy"]["parameters"]["parameter_overrides"].split()
    )
    params |= {
        "ExportShardRows": str(SHARD_ROWS),
        "ExportSheetCapacity": str(SHEET_CAPACITY),
        "ExportRetryDelaySeconds": "0",
    }
    overrides = " ".join(f"{k}={v}" for k, v in params.items())
    (tmp / "stacks" / "samconfig.toml").write_text(
        f'version = 0.1\n[local.deploy.parameters]\nparameter_overrides = "{overrides}"\n'
    )
    return tmp / "template.yaml"


class Stack:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        assert runtime.provisioned is not None
        self.provisioned = runtime.provisioned
        kwargs: dict[str, Any] = {
            "endpoint_url": runtime.aws_endpoint_url,
            "region_name": "eu-west-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.s3 = boto3.client("s3", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.dynamodb = boto3.client("dynamodb", **kwargs)
        self.archive_bucket = self.provisioned.buckets["ArchiveBucket"]
        self.exports_bucket = self.provisioned.buckets["ExportsBucket"]
        self.jobs = DynamoExportJobs(self.dynamodb, self.provisioned.tables["ExportsTable"])
        self.files = S3ExportFiles(self.s3, self.exports_bucket)
        self.source: dict[str, list[dict[str, Any]]] = {}

    def seed(self, tenant: str, rows: int) -> None:
        fleet = Fleet.build(tenant, stations=20, accounts=50)
        data = list(sessions(fleet, rows, FIRST_DAY, DAYS))
        archive_rows(ArchiveWriter(S3Blobs(self.s3, self.archive_bucket)), data, tenant, batch_rows=250)
        self.source[tenant] = [json.loads(r.cdr[1]) for r in data]

    def token(self, tenant: str, roles: list[str], subject: str = "fin-1") -> str:
        token: str = self.runtime.issuer.mint(
            issuer=self.runtime.jwt_issuer,
            audience=self.runtime.jwt_audience,
            subject=subject,
            tenant=tenant,
            roles=roles,
            ttl_seconds=600,
            email=f"{subject}@example.com",
        )
        return token

    def api(
        self, method: str, path: str, token: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        return requests.request(
            method,
            f"{self.runtime.http_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            timeout=30,
        )

    def wait(self, export_id: str, token: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = self.api("GET", f"/v1/exports/{export_id}", token)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in ("done", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"export still {body['status']}: {body}")
            time.sleep(0.3)

    def wait_for(self, check: Any, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.2)

    def parts_left(self, export_id: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.exports_bucket, Prefix=f"parts/{export_id}/")
        return [o["Key"] for o in listing.get("Contents", [])]

    def pipeline(self) -> tuple[ExportPipeline, MemoryExportQueue]:
        """The domain on the stack's real tables and buckets, with shard messages captured, not queued."""
        queue = MemoryExportQueue()
        from voltway.archive import Archive

        pipeline = ExportPipeline(
            jobs=self.jobs,
            files=self.files,
            archive=Archive(S3Blobs(self.s3, self.archive_bucket)),
            queue=queue,
            notifier=MemoryNotifier(),
            shard_rows=SHARD_ROWS,
            sheet_capacity=SHEET_CAPACITY,
        )
        return pipeline, queue

    def invoke_worker(self, task: ShardTask, message_id: str) -> dict[str, Any]:
        assert self.runtime.lambdas is not None
        record = {
            "messageId": message_id,
            "receiptHandle": f"rh-{uuid.uuid4()}",  # not a real receipt: the retry delay is best effort
            "body": task.model_dump_json(),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:voltway-local-ExportShardsQueue",
            "awsRegion": "eu-west-1",
        }
        result = self.runtime.lambdas.invoke("ExportWorkerFunction", {"Records": [record]})
        if result.error is not None:
            # Powertools fails the whole invocation when every record of the batch failed.
            return {"error": result.error["errorType"]}
        payload: dict[str, Any] = result.payload
        return payload


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    template = _stage_dir(tmp_path_factory.mktemp("exports-stage"))
    settings = RuntimeSettings.for_tests(template, tmp_path_factory.mktemp("exports-state"))
    with LocalRuntime(settings) as runtime:
        stack = Stack(runtime)
        stack.seed(TENANT, ROWS)
        stack.seed(OTHER, 50)
        yield stack


def data_rows(content: bytes) -> tuple[list[tuple[Any, ...]], dict[str, Any], list[str]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows: list[tuple[Any, ...]] = []
    for name in book.sheetnames[1:]:
        sheet = list(book[name].iter_rows(values_only=True))
        assert sheet[0][0] == "CDR id" and sheet[0][8] == "Start (UTC)"
        rows += sheet[1:]
    summary = {
        r[0]: r[1] if len(r) > 1 else None for r in book["Summary"].iter_rows(values_only=True) if r and r[0]
    }
    return rows, summary, book.sheetnames


def assert_matches_source(rows: list[tuple[Any, ...]], source: list[dict[str, Any]]) -> None:
    assert len(rows) == len(source)
    for got, want in zip(rows, source, strict=True):
        assert got[0] == want["id"]
        assert got[2] == want["charge_point_id"]
        assert got[5] == want["account_id"]
        assert got[9] == datetime.fromisoformat(want["stopped_at"][:-1])
        assert got[11] == pytest.approx(want["energy_wh"] / 1000)
        assert got[12] == want["currency"]
        assert got[15] == pytest.approx(want["price_incl_vat_minor"] / 100)


def test_multi_shard_export_through_the_api_matches_the_source(stack: Stack) -> None:
    token = stack.token(TENANT, ["finance"])
    response = stack.api("POST", "/v1/exports", token, {"kind": "cdrs", **RANGE})
    assert response.status_code == 202, response.text
    export_id = response.json()["export_id"]
    body = stack.wait(export_id, token)
    assert body["status"] == "done", body
    assert body["shards_total"] == SHARDS and body["shards_done"] == SHARDS and body["rows_written"] == ROWS
    download = requests.get(body["download_url"], timeout=30)
    assert download.status_code == 200
    rows, summary, sheets = data_rows(download.content)
    assert sheets == ["Summary", "CDRs", "CDRs (2)", "CDRs (3)"]
    source = stack.source[TENANT]
    assert_matches_source(rows, source)
    assert summary["Rows"] == ROWS
    assert summary["Energy (kWh)"] == pytest.approx(sum(s["energy_wh"] for s in source) / 1000)
    for currency in {s["currency"] for s in source}:
        total = sum(s["price_incl_vat_minor"] for s in source if s["currency"] == currency)
        assert summary[f"Total {currency}"] == pytest.approx(total / 100)
    assert stack.parts_left(export_id) == []
    # The URL is signed on request and never stored.
    item = stack.dynamodb.get_item(
        TableName=stack.provisioned.tables["ExportsTable"],
        Key={"tenant_id": {"S": TENANT}, "sk": {"S": f"EXPORT#{export_id}"}},
    )["Item"]
    assert "download_url" not in item and not any("X-Amz" in json.dumps(v) for v in item.values())
    listed = stack.api("GET", "/v1/exports", token).json()["items"]
    assert export_id in [e["export_id"] for e in listed]


def test_idempotency_key_returns_the_same_export(stack: Stack) -> None:
    token = stack.token(TENANT, ["finance"])
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"kind": "sessions", "from": "2025-03-02", "to": "2025-03-03"}
    first = stack.api("POST", "/v1/exports", token, body, key)
    again = stack.api("POST", "/v1/exports", token, body, key)
    assert first.status_code == again.status_code == 202
    assert first.json()["export_id"] == again.json()["export_id"]
    other = stack.api("POST", "/v1/exports", token, {**body, "to": "2025-03-04"}, key)
    assert other.status_code == 409, other.text
    assert stack.wait(first.json()["export_id"], token)["status"] == "done"


def test_empty_range_gives_a_valid_file(stack: Stack) -> None:
    token = stack.token(TENANT, ["finance"])
    response = stack.api(
        "POST", "/v1/exports", token, {"kind": "cdrs", "from": "2024-01-01", "to": "2024-02-01"}
    )
    body = stack.wait(response.json()["export_id"], token)
    assert body["status"] == "done" and body["rows_written"] == 0 and body["shards_total"] == 0
    rows, summary, sheets = data_rows(requests.get(body["download_url"], timeout=30).content)
    assert rows == [] and sheets == ["Summary", "CDRs"]
    assert summary["Rows"] == 0 and summary["Energy (kWh)"] == 0


def test_finance_role_and_tenant_isolation(stack: Stack) -> None:
    finance = stack.token(TENANT, ["finance"])
    export_id = stack.api("POST", "/v1/exports", finance, {"kind": "cdrs", **RANGE}).json()["export_id"]
    driver = stack.token(TENANT, ["driver"], subject="drv-1")
    assert stack.api("POST", "/v1/exports", driver, {"kind": "cdrs", **RANGE}).status_code == 403
    assert stack.api("GET", f"/v1/exports/{export_id}", driver).status_code == 403
    assert stack.api("GET", "/v1/exports", driver).status_code == 403
    stranger = stack.token(OTHER, ["finance"], subject="fin-other")
    assert stack.api("GET", f"/v1/exports/{export_id}", stranger).status_code == 404
    assert export_id not in [
        e["export_id"] for e in stack.api("GET", "/v1/exports", stranger).json()["items"]
    ]
    # The other tenant's export holds only its own 50 rows.
    own = stack.api("POST", "/v1/exports", stranger, {"kind": "cdrs", **RANGE}).json()["export_id"]
    body = stack.wait(own, stranger)
    rows, _, _ = data_rows(requests.get(body["download_url"], timeout=30).content)
    assert_matches_source(rows, stack.source[OTHER])
    stack.wait(export_id, finance)


def _running_job(stack: Stack, export_id: str) -> tuple[ExportPipeline, list[ShardTask]]:
    """An export planned by the domain on the stack's table/buckets, its shard messages held back."""
    now = datetime.now(UTC)
    job = ExportJob(
        tenant_id=TENANT,
        export_id=export_id,
        kind="cdrs",  # type: ignore[arg-type]
        from_at=datetime(2025, 3, 1, tzinfo=UTC),
        to_at=datetime(2025, 3, 11, tzinfo=UTC),
        filters=ExportFilters(),
        requested_by="fin-1",
        created_at=now,
    )
    stack.jobs.create(job, None)
    pipeline, queue = stack.pipeline()
    pipeline.plan(PlanTask(tenant_id=TENANT, export_id=export_id))
    return pipeline, list(queue.shards)


def _download(stack: Stack, export_id: str) -> bytes:
    job = stack.jobs.get(TENANT, export_id)
    assert job is not None and job.status.value == "done", job
    assert job.file_key is not None
    body: bytes = stack.s3.get_object(Bucket=stack.exports_bucket, Key=job.file_key)["Body"].read()
    return body


def test_redelivery_crash_retry_and_concurrent_finish(stack: Stack) -> None:
    export_id = f"{int(time.time() * 1000):012x}race{uuid.uuid4().hex[:8]}"
    _, tasks = _running_job(stack, export_id)
    assert len(tasks) == SHARDS
    # Redelivery: the same message twice writes the same piece once and counts it once.
    for _ in range(2):
        assert stack.invoke_worker(tasks[0], "m-0") == {"batchItemFailures": []}
    job = stack.jobs.get(TENANT, export_id)
    assert job is not None and job.shards_done == 1 and job.rows_written == tasks[0].rows
    # Crash mid-shard: an archive object the shard streams is unreadable for its first attempt.
    key = tasks[1].snapshots()[-1].keys[0]
    saved = stack.s3.get_object(Bucket=stack.archive_bucket, Key=key)["Body"].read()
    stack.s3.put_object(Bucket=stack.archive_bucket, Key=key, Body=saved[: len(saved) // 2])
    failed = stack.invoke_worker(tasks[1], "m-1")
    assert failed == {"error": "BatchProcessingError"}
    job = stack.jobs.get(TENANT, export_id)
    assert job is not None and 1 not in job.done_shards and "ArchiveReadError" in (job.last_error or "")
    stack.s3.put_object(Bucket=stack.archive_bucket, Key=key, Body=saved)
    assert stack.invoke_worker(tasks[1], "m-1") == {"batchItemFailures": []}
    for task in tasks[2:-2]:
        stack.invoke_worker(task, f"m-{task.index}")
    # The last two finish together: both succeed, exactly one claims and runs the merge.
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda t=t: results.append(stack.invoke_worker(t, f"m-{t.index}")))
        for t in tasks[-2:]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"batchItemFailures": []}] * 2
    job = stack.jobs.get(TENANT, export_id)
    assert job is not None and job.merge_owner in {"m-7", "m-8"} and job.rows_written == ROWS
    rows, _, _ = data_rows(_download(stack, export_id))
    assert_matches_source(rows, stack.source[TENANT])
    assert stack.parts_left(export_id) == []
    # A late redelivery after the merge changes nothing.
    assert stack.invoke_worker(tasks[3], "m-3") == {"batchItemFailures": []}
    assert stack.parts_left(export_id) == []


def test_poison_shard_ends_in_the_dlq_and_fails_the_export(stack: Stack) -> None:
    tenant = "e2e-poison"
    stack.seed(tenant, 900)
    # A record whose amount is not a number: it counts at planning time, but its shard cannot be written.
    source = stack.source[tenant]
    bad = dict(source[500], id="CDR-poison", price_incl_vat_minor="n/a")
    writer = ArchiveWriter(S3Blobs(stack.s3, stack.archive_bucket))
    day = date.fromisoformat(bad["stopped_at"][:10])
    from voltway.archive import ArchiveKind

    writer.put_lines(ArchiveKind.CDRS, tenant, day, [(bad["id"], json.dumps(bad))])
    token = stack.token(tenant, ["finance"])
    export_id = stack.api("POST", "/v1/exports", token, {"kind": "cdrs", **RANGE}).json()["export_id"]
    body = stack.wait(export_id, token, timeout=90)
    assert body["status"] == "failed", body
    assert "failed 3 times" in body["error"] and "last error" in body["error"], body["error"]
    assert body["shards_done"] < body["shards_total"]
    stack.wait_for(lambda: stack.parts_left(export_id) == [])
