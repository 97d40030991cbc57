"""The compliance workspace in real Chromium against the real ASGI server and Celery worker:
an officer logs in, searches a customer's conversation, reads a record, places a legal hold,
exports the results as WACZ and watches the job finish live, downloads it, and the file
validates with the WACZ and WARC tools. Agents and administrators are refused the search.

The archive's store is the installation's (the server and the worker read the same files),
so the records are written through the archive's own actions with the real clock."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from archive.actions.capture import do_capture
from archive.actions.exports import do_request_export
from archive.actions.files import do_roll_files
from archive.models import ExportJob, LegalHold
from archive.selectors import Criteria
from parley.core import clock
from parley.core.events import MessageReceived, SessionRouted
from parley.messaging.content import Text
from tests.frontend.browser import sign_in, watch_problems
from tests.frontend.test_browser import _log_in

CUSTOMER = "+919876500071"
BIN = Path(sys.executable).parent


def _archive(business: Any, number: Any, agent: Any) -> None:
    now = clock.now().replace(microsecond=0)
    events: list[Any] = []
    for conversation, customer, texts in (
        (8101, CUSTOMER, ("My card was charged twice", "Can you refund one?", "Thanks")),
        (8102, "+919876500072", ("Unrelated question",)),
    ):
        at = now - dt.timedelta(minutes=30)
        events.append(
            SessionRouted(
                business_id=business.pk, occurred_at=at, session_id=conversation,
                conversation_id=conversation, customer=customer, queue_id=1, queue="General",
                state="active", change="accepted", agent_user_id=agent.pk,
            )
        )  # fmt: skip
        for i, text in enumerate(texts):
            events.append(
                MessageReceived(
                    business_id=business.pk, occurred_at=at + dt.timedelta(minutes=i + 1),
                    message_id=f"wamid.browser-{business.pk}-{conversation}-{i}",
                    conversation_id=conversation, number_id=number.pk, customer=customer,
                    content_type="text", content_json=json.dumps(Text(text).to_dict()),
                    text=text,
                )
            )  # fmt: skip
    do_capture(events, now=now)
    do_roll_files(force=True, now=now)


def _validate(download: Path, tmp_path: Path) -> None:
    wacz = subprocess.run(
        [str(BIN / "wacz"), "validate", "-f", str(download)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert wacz.returncode == 0, wacz.stdout + wacz.stderr
    with zipfile.ZipFile(download) as package:
        warcs = [n for n in package.namelist() if n.startswith("archive/") and ".warc" in n]
        assert warcs, package.namelist()
        package.extract(warcs[0], tmp_path / "unpacked")
    warcio = subprocess.run(
        [str(BIN / "warcio"), "check", "-v", str(tmp_path / "unpacked" / warcs[0])],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert warcio.returncode == 0, warcio.stdout + warcio.stderr


def test_officer_searches_holds_exports_and_downloads(
    page: Page, asgi_server: str, celery_worker: None, factory: Any, console: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    business = factory.business()
    admin = factory.staff(business, "administrator")
    officer = factory.staff(business, "compliance_officer")
    agent = factory.staff(business, "agent")
    number = console.number(admin)
    _archive(business, number, agent)
    problems = watch_problems(page)

    # Refused: the search is content, for compliance officers only.
    for user in (agent, admin):
        sign_in(page, asgi_server, user)
        response = page.goto(f"{asgi_server}/compliance/")
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="403 · Not allowed")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console sections")).to_contain_text("Compliance")
    page.context.clear_cookies()

    # Search a customer's conversation and open a record.
    _log_in(page, asgi_server, officer)
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Compliance"
    ).click()
    page.get_by_test_id("compliance-tabs").get_by_role("link", name="Search").click()
    page.get_by_label("Customer").fill("+91 98765 00071")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_test_id("results-table")
    expect(results).to_contain_text("My card was charged twice")
    expect(results).to_contain_text(agent.full_name)
    expect(results).not_to_contain_text("Unrelated question")
    expect(page.get_by_test_id("results-showing")).to_contain_text("of 4 records")
    results.get_by_role("row").filter(has_text="Can you refund one?").get_by_test_id(
        "record-link"
    ).click()
    expect(page.get_by_test_id("record-payload")).to_contain_text('"body": "Can you refund one?"')
    expect(page.get_by_test_id("record-id")).to_contain_text("urn:uuid:")
    expect(page.get_by_test_id("record-file")).to_contain_text(".warc.gz")
    expect(page.get_by_test_id("record-related")).to_contain_text("My card was charged twice")
    page.go_back()

    # A legal hold on these results.
    page.get_by_label("Hold name").fill("Chargeback dispute 4411")
    page.get_by_label("Reason").fill("Card issuer's inquiry")
    page.get_by_role("button", name="Place legal hold").click()
    expect(page.locator(".flash")).to_contain_text("Chargeback dispute 4411")
    row = page.get_by_test_id("hold-row").filter(has_text="Chargeback dispute 4411")
    expect(row.get_by_test_id("hold-files")).to_have_text("1")
    hold = LegalHold.objects.get(business_id=business.pk)
    assert hold.criteria == {"customer": CUSTOMER}

    # Export the results as WACZ: the job runs on the worker and the page follows it.
    page.go_back()
    page.get_by_label("Format").select_option("wacz")
    page.get_by_role("button", name="Export 4 records").click()
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    job = ExportJob.objects.get(business_id=business.pk)
    row = page.locator(f'tr[data-export="{job.pk}"]')
    expect(row.get_by_test_id("export-percent")).to_have_text("100%", timeout=30_000)
    expect(row.get_by_test_id("export-state")).to_have_text("done")

    # Another export, asked for while the page is open: it appears and finishes without a
    # reload, carried by the websocket alone.
    page.evaluate("window.__sameDocument = true")
    second = do_request_export(
        business.pk, criteria=Criteria(customer=CUSTOMER, q="refund"), format="wacz",
        actor=officer,
    )  # fmt: skip
    row2 = page.locator(f'tr[data-export="{second.pk}"]')
    expect(row2.get_by_test_id("export-percent")).to_have_text("100%", timeout=30_000)
    expect(row2.get_by_test_id("export-download")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    assert int(page.get_by_test_id("export-jobs").get_attribute("data-live-events") or 0) >= 1

    # Download the first and check it with the format's own tools.
    job.refresh_from_db()
    expect(row.get_by_test_id("export-sha256")).to_have_text(job.sha256)
    with page.expect_download() as info:
        row.get_by_test_id("export-download").click()
    download = tmp_path / info.value.suggested_filename
    info.value.save_as(download)
    assert download.name == job.file_name and download.suffix == ".wacz"
    _validate(download, tmp_path)
    assert not problems, problems  # scripts ran under the Content-Security-Policy
