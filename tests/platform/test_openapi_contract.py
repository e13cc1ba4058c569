"""The committed OpenAPI document (docs/openapi.yaml) is the contract 1C, Bitrix24 and the courier apps build on.

It must be what the code serves: an API change regenerates it (``make schema``)
in the same commit, so that the change shows up in review as a contract change.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from django.core.management import call_command

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_the_committed_schema_is_what_the_code_serves(tmp_path):
    generated = tmp_path / "openapi.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated), stdout=StringIO())

    assert generated.read_text() == CONTRACT.read_text(), (
        "docs/openapi.yaml differs from the schema the code generates: run `make schema` and commit it"
    )


def test_the_schema_does_not_depend_on_the_database_or_the_broker():
    # Counters map to the database's integer range unless the serializer says otherwise; the
    # contract must read the same on SQLite and PostgreSQL.
    assert "9223372036854775807" not in CONTRACT.read_text()
    assert "format: int64" not in CONTRACT.read_text()
