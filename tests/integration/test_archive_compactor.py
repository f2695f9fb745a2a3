"""The archive compactor's function on moto (bucket and environment from template.yaml): today's
hot-path batches are folded into one batch plus its manifest, and the partition reads the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.integration.support import load_handler, moto_stack
from voltway.archive import Archive, ArchiveKind, ArchiveWriter, SessionRecord
from voltway.archive.s3 import S3Blobs

pytestmark = pytest.mark.integration


class Context:
    function_name = "ArchiveCompactorFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ArchiveCompactorFunction"
    aws_request_id = "req-1"


def test_the_hourly_run_folds_todays_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_stack(monkeypatch, ["ArchiveCompactorFunction"]) as (_, env):
        blobs = S3Blobs(boto3.client("s3", region_name="eu-west-1"), env["ARCHIVE_BUCKET"])
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        writer = ArchiveWriter(blobs)
        for n in range(1, 6):
            stopped = today + timedelta(seconds=n)
            writer.append(
                [
                    SessionRecord(
                        id=f"CP1:{n}",
                        tenant_id="t1",
                        charge_point_id="CP1",
                        connector_id=1,
                        transaction_id=n,
                        started_at=stopped - timedelta(minutes=5),
                        stopped_at=stopped,
                        meter_start_wh=0,
                        meter_stop_wh=n,
                        energy_wh=n,
                    )
                ]
            )
        archive = Archive(blobs)

        def read() -> list[dict[str, object]]:
            snaps = archive.snapshot(ArchiveKind.SESSIONS, "t1", today.date(), today.date())
            return list(archive.records(ArchiveKind.SESSIONS, snaps))

        before = read()
        result = load_handler("archive_compactor").handler({}, Context())
        assert result["batches_written"] == 1 and result["objects_compacted"] == 5
        keys = [k for k, _ in blobs.list_sizes("archive/sessions/tenant=t1/")]
        assert len(keys) == 7 and sum("/compacted-" in k for k in keys) == 1  # 5 inputs, batch, manifest
        assert read() == before
        again = load_handler("archive_compactor").handler({}, Context())
        assert again["batches_written"] == 0 and again["manifests_pending"] == 1
