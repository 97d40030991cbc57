"""The routing set-up in real Chromium against the real ASGI server: an administrator sets up
a contact centre through the pages alone (an SLA policy, a queue using it, a keyword rule to
that queue, a canned response, an agent's profile), bad input is refused on the form with
nothing written, and an agent is refused every set-up page."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from parley.accounts.models import AuditEntry
from routing.models import Agent, CannedResponse, Queue, QueueSkill, RoutingRule, SlaPolicy
from tests.frontend.browser import sign_in, watch_problems

SETUP_PAGES = ["/routing/", "/routing/sla/", "/routing/rules/", "/routing/canned/",
               "/routing/agents/", "/routing/queues/new/"]  # fmt: skip


def test_administrator_sets_up_a_contact_centre_through_the_pages(
    page: Page, asgi_server: str, factory: Any
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    alice = factory.staff(business, "agent")
    problems = watch_problems(page)

    # An agent takes conversations but does not set up routing.
    sign_in(page, asgi_server, alice)
    for url in [*SETUP_PAGES, f"/routing/agents/{alice.pk}/"]:
        response = page.goto(f"{asgi_server}{url}")
        assert response is not None and response.status == 403, url
        expect(page.get_by_role("heading", name="403 · Not allowed")).to_be_visible()
    sections = page.get_by_role("navigation", name="Console sections")
    expect(sections).to_be_visible()
    expect(sections.get_by_role("link", name="Routing")).to_have_count(0)

    sign_in(page, asgi_server, admin)
    page.goto(f"{asgi_server}/")
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Routing"
    ).click()
    expect(page).to_have_url(f"{asgi_server}/routing/")
    tabs = page.get_by_test_id("routing-tabs")
    flash = page.locator(".flash")

    # An SLA policy.
    tabs.get_by_role("link", name="SLA policies").click()
    form = page.get_by_test_id("sla-form")
    form.get_by_label("Name").fill("Gold")
    form.get_by_label("First response within (seconds)").fill("120")
    form.get_by_label("Next response within (seconds)").fill("3600")
    form.get_by_label("Resolved within (seconds)").fill("86400")
    form.get_by_role("button", name="Create policy").click()
    expect(flash).to_contain_text("SLA policy Gold created.")
    row = page.get_by_test_id("sla-list").get_by_role("row").filter(has_text="Gold")
    expect(row).to_contain_text("120 s")
    expect(row).to_contain_text("86400 s")
    policy = SlaPolicy.objects.get(business_id=business.pk)
    assert (policy.name, policy.first_response_s, policy.next_response_s, policy.resolution_s) == (
        "Gold", 120, 3600, 86400,
    )  # fmt: skip

    # A queue: first without a name (refused), then in full.
    tabs.get_by_role("link", name="Queues").click()
    page.get_by_test_id("queue-new").click()
    form = page.get_by_test_id("queue-form")
    form.get_by_label("Priority", exact=True).fill("5")
    form.get_by_role("button", name="Create queue").click()
    expect(page.get_by_test_id("error-name")).to_contain_text("This field is required.")
    assert not Queue.objects.filter(business_id=business.pk).exists()
    form.get_by_label("Name").fill("Billing")
    expect(form.get_by_label("Priority", exact=True)).to_have_value("5")  # kept on error
    form.get_by_label("Language").fill("HI")
    form.get_by_label("Required skills").fill("billing:3")
    form.get_by_label("SLA policy").select_option(label="Gold")
    form.get_by_role("button", name="Create queue").click()
    expect(flash).to_contain_text("Queue Billing created.")
    row = page.get_by_test_id("queue-list").get_by_role("row").filter(has_text="Billing")
    expect(row.get_by_role("cell").nth(1)).to_have_text("5")
    expect(row.get_by_role("cell").nth(2)).to_have_text("hi")
    expect(row).to_contain_text("billing ≥ 3")
    expect(row.get_by_role("link", name="Gold")).to_be_visible()
    queue = Queue.objects.get(business_id=business.pk)
    assert (queue.name, queue.priority, queue.language, queue.sla_id) == ("Billing", 5, "hi",
                                                                          policy.pk)  # fmt: skip
    assert {(s.skill.name, s.min_proficiency) for s in QueueSkill.objects.filter(queue=queue)} == {
        ("billing", 3)
    }
    tabs.get_by_role("link", name="SLA policies").click()
    expect(
        page.get_by_test_id("sla-list").get_by_role("row").filter(has_text="Gold")
    ).to_contain_text("Billing")

    # A keyword rule to that queue.
    tabs.get_by_role("link", name="Rules").click()
    form = page.get_by_test_id("rule-form")
    form.get_by_label("When").select_option("keyword")
    form.get_by_label("Value").fill("invoice")
    form.get_by_label("Queue").select_option(label="Billing")
    form.get_by_label("Priority").fill("2")
    form.get_by_role("button", name="Add rule").click()
    expect(flash).to_contain_text("Rule added.")
    row = page.get_by_test_id("rule-list").get_by_role("row").filter(has_text="invoice")
    expect(row).to_contain_text("Message contains a keyword: invoice")
    expect(row).to_contain_text("to Billing, priority +2")
    rule = RoutingRule.objects.get(business_id=business.pk)
    assert (rule.kind, rule.value, rule.queue_id, rule.priority) == ("keyword", "invoice",
                                                                     queue.pk, 2)  # fmt: skip

    # A canned response; a shortcut with no letters or digits is refused.
    tabs.get_by_role("link", name="Canned responses").click()
    form = page.get_by_test_id("canned-form")
    form.get_by_label("Shortcut").fill("!!!")
    form.get_by_label("Text").fill("Refunds take 5 working days.")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("error-shortcut")).to_contain_text("A shortcut is required.")
    assert not CannedResponse.objects.filter(business_id=business.pk).exists()
    form.get_by_label("Shortcut").fill("Refund-Policy")
    expect(form.get_by_label("Text")).to_have_value("Refunds take 5 working days.")
    form.get_by_role("button", name="Save").click()
    expect(flash).to_contain_text("Canned response /refund-policy saved.")
    canned_list = page.get_by_test_id("canned-list")
    expect(canned_list.get_by_role("row").filter(has_text="/refund-policy")).to_contain_text(
        "Refunds take 5 working days."
    )
    # The same shortcut again replaces the text (the page says so): still one response.
    form.get_by_label("Shortcut").fill("refund-policy")
    form.get_by_label("Text").fill("Refunds take 3 working days.")
    form.get_by_role("button", name="Save").click()
    expect(flash).to_contain_text("Canned response /refund-policy saved.")
    expect(canned_list.get_by_role("row").filter(has_text="/refund-policy")).to_contain_text(
        "Refunds take 3 working days."
    )
    expect(canned_list.get_by_role("row").filter(has_text="/refund-policy")).to_have_count(1)
    assert list(
        CannedResponse.objects.filter(business_id=business.pk).values_list("shortcut", "text")
    ) == [("refund-policy", "Refunds take 3 working days.")]

    # Alice's routing profile: capacity out of range is refused, then a full profile.
    tabs.get_by_role("link", name="Agents").click()
    row = page.get_by_test_id("agent-list").locator(f'tr[data-agent="{alice.pk}"]')
    expect(row).to_contain_text("No routing profile yet")
    row.get_by_role("link", name=alice.full_name).click()
    form = page.get_by_test_id("agent-form")
    for capacity in ("0", "51"):
        form.get_by_label("Capacity").fill(capacity)
        form.get_by_role("button", name="Save").click()
        expect(page.get_by_test_id("error-capacity")).to_contain_text(
            "Capacity must be between 1 and 50."
        )
        expect(form.get_by_label("Capacity")).to_have_value(capacity)
    assert not Agent.objects.filter(user=alice).exists()
    form.get_by_label("Capacity").fill("8")
    form.get_by_label("Skills").fill("billing:4")
    form.get_by_label("Languages").fill("hi")
    form.get_by_label("Team").fill("North")
    form.get_by_role("button", name="Save").click()
    expect(flash).to_contain_text(f"{alice.full_name}'s routing profile saved.")
    expect(row.get_by_test_id("agent-capacity")).to_have_text("8")
    expect(row).to_contain_text("North")
    expect(row).to_contain_text("billing:4")
    expect(row.get_by_role("cell").nth(4)).to_have_text("hi")
    agent = Agent.objects.get(user=alice)
    assert (agent.capacity, agent.languages, agent.team) == (8, ["hi"], "North")
    assert {s.skill.name: s.proficiency for s in agent.skills.all()} == {"billing": 4}

    # Each change is audited against the administrator, in order; refused input left nothing.
    audited = AuditEntry.objects.filter(business_ref=business.pk, action__startswith="routing.")
    assert [(e.action, e.actor_ref) for e in audited.order_by("seq")] == [
        ("routing.sla_saved", admin.pk), ("routing.queue_saved", admin.pk),
        ("routing.rule_saved", admin.pk), ("routing.canned_saved", admin.pk),
        ("routing.canned_saved", admin.pk), ("routing.agent_updated", admin.pk),
    ]  # fmt: skip
    assert not problems, problems  # scripts ran under the Content-Security-Policy
