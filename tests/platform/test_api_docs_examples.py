"""docs/api.md's curl examples, run as written against a live server, each answering the status its ``# →`` says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import process_env

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "api.md"
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPECTED = re.compile(r"^# → (\d{3})$", re.MULTILINE)
# Every curl of the examples reports its status on stderr, out of the way of the pipes the
# examples read the body with.
PRELUDE = """set -euo pipefail
curl() { command curl --show-error --write-out '%{stderr}__HTTP__ %{http_code}\\n' "$@"; }
"""


def guide_script() -> tuple[str, list[str]]:
    blocks = SHELL_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))
    return PRELUDE + "\n".join(blocks), [code for block in blocks for code in EXPECTED.findall(block)]


def test_the_guide_has_examples_for_every_area():
    script, expected = guide_script()

    for path in ("/api/v1/returns", "/api/v1/call-exports", "/api/v1/ww/orders", "/api/v1/ww/export/kmp4"):
        assert path in script
    assert len(expected) >= 15


@pytest.mark.django_db(transaction=True)
def test_the_curl_examples_answer_what_the_guide_says(live_server, tmp_path):
    script, expected = guide_script()
    config = settings.APP_CONFIG
    env = process_env(
        BASE=live_server.url,
        JWT_SECRET=config.jwt_secret,
        JWT_ISSUER=config.jwt_issuer,
        # issue_token only reads the database to warn about unknown couriers: an empty one will do.
        DATABASE_URL=f"sqlite:///{tmp_path / 'tokens.sqlite3'}",
        LOG_LEVEL="ERROR",
    )

    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    statuses = re.findall(r"^__HTTP__ (\d{3})$", result.stderr, re.MULTILINE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses == expected, result.stdout + result.stderr
    assert "Idempotent-Replayed: true" in result.stdout.replace("idempotent-replayed", "Idempotent-Replayed")
    assert "idempotency-key-reused" in result.stdout
    assert '"status_code_1c":"completed"' in result.stdout  # the delivered order, as 1C reads it
