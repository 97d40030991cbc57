"""Reading the console's HTML in tests."""

from __future__ import annotations

import re


def by_testid(html: str, testid: str) -> list[str]:
    """Text inside elements carrying data-testid=<testid> (no nesting)."""
    pattern = rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)<'
    return [m.strip() for m in re.findall(pattern, html, flags=re.S)]


def field_error(html: str, field: str) -> str:
    """The error text shown under a form field ("" when there is none)."""
    block = re.search(rf'data-testid="error-{re.escape(field)}">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", " ", block.group(1)) if block else ""
