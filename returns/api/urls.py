from django.urls import path

from returns.api.views import ReturnDetailView, ReturnListView, ReturnStatusView

# Mounted at /api/v1/returns; no trailing slashes (APPEND_SLASH is off).
urlpatterns = [
    path("", ReturnListView.as_view(), name="returns-list"),
    path("/<str:return_id>", ReturnDetailView.as_view(), name="returns-detail"),
    path("/<str:return_id>/status", ReturnStatusView.as_view(), name="returns-status"),
]
