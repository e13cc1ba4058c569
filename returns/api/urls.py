from django.urls import path

from returns.api.views import ReturnDetailView, ReturnListView

# Mounted at /api/v1/returns; no trailing slashes (APPEND_SLASH is off).
urlpatterns = [
    path("", ReturnListView.as_view(), name="returns-list"),
    path("/<str:return_id>", ReturnDetailView.as_view(), name="returns-detail"),
]
