"""The archive's API, under the one API base (`/parley/v1/archive/…`)."""

from django.urls import path, re_path

from archive import api

ID = r"(?P<{}>[0-9]{{1,18}})"
ARCHIVE = r"^parley/v1/archive/"

urlpatterns = [
    path("parley/v1/archive/summary", api.SummaryView.as_view()),
    path("parley/v1/archive/files", api.FilesView.as_view()),
    path("parley/v1/archive/records", api.RecordsView.as_view()),
    re_path(ARCHIVE + r"records/" + ID.format("record_id") + r"$", api.RecordView.as_view()),
    path("parley/v1/archive/holds", api.HoldsView.as_view()),
    re_path(ARCHIVE + r"holds/" + ID.format("hold_id") + r"$", api.HoldView.as_view()),
    re_path(
        ARCHIVE + r"holds/" + ID.format("hold_id") + r"/release$", api.HoldReleaseView.as_view()
    ),
    path("parley/v1/archive/retention-policies", api.PoliciesView.as_view()),
    path("parley/v1/archive/retention-presets", api.PresetsView.as_view()),
    path("parley/v1/archive/exports", api.ExportsView.as_view()),
    re_path(ARCHIVE + r"exports/" + ID.format("export_id") + r"$", api.ExportView.as_view()),
    re_path(
        ARCHIVE + r"exports/" + ID.format("export_id") + r"/download$",
        api.ExportDownloadView.as_view(),
    ),
    path("parley/v1/archive/verifications", api.VerificationsView.as_view()),
]
