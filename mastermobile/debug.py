"""Django's error reports (the DEBUG page, error e-mails) without our secrets.

Django's :class:`~django.views.debug.SafeExceptionReporterFilter` hides
settings whose *name* looks secret, and only when ``DEBUG`` is off.  The debug
page still showed ``APP_CONFIG`` (a dataclass, not a dict), ``DATABASE_URL``
from the environment, frame variables such as ``secret`` and any secret an
exception message carries (a Bitrix24 URL with the webhook token).  Settings
name both classes here in ``DEFAULT_EXCEPTION_REPORTER_FILTER`` and
``DEFAULT_EXCEPTION_REPORTER``; ``AppConfig`` itself redacts its repr.
"""

from __future__ import annotations

import re
from html import escape

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Django's names plus ours: DATABASE_URL, DSNs, credentials, private keys.
HIDDEN_NAMES = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|DSN|CREDENTIAL|PRIVATE", re.IGNORECASE
)
# The password of any ``scheme://user:password@host`` in a report.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@'\"<>]*:)[^\s/@'\"<>]+@", re.IGNORECASE)


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hides secrets by name in settings, request data and frame variables, also with ``DEBUG=True``."""

    hidden_settings = HIDDEN_NAMES

    def is_active(self, request) -> bool:
        # Django skips cleansing with DEBUG on ("your site is not safe anyway");
        # the local default is DEBUG on, and a debug page gets shared.
        return True

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if HIDDEN_NAMES.search(str(name)) else value) for name, value in variables
        ]


class SecretSafeExceptionReporter(ExceptionReporter):
    """Django's report with every configured secret value and URL password replaced, wherever it appears."""

    # Safe as Django's own report is: scrubbing only replaces values with escaped placeholders.
    def get_traceback_html(self) -> SafeString:
        return mark_safe(scrub(super().get_traceback_html(), html=True))  # noqa: S308

    def get_traceback_text(self) -> SafeString:
        return mark_safe(scrub(super().get_traceback_text()))  # noqa: S308


def scrub(report: str, *, html: bool = False) -> str:
    """``report`` with the values of ``APP_CONFIG.secrets`` and passwords inside URLs masked."""
    substitute = SafeExceptionReporterFilter.cleansed_substitute
    for secret in sorted(settings.APP_CONFIG.secrets, key=len, reverse=True):
        report = report.replace(secret, substitute)
        if html:
            report = report.replace(escape(secret), substitute)
    return _URL_PASSWORD.sub(rf"\1{substitute}@", report)
