"""Composition root of the archive compactor (functions/archive_compactor)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import timedelta

from pydantic import Field

from voltway.adapters.aws import client
from voltway.archive.compaction import ArchiveCompactor, CompactionSettings
from voltway.archive.s3 import S3Blobs
from voltway.config import AwsSettings


class CompactorSettings(AwsSettings):
    archive_bucket: str
    compact_window_days: int = Field(default=7, ge=1, le=62)
    compact_grace_hours: int = Field(default=24, ge=1, le=24 * 30)


def compactor(environ: Mapping[str, str] | None = None) -> ArchiveCompactor:
    s = CompactorSettings.from_env(environ)
    s3 = client("s3", region=s.aws_region, endpoint_url=s.aws_endpoint_url)
    return ArchiveCompactor(
        S3Blobs(s3, s.archive_bucket),
        settings=CompactionSettings(
            window_days=s.compact_window_days, grace=timedelta(hours=s.compact_grace_hours)
        ),
    )


cached_compactor = functools.cache(compactor)
