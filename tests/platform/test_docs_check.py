"""make docs-check: Markdown lint, spelling and the offline link check of README.md and docs/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import check_links  # noqa: E402

# Built, so that the misspelling is not in this file for the repository's own spelling check.
MISSPELT = "rec" + "ieve"


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_check(root: Path, capsys) -> tuple[int, str]:
    code = check_links.main(["--root", str(root)])
    return code, capsys.readouterr().out


def test_the_repository_docs_have_no_broken_link(capsys):
    code, out = run_check(ROOT, capsys)

    assert code == 0, out


def test_a_link_to_a_missing_file_fails_with_its_place(tmp_path, capsys):
    write(tmp_path, "README.md", "# Project\n\nSee [the runbook](docs/runbooks/missing.md).\n")

    code, out = run_check(tmp_path, capsys)

    assert code == 1
    assert "README.md:3: docs/runbooks/missing.md: no such file" in out


def test_a_link_to_a_missing_heading_fails(tmp_path, capsys):
    write(tmp_path, "docs/a.md", "# A\n\n## Deploying\n")
    write(tmp_path, "README.md", "[ok](docs/a.md#deploying) and [broken](docs/a.md#deployment)\n")

    code, out = run_check(tmp_path, capsys)

    assert code == 1
    assert "docs/a.md#deployment: no heading or anchor #deployment in docs/a.md" in out
    assert "#deploying" not in out


def test_anchors_follow_github_slugs_for_russian_punctuated_and_repeated_headings(tmp_path, capsys):
    write(
        tmp_path,
        "docs/a.md",
        "# Возвраты и курьеры\n\n## `call_export` — start, resume!\n\n## Results\n\n## Results\n\n"
        '<a id="legacy-anchor"></a>\n',
    )
    write(
        tmp_path,
        "README.md",
        "[1](docs/a.md#возвраты-и-курьеры) [2](docs/a.md#call_export--start-resume) "
        "[3](docs/a.md#results-1) [4](docs/a.md#legacy-anchor) [5](docs/a.md#%D0%B2%D0%BE%D0%B7%D0%B2%D1%80%D0%B0%D1%82%D1%8B-%D0%B8-%D0%BA%D1%83%D1%80%D1%8C%D0%B5%D1%80%D1%8B)\n",
    )

    code, out = run_check(tmp_path, capsys)

    assert (code, out) == (0, "")


def test_same_file_anchors_folders_and_external_links(tmp_path, capsys):
    write(tmp_path, "docs/runbooks/x.md", "# X\n")
    write(
        tmp_path,
        "README.md",
        "# Top\n\n[up](#top) [folder](docs/runbooks/) [web](https://example.invalid/nowhere) "
        "[mail](mailto:ops@example.invalid) [gone](#bottom)\n\n`[not a link](nowhere.md)`\n\n"
        "```text\n[nor this](nowhere.md)\n```\n",
    )

    code, out = run_check(tmp_path, capsys)

    assert code == 1
    assert out.splitlines() == ["README.md:3: #bottom: no heading or anchor #bottom in README.md"]


def test_a_link_out_of_the_repository_fails(tmp_path, capsys):
    write(tmp_path, "outside.md", "# Outside\n")
    write(tmp_path, "repo/README.md", "[x](../outside.md)\n")

    code, out = run_check(tmp_path / "repo", capsys)

    assert code == 1
    assert "points outside the repository" in out


@pytest.mark.parametrize(
    ("tool", "bad_text", "expected"),
    [
        (["-m", "pymarkdown", "scan"], "# Title\nText right under the heading.\n", "MD022"),
        (["-m", "codespell_lib"], f"# Title\n\nWe {MISSPELT} returns.\n", f"{MISSPELT} ==> receive"),
    ],
)
def test_lint_and_spelling_pass_on_the_docs_and_fail_on_a_bad_file(tmp_path, tool, bad_text, expected):
    command = [sys.executable, *tool]
    clean = subprocess.run([*command, "README.md", "docs"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    bad = write(tmp_path, "bad.md", bad_text)
    # The repository's configuration (pyproject.toml) applies: run from its root.
    failing = subprocess.run([*command, str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert failing.returncode != 0
    assert expected in failing.stdout + failing.stderr
