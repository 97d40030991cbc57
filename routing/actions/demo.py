"""The demo contact centre `make run` starts with: the demo agent and supervisor take
conversations, a General queue with a 30 s first-response SLA, a Billing queue that
keywords route to, and a few canned responses. Idempotent: run again, it changes nothing
that exists."""

from __future__ import annotations

from django.db import transaction

from parley.accounts.actions.demo import DEMO_ACCOUNTS, DEMO_SLUG
from parley.accounts.models import Business, StaffUser
from parley.accounts.roles import Role
from routing.actions.agents import do_set_agent_status, do_update_agent
from routing.actions.setup import (
    do_save_canned_response,
    do_save_queue,
    do_save_rule,
    do_save_sla_policy,
)
from routing.models import Agent, CannedResponse, Queue, SlaPolicy

CANNED = {
    "hello": "Hello! Thanks for writing to us. How can I help?",
    "order-status": "Let me look up your order. Could you send me the order number?",
    "bye": "Glad I could help. Have a good day!",
}


def do_seed_routing_demo() -> list[str]:
    """Set up the demo business's contact centre; returns what it created."""
    business = Business.objects.filter(slug=DEMO_SLUG).first()
    if business is None:
        return []
    users = {
        role: StaffUser.objects.filter(email=DEMO_ACCOUNTS[role][0]).first()
        for role in (Role.SUPERVISOR, Role.AGENT)
    }
    supervisor, agent = users[Role.SUPERVISOR], users[Role.AGENT]
    if supervisor is None or agent is None:
        return []
    made: list[str] = []
    with transaction.atomic():
        policy = SlaPolicy.objects.filter(business=business, name="Standard").first()
        if policy is None:
            policy = do_save_sla_policy(supervisor, name="Standard", first_response_s=30)
            made.append("SLA policy Standard (first response 30 s)")
        if not Queue.objects.filter(business=business, name="General").exists():
            do_save_queue(supervisor, name="General", is_default=True, sla_policy_id=policy.pk)
            made.append("queue General")
        if not Queue.objects.filter(business=business, name="Billing").exists():
            billing = do_save_queue(supervisor, name="Billing", priority=1,
                                    skills={"billing": 2}, sla_policy_id=policy.pk)  # fmt: skip
            for word in ("invoice", "refund", "payment"):
                do_save_rule(supervisor, kind="keyword", value=word, queue_id=billing.pk)
            made.append("queue Billing (keywords invoice, refund, payment)")
        for user, capacity, skills in ((agent, 15, {"billing": 3}), (supervisor, 5, {})):
            if not Agent.objects.filter(user=user).exists():
                do_update_agent(supervisor, user, capacity=capacity, skills=skills,
                                languages=["en", "hi"])  # fmt: skip
                do_set_agent_status(user, Agent.Status.AVAILABLE)
                made.append(f"agent {user.full_name} (capacity {capacity})")
        for shortcut, text in CANNED.items():
            if not CannedResponse.objects.filter(business=business, shortcut=shortcut).exists():
                do_save_canned_response(supervisor, shortcut=shortcut, text=text)
    return made
