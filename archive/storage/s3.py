"""The S3-compatible store with Object Lock (AWS S3, MinIO, moto)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from archive.storage.base import (
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    RetentionLocked,
    RetentionMode,
    StoreError,
    _aware,
    _check_range,
    _iso,
    _retain_until,
    _validate_mode,
    check_delete,
    check_retention_change,
    validate_key,
)

log = logging.getLogger(__name__)

# -- S3Store -------------------------------------------------------------------------------------


def _error_code(exc: Exception) -> tuple[str, int]:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code, status


_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_NO_LOCK_CODES = {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"}


class S3Store:
    """An S3-compatible bucket with Object Lock (versioning on). Writes carry the retention
    as `ObjectLockMode`/`ObjectLockRetainUntilDate` and a SHA-256 checksum, with
    `If-None-Match: *` so an existing key is never replaced. The store's own lock is also
    Parley's record of the retention (read back before every change or deletion)."""

    # Whether an endpoint's server answers GetObjectRetention (moto 5.2.5's server does not:
    # it serves the object's bytes instead), learnt once per process and endpoint.
    _retention_api_by_endpoint: ClassVar[dict[str | None, bool]] = {}

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        client: Any = None,
        addressing_style: str = "path",
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                region_name=region or None,
                config=Config(
                    s3={"addressing_style": addressing_style},
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=60,
                ),
            )
        self.client = client
        if endpoint_url is None:
            self.endpoint_url = getattr(getattr(client, "meta", None), "endpoint_url", None)

    @property
    def _retention_api(self) -> bool | None:
        return self._retention_api_by_endpoint.get(self.endpoint_url)

    @_retention_api.setter
    def _retention_api(self, supported: bool) -> None:
        self._retention_api_by_endpoint[self.endpoint_url] = supported

    def __repr__(self) -> str:
        return f"S3Store({self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    # errors

    def _fail(self, exc: Exception, key: str | None, action: str) -> StoreError:
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return StoreError(
                f"Cannot reach the archive's object store ({self.endpoint_url or 'AWS S3'}) "
                f"to {action}: {exc}"
            )
        code, status = _error_code(exc)
        if key is not None and code in _MISSING_CODES:
            return ObjectMissing(key)
        if code == "NoSuchBucket":
            return StoreError(
                f"The archive bucket {self.bucket!r} does not exist; create it with Object "
                "Lock enabled (S3Store.ensure_bucket(), or `mc mb --with-lock`)."
            )
        if code in {"AccessDenied", "403"}:
            return StoreError(
                f"The object store denied access to {action} in bucket {self.bucket!r}: "
                "check the archive's S3 credentials and permissions."
            )
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        target = f" {key!r}" if key else ""
        return StoreError(
            f"The object store could not {action}{target} in bucket {self.bucket!r}: "
            f"{code or status} {message}".rstrip()
        )

    # the bucket

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if it is absent; refuse one without it."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code, status = _error_code(exc)
            if status != 404 and code not in {"404", "NoSuchBucket", "NotFound"}:
                raise self._fail(exc, None, "check the archive bucket") from exc
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
            if self.region and self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self.client.create_bucket(**kwargs)
            except ClientError as create_exc:
                code, _ = _error_code(create_exc)
                if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise self._fail(create_exc, None, "create the archive bucket") from None
            else:
                log.info("Created archive bucket %s with Object Lock", self.bucket)
                return
        except BotoCoreError as exc:
            raise self._fail(exc, None, "check the archive bucket") from exc
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            code, _ = _error_code(exc)
            if code not in _NO_LOCK_CODES:
                raise self._fail(exc, None, "read the bucket's Object Lock setting") from exc
            config = {}
        enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise StoreError(
                f"The archive bucket {self.bucket!r} exists without Object Lock, so it cannot "
                "keep archive files write-once; use a bucket created with Object Lock "
                "(`mc mb --with-lock`, or ObjectLockEnabledForBucket=True)."
            )

    # lock state

    def _retention(
        self, key: str, version_id: str | None, head: Mapping[str, Any]
    ) -> tuple[RetentionMode | None, dt.datetime | None]:
        from botocore.exceptions import ClientError

        mode: Any = head.get("ObjectLockMode")
        until: Any = head.get("ObjectLockRetainUntilDate")
        if self._retention_api is not False:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
            if version_id:
                kwargs["VersionId"] = version_id
            try:
                retention = self.client.get_object_retention(**kwargs).get("Retention", {})
                if self._retention_api is None:
                    self._retention_api = True
                mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
            except ClientError as exc:
                code, _ = _error_code(exc)
                if code in _NO_LOCK_CODES:
                    mode, until = None, None
                elif code in _MISSING_CODES:
                    raise ObjectMissing(key) from None
                elif code in {"500", "501", "NotImplemented"} and self._retention_api is None:
                    # An unparseable answer: the server lacks GetObjectRetention; the same
                    # fields come with HeadObject.
                    log.warning(
                        "%r: GetObjectRetention is not supported; reading retention from "
                        "HeadObject",
                        self,
                    )
                    self._retention_api = False
                else:
                    raise self._fail(exc, key, "read the retention of") from exc
        if not mode or not until:
            return None, None
        if isinstance(until, str):
            until = dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
        return _validate_mode(mode), until.astimezone(dt.UTC)

    def _legal_hold(self, key: str, version_id: str | None, head: Mapping[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            status = self.client.get_object_legal_hold(**kwargs).get("LegalHold", {}).get("Status")
        except ClientError as exc:
            code, _ = _error_code(exc)
            if code in _NO_LOCK_CODES:
                return False
            if code in _MISSING_CODES:
                raise ObjectMissing(key) from None
            raise self._fail(exc, key, "read the legal hold of") from exc
        if status is None:
            status = head.get("ObjectLockLegalHoldStatus")
        return status == "ON"

    def _head(self, key: str, version_id: str | None = None) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return dict(self.client.head_object(**kwargs))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "read") from exc

    def _info(self, key: str, version_id: str | None = None) -> tuple[ObjectInfo, str | None]:
        head = self._head(key, version_id)
        version_id = head.get("VersionId") or version_id
        mode, until = self._retention(key, version_id, head)
        info = ObjectInfo(
            key=key,
            size=int(head.get("ContentLength", 0)),
            retain_until=until,
            mode=mode,
            legal_hold=self._legal_hold(key, version_id, head),
        )
        return info, version_id

    def _versions(self, key: str) -> tuple[list[str], list[str]]:
        """The version ids of `key`'s data and of its delete markers."""
        from botocore.exceptions import BotoCoreError, ClientError

        data: list[str] = []
        markers: list[str] = []
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            for page in pages:
                data += [v["VersionId"] for v in page.get("Versions", []) if v["Key"] == key]
                markers += [
                    m["VersionId"] for m in page.get("DeleteMarkers", []) if m["Key"] == key
                ]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "list the versions of") from exc
        return data, markers

    # the port

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: dt.datetime | None,
        mode: RetentionMode,
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        mode = _validate_mode(mode)
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": data,
            "ChecksumAlgorithm": "SHA256",
            "IfNoneMatch": "*",
        }
        if retain_until is not None:
            kwargs["ObjectLockMode"] = mode
            kwargs["ObjectLockRetainUntilDate"] = _retain_until(retain_until)
        try:
            self.client.put_object(**kwargs)
        except ClientError as exc:
            code, status = _error_code(exc)
            if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status == 412:
                raise ObjectExists(key) from None
            raise self._fail(exc, key, "write") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key, "write") from exc

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            body: bytes = response["Body"].read()  # botocore verifies the SHA-256 checksum
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "read") from exc
        return body

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        _check_range(offset, length)
        if length == 0:
            if not self.exists(key):
                raise ObjectMissing(key)
            return b""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
            body: bytes = response["Body"].read()
        except ClientError as exc:
            code, status = _error_code(exc)
            if code == "InvalidRange" or status == 416:
                return b""  # the object exists; the range starts at or past its end
            raise self._fail(exc, key, "read") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key, "read") from exc
        return body

    def size(self, key: str) -> int | None:
        validate_key(key)
        try:
            return int(self._head(key).get("ContentLength", 0))
        except ObjectMissing:
            return None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return self._info(key)[0]

    def extend_retention(
        self,
        key: str,
        retain_until: dt.datetime,
        mode: RetentionMode,
        *,
        now: dt.datetime,
        bypass_governance: bool = False,
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        mode = _validate_mode(mode)
        until = _retain_until(retain_until)
        info, version_id = self._info(key)
        # Parley's own rule first: S3 servers differ (moto's lets COMPLIANCE be shortened).
        check_retention_change(info, until, mode, now=now, bypass_governance=bypass_governance)
        # Past Parley's rule, the store's GOVERNANCE lock (real time) may still need bypass.
        bypass = info.mode == "GOVERNANCE" and (
            mode != "GOVERNANCE" or (info.retain_until is not None and until < info.retain_until)
        )
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Retention": {"Mode": mode, "RetainUntilDate": until},
        }
        if version_id:
            kwargs["VersionId"] = version_id
        if bypass:
            kwargs["BypassGovernanceRetention"] = True
        try:
            self.client.put_object_retention(**kwargs)
        except ClientError as exc:
            code, _ = _error_code(exc)
            if code == "AccessDenied" and info.retain_until is not None:
                raise RetentionLocked(
                    f"Archive object {key!r}: the object store's own {info.mode} lock holds "
                    f"its retention until {_iso(info.retain_until)} (real time) and refused "
                    f"to change it to {mode} until {_iso(until)}.",
                    key=key,
                    retain_until=info.retain_until,
                    mode=info.mode,
                    by_store=True,
                ) from None
            raise self._fail(exc, key, "set the retention of") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key, "set the retention of") from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        version_id = self._head(key).get("VersionId")  # ObjectMissing if absent
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "LegalHold": {"Status": "ON" if on else "OFF"},
        }
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            self.client.put_object_legal_hold(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "set the legal hold of") from exc

    def delete(self, key: str, *, now: dt.datetime, bypass_governance: bool = False) -> None:
        """Delete every version of the object (a plain DELETE on a versioned bucket only
        adds a delete marker and keeps the data), then its delete markers."""
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        now = _aware(now, "now")
        versions, markers = self._versions(key)
        if not versions:
            raise ObjectMissing(key)
        infos = [self._info(key, version_id) for version_id in versions]
        for info, _ in infos:  # Parley's rule for every version before deleting any
            check_delete(info, now=now, bypass_governance=bypass_governance)
        for info, version_id in infos:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "VersionId": version_id}
            if info.mode == "GOVERNANCE":
                # Parley allowed it (retention over on the simulation clock, or bypass);
                # the store's lock runs on real time and would still hold it.
                kwargs["BypassGovernanceRetention"] = True
            try:
                self.client.delete_object(**kwargs)
            except ClientError as exc:
                code, _ = _error_code(exc)
                if code != "AccessDenied":
                    raise self._fail(exc, key, "delete") from exc
                if info.mode == "COMPLIANCE" and info.retain_until is not None:
                    raise RetentionLocked(
                        f"Archive object {key!r}: its retention has ended in simulation "
                        "time, but the object store's own COMPLIANCE lock holds it until "
                        f"{_iso(info.retain_until)} (real time) and nothing can lift it "
                        "earlier; record the purge as pending at the store and retry after "
                        "that date.",
                        key=key,
                        retain_until=info.retain_until,
                        mode="COMPLIANCE",
                        by_store=True,
                    ) from None
                raise RetentionLocked(
                    f"Archive object {key!r}: the object store refused the deletion (Access "
                    "Denied): a legal hold set at the store, or credentials without the "
                    "s3:DeleteObjectVersion / s3:BypassGovernanceRetention permission.",
                    key=key,
                    retain_until=info.retain_until,
                    mode=info.mode,
                    by_store=True,
                ) from None
            except BotoCoreError as exc:
                raise self._fail(exc, key, "delete") from exc
        for version_id in markers:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, key, "delete a delete marker of") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, None, "list the keys") from exc
