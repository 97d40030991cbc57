"""The Clock page in a real browser against the live server: moving the clock puts the
simulated-time banner on every console page; reset takes it away."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.frontend.test_browser import _log_in


def test_clock_page_advances_and_the_banner_follows(
    page: Page, asgi_server: str, factory: Any, shared_clock: None
) -> None:
    developer = factory.staff(factory.business(), "developer")
    _log_in(page, asgi_server, developer)
    expect(page.get_by_test_id("sim-clock")).to_have_count(0)
    page.get_by_role("link", name="Clock").click()
    expect(page.get_by_test_id("clock-offset")).to_have_text("none: real time")

    page.fill("input[name=advance-duration]", "soon")
    page.get_by_test_id("clock-advance").click()
    expect(page.get_by_test_id("error-duration")).to_contain_text("is not a duration")

    page.get_by_test_id("preset-31d").click()
    expect(page.get_by_test_id("clock-offset")).to_have_text("+31d")
    banner = page.get_by_test_id("sim-clock")
    expect(banner).to_contain_text("Simulated time")
    page.goto(f"{asgi_server}/security/")
    expect(page.get_by_test_id("sim-clock")).to_be_visible()

    page.goto(f"{asgi_server}/clock/")
    page.fill("input[name=set-time]", "2001-01-01T00:00Z")
    page.get_by_test_id("clock-set").click()
    expect(page.locator(".errors")).to_contain_text("only moves forward")

    page.get_by_test_id("clock-reset").click()
    expect(page.get_by_test_id("clock-offset")).to_have_text("none: real time")
    expect(page.get_by_test_id("sim-clock")).to_have_count(0)
