from django.urls import path, re_path

from parley.relay import views

P = "relay/v1/"

urlpatterns = [
    path(P + "accounts", views.AccountsView.as_view(), name="relay-accounts"),
    path(
        P + "verification/session",
        views.VerificationSessionView.as_view(),
        name="relay-verification-session",
    ),
    path(
        P + "verification/session/<str:session_id>",
        views.VerificationSessionDetailView.as_view(),
        name="relay-verification-session-detail",
    ),
    path(
        P + "verification/session/<str:session_id>/code",
        views.VerificationCodeView.as_view(),
        name="relay-verification-code",
    ),
    path(P + "accounts/me", views.WhoAmIView.as_view(), name="relay-whoami"),
    path(
        P + "accounts/registration-lock",
        views.RegistrationLockView.as_view(),
        name="relay-registration-lock",
    ),
    path(
        P + "accounts/business-block",
        views.BusinessBlockView.as_view(),
        name="relay-business-block",
    ),
    path(P + "keys", views.KeysView.as_view(), name="relay-keys"),
    path(P + "keys/count", views.KeyCountView.as_view(), name="relay-key-count"),
    path(P + "keys/signed", views.SignedKeysView.as_view(), name="relay-signed-keys"),
    path(P + "keys/<str:number>/<str:device>", views.BundleView.as_view(), name="relay-bundle"),
    path(P + "identity/<str:number>", views.IdentityView.as_view(), name="relay-identity"),
    path(P + "messages", views.MessagesView.as_view(), name="relay-messages"),
    path(P + "messages/batch", views.SendBatchView.as_view(), name="relay-send-batch"),
    path(P + "messages/acks", views.AcksView.as_view(), name="relay-acks"),
    re_path(
        r"^relay/v1/messages/(?P<guid>[0-9a-fA-F-]{32,36})$",
        views.AckView.as_view(),
        name="relay-ack",
    ),
    path(P + "messages/<str:number>", views.SendView.as_view(), name="relay-send"),
    path(P + "receipts/<str:guid>", views.ReceiptView.as_view(), name="relay-receipt"),
    re_path(r"^relay/", views.relay_not_found),
]
