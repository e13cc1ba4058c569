from django.urls import path

from calls.api.dlq import DeadLetterListView, DeadLetterRequeueView
from calls.api.registry import CallExportCSVView, CallExportJSONView, CallRegistryView
from calls.api.views import CallExportDetailView, CallExportListView, TranscriptSearchView

urlpatterns = [
    path("call-exports", CallExportListView.as_view(), name="call-exports"),
    path("call-exports/<uuid:run_id>", CallExportDetailView.as_view(), name="call-export-detail"),
    path("admin/stt/dlq", DeadLetterListView.as_view(), name="stt-dlq"),
    path("admin/stt/dlq/<uuid:entry_id>/requeue", DeadLetterRequeueView.as_view(), name="stt-dlq-requeue"),
    path("b24-calls/transcripts/search", TranscriptSearchView.as_view(), name="b24-calls-transcript-search"),
    path("call-registry", CallRegistryView.as_view(), name="call-registry"),
    path("b24-calls/export.csv", CallExportCSVView.as_view(), name="b24-calls-export-csv"),
    path("b24-calls/export.json", CallExportJSONView.as_view(), name="b24-calls-export-json"),
]
