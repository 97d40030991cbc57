"""The archive's write-once stores, against real parts: a `LocalStore` on a temporary
directory and an `S3Store` on moto's S3 server (in-process, on a free port), with the same
contract tests for both. No database.

The simulation clock (`now`) starts at real time here, so S3's own Object Lock (which moto
enforces against real time) and Parley's retention (enforced against `now`) start together;
moving `now` past a retain-until date then shows what each of them allows."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from archive.storage import (
    SIDECAR_SUFFIX,
    ArchiveStore,
    InvalidRequest,
    LocalStore,
    ObjectExists,
    ObjectMissing,
    RetentionLocked,
    S3Store,
    StoreError,
    get_store,
)
from tests.archive.conftest import CREDENTIALS

DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def _s3_store(endpoint: str) -> S3Store:
    store = S3Store(
        f"archive-{uuid.uuid4().hex[:12]}",
        endpoint_url=endpoint,
        region="us-east-1",
        **CREDENTIALS,
    )
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveStore:
    if request.param == "local":
        return LocalStore(tmp_path / "archive")
    return _s3_store(request.getfixturevalue("moto_endpoint"))


@pytest.fixture
def s3(moto_endpoint: str) -> S3Store:
    return _s3_store(moto_endpoint)


@pytest.fixture
def t0() -> dt.datetime:
    """The simulation clock's start: real time, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def leftovers(store: ArchiveStore, key: str) -> list[str]:
    """Everything of `key` the backend still holds: S3 versions and delete markers, or
    files (data and sidecar) on disk."""
    if isinstance(store, S3Store):
        listing = store.client.list_object_versions(Bucket=store.bucket, Prefix=key)
        return [
            f"{kind}:{item['VersionId']}"
            for kind in ("Versions", "DeleteMarkers")
            for item in listing.get(kind, [])
            if item["Key"] == key
        ]
    assert isinstance(store, LocalStore)
    return [str(p) for p in store.root.rglob("*") if p.is_file()]


# -- writing once, reading --------------------------------------------------------------------


def test_write_once(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("acme/2026/a.warc.gz", b"first", retain_until=t0 + DAY, mode="GOVERNANCE")
    with pytest.raises(ObjectExists, match="written once"):
        store.put("acme/2026/a.warc.gz", b"second", retain_until=None, mode="GOVERNANCE")
    assert store.get("acme/2026/a.warc.gz") == b"first"


def test_get_and_ranges(store: ArchiveStore) -> None:
    data = bytes(range(256)) * 4
    store.put("r.warc", data, retain_until=None, mode="GOVERNANCE")
    assert store.get("r.warc") == data
    assert store.size("r.warc") == 1024
    assert store.exists("r.warc")
    assert store.get_range("r.warc", 0, 10) == data[:10]
    assert store.get_range("r.warc", 300, 5) == data[300:305]
    assert store.get_range("r.warc", 1000, 100) == data[1000:]  # clipped at the end
    assert store.get_range("r.warc", 1024, 5) == b""  # past the end
    assert store.get_range("r.warc", 5, 0) == b""
    with pytest.raises(InvalidRequest):
        store.get_range("r.warc", -1, 5)
    info = store.head("r.warc")
    assert (info.key, info.size, info.retain_until, info.mode, info.legal_hold) == (
        "r.warc",
        1024,
        None,
        None,
        False,
    )
    store.put("empty", b"", retain_until=None, mode="GOVERNANCE")
    assert store.get("empty") == b""
    assert store.size("empty") == 0
    assert store.get_range("empty", 0, 10) == b""


def test_missing_keys(store: ArchiveStore, t0: dt.datetime) -> None:
    with pytest.raises(ObjectMissing, match="does not exist"):
        store.get("nope.warc")
    with pytest.raises(ObjectMissing):
        store.get_range("nope.warc", 0, 10)
    with pytest.raises(ObjectMissing):
        store.get_range("nope.warc", 0, 0)
    with pytest.raises(ObjectMissing):
        store.head("nope.warc")
    with pytest.raises(ObjectMissing):
        store.set_legal_hold("nope.warc", True)
    with pytest.raises(ObjectMissing):
        store.extend_retention("nope.warc", t0 + DAY, "COMPLIANCE", now=t0)
    with pytest.raises(ObjectMissing):
        store.delete("nope.warc", now=t0)
    assert store.size("nope.warc") is None
    assert not store.exists("nope.warc")


def test_keys(store: ArchiveStore) -> None:
    for key in ["b/1", "a/2", "a10", "a/1", "a/deep/x"]:
        store.put(key, b"x", retain_until=None, mode="GOVERNANCE")
    assert list(store.keys()) == ["a/1", "a/2", "a/deep/x", "a10", "b/1"]
    assert list(store.keys("a/")) == ["a/1", "a/2", "a/deep/x"]
    assert list(store.keys("a")) == ["a/1", "a/2", "a/deep/x", "a10"]
    assert list(store.keys("a/d")) == ["a/deep/x"]
    assert list(store.keys("zzz")) == []


@pytest.mark.parametrize(
    "key",
    ["../escape", "a/../../escape", "/etc/passwd", "a//b", "a/", "", ".hidden", "a/./b",
     "x.warc" + SIDECAR_SUFFIX, "a\\b", "a\x00b"],
)  # fmt: skip
def test_keys_that_could_escape_are_rejected(
    store: ArchiveStore, key: str, t0: dt.datetime, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequest):
        store.put(key, b"x", retain_until=None, mode="GOVERNANCE")
    with pytest.raises(InvalidRequest):
        store.get(key)
    with pytest.raises(InvalidRequest):
        store.delete(key, now=t0)
    assert not (tmp_path / "escape").exists()
    assert list(store.keys()) == []


def test_naive_dates_are_refused_and_dates_round_up(store: ArchiveStore, t0: dt.datetime) -> None:
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        store.put("n", b"x", retain_until=dt.datetime(2030, 1, 1), mode="COMPLIANCE")
    assert not store.exists("n")
    store.put("n", b"x", retain_until=t0 + DAY + dt.timedelta(milliseconds=1), mode="COMPLIANCE")
    # S3 keeps whole seconds: rounded up, never shortened.
    assert store.head("n").retain_until == t0 + DAY + SECOND
    with pytest.raises(InvalidRequest, match="retention mode"):
        store.put("m", b"x", retain_until=t0 + DAY, mode="FOREVER")  # type: ignore[arg-type]


# -- retention on the simulation clock --------------------------------------------------------


def test_governance_retention_on_the_simulated_clock(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("g", b"governed", retain_until=t0 + DAY, mode="GOVERNANCE")
    info = store.head("g")
    assert (info.mode, info.retain_until) == ("GOVERNANCE", t0 + DAY)
    with pytest.raises(RetentionLocked, match="GOVERNANCE mode until") as caught:
        store.delete("g", now=t0 + DAY - SECOND)
    assert (caught.value.retain_until, caught.value.by_store) == (t0 + DAY, False)
    assert store.get("g") == b"governed"
    # Simulated time passed the date; in real time the store's lock still holds it for a
    # day, and the GOVERNANCE lock is bypassed for the deletion Parley allowed.
    store.delete("g", now=t0 + DAY)
    assert not store.exists("g")
    assert leftovers(store, "g") == []


def test_governance_retention_can_be_bypassed(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("g", b"governed", retain_until=t0 + DAY, mode="GOVERNANCE")
    store.delete("g", now=t0, bypass_governance=True)
    assert leftovers(store, "g") == []


def test_compliance_retention(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("c", b"compliant", retain_until=t0 + DAY, mode="COMPLIANCE")
    for bypass in (False, True):
        with pytest.raises(RetentionLocked, match="COMPLIANCE retention cannot be lifted"):
            store.delete("c", now=t0 + DAY - SECOND, bypass_governance=bypass)
    if isinstance(store, S3Store):
        # What really happens: moto's server enforces Object Lock against real time (the
        # version stays locked for another day, bypass or not), so Parley reports the
        # store's own lock, for the caller to record as "purge pending at the store".
        with pytest.raises(RetentionLocked, match="holds it until") as caught:
            store.delete("c", now=t0 + DAY + SECOND)
        assert caught.value.by_store
        assert (caught.value.retain_until, caught.value.mode) == (t0 + DAY, "COMPLIANCE")
        assert store.get("c") == b"compliant"
    else:
        store.delete("c", now=t0 + DAY + SECOND)
        assert leftovers(store, "c") == []


def test_compliance_retention_cannot_be_shortened(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("c", b"x", retain_until=t0 + 2 * DAY, mode="COMPLIANCE")
    with pytest.raises(RetentionLocked, match="can only be extended, not shortened"):
        store.extend_retention("c", t0 + DAY, "COMPLIANCE", now=t0)
    with pytest.raises(RetentionLocked, match="can only be extended"):
        store.extend_retention("c", t0 + DAY, "COMPLIANCE", now=t0, bypass_governance=True)
    with pytest.raises(RetentionLocked, match="cannot be changed to GOVERNANCE"):
        store.extend_retention("c", t0 + 3 * DAY, "GOVERNANCE", now=t0)
    info = store.head("c")
    assert (info.mode, info.retain_until) == ("COMPLIANCE", t0 + 2 * DAY)


def test_retention_can_be_extended(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("c", b"x", retain_until=t0 + DAY, mode="COMPLIANCE")
    store.extend_retention("c", t0 + 3 * DAY, "COMPLIANCE", now=t0)
    assert store.head("c").retain_until == t0 + 3 * DAY
    with pytest.raises(RetentionLocked):
        store.delete("c", now=t0 + 2 * DAY)
    # GOVERNANCE can be turned into COMPLIANCE (stricter) without bypass.
    store.put("g", b"x", retain_until=t0 + DAY, mode="GOVERNANCE")
    store.extend_retention("g", t0 + DAY, "COMPLIANCE", now=t0)
    info = store.head("g")
    assert (info.mode, info.retain_until) == ("COMPLIANCE", t0 + DAY)
    with pytest.raises(InvalidRequest, match="not after the simulation time"):
        store.extend_retention("g", t0, "COMPLIANCE", now=t0)


def test_governance_retention_is_shortened_only_with_bypass(
    store: ArchiveStore, t0: dt.datetime
) -> None:
    store.put("g", b"x", retain_until=t0 + 2 * DAY, mode="GOVERNANCE")
    with pytest.raises(RetentionLocked, match="needs governance bypass"):
        store.extend_retention("g", t0 + DAY, "GOVERNANCE", now=t0)
    assert store.head("g").retain_until == t0 + 2 * DAY
    store.extend_retention("g", t0 + DAY, "GOVERNANCE", now=t0, bypass_governance=True)
    assert store.head("g").retain_until == t0 + DAY


def test_legal_hold_blocks_deletion_until_released(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("h", b"held", retain_until=t0 + DAY, mode="GOVERNANCE")
    store.set_legal_hold("h", True)
    assert store.head("h").legal_hold
    for bypass in (False, True):
        with pytest.raises(RetentionLocked, match="legal hold") as caught:
            store.delete("h", now=t0 + 3650 * DAY, bypass_governance=bypass)
        assert caught.value.legal_hold
    assert store.get("h") == b"held"
    store.set_legal_hold("h", False)
    assert not store.head("h").legal_hold
    store.delete("h", now=t0 + DAY)
    assert leftovers(store, "h") == []


def test_legal_hold_without_retention(store: ArchiveStore, t0: dt.datetime) -> None:
    store.put("h", b"held", retain_until=None, mode="COMPLIANCE")
    store.set_legal_hold("h", True)
    with pytest.raises(RetentionLocked, match="release the hold"):
        store.delete("h", now=t0)
    store.set_legal_hold("h", False)
    store.delete("h", now=t0)
    assert not store.exists("h")
    # The key can be written again once the data is gone.
    store.put("h", b"again", retain_until=None, mode="COMPLIANCE")
    assert store.get("h") == b"again"


# -- LocalStore on disk ------------------------------------------------------------------------


def test_local_files_are_read_only_with_a_hidden_sidecar(tmp_path: Path, t0: dt.datetime) -> None:
    store = LocalStore(tmp_path / "archive")
    store.put("acme/2026/a.warc.gz", b"data", retain_until=t0 + DAY, mode="COMPLIANCE")
    path = tmp_path / "archive" / "acme" / "2026" / "a.warc.gz"
    sidecar = path.with_name("a.warc.gz" + SIDECAR_SUFFIX)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o444
    if os.geteuid() != 0:  # root ignores permission bits
        with pytest.raises(PermissionError):
            path.open("ab")
    state = json.loads(sidecar.read_text())
    assert state["mode"] == "COMPLIANCE"
    assert dt.datetime.fromisoformat(state["retain_until"]) == t0 + DAY
    assert list(store.keys()) == ["acme/2026/a.warc.gz"]
    # No temporary files are left behind; a change of state replaces the sidecar.
    store.set_legal_hold("acme/2026/a.warc.gz", True)
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.warc.gz", sidecar.name]
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o444
    store.set_legal_hold("acme/2026/a.warc.gz", False)
    store.delete("acme/2026/a.warc.gz", now=t0 + DAY)
    assert list((tmp_path / "archive").iterdir()) == []  # emptied folders are removed too


def test_local_keys_that_clash_with_folders(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("a/b", b"x", retain_until=None, mode="GOVERNANCE")
    with pytest.raises(InvalidRequest, match="folder of other keys"):
        store.put("a", b"x", retain_until=None, mode="GOVERNANCE")
    with pytest.raises(InvalidRequest, match="object of its own"):
        store.put("a/b/c", b"x", retain_until=None, mode="GOVERNANCE")
    assert not store.exists("a")
    with pytest.raises(ObjectMissing):
        store.head("a")


# -- S3Store and moto's server -----------------------------------------------------------------


def test_s3_delete_removes_every_version_and_delete_marker(s3: S3Store, t0: dt.datetime) -> None:
    s3.put("v", b"data", retain_until=t0 + DAY, mode="GOVERNANCE")
    # A plain DELETE on the versioned bucket only hides the data behind a delete marker.
    s3.client.delete_object(Bucket=s3.bucket, Key="v")
    assert not s3.exists("v")
    assert len(leftovers(s3, "v")) == 2
    with pytest.raises(RetentionLocked):  # the hidden version is still retained
        s3.delete("v", now=t0)
    s3.delete("v", now=t0 + DAY)
    assert leftovers(s3, "v") == []
    with pytest.raises(ObjectMissing):
        s3.delete("v", now=t0 + DAY)


def test_moto_enforces_object_lock_in_real_time(s3: S3Store, t0: dt.datetime) -> None:
    """What the store relies on, as moto's server (5.2.5) behaves."""
    client: Any = s3.client
    for mode in ("GOVERNANCE", "COMPLIANCE"):
        key = f"raw-{mode}"
        version = client.put_object(
            Bucket=s3.bucket,
            Key=key,
            Body=b"x",
            ObjectLockMode=mode,
            ObjectLockRetainUntilDate=t0 + DAY,
            ChecksumAlgorithm="SHA256",
        )["VersionId"]
        # Deleting the version while locked (in real time) is denied…
        with pytest.raises(ClientError, match="AccessDenied"):
            client.delete_object(Bucket=s3.bucket, Key=key, VersionId=version)
        # …and moto lets anyone shorten even COMPLIANCE retention: Parley checks it itself.
        client.put_object_retention(
            Bucket=s3.bucket,
            Key=key,
            Retention={"Mode": mode, "RetainUntilDate": t0 + 2 * DAY},
        )
        if mode == "GOVERNANCE":
            client.delete_object(
                Bucket=s3.bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
            )
        else:
            with pytest.raises(ClientError, match="AccessDenied"):  # no bypass for COMPLIANCE
                client.delete_object(
                    Bucket=s3.bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
                )


def test_s3_compliance_purge_once_real_time_passed(s3: S3Store, t0: dt.datetime) -> None:
    # moto accepts a retain-until date already past in real time (AWS S3 and MinIO refuse
    # one): a simulation clock two days behind real time, retention of one day.
    now = t0 - 2 * DAY
    s3.put("old", b"x", retain_until=now + DAY, mode="COMPLIANCE")
    with pytest.raises(RetentionLocked, match="retained in COMPLIANCE mode"):
        s3.delete("old", now=now)
    s3.delete("old", now=now + DAY)  # both clocks are past the date: really deleted
    assert leftovers(s3, "old") == []


def test_s3_ensure_bucket(s3: S3Store, moto_endpoint: str) -> None:
    s3.ensure_bucket()  # idempotent
    plain = S3Store("archive-without-lock", endpoint_url=moto_endpoint, **CREDENTIALS)
    plain.client.create_bucket(Bucket=plain.bucket)
    with pytest.raises(StoreError, match="without Object Lock"):
        plain.ensure_bucket()
    missing = S3Store("archive-not-created", endpoint_url=moto_endpoint, **CREDENTIALS)
    with pytest.raises(StoreError, match="does not exist"):
        missing.put("k", b"x", retain_until=None, mode="GOVERNANCE")


# -- the factory -------------------------------------------------------------------------------


def test_get_store(tmp_path: Path, moto_endpoint: str) -> None:
    from django.conf import settings

    local = get_store({"ARCHIVE_STORE": "local", "ARCHIVE_ROOT": str(tmp_path)})
    assert isinstance(local, LocalStore)
    assert local.root == tmp_path

    remote = get_store(
        {
            "ARCHIVE_STORE": "s3",
            "ARCHIVE_S3_BUCKET": "archive-from-config",
            "ARCHIVE_S3_ENDPOINT_URL": moto_endpoint,
            "ARCHIVE_S3_ACCESS_KEY_ID": "parley-test",
            "ARCHIVE_S3_SECRET_ACCESS_KEY": "parley-test-secret",
            "ARCHIVE_S3_REGION": "us-east-1",
        }
    )
    assert isinstance(remote, S3Store)
    remote.ensure_bucket()
    remote.put("k", b"x", retain_until=None, mode="GOVERNANCE")
    assert (
        boto3.client(
            "s3",
            endpoint_url=moto_endpoint,
            aws_access_key_id="x",
            aws_secret_access_key="y",
            region_name="us-east-1",
        )
        .get_object(Bucket="archive-from-config", Key="k")["Body"]
        .read()
        == b"x"
    )

    default = get_store()  # settings.PARLEY, with the defaults while it names no store
    expected = settings.PARLEY.get("ARCHIVE_ROOT") or Path(settings.VAR_DIR) / "archive"
    if settings.PARLEY.get("ARCHIVE_STORE", "local") == "local":
        assert isinstance(default, LocalStore)
        assert default.root == Path(expected)

    with pytest.raises(StoreError, match="Unknown archive store 'ftp'"):
        get_store({"ARCHIVE_STORE": "ftp"})
