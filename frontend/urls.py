from django.templatetags.static import static
from django.urls import path, re_path
from django.views.generic.base import RedirectView

from frontend.views import (
    audit,
    auth,
    billing,
    clock,
    conversations,
    customers,
    dashboard,
    message_templates,
    messages,
    numbers,
    security,
    staff,
    tokens,
    webhooks,
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
    path("billing/", billing.billing, name="billing"),
    path("billing/rate-card.csv", billing.rate_card_download, name="billing-rate-card"),
    path("billing/rate-card/", billing.rate_card_replace, name="billing-rate-card-replace"),
    path("clock/", clock.clock_page, name="clock"),
    path("security/", security.security, name="security"),
    re_path(r"^security/devices/" + ID.format("device_id") + r"/forget/$", security.forget_device),
]
