"""``make demo`` (tools/demo.py): the export end to end against both fakes, and no fake left running afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import resolve

pytestmark = pytest.mark.slow
SCRIPT = Path(settings.BASE_DIR) / "tools" / "demo.py"
DEADLINE_S = 120


def processes_mentioning(directory: Path) -> list[str]:
    """Command lines of live processes naming ``directory`` (each fake is started with its env file there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        if str(directory) in command and "tests.fakes" in command:
            found.append(command)
    return found


def demo(directory: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--dir", str(directory), *arguments],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_the_demo_exports_transcribes_and_reports_then_stops_both_fakes(tmp_path):
    process = demo(tmp_path, "--calls", "30")
    output, _ = process.communicate(timeout=DEADLINE_S)

    assert process.returncode == 0, output
    assert "run completed: 30 calls, 30 final" in output
    storage = tmp_path / "storage"
    transcripts = list(storage.glob("transcripts/**/*.txt"))
    assert transcripts
    assert "Здравствуйте" in "".join(path.read_text(encoding="utf-8") for path in transcripts)
    assert list(storage.glob("summaries/**/*.md"))
    [report] = storage.glob("exports/*/reports/summary_*.md")
    [registry] = storage.glob("exports/*/registry/calls_*.csv")
    assert f"report:   {report}" in output and f"registry: {registry}" in output
    admin_pages = re.findall(r"http://[^/\s]+(/admin/\S*)", output)
    assert "/admin/calls/callrecord/" in admin_pages
    for path in admin_pages:
        resolve(path)  # raises Resolver404 for a page the project does not serve
    # The scratch database, not the developer's var/mastermobile.sqlite3.
    assert f"DATABASE_URL=sqlite:///{tmp_path / 'demo.sqlite3'}" in output
    assert (tmp_path / "demo.sqlite3").is_file()
    assert processes_mentioning(tmp_path) == []


def test_ctrl_c_stops_the_demo_and_both_fakes_with_status_130(tmp_path):
    process = demo(tmp_path, "--calls", "300")
    assert process.stdout is not None
    deadline = time.monotonic() + DEADLINE_S
    while not ((tmp_path / "b24.env").is_file() and (tmp_path / "openai.env").is_file()):
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the fakes did not start"
        time.sleep(0.05)

    os.kill(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=DEADLINE_S)

    assert process.returncode == 130, output
    assert "interrupted; both fakes stopped" in output
    assert processes_mentioning(tmp_path) == []
