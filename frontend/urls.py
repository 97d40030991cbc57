from django.templatetags.static import static
from django.urls import path, re_path
from django.views.generic.base import RedirectView

from frontend.views import (
    audit,
    auth,
    billing,
    clock,
    compliance,
    conversations,
    customers,
    dashboard,
    message_templates,
    messages,
    numbers,
    routing_setup,
    security,
    staff,
    supervision,
    tokens,
    webhooks,
    workspace,
)

# Ids in console URLs are bounded so a huge number is a 404, never a database overflow.
ID = r"(?P<{}>\d{{1,18}})"
WEBHOOK_APP = r"(?P<app_id>[0-9]{1,20})"

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page says; the icon is the console's SVG.
    path("favicon.ico", RedirectView.as_view(url=static("frontend/favicon.svg"))),
    path("login/", auth.login_view, name="login"),
    path("login/enrol/", auth.enrol_view, name="login-enrol"),
    path("login/verify/", auth.verify_view, name="login-verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
    path("stream/redrive/", dashboard.redrive_stream, name="stream-redrive"),
    path("stream/discard/", dashboard.discard_stream, name="stream-discard"),
    path("staff/", staff.staff_list, name="staff"),
    path("staff/new/", staff.staff_create, name="staff-new"),
    path("tokens/", tokens.tokens, name="tokens"),
    re_path(r"^tokens/" + ID.format("token_id") + r"/revoke/$", tokens.revoke_token),
    path("webhooks/", webhooks.webhooks_page, name="webhooks"),
    path("webhooks/deliveries/", webhooks.deliveries, name="webhook-deliveries"),
    path("webhooks/deliveries/replay/", webhooks.replay_deliveries),
    re_path(r"^webhooks/deliveries/" + ID.format("delivery_id") + r"/$", webhooks.delivery_detail),
    re_path(
        r"^webhooks/deliveries/" + ID.format("delivery_id") + r"/replay/$",
        webhooks.replay_delivery,
    ),
    re_path(r"^webhooks/" + WEBHOOK_APP + r"/$", webhooks.webhook_detail),
    re_path(r"^webhooks/" + WEBHOOK_APP + r"/subscribe/$", webhooks.subscribe),
    re_path(r"^webhooks/" + WEBHOOK_APP + r"/unsubscribe/$", webhooks.unsubscribe),
    re_path(r"^webhooks/" + WEBHOOK_APP + r"/verify/$", webhooks.verify),
    re_path(r"^webhooks/" + WEBHOOK_APP + r"/secret/$", webhooks.rotate_secret),
    re_path(r"^webhooks/" + WEBHOOK_APP + r"/test/$", webhooks.send_test),
    re_path(r"^webhooks/" + WEBHOOK_APP + r"/delete/$", webhooks.delete_app),
    # Supervisors: live queues, agents and service levels; sessions and transfers.
    path("supervision/", supervision.supervision, name="supervision"),
    re_path(
        r"^supervision/agents/" + ID.format("agent_user_id") + r"/status/$",
        supervision.agent_status,
    ),
    path("supervision/sessions/", supervision.sessions, name="supervision-sessions"),
    re_path(
        r"^supervision/sessions/" + ID.format("session_id") + r"/$", supervision.session_detail
    ),
    # The contact centre's set-up: queues, SLA policies, rules, canned responses, agents.
    path("routing/", routing_setup.queues_page, name="routing"),
    path("routing/queues/new/", routing_setup.queue_new, name="routing-queue-new"),
    re_path(r"^routing/queues/" + ID.format("queue_id") + r"/$", routing_setup.queue_edit),
    path("routing/sla/", routing_setup.sla_page, name="routing-sla"),
    re_path(r"^routing/sla/" + ID.format("policy_id") + r"/$", routing_setup.sla_edit),
    path("routing/rules/", routing_setup.rules_page, name="routing-rules"),
    re_path(r"^routing/rules/" + ID.format("rule_id") + r"/delete/$", routing_setup.rule_delete),
    path("routing/canned/", routing_setup.canned_page, name="routing-canned"),
    re_path(r"^routing/canned/" + ID.format("canned_id") + r"/$", routing_setup.canned_edit),
    path("routing/agents/", routing_setup.agents_page, name="routing-agents"),
    re_path(r"^routing/agents/" + ID.format("agent_user_id") + r"/$", routing_setup.agent_edit),
    path("numbers/", numbers.numbers, name="numbers"),
    re_path(r"^numbers/" + ID.format("number_id") + r"/$", numbers.number_detail),
    re_path(r"^numbers/" + ID.format("number_id") + r"/request-code/$", numbers.request_code),
    re_path(r"^numbers/" + ID.format("number_id") + r"/verify/$", numbers.verify_code),
    re_path(r"^numbers/" + ID.format("number_id") + r"/register/$", numbers.register),
    re_path(r"^numbers/" + ID.format("number_id") + r"/official/$", numbers.request_official),
    re_path(r"^numbers/" + ID.format("number_id") + r"/throughput/$", numbers.set_throughput),
    re_path(r"^numbers/" + ID.format("number_id") + r"/quality/$", numbers.set_quality),
    re_path(r"^numbers/" + ID.format("number_id") + r"/profile/$", numbers.business_profile),
    re_path(r"^numbers/" + ID.format("number_id") + r"/profile-picture/$", numbers.profile_picture),
    re_path(
        r"^numbers/" + ID.format("number_id") + r"/messaging-limit/$",
        numbers.set_messaging_limit,
    ),
    path("conversations/", conversations.conversations, name="conversations"),
    re_path(r"^conversations/" + ID.format("conversation_id") + r"/$", conversations.conversation),
    # The agents' workspace: the list, a conversation's thread and the forms it posts.
    path("workspace/", workspace.workspace, name="workspace"),
    path("workspace/status/", workspace.set_status, name="workspace-status"),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/$", workspace.thread),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/reply/$", workspace.reply),
    re_path(
        r"^workspace/" + ID.format("conversation_id") + r"/template/$", workspace.reply_template
    ),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/attach/$", workspace.attach),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/note/$", workspace.add_note),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/accept/$", workspace.accept),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/take/$", workspace.take),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/transfer/$", workspace.transfer),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/snooze/$", workspace.snooze),
    re_path(r"^workspace/" + ID.format("conversation_id") + r"/resolve/$", workspace.resolve),
    path("messages/", messages.message_log, name="messages"),
    # A wamid is "wamid." and base64 (which may hold "/" and "+"); at most 128 characters.
    # A media message's file: before the detail, whose wamid pattern would take "/media".
    re_path(r"^messages/(?P<wamid>[A-Za-z0-9._=+/-]{1,128})/media/$", messages.message_media),
    re_path(r"^messages/(?P<wamid>[A-Za-z0-9._=+/-]{1,128})/$", messages.message_detail),
    path("templates/", message_templates.templates_page, name="templates"),
    re_path(r"^templates/" + ID.format("template_id") + r"/$", message_templates.template_detail),
    re_path(
        r"^templates/" + ID.format("template_id") + r"/review/$", message_templates.review_template
    ),
    re_path(
        r"^templates/" + ID.format("template_id") + r"/delete/$", message_templates.delete_template
    ),
    path("customers/", customers.customers_page, name="customers"),
    re_path(r"^customers/(?P<phone_number>\+?[0-9]{1,20})/$", customers.customer_detail),
    path("audit/", audit.audit, name="audit"),
    # The compliance workspace: the archive's search, records, exports, legal holds,
    # retention with the files, and verification.
    path("compliance/", compliance.search, name="compliance"),
    re_path(r"^compliance/records/" + ID.format("record_id") + r"/$", compliance.record_detail),
    path("compliance/exports/", compliance.exports, name="compliance-exports"),
    re_path(
        r"^compliance/exports/" + ID.format("export_id") + r"/download/$",
        compliance.export_download,
    ),
    path("compliance/holds/", compliance.holds, name="compliance-holds"),
    re_path(r"^compliance/holds/" + ID.format("hold_id") + r"/release/$", compliance.hold_release),
    path("compliance/retention/", compliance.retention, name="compliance-retention"),
    path("compliance/verification/", compliance.verification, name="compliance-verification"),
    path("billing/", billing.billing, name="billing"),
    path("billing/rate-card.csv", billing.rate_card_download, name="billing-rate-card"),
    path("billing/rate-card/", billing.rate_card_replace, name="billing-rate-card-replace"),
    path("clock/", clock.clock_page, name="clock"),
    path("security/", security.security, name="security"),
    re_path(r"^security/devices/" + ID.format("device_id") + r"/forget/$", security.forget_device),
]
