"""The console's compliance workspace, server side: who may open which page and post which
form, tenants kept apart, form errors instead of failures, and the archive's actions seen
through the pages (holds, policies, exports, verification). The archive is real: records
come from event objects through `do_capture`, files are closed into a store under tmp_path."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.actions.capture import do_capture
from archive.actions.exports import do_run_export
from archive.actions.files import do_roll_files, do_sign_digests
from archive.models import ArchiveFile, ArchiveRecord, ExportJob, LegalHold, RetentionPolicy
from frontend.context import SECTIONS
from parley.accounts.models import AuditEntry
from parley.accounts.roles import MATRIX, Capability, Role
from parley.core.events import MessageReceived, MessageStatusChanged, SessionRouted
from parley.messaging.content import Text
from tests.frontend.helpers import by_testid, field_error

C = Capability
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CUSTOMER = "+919876500001"
OTHER_CUSTOMER = "+919876500002"


@pytest.fixture
def archive_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    settings.PARLEY = {**settings.PARLEY, "ARCHIVE_ROOT": str(root)}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return root


def _received(
    business: Any, number: Any, conversation: int, customer: str, n: int, text: str, at: dt.datetime
) -> MessageReceived:
    return MessageReceived(
        business_id=business.pk,
        occurred_at=at,
        message_id=f"wamid.b{business.pk}-c{conversation}-{n}",
        conversation_id=conversation,
        number_id=number.pk,
        customer=customer,
        content_type="text",
        content_json=json.dumps(Text(text).to_dict()),
        text=text,
    )


def archive_conversation(
    business: Any,
    number: Any,
    agent: Any,
    *,
    conversation: int,
    customer: str = CUSTOMER,
    texts: tuple[str, ...] = ("Where is my order?", "It was due on Friday."),
    at: dt.datetime = AT,
    close: bool = True,
) -> list[ArchiveRecord]:
    """A conversation routed to `agent`, its customer's messages and a status change, captured
    into the archive (and its files closed into the store)."""
    events: list[Any] = [
        SessionRouted(
            business_id=business.pk,
            occurred_at=at,
            session_id=conversation,
            conversation_id=conversation,
            customer=customer,
            queue_id=1,
            queue="General",
            state="active",
            change="accepted",
            agent_user_id=agent.pk,
        ),
    ]
    for i, text in enumerate(texts):
        events.append(
            _received(
                business, number, conversation, customer, i, text, at + dt.timedelta(minutes=i + 1)
            )
        )
    events.append(
        MessageStatusChanged(
            business_id=business.pk,
            occurred_at=at + dt.timedelta(minutes=30),
            message_id=f"wamid.b{business.pk}-c{conversation}-0",
            conversation_id=conversation,
            number_id=number.pk,
            customer=customer,
            direction="inbound",
            status="read",
            previous_status="received",
        )
    )
    now = at + dt.timedelta(hours=1)
    do_capture(events, now=now)
    if close:
        do_roll_files(force=True, now=now)
        do_sign_digests(now=now)
    return list(
        ArchiveRecord.objects.filter(
            business_id=business.pk, conversation_id=conversation
        ).order_by("occurred_at", "id")
    )


class World:
    def __init__(self, factory: Any, console: Any) -> None:
        self.business = factory.business()
        self.admin = factory.staff(self.business, "administrator")
        self.officer = factory.staff(self.business, "compliance_officer")
        self.agent = factory.staff(self.business, "agent")
        self.number = console.number(self.admin)
        self.records = archive_conversation(
            self.business, self.number, self.agent, conversation=7001
        )
        self.factory = factory

    def user(self, role: Role) -> Any:
        return {
            Role.ADMINISTRATOR: self.admin,
            Role.COMPLIANCE_OFFICER: self.officer,
            Role.AGENT: self.agent,
        }.get(role) or self.factory.staff(self.business, role.value)

    def message(self) -> ArchiveRecord:
        return next(r for r in self.records if r.fact == "message")


@pytest.fixture
def world(factory: Any, console: Any, archive_root: Path) -> World:
    return World(factory, console)


def _export(world: World, fmt: str = "warc", **criteria: Any) -> ExportJob:
    from archive.actions.exports import do_request_export
    from archive.selectors import Criteria

    job = do_request_export(
        world.business.pk,
        criteria=Criteria.parse(criteria or {"customer": CUSTOMER}),
        format=fmt,
        actor=world.officer,
    )
    done = do_run_export(job.pk)
    assert done is not None and done.state == ExportJob.State.DONE, done and done.error
    return done


def _hold(world: World, name: str = "Matter 12") -> LegalHold:
    from archive.actions.holds import do_place_hold
    from archive.selectors import Criteria

    return do_place_hold(
        world.business.pk,
        name=name,
        criteria=Criteria(customer=CUSTOMER),
        reason="Subpoena",
        actor=world.officer,
    )


# -- access ----------------------------------------------------------------------------------

# (method, url, capability needed, form data); {record}, {export}, {hold} are filled per test.
ROUTES: list[tuple[str, str, Capability, dict[str, str]]] = [
    ("GET", "/compliance/", C.VIEW_ARCHIVE, {}),
    ("GET", f"/compliance/?customer={CUSTOMER}&q=order", C.VIEW_ARCHIVE, {}),
    ("GET", "/compliance/records/{record}/", C.VIEW_ARCHIVE, {}),
    ("GET", "/compliance/exports/", C.VIEW_ARCHIVE, {}),
    ("GET", "/compliance/exports/?part=jobs", C.VIEW_ARCHIVE, {}),
    ("POST", "/compliance/exports/", C.VIEW_ARCHIVE, {"customer": CUSTOMER, "format": "wacz"}),
    ("GET", "/compliance/exports/{export}/download/", C.VIEW_ARCHIVE, {}),
    ("GET", "/compliance/holds/", C.MANAGE_RETENTION, {}),
    ("POST", "/compliance/holds/", C.MANAGE_RETENTION,
     {"customer": CUSTOMER, "name": "Matter 7", "reason": "Regulator's request"}),
    ("POST", "/compliance/holds/{hold}/release/", C.MANAGE_RETENTION, {"reason": "Closed"}),
    ("GET", "/compliance/retention/", C.VIEW_ARCHIVE_STATUS, {}),
    ("GET", "/compliance/retention/?page=2", C.VIEW_ARCHIVE_STATUS, {}),
    ("POST", "/compliance/retention/", C.MANAGE_RETENTION,
     {"preset": "mifid-ii", "mode": "COMPLIANCE"}),
    ("GET", "/compliance/verification/", C.VIEW_ARCHIVE_STATUS, {}),
    ("POST", "/compliance/verification/", C.VIEW_ARCHIVE_STATUS, {}),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_page_and_post_follows_the_matrix(
    role: Role, world: World, console_client: Any
) -> None:
    ids = {"record": world.message().pk, "export": _export(world).pk, "hold": _hold(world).pk}
    client = console_client.as_(world.user(role))
    wrong = []
    for method, template, cap, data in ROUTES:
        url = template.format(**ids)
        audit_before = AuditEntry.objects.count()
        response = client.get(url) if method == "GET" else client.post(url, data)
        if role in MATRIX[cap]:
            if response.status_code not in (200, 302):
                wrong.append(f"{method} {url}: {response.status_code}, expected 200/302")
            elif not response.streaming and b'class="errors"' in response.content:
                wrong.append(f"{method} {url}: form errors")
        else:
            if response.status_code != 403 or b"Not allowed" not in response.content:
                wrong.append(f"{method} {url}: {response.status_code}, expected 403")
            if AuditEntry.objects.count() != audit_before:
                wrong.append(f"{method} {url}: a refused request wrote to the audit log")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


@pytest.mark.django_db
def test_refused_posts_change_nothing(world: World, console_client: Any) -> None:
    hold = _hold(world)
    for user in (world.admin, world.agent):
        client = console_client.as_(user)
        assert (
            client.post("/compliance/holds/", {"customer": CUSTOMER, "name": "x"}).status_code
            == 403
        )
        assert (
            client.post(f"/compliance/holds/{hold.pk}/release/", {"reason": "r"}).status_code == 403
        )
        assert (
            client.post(
                "/compliance/retention/", {"preset": "mifid-ii", "mode": "COMPLIANCE"}
            ).status_code
            == 403
        )
        assert (
            client.post(
                "/compliance/exports/", {"customer": CUSTOMER, "format": "warc"}
            ).status_code
            == 403
        )
    assert LegalHold.objects.filter(business_id=world.business.pk).count() == 1
    hold.refresh_from_db()
    assert hold.released_at is None
    assert not RetentionPolicy.objects.filter(business_id=world.business.pk).exists()
    assert not ExportJob.objects.filter(business_id=world.business.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_nav_and_tabs_show_what_the_role_may_open(
    role: Role, factory: Any, console_client: Any, archive_root: Path
) -> None:
    user = factory.staff(factory.business(), role.value)
    client = console_client.as_(user)
    html = client.get("/").content.decode()
    nav = re.search(r'<nav aria-label="Console sections">(.*?)</nav>', html, re.S)
    assert nav is not None
    shows = 'href="/compliance/retention/">Compliance<' in nav.group(1)
    assert shows == (role in (Role.ADMINISTRATOR, Role.COMPLIANCE_OFFICER))
    assert ("Compliance", "/compliance/retention/", C.VIEW_ARCHIVE_STATUS) in SECTIONS
    if not shows:
        return
    page = client.get("/compliance/retention/").content.decode()
    tabs = re.search(r'data-testid="compliance-tabs">(.*?)</nav>', page, re.S)
    assert tabs is not None
    hrefs = re.findall(r'href="([^"]+)"', tabs.group(1))
    if role == Role.COMPLIANCE_OFFICER:
        assert hrefs == [
            "/compliance/",
            "/compliance/exports/",
            "/compliance/holds/",
            "/compliance/retention/",
            "/compliance/verification/",
            "/audit/",
        ]
        assert 'data-testid="policy-form"' in page
    else:
        assert hrefs == ["/compliance/retention/", "/compliance/verification/", "/audit/"]
        assert 'data-testid="policy-form"' not in page  # read-only for administrators
        assert "Read-only" in page
    # The Compliance entry is the current section on every compliance page.
    assert re.search(r'href="/compliance/retention/" aria-current="page"', page)


@pytest.mark.django_db
def test_every_form_carries_a_csrf_token(world: World, console_client: Any) -> None:
    _export(world)
    _hold(world)
    client = console_client.as_(world.officer)
    for url in [
        "/compliance/",
        f"/compliance/?customer={CUSTOMER}",
        "/compliance/exports/",
        "/compliance/holds/",
        "/compliance/retention/",
        "/compliance/verification/",
    ]:
        html = client.get(url).content.decode()
        posts = len(re.findall(r'<form[^>]*method="post"', html))
        assert posts == html.count('name="csrfmiddlewaretoken"'), url


# -- tenants ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_business_ids_are_not_found(
    world: World, factory: Any, console: Any, console_client: Any
) -> None:
    export, hold = _export(world), _hold(world)
    other = factory.business("Other")
    other_admin = factory.staff(other, "administrator")
    other_officer = factory.staff(other, "compliance_officer")
    other_agent = factory.staff(other, "agent")
    other_number = console.number(other_admin)
    archive_conversation(
        other, other_number, other_agent, conversation=9001, texts=("Other business secret",)
    )
    client = console_client.as_(other_officer)
    assert client.get(f"/compliance/records/{world.message().pk}/").status_code == 404
    assert client.get(f"/compliance/exports/{export.pk}/download/").status_code == 404
    response = client.post(f"/compliance/holds/{hold.pk}/release/", {"reason": "mine now"})
    assert response.status_code == 404
    hold.refresh_from_db()
    assert hold.released_at is None
    # Searching everything finds only its own records; lists show only its own rows.
    html = client.get("/compliance/?customer=&q=").content.decode()
    assert "Other business secret" in html and "Where is my order?" not in html
    assert f'data-export="{export.pk}"' not in client.get("/compliance/exports/").content.decode()
    assert "Matter 12" not in client.get("/compliance/holds/").content.decode()
    files = client.get("/compliance/retention/").content.decode()
    assert world.message().file.name not in files and f"/parley-{other.pk}-" in files
    # Another business's staff and numbers are not choices.
    html = client.get(f"/compliance/?agent={world.agent.pk}").content.decode()
    assert "Select a valid choice" in field_error(html, "agent")
    response = client.post(
        "/compliance/holds/", {"number": world.number.pk, "name": "Theirs", "reason": ""}
    )
    assert "Select a valid choice" in field_error(response.content.decode(), "number")
    assert not LegalHold.objects.filter(business_id=other.pk).exists()
    response = client.post(
        "/compliance/retention/",
        {"number": world.number.pk, "preset": "mifid-ii", "mode": "COMPLIANCE"},
    )
    assert "Select a valid choice" in field_error(response.content.decode(), "number")


# -- search and records ----------------------------------------------------------------------


@pytest.mark.django_db
def test_search_lists_matching_records_with_names(world: World, console_client: Any) -> None:
    archive_conversation(
        world.business,
        world.number,
        world.agent,
        conversation=7002,
        customer=OTHER_CUSTOMER,
        texts=("Refund please",),
    )
    client = console_client.as_(world.officer)
    html = client.get("/compliance/").content.decode()
    assert 'data-testid="results-table"' not in html  # nothing searched yet
    html = client.get(f"/compliance/?customer={CUSTOMER}").content.decode()
    assert "Where is my order?" in html and "It was due on Friday." in html
    assert "Refund please" not in html
    assert world.agent.full_name in html and world.number.e164 in html
    assert by_testid(html, "results-showing")[0].startswith("Showing 1\N{EN DASH}")
    # The number typed as people write it, a keyword, a conversation, an agent, dates.
    spaced = "+91 98765 00001"
    assert "It was due" in client.get("/compliance/", {"customer": spaced}).content.decode()
    html = client.get("/compliance/", {"q": "REFUND"}).content.decode()
    assert "Refund please" in html and "Where is my order?" not in html
    html = client.get("/compliance/", {"conversation": "7002"}).content.decode()
    assert "Refund please" in html and "Where is my order?" not in html
    html = client.get("/compliance/", {"agent": world.agent.pk, "number": world.number.pk})
    assert "Refund please" in html.content.decode()
    html = client.get("/compliance/", {"start": "2026-03-03"}).content.decode()
    assert "No archived records match these criteria." in html
    html = client.get("/compliance/", {"start": "2026-03-02", "end": "2026-03-02"}).content
    assert "Where is my order?" in html.decode()
    # Both buttons carry the criteria.
    html = client.get("/compliance/", {"customer": CUSTOMER, "q": "order"}).content.decode()
    for testid in ("hold-results", "export-results"):
        form = re.search(rf'data-testid="{testid}">(.*?)</form>', html, re.S)
        assert form is not None
        assert f'name="customer" value="{CUSTOMER}"' in form.group(1)
        assert 'name="q" value="order"' in form.group(1)


@pytest.mark.django_db
def test_search_pages_through_many_records(world: World, console_client: Any) -> None:
    texts = tuple(f"Message number {i:02d}" for i in range(55))
    archive_conversation(
        world.business,
        world.number,
        world.agent,
        conversation=7003,
        customer=OTHER_CUSTOMER,
        texts=texts,
        close=False,
    )
    client = console_client.as_(world.officer)
    first = client.get("/compliance/", {"conversation": "7003"}).content.decode()
    assert 'data-testid="pager"' in first and "Message number 00" in first
    assert "Message number 54" not in first
    second = client.get("/compliance/", {"conversation": "7003", "page": "2"}).content.decode()
    assert "Message number 54" in second and "Message number 00" not in second
    assert by_testid(second, "results-showing")[0].startswith("Showing 51\N{EN DASH}57 of 57")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"conversation": "abc"}, "conversation", "whole number"),
        ({"conversation": "99999999999999999999"}, "conversation", "less than or equal"),
        ({"start": "2026-13-45"}, "start", "valid date"),
        ({"start": "0001-01-01"}, "start", "between 1970"),
        ({"end": "9999-12-31"}, "end", "between 1970"),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "end", "start must be before end"),
        ({"customer": "call me"}, "customer", "e.g. +919876543210"),
        ({"number": "abc"}, "number", "valid choice"),
        ({"q": "x" * 201}, "q", "at most 200"),
    ],
)
def test_bad_criteria_show_form_errors(
    world: World, console_client: Any, query: dict[str, str], field: str, message: str
) -> None:
    response = console_client.as_(world.officer).get("/compliance/", query)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in field_error(html, field), field_error(html, field)
    assert 'data-testid="results-table"' not in html


@pytest.mark.django_db
def test_record_viewer_shows_headers_payload_and_related(world: World, console_client: Any) -> None:
    record = world.message()
    record.refresh_from_db()
    assert record.offset is not None  # read from the closed file in the store
    html = console_client.as_(world.officer).get(f"/compliance/records/{record.pk}/")
    assert html.status_code == 200
    text = html.content.decode()
    assert by_testid(text, "record-id") == [record.record_id]
    assert by_testid(text, "record-file") == [record.file.name]
    assert "WARC-Block-Digest" in text and record.digest in text
    assert f"urn:parley:message:{record.message_id}" in text
    payload = by_testid(text, "record-payload")[0]
    assert "&quot;customer&quot;: &quot;+919876500001&quot;" in payload  # pretty-printed JSON
    assert "Where is my order?" in payload
    related = re.search(r'data-testid="record-related">(.*?)</section>', text, re.S)
    assert related is not None
    assert "It was due on Friday." in related.group(1)  # the same conversation
    assert related.group(1).count("data-record=") == len(world.records) - 1


@pytest.mark.django_db
def test_record_whose_file_is_gone_says_so(
    world: World, console_client: Any, archive_root: Path
) -> None:
    record = world.message()
    path = archive_root.joinpath(*record.file.name.split("/"))
    os.chmod(path, 0o644)
    path.unlink()
    response = console_client.as_(world.officer).get(f"/compliance/records/{record.pk}/")
    assert response.status_code == 200
    assert by_testid(response.content.decode(), "record-read-error")


# -- holds -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_place_and_release_a_hold(world: World, console_client: Any) -> None:
    client = console_client.as_(world.officer)
    response = client.post(
        "/compliance/holds/",
        {"customer": CUSTOMER, "q": "order", "name": "Matter 12", "reason": "Subpoena 7"},
    )
    assert response.status_code == 302
    hold = LegalHold.objects.get(business_id=world.business.pk)
    assert hold.criteria == {"customer": CUSTOMER, "q": "order"}
    assert hold.placed_by == world.officer and hold.scope == "search"
    held = ArchiveFile.objects.filter(business_id=world.business.pk, legal_hold=True)
    assert held.count() == 1
    html = client.get(response["Location"]).content.decode()
    assert by_testid(html, "hold-name") == ["Matter 12"]
    assert by_testid(html, "hold-files") == ["1"]
    assert "Subpoena 7" in html and world.officer.full_name in html
    assert "legal hold" in client.get("/compliance/retention/").content.decode()
    # Releasing needs a reason.
    response = client.post(f"/compliance/holds/{hold.pk}/release/", {"reason": ""})
    assert response.status_code == 200
    assert "required" in field_error(response.content.decode(), "reason")
    hold.refresh_from_db()
    assert hold.released_at is None
    response = client.post(f"/compliance/holds/{hold.pk}/release/", {"reason": "Case closed"})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == world.officer and hold.release_reason == "Case closed"
    assert not ArchiveFile.objects.filter(business_id=world.business.pk, legal_hold=True).exists()
    html = client.get("/compliance/holds/").content.decode()
    assert by_testid(html, "release-reason") == ["Case closed"]
    assert "No active legal holds." in html
    # Released twice: the action's error on the page, not a failure.
    response = client.post(f"/compliance/holds/{hold.pk}/release/", {"reason": "again"})
    assert response.status_code == 200 and "already released" in response.content.decode()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"archive.hold_placed", "archive.hold_released"} <= actions


@pytest.mark.django_db
def test_hold_form_errors(world: World, console_client: Any) -> None:
    client = console_client.as_(world.officer)
    html = client.post("/compliance/holds/", {"customer": CUSTOMER, "name": ""}).content.decode()
    assert "required" in field_error(html, "name")
    assert f'value="{CUSTOMER}"' in html  # the criteria are kept
    html = client.post("/compliance/holds/", {"name": "Everything"}).content.decode()
    assert "at least one criterion" in html
    html = client.post(
        "/compliance/holds/", {"name": "Bad", "start": "2026-03-05", "end": "2026-03-01"}
    ).content.decode()
    assert "start must be before end" in field_error(html, "end")
    assert not LegalHold.objects.exists()


# -- retention -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_set_retention_policies(world: World, console_client: Any) -> None:
    client = console_client.as_(world.officer)
    html = client.get("/compliance/retention/").content.decode()
    assert "The business (built-in default)" in html and "7 years" in html
    assert "cannot be shortened" in html and "MiFID II Art. 16(7)" in html
    response = client.post(
        "/compliance/retention/",
        {"number": world.number.pk, "preset": "mifid-ii", "mode": "COMPLIANCE"},
    )
    assert response.status_code == 302
    policy = RetentionPolicy.objects.get(business_id=world.business.pk)
    assert (policy.number_id, policy.years, policy.mode) == (world.number.pk, 5, "COMPLIANCE")
    response = client.post(
        "/compliance/retention/",
        {"preset": "custom", "years": "8", "days": "30", "mode": "GOVERNANCE"},
    )
    assert response.status_code == 302
    html = client.get("/compliance/retention/").content.decode()
    assert by_testid(html, "policy-period") == ["8 years and 30 days", "5 years"]
    assert world.number.e164 in html and "governance" in html
    # The files table: the closed file, its class, records and retain-until date.
    row = re.search(r'data-testid="file-row">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "closed" in row.group(1) and "2033-03-02" in row.group(1)
    assert "archive.policy_set" in AuditEntry.objects.values_list("action", flat=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"preset": "custom", "mode": "COMPLIANCE"}, "years", "needs years or days"),
        (
            {"preset": "custom", "years": "0", "days": "0", "mode": "COMPLIANCE"},
            "years",
            "needs years or days",
        ),
        ({"preset": "custom", "years": "101", "mode": "COMPLIANCE"}, "years", "less than"),
        ({"preset": "forever", "mode": "COMPLIANCE"}, "preset", "valid choice"),
        ({"preset": "mifid-ii", "mode": "LOOSE"}, "mode", "valid choice"),
    ],
)
def test_policy_form_errors(
    world: World, console_client: Any, data: dict[str, str], field: str, message: str
) -> None:
    response = console_client.as_(world.officer).post("/compliance/retention/", data)
    assert response.status_code == 200
    assert message in field_error(response.content.decode(), field)
    assert not RetentionPolicy.objects.exists()


# -- exports ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_request_run_and_download(world: World, console_client: Any) -> None:
    client = console_client.as_(world.officer)
    response = client.post("/compliance/exports/", {"customer": CUSTOMER, "format": "warc"})
    assert response.status_code == 302
    job = ExportJob.objects.get(business_id=world.business.pk)
    assert job.state == "queued" and job.total == len(world.records)
    html = client.get("/compliance/exports/").content.decode()
    assert by_testid(html, "export-state") == ["queued"]
    assert 'data-testid="export-download"' not in html
    assert client.get(f"/compliance/exports/{job.pk}/download/").status_code == 409
    do_run_export(job.pk)
    job.refresh_from_db()
    fragment = client.get("/compliance/exports/?part=jobs").content.decode()
    assert fragment.lstrip().startswith('<div id="export-jobs"') and "<html" not in fragment
    assert by_testid(fragment, "export-state") == ["done"]
    assert by_testid(fragment, "export-percent") == ["100%"]
    assert by_testid(fragment, "export-sha256") == [job.sha256]
    assert "warc_sha256" in fragment  # the manifest
    response = client.get(f"/compliance/exports/{job.pk}/download/")
    assert response.status_code == 200
    assert job.file_name in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    records = list(ArchiveIterator(io.BytesIO(body)))
    assert records[0].rec_type == "warcinfo"
    ids = {r.rec_headers.get_header("WARC-Record-ID") for r in records[1:]}
    assert ids == {f"<{r.record_id}>" for r in world.records}


@pytest.mark.django_db
def test_export_errors_show_on_the_form(world: World, console_client: Any) -> None:
    client = console_client.as_(world.officer)
    html = client.post(
        "/compliance/exports/", {"customer": "+14155550100", "format": "warc"}
    ).content.decode()
    assert "No archived records match" in html
    html = client.post(
        "/compliance/exports/", {"customer": CUSTOMER, "format": "zip"}
    ).content.decode()
    assert "valid choice" in field_error(html, "format")
    assert not ExportJob.objects.exists()


# -- verification ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_verification_names_a_tampered_file(
    world: World, console_client: Any, archive_root: Path
) -> None:
    archive_conversation(
        world.business,
        world.number,
        world.agent,
        conversation=7004,
        customer=OTHER_CUSTOMER,
        texts=("Second file",),
        at=AT + dt.timedelta(days=40),
    )
    client = console_client.as_(world.admin)  # metadata: administrators may verify
    response = client.post("/compliance/verification/")
    assert response.status_code == 302
    html = client.get("/compliance/verification/").content.decode()
    assert "No problems" in html
    tampered = world.message().file.name
    path = archive_root.joinpath(*tampered.split("/"))
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert client.post("/compliance/verification/").status_code == 302
    html = client.get("/compliance/verification/").content.decode()
    reports = html.split('data-testid="report"')
    latest = reports[1]
    assert "problem" in latest and tampered in latest
    problem_files = re.findall(r'class="mono small file-name">([^<]+)<', latest)
    assert set(problem_files) == {tampered}  # the other file is fine
    assert "No problems" in reports[2]
    assert "Where is my order?" not in html  # never content
