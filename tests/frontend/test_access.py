"""Every console page and every POST, for every role, against the permission matrix.

The expected answer is derived from roles.MATRIX, so a view that forgets its capability (or
a matrix change a view does not follow) breaks a test here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from frontend.context import SECTIONS
from parley.accounts.models import AuditEntry
from parley.accounts.roles import MATRIX, Capability, Role

C = Capability


@dataclass(frozen=True)
class Route:
    method: str
    url: str  # {number}, {token}, {device}, {agent} are filled per test
    all_of: tuple[Capability, ...] = ()
    any_of: tuple[Capability, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def allowed(self, role: Role) -> bool:
        return all(role in MATRIX[c] for c in self.all_of) and (
            not self.any_of or any(role in MATRIX[c] for c in self.any_of)
        )

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


MANAGES_STAFF = (C.MANAGE_STAFF, C.MANAGE_AGENTS)
ROUTES = [
    Route("GET", "/"),
    Route("GET", "/staff/", (C.VIEW_STAFF,)),
    Route("GET", "/staff/?q=agent&role=agent&status=active&page=2", (C.VIEW_STAFF,)),
    Route(
        "POST", "/staff/", (C.VIEW_STAFF,), MANAGES_STAFF,
        {"operation": "deactivate", "ids": ["{agent}"]},
    ),
    Route("GET", "/staff/new/", (C.VIEW_STAFF,), MANAGES_STAFF),
    Route(
        "POST", "/staff/new/", (C.VIEW_STAFF,), MANAGES_STAFF,
        {"email": "new@example.test", "full_name": "New", "role": "agent",
         "password": "a-long-enough-password"},
    ),
    Route("GET", "/tokens/", (C.MANAGE_API_TOKENS,)),
    Route("POST", "/tokens/", (C.MANAGE_API_TOKENS,), data={"name": "CI"}),
    Route("POST", "/tokens/{token}/revoke/", (C.MANAGE_API_TOKENS,)),
    Route("GET", "/numbers/", (C.VIEW_NUMBERS,)),
    Route(
        "POST", "/numbers/", (C.VIEW_NUMBERS, C.MANAGE_NUMBERS),
        data={"phone_number": "+14155550123", "display_name": "Acme US"},
    ),
    Route("GET", "/numbers/{number}/", (C.VIEW_NUMBERS,)),
    Route("GET", "/numbers/{number}/?part=inbox", (C.VIEW_NUMBERS,)),
    Route(
        "POST", "/numbers/{number}/request-code/", (C.MANAGE_NUMBERS,), data={"code_method": "SMS"}
    ),
    Route("POST", "/numbers/{number}/verify/", (C.MANAGE_NUMBERS,), data={"code": "123456"}),
    Route("POST", "/numbers/{number}/register/", (C.MANAGE_NUMBERS,), data={"pin": "123456"}),
    Route("POST", "/numbers/{number}/official/", (C.MANAGE_NUMBERS,)),
    Route("GET", "/templates/", (C.MANAGE_TEMPLATES,)),
    Route("GET", "/templates/?status=PENDING&category=UTILITY", (C.MANAGE_TEMPLATES,)),
    Route("POST", "/templates/", (C.MANAGE_TEMPLATES,),
          data={"name": "hello", "language": "en_US", "category": "UTILITY",
                "parameter_format": "POSITIONAL", "body_text": "Hello there."}),
    Route("GET", "/conversations/", (C.READ_CONVERSATIONS,)),
    Route("GET", "/conversations/{conversation}/", (C.READ_CONVERSATIONS,)),
    Route("GET", "/workspace/", (C.READ_CONVERSATIONS, C.SEND_MESSAGES)),
    Route("GET", "/workspace/?tab=all", (C.READ_CONVERSATIONS, C.SEND_MESSAGES)),
    Route("GET", "/workspace/{conversation}/", (C.READ_CONVERSATIONS, C.SEND_MESSAGES)),
    Route("POST", "/workspace/status/", (C.READ_CONVERSATIONS, C.SEND_MESSAGES),
          data={"status": "busy"}),
    Route("POST", "/workspace/{conversation}/reply/", (C.READ_CONVERSATIONS, C.SEND_MESSAGES),
          data={"text": "hello"}),
    Route("POST", "/workspace/{conversation}/note/", (C.READ_CONVERSATIONS, C.SEND_MESSAGES),
          data={"text": "a private note"}),
    Route("GET", "/customers/", (C.DRIVE_CUSTOMERS,)),
    Route("POST", "/customers/", (C.DRIVE_CUSTOMERS,),
          data={"phone_number": "not a number", "language": "en_US"}),
    Route("GET", "/audit/", (C.VIEW_AUDIT_LOG,)),
    Route("GET", "/audit/?action=staff.&page=1", (C.VIEW_AUDIT_LOG,)),
    Route("GET", "/billing/", (C.VIEW_BILLING,)),
    Route("GET", "/billing/rate-card.csv", (C.VIEW_BILLING,)),
    Route("POST", "/billing/rate-card/", (C.MANAGE_BILLING,),
          data={"csv": "country,item,currency,unit_price,effective_from\n"
                       "US,marketing,USD,0.0085,2026-01-01\n"}),
    Route("GET", "/billing/?period=2026-05&volume=10&countries=US&categories=marketing",
          (C.VIEW_BILLING,)),
    Route("GET", "/security/"),
    Route("POST", "/security/devices/{device}/forget/"),
]  # fmt: skip


def _fill(text: str, ids: dict[str, int]) -> str:
    return text.format(**ids)


@pytest.fixture
def world(factory: Any, console: Any) -> dict[str, Any]:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    return {
        "business": business,
        "admin": admin,
        "agent": factory.staff(business, "agent"),
        "number": console.number(admin),
        "token": console.token(admin).token,
        "conversation": _conversation(business),
    }


def _conversation(business: Any) -> Any:
    from parley.messaging.actions import do_record_inbound_message
    from parley.messaging.content import Text

    number = business.numbers.get()
    message = do_record_inbound_message(number, "+919876500005", Text("hi"), envelope_guid="a1")
    return message.conversation


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_follows_the_matrix(
    route: Route, role: Role, world: dict[str, Any], factory: Any, console: Any,
    console_client: Any,
) -> None:  # fmt: skip
    user = factory.staff(world["business"], role.value)
    ids = {
        "number": world["number"].pk,
        "token": world["token"].pk,
        "agent": world["agent"].pk,
        "device": console.device(user).pk,
        "conversation": world["conversation"].pk,
    }
    client = console_client.as_(user)
    url = _fill(route.url, ids)
    audit_before = AuditEntry.objects.count()
    if route.method == "GET":
        response = client.get(url)
    else:
        data = {k: [_fill(x, ids) for x in v] if isinstance(v, list) else v
                for k, v in route.data.items()}  # fmt: skip
        response = client.post(url, data)
    if route.allowed(role):
        assert response.status_code in (200, 302), (route, role, response.status_code)
    else:
        assert response.status_code == 403, (route, role, response.status_code)
        assert b"Not allowed" in response.content
        assert AuditEntry.objects.count() == audit_before, "a refused request wrote something"


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_signed_out_visitors_go_to_login(
    route: Route, world: dict[str, Any], client: Client
) -> None:
    ids = {"number": world["number"].pk, "token": world["token"].pk, "agent": 1, "device": 1,
           "conversation": world["conversation"].pk}  # fmt: skip
    url = _fill(route.url, ids)
    response = client.get(url) if route.method == "GET" else client.post(url, {})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
def test_half_logged_in_session_is_sent_back_to_login(factory: Any, client: Client) -> None:
    user = factory.staff(factory.business(), "administrator")
    client.force_login(user)  # password only: the second factor never passed
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_nav_shows_exactly_the_pages_the_role_may_open(
    role: Role, factory: Any, console_client: Any
) -> None:
    user = factory.staff(factory.business(), role.value)
    client = console_client.as_(user)
    html = client.get("/").content.decode()
    nav = re.search(r'<nav aria-label="Console sections">(.*?)</nav>', html, re.S)
    assert nav is not None
    shown = re.findall(r'href="([^"]+)"', nav.group(1))
    expected = [url for _, url, cap in SECTIONS if cap is None or role in MATRIX[cap]]
    assert shown == expected
    for url in shown:
        assert client.get(url).status_code == 200, url
    for _, url, _cap in SECTIONS:
        if url not in shown:
            assert client.get(url).status_code == 403, url


def test_nav_covers_every_console_page() -> None:
    assert [url for _, url, _ in SECTIONS] == [
        "/", "/staff/", "/numbers/", "/templates/", "/conversations/", "/workspace/",
        "/supervision/", "/routing/", "/messages/", "/customers/", "/tokens/", "/webhooks/",
        "/billing/", "/compliance/retention/", "/audit/", "/clock/", "/security/",
    ]  # fmt: skip


@pytest.mark.django_db
def test_every_form_carries_a_csrf_token_and_csrf_is_enforced(
    factory: Any, console: Any, console_client: Any
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = console.number(admin)
    console.token(admin)
    console.device(admin)
    client = console_client.as_(admin)
    for url in ["/", "/staff/", "/staff/new/", "/tokens/", "/numbers/", f"/numbers/{number.pk}/",
                "/billing/", "/audit/", "/security/"]:  # fmt: skip
        html = client.get(url).content.decode()
        posts = len(re.findall(r'<form[^>]*method="post"', html))
        tokens = html.count('name="csrfmiddlewaretoken"')
        assert posts == tokens, url
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    assert strict.post("/tokens/", {"name": "no csrf"}).status_code == 403
    assert not admin.business.api_tokens.filter(name="no csrf").exists()
