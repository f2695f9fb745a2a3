"""S3 adapter of the archive's blob store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from voltway.archive.errors import ArchiveReadError, ArchiveWriteError


class S3Blobs:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/x-ndjson")
        except ClientError as e:
            raise ArchiveWriteError(f"cannot store s3://{self.bucket}/{key}") from e

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as e:
            raise ArchiveReadError(f"cannot read s3://{self.bucket}/{key}") from e
        return body

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])
        except ClientError as e:
            raise ArchiveReadError(f"cannot list s3://{self.bucket}/{prefix}") from e

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"]), int(item["Size"])
        except ClientError as e:
            raise ArchiveReadError(f"cannot list s3://{self.bucket}/{prefix}") from e

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            raise ArchiveWriteError(f"cannot delete s3://{self.bucket}/{key}") from e

    def list_folders(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for item in page.get("CommonPrefixes", []):
                    yield str(item["Prefix"])
        except ClientError as e:
            raise ArchiveReadError(f"cannot list s3://{self.bucket}/{prefix}") from e
