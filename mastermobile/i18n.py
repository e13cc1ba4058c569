"""Language selection: the back-office follows the browser, the API is always English."""

from __future__ import annotations

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware import locale
from django.utils import translation

API_LANGUAGE = "en"


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's LocaleMiddleware for staff pages; ``/api/`` is answered in English.

    API messages (problem+json ``detail``, validation errors) are a contract
    that 1C and the courier apps parse and log; they must not change with the
    caller's ``Accept-Language`` or with ``LANGUAGE_CODE``.
    """

    def process_request(self, request: HttpRequest) -> None:
        if is_api_path(request.path_info):
            translation.activate(API_LANGUAGE)
            request.LANGUAGE_CODE = API_LANGUAGE
            return
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if is_api_path(request.path_info):
            response.headers.setdefault("Content-Language", API_LANGUAGE)
            return response
        return super().process_response(request, response)
