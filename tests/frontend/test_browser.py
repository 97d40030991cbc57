"""The console in headless Chromium against a real uvicorn, as a user would use it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import Page, expect

from parley.accounts.models import StaffUser
from parley.core.crypto import decrypt_text
from tests.conftest import PASSWORD, ROOT

SCREENSHOTS = ROOT / "var" / "screenshots"


def _secret(user: Any) -> str:
    user.refresh_from_db()
    return decrypt_text(user.totp_secret_encrypted)


def _password_step(page: Page, base: str, user: Any) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _log_in(page: Page, base: str, user: Any, code: str | None = None) -> None:
    """Password, then the code (the current one unless given)."""
    _password_step(page, base, user)
    expect(page).to_have_url(f"{base}/login/verify/?next=/")
    page.fill("input[name=code]", code or pyotp.TOTP(_secret(user)).now())
    page.click("button[type=submit]")
    expect(page.get_by_test_id("who")).to_be_visible()


def test_first_login_enrols_two_factor_and_opens_the_live_dashboard(
    page: Page, asgi_server: str, factory: Any
) -> None:
    business = factory.business()
    user = factory.staff(business, "administrator", enrolled=False)
    _password_step(page, asgi_server, user)
    expect(page).to_have_url(f"{asgi_server}/login/enrol/?next=/")
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{asgi_server}/")
    expect(page.get_by_test_id("who")).to_contain_text(user.full_name)
    expect(page.get_by_test_id("who")).to_contain_text(business.name)
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    assert StaffUser.objects.get(pk=user.pk).two_factor_enrolled


def test_trusted_browser_skips_the_code_and_a_new_one_is_asked(
    page: Page, browser: Any, asgi_server: str, factory: Any
) -> None:
    user = factory.staff(factory.business(), "developer")
    _log_in(page, asgi_server, user)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{asgi_server}/login/")
    # Same browser: its device cookie stands in for the code.
    _password_step(page, asgi_server, user)
    expect(page).to_have_url(f"{asgi_server}/")
    expect(page.get_by_test_id("who")).to_be_visible()

    other = browser.new_context()
    try:
        fresh = other.new_page()
        _password_step(fresh, asgi_server, user)
        expect(fresh).to_have_url(f"{asgi_server}/login/verify/?next=/")
        fresh.fill("input[name=code]", "000000")
        fresh.click("button[type=submit]")
        expect(fresh.locator(".errors")).to_contain_text("That code is not valid")
        expect(fresh).to_have_url(f"{asgi_server}/login/verify/?next=/")
        # The current step's code was used by the first browser: the next step's is accepted.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        fresh.fill("input[name=code]", pyotp.TOTP(_secret(user)).at(later))
        fresh.click("button[type=submit]")
        expect(fresh.get_by_test_id("who")).to_be_visible()
        # Both browsers are now listed as trusted on the security page.
        fresh.goto(f"{asgi_server}/security/")
        expect(fresh.locator("tr[data-device]")).to_have_count(2)
        expect(fresh.get_by_text("this browser")).to_have_count(1)
    finally:
        other.close()


def test_admin_searches_filters_and_changes_roles(
    page: Page, asgi_server: str, factory: Any
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    for i in range(60):
        factory.staff(business, "agent", enrolled=False, email=f"agent{i:02d}@shop.test")
    for i in range(6):
        factory.staff(business, "developer", enrolled=False, email=f"dev{i}@shop.test")
    _log_in(page, asgi_server, admin)
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Staff"
    ).click()
    expect(page.locator("tr[data-email]")).to_have_count(50)
    expect(page.get_by_test_id("staff-counts")).to_contain_text("67 accounts")

    page.get_by_test_id("staff-search").fill("agent1")
    page.get_by_label("Role").select_option("agent")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-email]")).to_have_count(10)
    expect(page.get_by_test_id("staff-showing")).to_contain_text("of 10 matching")

    page.get_by_label("Select all on this page").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("10 selected")
    page.get_by_label("Select agent10@shop.test").uncheck()
    expect(page.get_by_test_id("selected-count")).to_have_text("9 selected")
    page.get_by_test_id("bulk-operation").select_option(label="Change role to Supervisor")
    page.get_by_test_id("bulk-apply").click()
    expect(page.locator(".flash")).to_contain_text("Role changed to Supervisor for 9 account(s).")
    # The filter (role = agent) is kept: only the unticked account still matches.
    expect(page.locator("tr[data-email]")).to_have_count(1)
    expect(page.locator('tr[data-email="agent10@shop.test"]')).to_be_visible()

    page.get_by_label("Role").select_option("supervisor")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-email]")).to_have_count(9)
    expect(page.get_by_test_id("role").first).to_have_text("Supervisor")
    assert StaffUser.objects.filter(business=business, role="supervisor").count() == 9


def test_screenshots_of_the_main_pages(
    page: Page, asgi_server: str, factory: Any, console: Any
) -> None:
    from parley.accounts.actions.numbers import do_deliver_code, do_request_code
    from parley.accounts.actions.staff import do_change_roles, do_set_active

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    business = factory.business("Acme Retail")
    admin = factory.staff(business, "administrator", email="admin@acme-retail.test")
    people = [
        factory.staff(business, role, enrolled=False, email=f"{role}{i}@acme-retail.test")
        for i, role in enumerate(["agent"] * 40 + ["supervisor"] * 4 + ["developer"] * 3
                                 + ["compliance_officer"] * 2)
    ]  # fmt: skip
    do_set_active(admin, [people[3].pk, people[7].pk], False)
    do_change_roles(admin, [people[10].pk], "supervisor")
    numbers = [console.number(admin, "Acme Support"), console.number(admin, "Acme Sales")]
    console.token(admin, "CRM sync")
    code = do_request_code(business, numbers[0].pk, method="SMS", actor_label=admin.email)
    do_deliver_code(code.pk)  # what the worker does; this test has no worker
    page.set_viewport_size({"width": 1360, "height": 900})
    _log_in(page, asgi_server, admin)
    shots: list[Path] = []
    for name, url in [
        ("dashboard", "/"),
        ("staff", "/staff/"),
        ("numbers", "/numbers/"),
        ("number-detail", f"/numbers/{numbers[0].pk}/"),
        ("tokens", "/tokens/"),
        ("audit", "/audit/"),
        ("security", "/security/"),
    ]:
        page.goto(f"{asgi_server}{url}")
        if url == "/":
            expect(page.get_by_test_id("health")).not_to_contain_text("Checking")
            expect(page.get_by_test_id("stream-state")).to_have_text("live")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=name != "staff")
        shots.append(path)
    # Two states worth seeing: a selection in the staff table, a token just issued.
    page.goto(f"{asgi_server}/staff/?role=agent")
    page.get_by_label("Select all on this page").check()
    shots.append(SCREENSHOTS / "staff-selected.png")
    page.screenshot(path=str(shots[-1]))
    page.goto(f"{asgi_server}/tokens/")
    page.get_by_label("Token name").fill("Billing export")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("token-secret")).to_be_visible()
    shots.append(SCREENSHOTS / "token-issued.png")
    page.screenshot(path=str(shots[-1]), full_page=True)
    assert all(p.stat().st_size > 10_000 for p in shots)


def test_registration_in_the_browser_inbox_refreshes_itself(
    page: Page, asgi_server: str, factory: Any, celery_worker: None
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    _log_in(page, asgi_server, admin)
    page.goto(f"{asgi_server}/numbers/")
    page.get_by_label("Phone number").fill("+44 20 7183 8750")
    page.get_by_label("Display name").fill("Acme UK")
    page.get_by_role("button", name="Add number").click()
    expect(page.get_by_test_id("code-status")).to_have_text("Not Verified")
    page.get_by_role("button", name="Request code").click()
    # No reload: the inbox panel refreshes itself until the worker delivered the code.
    code = page.get_by_test_id("inbox-code").first
    expect(code).to_have_text(re.compile(r"^\d{6}$"), timeout=20_000)
    expect(page.get_by_test_id("inbox-waiting")).to_have_count(0)
    page.get_by_label("Registration code").fill(
        "999999" if code.inner_text() != "999999" else "111111"
    )
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("error-code")).to_contain_text("The code is incorrect.")
    page.get_by_label("Registration code").fill(code.inner_text())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("code-status")).to_have_text("Verified")
    page.get_by_label("Two-step verification PIN").fill("135790")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_test_id("status")).to_have_text("Connected")
    page.get_by_role("button", name="Request official verification").click()
    expect(page.get_by_test_id("official-badge")).to_have_text("review pending")
