"""The console under its Content-Security-Policy, in headless Chromium: every page of every
role loads, scripts run and the live feed connects without one policy violation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from playwright.sync_api import Page, expect

from parley.core.http import CONTENT_SECURITY_POLICY
from tests.conftest import PASSWORD, verified_session

PAGES_BY_ROLE: dict[str, list[str]] = {
    "administrator": [
        "/", "/staff/", "/staff/new/", "/numbers/", "/tokens/", "/billing/", "/audit/",
        "/security/", "/messages/", "/no-such-page/",
    ],
    "developer": ["/", "/tokens/", "/billing/", "/numbers/", "/staff/", "/messages/",
                  "/customers/"],
    "supervisor": ["/", "/staff/"],
    "agent": ["/", "/security/"],
    "compliance_officer": ["/", "/audit/"],
}  # fmt: skip


def _watch(page: Page) -> list[str]:
    """Console messages about a blocked resource or a policy problem."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        text = message.text
        if message.type in ("error", "warning") and (
            "Content Security Policy" in text
            or "Permissions-Policy" in text
            or "Refused to" in text
        ):
            problems.append(f"{page.url}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    return problems


def test_every_console_page_works_under_the_policy(
    page: Page, asgi_server: str, factory: Any, console: Any
) -> None:
    business = factory.business()
    people = {role: factory.staff(business, role) for role in PAGES_BY_ROLE}
    number = console.number(people["administrator"])
    problems = _watch(page)
    for role, paths in PAGES_BY_ROLE.items():
        page.context.clear_cookies()
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": verified_session(people[role]),
                    "url": asgi_server,
                }
            ]
        )
        for path in paths + ([f"/numbers/{number.pk}/"] if role == "administrator" else []):
            response = page.goto(f"{asgi_server}{path}")
            assert response is not None
            assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, (
                path,
                response.status,
                response.headers,
            )
            assert "permissions-policy" in response.headers
            if path == "/":
                # The dashboard's script ran and its websocket is allowed to connect.
                expect(page.get_by_test_id("stream-state")).to_have_text("live")
                expect(page.get_by_test_id("health")).not_to_contain_text("Checking")
        if role == "administrator":
            # The page that shows a new token's secret: never cached, its copy button works.
            page.goto(f"{asgi_server}/tokens/")
            page.get_by_label("Token name").fill("CSP check")
            with page.expect_response(lambda r: r.request.method == "POST") as posted:
                page.get_by_role("button", name="Create token").click()
            assert posted.value.headers["cache-control"] == "no-store"
            expect(page.get_by_test_id("token-secret")).to_be_visible()
    assert problems == []


def test_the_enrolment_page_shows_its_qr_code_under_the_policy(
    page: Page, asgi_server: str, factory: Any
) -> None:
    user = factory.staff(factory.business(), "agent", enrolled=False)
    problems = _watch(page)
    page.goto(f"{asgi_server}/login/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_response(lambda r: r.url.startswith(f"{asgi_server}/login/enrol/")) as shown:
        page.click("button[type=submit]")
    assert "no-store" in shown.value.headers["cache-control"]
    expect(page.locator(".qr svg")).to_be_visible()
    box = page.locator(".qr svg").bounding_box()
    assert box is not None and box["width"] > 50
    assert problems == []
