"""Fixtures shared by the whole suite: real database, real Redis, real Celery worker, a real
ASGI server and headless Chromium. Nothing of Parley's own is mocked."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from django.conf import settings
from django.db import connection

from parley.core import clock

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")

# Playwright's sync API keeps an event loop in the test thread; Django's ORM is still used
# synchronously from that same thread in the tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# What migrate made once and no test changes: kept when a transactional test empties the rest.
KEPT_TABLES = frozenset({"django_content_type", "auth_permission"})


def _empty_tables(test: Any) -> None:
    """What Django's flush does after a transactional test, faster: DELETE in one transaction
    (foreign keys are checked at its commit) instead of TRUNCATE, which costs PostgreSQL
    about half a second for this many tables; and the content types and permissions stay,
    rather than being deleted and made again by post_migrate."""
    from django.db import connections, transaction

    for db_name in test._databases_names(include_mirrors=False):
        conn = connections[db_name]
        tables = conn.introspection.django_table_names(only_existing=True, include_views=False)
        with transaction.atomic(using=db_name), conn.cursor() as cursor:
            for table in sorted(set(tables) - KEPT_TABLES):
                cursor.execute(f"DELETE FROM {conn.ops.quote_name(table)}")


def _retry_flush_on_deadlock() -> None:
    """A transactional test ends by emptying every table while the live worker may be inside
    a stream batch; PostgreSQL then aborts one side as a deadlock. The worker's batch rolls
    back and runs again by design; the emptying is retried the same way."""
    from django.db import OperationalError
    from django.test import TransactionTestCase

    def teardown(self: TransactionTestCase) -> None:
        for attempt in range(5):
            try:
                _empty_tables(self)
                return
            except OperationalError as exc:
                if "deadlock" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    setattr(TransactionTestCase, "_fixture_teardown", teardown)  # noqa: B010 (untyped)


_retry_flush_on_deadlock()


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    with clock.frozen(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)) as c:
        yield c


@pytest.fixture
def shared_clock() -> Iterator[None]:
    """For tests that move the installation's clock (live processes read it): leaves them
    on real time again, before the tables are emptied."""
    yield
    from parley.core.clock_actions import do_reset_clock

    do_reset_clock(actor_label="test teardown")


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    # Only this run's cache keys: flushing the database would also drop the Celery queues
    # and bindings the live worker is using.
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{settings.NAMESPACE}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# --- tenants and staff -------------------------------------------------------------------

PASSWORD = "correct-horse-battery"


class Factory:
    """Creates businesses and staff the way the product does, with known secrets."""

    def __init__(self) -> None:
        self.count = 0

    def business(self, name: str = "Acme", country: str = "IN") -> Any:
        from parley.accounts.models import Business

        self.count += 1
        return Business.objects.create(
            name=f"{name} {self.count}",
            slug=f"{name.lower()}-{self.count}",
            country=country,
            created_at=clock.now(),
        )

    def staff(self, business: Any, role: str, *, enrolled: bool = True, email: str = "") -> Any:
        from parley.accounts.models import StaffUser
        from parley.core.crypto import encrypt_text

        self.count += 1
        user = StaffUser.objects.create_user(
            email or f"{role}{self.count}@{business.slug}.test",
            PASSWORD,
            business=business,
            full_name=f"{role.title()} {self.count}",
            role=role,
            created_at=clock.now(),
        )
        if enrolled:
            user.totp_secret_encrypted = encrypt_text(pyotp.random_base32())
            user.totp_confirmed_at = clock.now()
            user.save()
        return user


@pytest.fixture
def factory() -> Factory:
    return Factory()


def totp_now(user: Any, at: dt.datetime | None = None) -> str:
    from parley.core.crypto import decrypt_text

    user.refresh_from_db()
    return pyotp.TOTP(decrypt_text(user.totp_secret_encrypted)).at(at or clock.now())


def verified_session(user: Any) -> str:
    """A session key for a user who passed both factors (for clients other than the
    login flow itself)."""
    from importlib import import_module

    from parley.accounts.middleware import VERIFIED_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store[VERIFIED_KEY] = True
    store.create()
    return str(store.session_key)


@pytest.fixture
def console_client(client: Any) -> Any:
    """Django's test client, logged in through `console_client.as_(user)`."""

    def as_(user: Any) -> Any:
        client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(user)
        return client

    client.as_ = as_
    return client


# --- the live stack: ASGI server and Celery worker in their own processes -----------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture(scope="session", autouse=True)
def _archive_root(tmp_path_factory: Any) -> None:
    """The archive's local store lives in this run's temporary folder (for the live
    processes too, through live_env), never in the checkout's var folder."""
    settings.PARLEY["ARCHIVE_ROOT"] = str(tmp_path_factory.mktemp("archive-store"))


@pytest.fixture(scope="session")
def live_env(django_db_setup: None, django_db_blocker: Any) -> dict[str, str]:
    """Environment for child processes: the test database, the test Redis, this run's
    namespace (queues, channel groups, cache keys)."""
    with django_db_blocker.unblock():
        url = _database_url()
    # A live process is not a pytest worker: it reads the shared clock.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    return {
        **inherited,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "PARLEY_NAMESPACE": settings.NAMESPACE,
        "PARLEY_ARCHIVE_ROOT": settings.PARLEY["ARCHIVE_ROOT"],
        "PARLEY_TESTING": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def asgi_server(live_env: dict[str, str], tmp_path_factory: Any) -> Iterator[str]:
    """A real uvicorn serving Parley (HTTP + websockets); yields its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("asgi") / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "parley.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--ws", "websockets-sansio", "--no-access-log",
             "--no-proxy-headers"],
            # The web server's pooled connections, as deployed (PostgreSQL only).
            cwd=ROOT, env={**live_env, "PARLEY_DB_POOL": "1"}, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_port(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def celery_worker(live_env: dict[str, str], tmp_path_factory: Any) -> Iterator[None]:
    """A real Celery worker consuming this run's queue."""
    from parley.celery import app

    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "parley", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--hostname", f"{settings.NAMESPACE}@%h"],
            cwd=ROOT, env=live_env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{log.read_text()[-3000:]}")
            if app.control.ping(destination=[f"{settings.NAMESPACE}@{socket.gethostname()}"],
                                timeout=0.5):  # fmt: skip
                break
        else:
            raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}")
        yield
    finally:
        _stop(process)


# --- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing")
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def _uses_browser(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return "page" in names or "browser" in names


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests need committed data the server process can see.
    for item in items:
        if _uses_browser(item):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.django_db(transaction=True))
    # Playwright's sync API leaves its event loop marked as running in the main thread for
    # the rest of the session, where `asyncio.run` then refuses to start: browser tests go last.
    items.sort(key=_uses_browser)
