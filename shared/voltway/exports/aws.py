"""AWS adapters of the export ports, and the settings/builders the composition roots use.

ExportsTable keys: ``tenant_id`` (HASH) + ``sk`` (RANGE). An export is ``sk = EXPORT#<export_id>``
(export ids are time-ordered, so a Query newest-first lists a tenant's exports); an Idempotency-Key claim
is ``sk = IDEM#<sha256(tenant, user, key)>`` holding the export id and the request's fingerprint (TTL).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import Field

from voltway.adapters.aws import client
from voltway.adapters.conditional import TOKEN_ATTRIBUTE, GuardedTable
from voltway.archive import Archive
from voltway.archive.s3 import S3Blobs
from voltway.config import AwsSettings
from voltway.exports.errors import ExportError, IdempotencyConflict
from voltway.exports.model import ExportFilters, ExportJob, ExportStatus, PlanTask, ShardTask
from voltway.exports.pipeline import ExportPipeline, piece_key, plan_key
from voltway.exports.ports import IdempotencyClaim, JobPage, PieceMeta, StoredPiece
from voltway.exports.service import ExportService
from voltway.exports.xlsx import PieceRef, XlsxLayout, plan_multipart
from voltway.notifications.domain import EmailNotification

_SER = TypeSerializer()
_DES = TypeDeserializer()
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IDEMPOTENCY_TTL = 7 * 24 * 3600


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in values.items() if v is not None}


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in values.items()}


def _to_job(item: dict[str, Any]) -> ExportJob:
    data = {k: _DES.deserialize(v) for k, v in item.items() if k != TOKEN_ATTRIBUTE}
    data["filters"] = ExportFilters.model_validate_json(data.get("filters") or "{}")
    data["done_shards"] = frozenset(int(i) for i in data.get("done_shards", ()))
    for name in ("shards_total", "rows_total", "rows_written", "shard_rows", "sheet_capacity", "file_size"):
        if name in data:
            data[name] = int(data[name])
    return ExportJob.model_validate(data)


class DynamoExportJobs:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        # Conditional writes that the SDK retried after they landed stay ours (adapters.conditional).
        self._guarded = GuardedTable(dynamodb, table)

    @staticmethod
    def _key(tenant_id: str, export_id: str) -> dict[str, Any]:
        return {"tenant_id": {"S": tenant_id}, "sk": {"S": f"EXPORT#{export_id}"}}

    def create(self, job: ExportJob, claim: IdempotencyClaim | None) -> tuple[ExportJob, bool]:
        values = job.model_dump(mode="json", exclude={"done_shards"})
        values["filters"] = job.filters.model_dump_json()
        values["sk"] = f"EXPORT#{job.export_id}"
        item = _item(values)
        put = {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}
        if claim is None:
            key = self._key(job.tenant_id, job.export_id)
            if not self._guarded.put(key, item, "attribute_not_exists(sk)"):
                raise ExportError(f"export {job.export_id} exists already")
            return job, True
        idem = {
            "tenant_id": job.tenant_id,
            "sk": f"IDEM#{claim.key_hash}",
            "export_id": job.export_id,
            "fingerprint": claim.fingerprint,
            "expires_at": int(time.time()) + IDEMPOTENCY_TTL,
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _item(idem),
                            "ConditionExpression": "attribute_not_exists(sk)",
                        }
                    },
                    {"Put": put},
                ]
            )
            return job, True
        except ClientError as e:
            if _code(e) != "TransactionCanceledException":
                raise ExportError("cannot store the export") from e
        seen = self._db.get_item(
            TableName=self._table,
            Key={"tenant_id": {"S": job.tenant_id}, "sk": {"S": f"IDEM#{claim.key_hash}"}},
            ConsistentRead=True,
        ).get("Item")
        if seen is None:
            raise ExportError("export creation was cancelled; retry")
        if seen["fingerprint"]["S"] != claim.fingerprint:
            raise IdempotencyConflict("this Idempotency-Key was already used for a different request")
        existing = self.get(job.tenant_id, seen["export_id"]["S"])
        if existing is None:
            raise ExportError("the export of this Idempotency-Key is gone")
        return existing, False

    def get(self, tenant_id: str, export_id: str) -> ExportJob | None:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(tenant_id, export_id), ConsistentRead=True
        ).get("Item")
        return None if item is None else _to_job(item)

    def list_jobs(self, tenant_id: str, limit: int, cursor: str | None) -> JobPage:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":p": {"S": "EXPORT#"}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            try:
                query["ExclusiveStartKey"] = self._key(tenant_id, base64.urlsafe_b64decode(cursor).decode())
            except ValueError as e:
                raise ExportError("invalid cursor") from e
        page = self._db.query(**query)
        last = page.get("LastEvaluatedKey")
        next_cursor = None
        if last:
            next_cursor = base64.urlsafe_b64encode(last["sk"]["S"].removeprefix("EXPORT#").encode()).decode()
        return JobPage([_to_job(i) for i in page.get("Items", [])], next_cursor)

    def _conditional(self, tenant_id: str, export_id: str, **update: Any) -> dict[str, Any] | None:
        try:
            item = self._guarded.update(
                self._key(tenant_id, export_id),
                update["UpdateExpression"],
                update["ConditionExpression"],
                update.get("ExpressionAttributeNames"),
                update.get("ExpressionAttributeValues"),
            )
        except ClientError as e:
            raise ExportError(f"cannot update export {export_id}") from e
        return None if item is None else {"Attributes": item}

    def start(
        self,
        tenant_id: str,
        export_id: str,
        *,
        plan_key: str,
        shards_total: int,
        rows_total: int,
        shard_rows: int,
        sheet_capacity: int,
        planned_at: datetime,
    ) -> bool:
        return (
            self._conditional(
                tenant_id,
                export_id,
                UpdateExpression=(
                    "SET #s = :running, plan_key = :k, shards_total = :n, rows_total = :r, "
                    "shard_rows = :sr, sheet_capacity = :sc, planned_at = :at"
                ),
                ConditionExpression="#s = :planning",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    {
                        ":running": ExportStatus.RUNNING.value,
                        ":planning": ExportStatus.PLANNING.value,
                        ":k": plan_key,
                        ":n": shards_total,
                        ":r": rows_total,
                        ":sr": shard_rows,
                        ":sc": sheet_capacity,
                        ":at": planned_at.isoformat(),
                    }
                ),
            )
            is not None
        )

    def complete_shard(self, tenant_id: str, export_id: str, index: int, rows: int) -> ExportJob | None:
        result = self._conditional(
            tenant_id,
            export_id,
            UpdateExpression="ADD done_shards :set, rows_written :rows",
            ConditionExpression="#s = :running AND NOT contains(done_shards, :i)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":set": {"NS": [str(index)]},
                ":i": {"N": str(index)},
                ":rows": {"N": str(rows)},
                ":running": {"S": ExportStatus.RUNNING.value},
            },
            ReturnValues="ALL_NEW",
        )
        return None if result is None else _to_job(result["Attributes"])

    def claim_merge(self, tenant_id: str, export_id: str, owner: str) -> bool:
        return (
            self._conditional(
                tenant_id,
                export_id,
                UpdateExpression="SET #s = :merging, merge_owner = :o",
                ConditionExpression="#s = :running",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    {
                        ":merging": ExportStatus.MERGING.value,
                        ":running": ExportStatus.RUNNING.value,
                        ":o": owner,
                    }
                ),
            )
            is not None
        )

    def finish(
        self, tenant_id: str, export_id: str, *, owner: str, file_key: str, file_size: int, at: datetime
    ) -> bool:
        return (
            self._conditional(
                tenant_id,
                export_id,
                UpdateExpression="SET #s = :done, file_key = :f, file_size = :z, finished_at = :at",
                ConditionExpression="#s = :merging AND merge_owner = :o",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    {
                        ":done": ExportStatus.DONE.value,
                        ":merging": ExportStatus.MERGING.value,
                        ":o": owner,
                        ":f": file_key,
                        ":z": file_size,
                        ":at": at.isoformat(),
                    }
                ),
            )
            is not None
        )

    def fail(self, tenant_id: str, export_id: str, reason: str, at: datetime) -> bool:
        return (
            self._conditional(
                tenant_id,
                export_id,
                UpdateExpression="SET #s = :failed, #e = :reason, finished_at = :at",
                ConditionExpression="#s IN (:planning, :running, :merging)",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=_values(
                    {
                        ":failed": ExportStatus.FAILED.value,
                        ":planning": ExportStatus.PLANNING.value,
                        ":running": ExportStatus.RUNNING.value,
                        ":merging": ExportStatus.MERGING.value,
                        ":reason": reason,
                        ":at": at.isoformat(),
                    }
                ),
            )
            is not None
        )

    def note_error(self, tenant_id: str, export_id: str, message: str) -> None:
        self._conditional(
            tenant_id,
            export_id,
            UpdateExpression="SET last_error = :m",
            ConditionExpression="attribute_exists(sk)",
            ExpressionAttributeValues={":m": {"S": message}},
        )


class S3ExportFiles:
    """Plans and pieces under ``parts/<export id>/`` (lifecycle-expired), files under ``exports/``."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def put_plan(self, export_id: str, plan: bytes) -> str:
        key = plan_key(export_id, plan)
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=plan, ContentType="application/json")
        return key

    def get_plan(self, key: str) -> bytes:
        body: bytes = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put_piece(self, export_id: str, meta: PieceMeta, path: Path) -> None:
        with path.open("rb") as body:
            # One PUT (pieces are far below S3's 5 GB single-PUT limit); the metadata travels atomically
            # with the bytes, so a piece is never visible without the numbers the merge needs.
            self._s3.put_object(
                Bucket=self.bucket,
                Key=piece_key(export_id, meta.index),
                Body=body,
                Metadata={"piece": meta.to_json()},
            )

    def _range(self, key: str, offset: int, length: int) -> bytes:
        body: bytes = self._s3.get_object(
            Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
        )["Body"].read()
        return body

    def pieces(self, export_id: str) -> list[StoredPiece]:
        found = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"parts/{export_id}/piece-"):
            for item in page.get("Contents", []):
                key = item["Key"]
                head = self._s3.head_object(Bucket=self.bucket, Key=key)
                meta = PieceMeta.from_json(head["Metadata"]["piece"])
                length = meta.piece.compressed_len

                def opener(key: str = key, length: int = length) -> io.BytesIO:
                    return io.BytesIO(self._range(key, 0, length) if length else b"")

                found.append(StoredPiece(meta, PieceRef(meta.piece, opener, key)))
        return found

    def write_xlsx(self, layout: XlsxLayout, key: str) -> int:
        """Server-side assembly: big pieces are UploadPartCopy'd, small bytes gathered and uploaded."""
        upload = self._s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=XLSX_TYPE)
        upload_id = upload["UploadId"]
        parts = []
        try:
            for part in plan_multipart(layout):
                source = part.copy_source
                if source is not None:
                    assert isinstance(source.segment, PieceRef)
                    end = source.offset + source.length - 1
                    result = self._s3.upload_part_copy(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=part.number,
                        CopySource={"Bucket": self.bucket, "Key": source.segment.location},
                        CopySourceRange=f"bytes={source.offset}-{end}",
                    )
                    etag = result["CopyPartResult"]["ETag"]
                else:
                    chunks = []
                    for piece in part.slices:
                        segment = piece.segment
                        if isinstance(segment, bytes):
                            chunks.append(segment[piece.offset : piece.offset + piece.length])
                        else:
                            chunks.append(self._range(segment.location, piece.offset, piece.length))
                    result = self._s3.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=part.number,
                        Body=b"".join(chunks),
                    )
                    etag = result["ETag"]
                parts.append({"PartNumber": part.number, "ETag": etag})
            self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return layout.size

    def delete_parts(self, export_id: str) -> None:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"parts/{export_id}/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def download_url(self, key: str, filename: str, expires_in: int) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": XLSX_TYPE,
            },
            ExpiresIn=expires_in,
        )
        return url


class SqsExportQueue:
    def __init__(self, sqs: Any, plan_queue_url: str, shards_queue_url: str | None) -> None:
        self._sqs = sqs
        self._plan_url = plan_queue_url
        self._shards_url = shards_queue_url

    def send_plan(self, task: PlanTask) -> None:
        self._sqs.send_message(QueueUrl=self._plan_url, MessageBody=task.model_dump_json())

    def send_shards(self, tasks: Sequence[ShardTask]) -> None:
        assert self._shards_url is not None, "only the planner sends shards"
        for start in range(0, len(tasks), 10):
            entries = [
                {"Id": str(t.index), "MessageBody": t.model_dump_json()} for t in tasks[start : start + 10]
            ]
            result = self._sqs.send_message_batch(QueueUrl=self._shards_url, Entries=entries)
            if result.get("Failed"):
                raise ExportError(f"could not queue shards: {result['Failed']}")


class QueueNotifier:
    """E-mails through the notifications queue; the dedupe key makes a replayed finish send one e-mail."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def _send(self, job: ExportJob, subject: str, text: str, dedupe_key: str) -> None:
        if not job.requester_email:
            return
        email = EmailNotification(to=[job.requester_email], subject=subject, text=text, dedupe_key=dedupe_key)
        self._sqs.send_message(QueueUrl=self._url, MessageBody=email.model_dump_json())

    def export_ready(self, job: ExportJob) -> None:
        text = (
            f"Your {job.kind.value} export {job.export_id} ({job.from_at:%Y-%m-%d} to {job.to_at:%Y-%m-%d}) "
            f"is ready. Download it from GET /v1/exports/{job.export_id}: each request returns a freshly "
            "signed link."
        )
        self._send(job, f"Your {job.kind.value} export is ready", text, f"export-ready:{job.export_id}")

    def export_failed(self, job: ExportJob, reason: str) -> None:
        text = f"Your {job.kind.value} export {job.export_id} failed: {reason}"
        self._send(job, f"Your {job.kind.value} export failed", text, f"export-failed:{job.export_id}")


class SqsRetryDelay:
    """Makes a failed message visible again after a short delay instead of the long visibility timeout."""

    def __init__(self, sqs: Any, queue_url: str, delay_seconds: int) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._delay = delay_seconds

    def retry_later(self, receipt_handle: str) -> None:
        # Best effort: without it the visibility timeout still brings the message back.
        with contextlib.suppress(ClientError):
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=self._delay
            )


# ---------------------------------------------------------------------------- settings and builders


class ExportApiSettings(AwsSettings):
    exports_table: str
    exports_bucket: str
    export_plan_queue_url: str
    export_url_expiry_seconds: int = Field(ge=1, le=7 * 24 * 3600)


class ExportWorkerSettings(AwsSettings):
    exports_table: str
    exports_bucket: str
    archive_bucket: str
    export_plan_queue_url: str
    export_shards_queue_url: str
    notifications_queue_url: str
    export_shard_rows: int = Field(ge=1)
    export_sheet_capacity: int = Field(ge=1, le=1_048_575)
    export_retry_delay_seconds: int = Field(ge=0, le=43_200)
    export_max_receive_count: int = Field(default=3, ge=1)


def signing_s3(region: str, endpoint: str | None) -> Any:
    """An S3 client that presigns with SigV4 (the 7-day maximum is SigV4's; SigV2 is deprecated)."""
    config = Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("s3", region_name=region, endpoint_url=endpoint, config=config)


def export_service(environ: Any = None) -> ExportService:
    settings = ExportApiSettings.from_env(environ)
    region, endpoint = settings.aws_region, settings.aws_endpoint_url
    return ExportService(
        jobs=DynamoExportJobs(
            client("dynamodb", region=region, endpoint_url=endpoint), settings.exports_table
        ),
        files=S3ExportFiles(signing_s3(region, endpoint), settings.exports_bucket),
        queue=SqsExportQueue(
            client("sqs", region=region, endpoint_url=endpoint), settings.export_plan_queue_url, None
        ),
        url_expiry_seconds=settings.export_url_expiry_seconds,
    )


class ExportWorkerRoot:
    def __init__(self, settings: ExportWorkerSettings) -> None:
        region, endpoint = settings.aws_region, settings.aws_endpoint_url
        s3 = client("s3", region=region, endpoint_url=endpoint)
        sqs = client("sqs", region=region, endpoint_url=endpoint)
        self.settings = settings
        self.pipeline = ExportPipeline(
            jobs=DynamoExportJobs(
                client("dynamodb", region=region, endpoint_url=endpoint), settings.exports_table
            ),
            files=S3ExportFiles(s3, settings.exports_bucket),
            archive=Archive(S3Blobs(s3, settings.archive_bucket)),
            queue=SqsExportQueue(sqs, settings.export_plan_queue_url, settings.export_shards_queue_url),
            notifier=QueueNotifier(sqs, settings.notifications_queue_url),
            shard_rows=settings.export_shard_rows,
            sheet_capacity=settings.export_sheet_capacity,
        )
        self.shard_retry = SqsRetryDelay(
            sqs, settings.export_shards_queue_url, settings.export_retry_delay_seconds
        )
        self.plan_retry = SqsRetryDelay(
            sqs, settings.export_plan_queue_url, settings.export_retry_delay_seconds
        )


def export_worker(environ: Any = None) -> ExportWorkerRoot:
    return ExportWorkerRoot(ExportWorkerSettings.from_env(environ))


def decode_task(body: str) -> ShardTask | PlanTask:
    data = json.loads(body)
    return PlanTask.model_validate(data) if data.get("type") == "plan" else ShardTask.model_validate(data)
