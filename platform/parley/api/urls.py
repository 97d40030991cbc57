from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.negotiation import DefaultContentNegotiation

from parley.api import media, messages, profiles, simulator, templates, views, webhooks

# ASCII digits only: `\d` matches other scripts' digits too. The version is checked against
# the supported range by the views (an unsupported one answers 400, code 2500).
V = r"^(?P<version>v[0-9]{1,3}\.[0-9]{1,3})"
ID = r"(?P<{}>[0-9]{{1,18}})"
CUSTOMER = r"^parley/v1/simulator/customers/(?P<phone_number>\+?[0-9]{1,20})"
WEBHOOK_APP = r"^parley/v1/webhooks/apps/(?P<app_id>[0-9]{1,20})"
WEBHOOK_DELIVERY = r"^parley/v1/webhooks/deliveries/" + ID.format("delivery_id")

urlpatterns = [
    path(
        "api/schema/",
        # YAML or JSON, as Accept asks (the API itself always answers JSON).
        SpectacularAPIView.as_view(
            authentication_classes=[],
            permission_classes=[],
            content_negotiation_class=DefaultContentNegotiation,
        ),
        name="api-schema",
    ),
    re_path(
        V + "/" + ID.format("waba_id") + r"/phone_numbers/?$", views.PhoneNumbersView.as_view()
    ),
    re_path(
        V + "/" + ID.format("number_id") + r"/request_code/?$", views.RequestCodeView.as_view()
    ),
    re_path(V + "/" + ID.format("number_id") + r"/verify_code/?$", views.VerifyCodeView.as_view()),
    re_path(V + "/" + ID.format("number_id") + r"/register/?$", views.RegisterView.as_view()),
    re_path(V + "/" + ID.format("number_id") + r"/deregister/?$", views.DeregisterView.as_view()),
    re_path(V + "/" + ID.format("number_id") + r"/messages/?$", messages.MessagesView.as_view()),
    re_path(V + "/" + ID.format("number_id") + r"/media/?$", media.MediaUploadView.as_view()),
    re_path(
        V + "/" + ID.format("number_id") + r"/whatsapp_business_profile/?$",
        profiles.BusinessProfileView.as_view(),
    ),
    re_path(
        r"^parley/v1/numbers/" + ID.format("number_id") + r"/profile_picture$",
        profiles.ProfilePictureView.as_view(),
    ),
    re_path(
        r"^parley/v1/media/(?P<media_id>[0-9]{17})/download$", media.MediaDownloadView.as_view()
    ),
    re_path(
        r"^parley/v1/simulator/numbers/" + ID.format("number_id") + r"/throughput$",
        views.ThroughputView.as_view(),
    ),
    re_path(
        r"^parley/v1/simulator/numbers/" + ID.format("number_id") + r"/quality$",
        views.QualityView.as_view(),
    ),
    re_path(
        r"^parley/v1/simulator/businesses/" + ID.format("waba_id") + r"/messaging_limit$",
        views.MessagingLimitView.as_view(),
    ),
    re_path(
        V + "/" + ID.format("waba_id") + r"/message_templates/?$",
        templates.TemplatesView.as_view(),
    ),
    re_path(
        r"^parley/v1/simulator/templates/" + ID.format("template_id") + r"/review$",
        templates.TemplateReviewView.as_view(),
    ),
    path("parley/v1/simulator/customers", simulator.CustomersView.as_view()),
    path("parley/v1/simulator/fault-numbers", simulator.FaultNumbersView.as_view()),
    re_path(CUSTOMER + r"$", simulator.CustomerView.as_view()),
    re_path(CUSTOMER + r"/messages$", simulator.CustomerMessagesView.as_view()),
    re_path(CUSTOMER + r"/read$", simulator.CustomerReadView.as_view()),
    re_path(CUSTOMER + r"/inbox$", simulator.CustomerInboxView.as_view()),
    re_path(
        V + "/" + ID.format("waba_id") + r"/subscribed_apps/?$",
        webhooks.SubscribedAppsView.as_view(),
    ),
    path("parley/v1/webhooks/apps", webhooks.AppsView.as_view()),
    re_path(WEBHOOK_APP + r"$", webhooks.AppView.as_view()),
    re_path(WEBHOOK_APP + r"/verify$", webhooks.AppVerifyView.as_view()),
    re_path(WEBHOOK_APP + r"/secret$", webhooks.AppSecretView.as_view()),
    re_path(WEBHOOK_APP + r"/test$", webhooks.AppTestView.as_view()),
    path("parley/v1/webhooks/deliveries", webhooks.DeliveriesView.as_view()),
    path("parley/v1/webhooks/deliveries/replay", webhooks.DeliveriesReplayView.as_view()),
    re_path(WEBHOOK_DELIVERY + r"$", webhooks.DeliveryView.as_view()),
    re_path(WEBHOOK_DELIVERY + r"/replay$", webhooks.DeliveryReplayView.as_view()),
    # A template's or a media object's id, or what views.NodeView answers (the business and
    # its numbers).
    re_path(V + "/" + r"(?P<node_id>[^/]{1,40})/?$", templates.GraphNodeView.as_view()),
]
