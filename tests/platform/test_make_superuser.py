"""`make superuser` from DJANGO_SUPERUSER_* reports a failure instead of hiding it."""

import subprocess
import sys

import pytest
from django.conf import settings

from tests.processes import process_env

pytestmark = pytest.mark.slow


def make_superuser(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # This interpreter and an up-to-date venv stamp: the test must not reinstall anything.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", f"PY={sys.executable}", "superuser"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_second_superuser_with_a_taken_username_fails_the_target(tmp_path):
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'superuser.sqlite3'}",
        DJANGO_SUPERUSER_USERNAME="admin",
        DJANGO_SUPERUSER_EMAIL="admin@example.com",
        DJANGO_SUPERUSER_PASSWORD="a-long-password-1",
    )

    first = make_superuser(env)
    second = make_superuser(env)

    assert first.returncode == 0, first.stderr
    assert "Superuser created successfully." in first.stdout
    assert second.returncode != 0
    assert "That username is already taken." in second.stderr
