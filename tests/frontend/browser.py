"""What the console's browser tests share: signing a user in (a verified session) and
collecting what the page refused or failed (Content-Security-Policy reports, script errors)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from playwright.sync_api import Page

from tests.conftest import verified_session


def sign_in(page: Page, base: str, user: Any) -> None:
    """The page's browser is `user`, with both factors passed (and nobody else)."""
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": verified_session(user), "url": base}]
    )


def watch_problems(page: Page) -> list[str]:
    """A list that collects the page's script errors and policy refusals from now on."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"{page.url}: {m.text}")
            if m.type == "error" and ("Content Security Policy" in m.text or "Refused to" in m.text)
            else None
        ),
    )
    return problems
