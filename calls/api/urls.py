from django.urls import path

from calls.api.views import CallExportDetailView, CallExportListView

urlpatterns = [
    path("call-exports", CallExportListView.as_view(), name="call-exports"),
    path("call-exports/<uuid:run_id>", CallExportDetailView.as_view(), name="call-export-detail"),
]
