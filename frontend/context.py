"""Template context for every console page: who is signed in and what they may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability, Role
from parley.core.clock_selectors import ClockView, get_process_clock

# (label, url, capability) of the console's sections; a section shows only to roles that may
# open it.
SECTIONS: list[tuple[str, str, Capability | None]] = [
    ("Dashboard", "/", None),
    ("Staff", "/staff/", Capability.VIEW_STAFF),
    ("Numbers", "/numbers/", Capability.VIEW_NUMBERS),
    ("Templates", "/templates/", Capability.MANAGE_TEMPLATES),
    ("Conversations", "/conversations/", Capability.READ_CONVERSATIONS),
    ("Workspace", "/workspace/", Capability.SEND_MESSAGES),
    ("Supervision", "/supervision/", Capability.SUPERVISE_QUEUES),
    ("Routing", "/routing/", Capability.SUPERVISE_QUEUES),
    ("Messages", "/messages/", Capability.VIEW_MESSAGE_LOG),
    ("Customers", "/customers/", Capability.DRIVE_CUSTOMERS),
    ("API tokens", "/tokens/", Capability.MANAGE_API_TOKENS),
    ("Webhooks", "/webhooks/", Capability.MANAGE_WEBHOOKS),
    ("Billing", "/billing/", Capability.VIEW_BILLING),
    # The compliance workspace opens on what every role that may see it may open (the
    # archive's retention and files); its tabs lead compliance officers to search.
    ("Compliance", "/compliance/retention/", Capability.VIEW_ARCHIVE_STATUS),
    ("Audit log", "/audit/", Capability.VIEW_AUDIT_LOG),
    ("Clock", "/clock/", Capability.MANAGE_CLOCK),
    ("Security", "/security/", None),
]


def console(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    # Only a signed-in staff user has a console: an API token's client (or anyone else) that
    # meets a page gets it without navigation.
    if not isinstance(user, StaffUser) or not user.is_authenticated:
        return {}
    nav = [
        {"label": label, "url": url, "active": _active(request.path, url)}
        for label, url, cap in SECTIONS
        if cap is None or user.can(cap)
    ]
    return {
        "nav": nav,
        "role_label": Role(user.role).label,
        "business": user.business,
        "sim_clock": _simulated(),
        # Where a live page's socket starts (frontend.access.live_page).
        "stream_after": getattr(request, "stream_after", None),
    }


def _simulated() -> ClockView | None:
    """The clock for the banner every console page shows while simulated time differs from
    real time (this process's cached clock: no query)."""
    view = get_process_clock()
    return view if view.differs else None


def _active(path: str, url: str) -> bool:
    if url == "/":
        return path == url
    # A section is its first path segment: /compliance/retention/ stands for /compliance/….
    section = "/" + url.strip("/").split("/", 1)[0] + "/"
    return path.startswith(section)
