"""The installation's simulation clock, in this process: parsing, the forward-only rule,
audit, the cached shared clock and its invalidation, the due jobs, the API and the console
page. Live processes are in test_clock_live.py."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import AuditEntry
from parley.core import clock, due
from parley.core.clock_actions import (
    do_advance_clock,
    do_reset_clock,
    do_set_clock,
    parse_duration,
    parse_instant,
)
from parley.core.clock_selectors import describe_offset, get_clock
from parley.core.errors import Conflict, InvalidParameter

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", dt.timedelta(seconds=90)),
        ("45m", dt.timedelta(minutes=45)),
        ("25h", dt.timedelta(hours=25)),
        ("31d", dt.timedelta(days=31)),
        ("1d2h", dt.timedelta(days=1, hours=2)),
        ("1d2h3m4s", dt.timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_durations_people_type(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5x", "0s", "-1h", "2h1d", "\u0661h", "1 d", "9999d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_duration(text)


def test_instants_need_a_zone() -> None:
    assert parse_instant("2026-12-01T09:00Z") == dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    assert parse_instant("2026-12-01T10:00+01:00") == dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    for bad in ("2026-12-01T09:00", "tomorrow", "2026-13-01T00:00Z", "\u0662026-01-01T00:00Z"):
        with pytest.raises(InvalidParameter):
            parse_instant(bad)


def test_the_clock_follows_real_time_until_moved() -> None:
    view = get_clock()
    assert view.offset == dt.timedelta(0) and not view.differs and view.version == 0


def test_advance_set_and_reset(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks():
        move = do_advance_clock(dt.timedelta(hours=25), actor_label="tester", catch_up="none")
    assert move.after - move.before == dt.timedelta(hours=25)
    view = get_clock()
    assert view.offset == dt.timedelta(hours=25) and view.differs and view.version == 1
    assert view.changed_by == "tester"
    assert describe_offset(view.offset) == "+1d 1h"

    target = view.simulated + dt.timedelta(days=3)
    with django_capture_on_commit_callbacks():
        do_set_clock(target, catch_up="none")
    after = get_clock()
    assert after.simulated - target < dt.timedelta(seconds=5)
    assert after.offset > dt.timedelta(days=4)

    with django_capture_on_commit_callbacks():
        do_reset_clock()
    assert get_clock().offset == dt.timedelta(0)
    assert get_clock().version == 3


def test_set_backwards_is_refused_and_changes_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks():
        do_advance_clock(dt.timedelta(days=2), catch_up="none")
    before = get_clock()
    with pytest.raises(Conflict, match="only moves forward"):
        do_set_clock(before.simulated - dt.timedelta(hours=1), catch_up="none")
    after = get_clock()
    assert after.version == before.version and after.offset == before.offset
    assert not AuditEntry.objects.filter(action="clock.set").exists()


def test_moves_are_audited_in_the_actor_s_chain(
    factory: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin = factory.staff(factory.business(), "administrator")
    with django_capture_on_commit_callbacks():
        do_advance_clock(dt.timedelta(days=31), actor=admin, catch_up="none")
    entry = AuditEntry.objects.get(action="clock.advanced")
    assert entry.business_ref == admin.business_id and entry.chain == admin.business_id
    assert entry.actor_ref == admin.pk and entry.details["by"] == "+31d"
    with django_capture_on_commit_callbacks():
        do_reset_clock(actor_label="manage.py clock")
    system = AuditEntry.objects.get(action="clock.reset")
    assert system.chain == 0 and system.business_ref is None


def test_the_pytest_process_keeps_a_local_clock() -> None:
    assert settings.PARLEY["SHARED_CLOCK"] is False
    assert not isinstance(clock.current(), clock.SharedClock)


def test_an_installed_test_clock_wins_over_the_shared_one(
    django_capture_on_commit_callbacks: Any,
) -> None:
    at = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks():
        do_advance_clock(dt.timedelta(days=5), catch_up="none")
    previous = clock.install(clock.SharedClock(listen=False))
    try:
        assert clock.now() - clock.real_now() > dt.timedelta(days=4)
        with clock.frozen(at):
            assert clock.now() == at
        assert clock.now() - clock.real_now() > dt.timedelta(days=4)
    finally:
        clock.install(previous)


def test_the_shared_clock_is_read_once_then_served_from_memory(
    django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks():
        do_advance_clock(dt.timedelta(hours=25), catch_up="none")
    shared = clock.SharedClock(listen=False, max_age=3600)
    first = shared.now()  # one read of the row (in a savepoint inside a transaction)
    with django_assert_num_queries(0):
        for _ in range(2000):
            shared.now()
    assert first - clock.real_now() > dt.timedelta(hours=24, minutes=59)
    # A move elsewhere is not seen until the process hears of it...
    with django_capture_on_commit_callbacks():
        do_advance_clock(dt.timedelta(days=1), catch_up="none")
    assert shared.now() - clock.real_now() < dt.timedelta(hours=26)
    shared.invalidate()
    assert shared.now() - clock.real_now() > dt.timedelta(hours=48, minutes=59)


@pytest.fixture
def listening() -> Iterator[clock.SharedClock]:
    previous = clock.install(clock.SharedClock(max_age=3600))
    current = clock.current()
    assert isinstance(current, clock.SharedClock)
    try:
        yield current
    finally:
        clock.install(previous)


@pytest.mark.django_db(transaction=True)
def test_a_move_announced_over_redis_reaches_a_listening_process(
    listening: clock.SharedClock,
) -> None:
    seen = threading.Event()
    original = listening.invalidate

    def spy() -> None:
        original()
        seen.set()

    listening.invalidate = spy  # type: ignore[method-assign]
    listening.now()  # starts the listener
    assert seen.wait(5)  # the listener's first subscription
    seen.clear()
    listening.now()
    # Another process moves the clock: here, the write and the announcement alone.
    from parley.core.models import SimulationClock

    SimulationClock.objects.update_or_create(pk=1, defaults={"offset_us": 25 * 3600 * 10**6})
    assert listening.now() - clock.real_now() < dt.timedelta(hours=1)  # still cached
    clock.announce_moved()
    assert seen.wait(5)
    assert listening.now() - clock.real_now() > dt.timedelta(hours=24, minutes=59)
    clock.install(clock.Clock())
    do_reset_clock()


def test_due_jobs_run_once_each_and_a_failure_does_not_stop_the_rest(
    settings: Any, frozen_clock: Any
) -> None:
    ran: list[str] = []

    def fails() -> None:
        ran.append("fails")
        raise RuntimeError("boom")

    def works() -> int:
        ran.append("works")
        return 7

    settings.PARLEY = {
        **settings.PARLEY,
        "CLOCK_DUE_TASKS": ("parley.relay.tasks.expire_envelopes",),
    }
    due.on_clock_moved(fails)
    due.on_clock_moved(works)
    try:
        results = {r.name.rsplit(".", 1)[-1]: r for r in due.run_due_jobs()}
    finally:
        for fn in (fails, works):
            due._registered.pop(f"{fn.__module__}.{fn.__qualname__}")
    assert ran == ["fails", "works"]
    assert results["expire_envelopes"].ok and results["expire_envelopes"].result == "0"
    assert not results["fails"].ok and "boom" in results["fails"].result
    assert results["works"].ok and results["works"].result == "7"


def test_the_default_due_jobs_are_all_real_tasks() -> None:
    from parley.celery import app

    app.loader.import_default_modules()
    for name in settings.PARLEY["CLOCK_DUE_TASKS"]:
        assert name in app.tasks, name


def test_inline_catch_up_runs_the_jobs_at_the_new_time(
    frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[dt.datetime] = []

    def job() -> None:
        seen.append(clock.now())

    due.on_clock_moved(job)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            do_advance_clock(dt.timedelta(hours=1), catch_up="inline")
    finally:
        due._registered.pop(f"{job.__module__}.{job.__qualname__}")
    assert seen == [frozen_clock.now()]  # this process's clock: the test's


# --- the command ---------------------------------------------------------------------------


def test_command_show_and_advance(capsys: Any) -> None:
    call_command("clock", "advance", "1d2h", "--inline")
    out = capsys.readouterr().out
    assert "Clock advanced" in out and "ran in this process" in out
    call_command("clock", "show")
    out = capsys.readouterr().out
    assert "+1d 2h (running)" in out


def test_command_refuses_bad_input() -> None:
    with pytest.raises(CommandError, match="is not a duration"):
        call_command("clock", "advance", "tomorrow")
    with pytest.raises(CommandError, match="has no time zone"):
        call_command("clock", "set", "2026-12-01T09:00")
    call_command("clock", "advance", "2d", "--inline")
    with pytest.raises(CommandError, match="only moves forward"):
        call_command("clock", "set", clock.real_now().isoformat())
    assert get_clock().offset == dt.timedelta(days=2)


# --- the API -------------------------------------------------------------------------------

CLOCK = "/parley/v1/clock"


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "code", "fbtrace_id"} <= set(body["error"])
    return dict(body["error"])


@pytest.mark.parametrize("role", ["administrator", "developer"])
def test_api_moves_the_clock_for_administrators_and_developers(
    factory: Any, console_client: Any, role: str
) -> None:
    user = factory.staff(factory.business(), role)
    client = console_client.as_(user)
    body = client.get(CLOCK).json()
    assert body["follows_real_time"] is True and body["version"] == 0
    response = client.post(f"{CLOCK}/advance", {"duration": "25h"}, content_type="application/json")
    assert response.status_code == 200, response.content
    moved = response.json()
    assert moved["action"] == "advanced" and moved["catch_up"] == "queue"
    assert moved["clock"]["offset"] == "+1d 1h" and moved["clock"]["follows_real_time"] is False
    assert AuditEntry.objects.filter(action="clock.advanced", actor_ref=user.pk).exists()
    reset = client.post(f"{CLOCK}/reset", content_type="application/json")
    assert reset.status_code == 200 and reset.json()["clock"]["offset_seconds"] == 0


@pytest.mark.parametrize("role", ["agent", "supervisor", "compliance_officer"])
def test_api_refuses_other_roles(factory: Any, console_client: Any, role: str) -> None:
    client = console_client.as_(factory.staff(factory.business(), role))
    assert _error(client.get(CLOCK))["code"] == 10 or client.get(CLOCK).status_code == 403
    response = client.post(f"{CLOCK}/advance", {"duration": "1h"}, content_type="application/json")
    assert response.status_code == 403
    assert get_clock().version == 0


def test_api_tokens_need_the_manage_clock_scope(factory: Any, client: Any) -> None:
    admin = factory.staff(factory.business(), "administrator")
    scoped = do_create_api_token(admin, name="ops", scopes=["manage_clock"]).secret
    other = do_create_api_token(admin, name="crm", scopes=["view_numbers"]).secret
    ok = client.post(
        f"{CLOCK}/advance",
        {"duration": "90s"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {scoped}",
    )
    assert ok.status_code == 200
    entry = AuditEntry.objects.get(action="clock.advanced")
    assert entry.actor_label.startswith("api token ops") and entry.chain == admin.business_id
    denied = client.get(CLOCK, HTTP_AUTHORIZATION=f"Bearer {other}")
    assert denied.status_code == 403 and "manage_clock" in _error(denied)["message"]


def test_api_errors_use_the_envelope(factory: Any, console_client: Any) -> None:
    client = console_client.as_(factory.staff(factory.business(), "developer"))
    bad = client.post(f"{CLOCK}/advance", {"duration": "soon"}, content_type="application/json")
    assert bad.status_code == 400 and "duration" in _error(bad)["message"]
    not_object = client.post(f"{CLOCK}/advance", [1], content_type="application/json")
    assert not_object.status_code == 400 and _error(not_object)
    naive = client.post(
        f"{CLOCK}/set", {"time": "2030-01-01T00:00"}, content_type="application/json"
    )
    assert naive.status_code == 400 and "time zone" in _error(naive)["message"]
    client.post(f"{CLOCK}/advance", {"duration": "3d"}, content_type="application/json")
    back = client.post(
        f"{CLOCK}/set", {"time": clock.real_now().isoformat()}, content_type="application/json"
    )
    assert back.status_code == 409 and "only moves forward" in _error(back)["message"]
    assert get_clock().offset == dt.timedelta(days=3)


# --- the console -----------------------------------------------------------------------------


def test_console_page_moves_the_clock_and_shows_form_errors(
    factory: Any, console_client: Any
) -> None:
    user = factory.staff(factory.business(), "developer")
    client = console_client.as_(user)
    page = client.get("/clock/")
    assert page.status_code == 200 and "none: real time" in page.content.decode()
    assert 'href="/clock/"' in page.content.decode()
    bad = client.post("/clock/", {"action": "advance", "advance-duration": "a while"})
    assert bad.status_code == 400 and "is not a duration" in bad.content.decode()
    back = client.post("/clock/", {"action": "set", "set-time": "2000-01-01T00:00Z"})
    assert back.status_code == 400 and "only moves forward" in back.content.decode()
    preset = client.post("/clock/", {"action": "preset", "duration": "25h"})
    assert preset.status_code == 302
    assert get_clock().offset == dt.timedelta(hours=25)
    free = client.post("/clock/", {"action": "advance", "advance-duration": "1d"})
    assert free.status_code == 302
    assert get_clock().offset == dt.timedelta(days=2, hours=1)
    assert "+2d 1h" in client.get("/clock/").content.decode()
    client.post("/clock/", {"action": "reset"})
    assert get_clock().offset == dt.timedelta(0)


def test_console_page_is_for_administrators_and_developers(
    factory: Any, console_client: Any
) -> None:
    agent = console_client.as_(factory.staff(factory.business(), "agent"))
    assert agent.get("/clock/").status_code == 403
    assert 'href="/clock/"' not in agent.get("/").content.decode()
    assert agent.post("/clock/", {"action": "reset"}).status_code == 403


def test_banner_shows_simulated_time_only_when_it_differs(
    factory: Any, console_client: Any
) -> None:
    user = factory.staff(factory.business(), "agent")
    client = console_client.as_(user)
    assert 'data-testid="sim-clock"' not in client.get("/").content.decode()
    with clock.frozen(dt.datetime(2031, 5, 6, 7, 8, tzinfo=dt.UTC)):
        html = client.get("/").content.decode()
    assert 'data-testid="sim-clock"' in html and "2031-05-06 07:08 UTC" in html


def test_describe_offset() -> None:
    assert describe_offset(dt.timedelta(0)) == "0s"
    assert describe_offset(-dt.timedelta(hours=3)) == "-3h"
    assert describe_offset(dt.timedelta(days=31, seconds=65)) == "+31d 1m 5s"
