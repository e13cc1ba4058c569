"""`.env.example` lists every variable the configuration reads, and parses as-is."""

import re
from pathlib import Path

from django.conf import settings

from mastermobile.config import load_config

ROOT = Path(settings.BASE_DIR)


def example_variables() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def test_every_variable_read_by_the_config_is_in_env_example():
    source = (ROOT / "mastermobile" / "config.py").read_text()
    read = set(re.findall(r'read\.\w+\("([A-Z][A-Z0-9_]+)"', source)) | {"DATABASE_URL"}

    missing = read - set(example_variables())
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_every_seed_readme_variable_is_supported():
    seed = ROOT.parent / "shared" / "seed" / "README.ru.md"
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", seed.read_text(), re.MULTILINE)) if seed.exists() else set()

    assert documented - set(example_variables()) == set()


def test_env_example_values_load_without_errors():
    uncommented = {
        key: value
        for key, value in example_variables().items()
        if not re.search(rf"^#\s*{key}=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    }

    config = load_config(uncommented)

    assert config.app_port == 8000
    assert config.app_host == "127.0.0.1"  # settings fall back to this file: make run stays on this machine
    assert config.database_url is None
