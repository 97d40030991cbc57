"""Shared by the archive's tests: moto's S3 server, in-process on a free port (a real
S3-compatible server with Object Lock), once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

CREDENTIALS = {"access_key": "parley-test", "secret_key": "parley-test-secret"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
