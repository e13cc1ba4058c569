from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from mastermobile.api.docs_views import RedocView, SwaggerView
from mastermobile.api.views import UnknownAPIPathView
from mastermobile.observability.metrics_access import metrics_view
from mastermobile.system import HealthView, PingView

handler500 = "mastermobile.api.errors.handler500"

api_v1: list[URLPattern | URLResolver] = [
    path("system/ping", PingView.as_view(), name="system-ping"),
    path("returns", include("returns.api.urls")),
    path("ww", include("couriers.api.urls")),
    path("", include("calls.api.urls")),
    path("b24/webhooks/", include("integrations.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", HealthView.as_view(), name="health"),
    # GET/HEAD from METRICS_ALLOWED_IPS (loopback by default) or with METRICS_TOKEN; 403 otherwise.
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("api/auth/", include("rest_framework.urls")),
    path("api/v1/", include(api_v1)),
    # Last: any other /api/ path is a 404 problem, also with DEBUG=True (not the technical 404 page).
    re_path(r"^api(?:/|$)", UnknownAPIPathView.as_view(), name="api-unknown-path"),
]
