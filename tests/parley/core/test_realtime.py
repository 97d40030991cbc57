"""The realtime path end to end: an action or a Celery task commits its events to the stream,
the worker's "console" consumer sends them across the Redis channel layer, and the staff
websocket served by a real uvicorn delivers them."""

import asyncio
import json
from typing import Any

import pytest
import websockets
from django.conf import settings

from parley.accounts.actions.numbers import do_add_number, do_request_code
from parley.accounts.actions.staff import do_change_roles
from tests.conftest import verified_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def _ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/events/"


async def _open(base: str, session: str | None) -> Any:
    headers = {"Origin": base}
    if session:
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={session}"
    return await websockets.connect(_ws_url(base), additional_headers=headers, open_timeout=10)


async def _next_event(ws: Any, name: str, timeout: float = 15) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            message = json.loads(await ws.recv())
            if message["event"] == name:
                return message

    return await asyncio.wait_for(wait(), timeout)


async def _assert_silent(ws: Any, seconds: float) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


def test_events_from_an_action_reach_the_right_roles(asgi_server, factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    agent = factory.staff(business, "agent")
    target = factory.staff(business, "agent")
    admin_session, agent_session = verified_session(admin), verified_session(agent)

    async def scenario() -> dict[str, Any]:
        admin_ws = await _open(asgi_server, admin_session)
        agent_ws = await _open(asgi_server, agent_session)
        assert (await _next_event(admin_ws, "stream.ready"))["role"] == "administrator"
        await _next_event(agent_ws, "stream.ready")
        await asyncio.to_thread(do_change_roles, admin, [target.pk], "supervisor")
        audit = await _next_event(admin_ws, "audit.recorded")
        changed = await _next_event(admin_ws, "staff.changed")
        # Agents are not in the audience of staff and audit events.
        await _assert_silent(agent_ws, 1.0)
        await admin_ws.close()
        await agent_ws.close()
        return {"audit": audit, "changed": changed}

    got = asyncio.run(scenario())
    assert got["audit"]["data"]["action"] == "staff.role_changed"
    assert got["audit"]["data"]["target"] == target.email
    assert got["changed"]["data"]["user_ids"] == [target.pk]
    assert got["changed"]["business_id"] == business.pk
    assert got["audit"]["stream_id"] < got["changed"]["stream_id"]


def test_events_from_a_celery_task_reach_the_console(asgi_server, factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = do_add_number(admin, phone_number="+14155550177", display_name="Acme Live")
    session = verified_session(admin)

    async def scenario() -> dict[str, Any]:
        ws = await _open(asgi_server, session)
        await _next_event(ws, "stream.ready")
        # The code is delivered by the worker process, which publishes after its commit.
        await asyncio.to_thread(do_request_code, business, number.pk, method="SMS")
        delivered = await _next_event(ws, "number.code_delivered", timeout=30)
        await ws.close()
        return delivered

    delivered = asyncio.run(scenario())
    assert delivered["data"]["number_id"] == number.pk
    assert delivered["data"]["method"] == "SMS"


def test_other_businesses_hear_nothing(asgi_server, factory) -> None:
    mine, theirs = factory.business(), factory.business("Other")
    admin = factory.staff(mine, "administrator")
    target = factory.staff(mine, "agent")
    outsider = factory.staff(theirs, "administrator")
    session = verified_session(outsider)

    async def scenario() -> None:
        ws = await _open(asgi_server, session)
        await _next_event(ws, "stream.ready")
        await asyncio.to_thread(do_change_roles, admin, [target.pk], "supervisor")
        await _assert_silent(ws, 1.5)
        await ws.close()

    asyncio.run(scenario())


def test_unverified_or_anonymous_sockets_are_refused(asgi_server, factory) -> None:
    from importlib import import_module

    user = factory.staff(factory.business(), "administrator")
    # A session that passed the password step only (no second factor yet).
    half = import_module(settings.SESSION_ENGINE).SessionStore()
    half["_auth_user_id"] = str(user.pk)
    half["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    half["_auth_user_hash"] = user.get_session_auth_hash()
    half.create()

    async def scenario() -> list[int]:
        statuses = []
        for session in (None, "not-a-session", half.session_key):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await _open(asgi_server, session)
            statuses.append(refused.value.response.status_code)
        return statuses

    assert asyncio.run(scenario()) == [403, 403, 403]


def test_a_socket_that_is_pushed_nothing_catches_up_from_the_log(asgi_server, factory) -> None:
    """What a Redis restart can do to the channel layer: pushes stop, yet the socket stays
    open. Here the console consumer is moved past every entry, so nothing is pushed at all;
    the socket still reads what it missed from the log, within KEEP_UP_SECONDS."""
    from parley.core.models import StreamConsumer

    business = factory.business()
    admin = factory.staff(business, "administrator")
    target = factory.staff(business, "agent")
    session = verified_session(admin)

    async def scenario() -> dict[str, Any]:
        ws = await _open(asgi_server, session)
        await _next_event(ws, "stream.ready")
        await asyncio.to_thread(
            StreamConsumer.objects.update_or_create, name="console",
            defaults={"position": 10**15},
        )  # fmt: skip
        await asyncio.to_thread(do_change_roles, admin, [target.pk], "supervisor")
        changed = await _next_event(ws, "staff.changed", timeout=30)
        await ws.close()
        return changed

    assert asyncio.run(scenario())["data"]["user_ids"] == [target.pk]
