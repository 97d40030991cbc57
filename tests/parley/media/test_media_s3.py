"""Media in S3-compatible object storage (what docker-compose.yml configures with MinIO),
against a real S3 server started here (moto's server mode): the upload lands in the
bucket, the download streams it back, the delete removes it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from django.test import Client

from parley.accounts.models import PhoneNumber
from tests.parley.media.conftest import PNG, call, upload

pytestmark = pytest.mark.django_db

KEYS = {"aws_access_key_id": "parley", "aws_secret_access_key": "parley-secret"}


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: Any) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the S3 server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def bucket(s3_server: str, settings: Any) -> Any:
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **KEYS)
    s3.create_bucket(Bucket="parley-media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "parley-media", "endpoint_url": s3_server,
                        "access_key": KEYS["aws_access_key_id"],
                        "secret_key": KEYS["aws_secret_access_key"],
                        "region_name": "us-east-1", "addressing_style": "path",
                        "default_acl": None, "file_overwrite": False},
        },
    }  # fmt: skip
    return s3


def test_upload_download_delete_in_the_bucket(
    client: Client, secret: str, number: PhoneNumber, bucket: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    media_id = upload(client, secret, number).json()["id"]
    (stored,) = bucket.list_objects_v2(Bucket="parley-media")["Contents"]
    assert stored["Key"] == f"media/{number.business_id}/{media_id}"
    assert bucket.get_object(Bucket="parley-media", Key=stored["Key"])["Body"].read() == PNG

    url = urlsplit(call(client, secret, "get", f"/v23.0/{media_id}").json()["url"])
    download = call(client, secret, "get", f"{url.path}?{url.query}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG

    with django_capture_on_commit_callbacks(execute=True):
        assert call(client, secret, "delete", f"/v23.0/{media_id}").json() == {"success": True}
    assert "Contents" not in bucket.list_objects_v2(Bucket="parley-media")
