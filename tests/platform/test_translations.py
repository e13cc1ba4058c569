"""The back-office reads in Russian: the catalogue is complete, compiled and covers every string staff see."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.db.models import Field
from django.utils import translation
from django.utils.translation.template import templatize

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"
PROJECT_APPS = ("mastermobile", "returns", "calls", "couriers", "integrations")
SOURCE_DIRS = (*PROJECT_APPS, "templates")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
# Names that read the same in Russian.
SAME_IN_RUSSIAN = {"ID", "IMEI", "API", "OpenAI", "CSV", "JSON"}


def catalogue():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle)


def message_ids(messages) -> set[str]:
    return {message.id if isinstance(message.id, str) else message.id[0] for message in messages if message.id}


def source_messages() -> set[str]:
    """Every string marked for translation in the project's Python code and templates."""
    found: set[str] = set()
    base = Path(settings.BASE_DIR)
    for directory in SOURCE_DIRS:
        for path in sorted((base / directory).rglob("*")):
            if "migrations" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py":
                code = path.read_bytes()
            elif path.suffix == ".html":
                code = templatize(path.read_text(encoding="utf-8"), origin=str(path)).encode()
            else:
                continue
            for _line, message, _comments, _context in extract("python", io.BytesIO(code), keywords=KEYWORDS):
                found.add(message if isinstance(message, str) else message[0])
    return found


def reads_in_russian(text: object) -> bool:
    with translation.override("ru"):
        value = str(text)
    return bool(CYRILLIC.search(value)) or value in SAME_IN_RUSSIAN or not value


def test_every_string_marked_in_the_code_is_in_the_russian_catalogue():
    missing = source_messages() - message_ids(catalogue())

    assert not missing, f"run `make messages` and translate: {sorted(missing)}"


def test_every_message_of_the_catalogue_is_translated_and_not_fuzzy():
    untranslated = [
        message.id
        for message in catalogue()
        if message.id
        and (message.fuzzy or not all(message.string if isinstance(message.string, tuple) else [message.string]))
    ]

    assert not untranslated, f"translate in {CATALOGUE}: {untranslated}"


def as_pairs(messages) -> dict:
    """``{(context, msgid): msgstr}`` with plural forms as tuples, comparable whatever compiled them."""
    pairs = {}
    for message in messages:
        if message.id and not message.fuzzy:
            context = message.context.decode() if isinstance(message.context, bytes) else message.context
            key = (context, message.id if isinstance(message.id, str) else tuple(message.id))
            pairs[key] = message.string if isinstance(message.string, str) else tuple(message.string)
    return pairs


def test_the_compiled_catalogue_is_up_to_date_with_its_source():
    with CATALOGUE.with_suffix(".mo").open("rb") as handle:
        compiled = as_pairs(read_mo(handle))
    source = as_pairs(catalogue())

    assert compiled == source, "run `make messages` to recompile locale/ru/LC_MESSAGES/django.mo"


@pytest.mark.parametrize("app_label", PROJECT_APPS)
def test_every_model_field_and_choice_has_a_russian_name(app_label):
    untranslated = []
    for model in apps.get_app_config(app_label).get_models():
        if model.__name__.startswith("Historical"):
            continue
        names: list[Any] = [model._meta.verbose_name, model._meta.verbose_name_plural]
        for field in model._meta.get_fields():
            # Relations seen from the other side (ForeignObjectRel) have no names of their own.
            if not isinstance(field, Field) or field.auto_created:
                continue
            names += [field.verbose_name, field.help_text]
            names += [label for _value, label in (field.choices or [])]
        untranslated += [f"{model.__name__}: {name}" for name in names if not reads_in_russian(name)]

    assert reads_in_russian(apps.get_app_config(app_label).verbose_name)
    assert not untranslated, untranslated


def test_every_admin_column_action_and_section_has_a_russian_name():
    untranslated = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for column in model_admin.list_display:
            attribute = getattr(model_admin, column, None) if isinstance(column, str) else column
            label = getattr(attribute, "short_description", None)
            if label is not None and not reads_in_russian(label):
                untranslated.append(f"{model.__name__} column {column}: {label}")
        for action, _name, description in model_admin._get_base_actions():  # type: ignore[attr-defined]  # private, no stub
            if not reads_in_russian(description):
                untranslated.append(f"{model.__name__} action {action.__name__}: {description}")
        for title, _options in model_admin.get_fieldsets(None) or []:  # type: ignore[arg-type]  # ours read no request
            if title and not reads_in_russian(title):
                untranslated.append(f"{model.__name__} section: {title}")

    assert not untranslated, untranslated


@pytest.mark.django_db
def test_the_admin_answers_in_russian_by_default_and_in_english_when_the_browser_asks(admin_client):
    russian = admin_client.get("/admin/calls/callexport/")
    english = admin_client.get("/admin/calls/callexport/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert 'lang="ru"' in russian.content.decode() and "Запустить выгрузку" in russian.content.decode()
    assert 'lang="en"' in english.content.decode() and "Start export" in english.content.decode()


@pytest.mark.django_db
def test_the_api_answers_in_english_whatever_the_client_asks(admin_client):
    response = admin_client.get("/api/v1/returns?status=nonsense", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9")

    assert response["Content-Language"] == "en"
    assert not CYRILLIC.search(response.content.decode())


def test_the_admin_shows_a_call_in_moscow_time_as_day_month_year():
    from datetime import UTC, datetime

    from django.utils import formats, timezone

    with translation.override("ru"):
        shown = formats.localize(timezone.localtime(datetime(2026, 10, 1, 2, 42, 33, tzinfo=UTC)))

    assert shown == "01.10.2026 05:42"


def test_every_app_in_the_admin_has_a_russian_name_third_party_ones_included():
    from django.contrib import admin

    shown = {model._meta.app_label for model in admin.site._registry}
    untranslated = [label for label in sorted(shown) if not reads_in_russian(apps.get_app_config(label).verbose_name)]

    assert not untranslated, untranslated
