"""The API documentation pages: Swagger UI and ReDoc from the schema, served offline (drf-spectacular-sidecar).

Apart from :mod:`mastermobile.api.schema`: drf-spectacular's views import the
schema class named in the settings, which lives there.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.request import Request


class _BodylessOptions:
    """OPTIONS on an HTML page answers with ``Allow`` and no body.

    DRF answers OPTIONS with its metadata, rendered by the view's renderer;
    for a template page that meant Swagger UI's template without its context
    (500 ``TemplateDoesNotExist``) or ReDoc's whole page.
    """

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(status=200)  # DRF adds Allow (and Vary) in finalize_response


# The plain HttpResponse is the point of the mixin, where APIView.options returns a DRF Response.
class SwaggerView(_BodylessOptions, SpectacularSwaggerView):  # type: ignore[misc]
    """``/api/docs/``: Swagger UI."""


class RedocView(_BodylessOptions, SpectacularRedocView):  # type: ignore[misc]
    """``/api/redoc/``: ReDoc."""
