"""Every command, option, make target and path a runbook tells an operator to use exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from django.core.management import get_commands, load_command_class
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
FENCE = re.compile(r"^ *```[a-z]*\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
SHELL_END = {"#", "|", ">", ">>", "&&", ";", "&"}
PATH = re.compile(r"(?<![\w.])(/(?:api|admin)/[^\s`'\"?)]*|/health\b)")
PLACEHOLDER = re.compile(r"\{[^}]+\}|<[^>]+>")


def snippets(text: str) -> list[str]:
    """Command lines of the fenced blocks (continuations joined) and the inline code spans."""
    blocks = [block.replace("\\\n", " ") for block in FENCE.findall(text)]
    prose = FENCE.sub("", text)
    return [line for block in blocks for line in block.splitlines()] + CODE_SPAN.findall(prose)


def words(snippet: str) -> list[str]:
    try:
        return shlex.split(snippet, comments=True)
    except ValueError:
        return snippet.split()


def manage_py_calls(snippet: str) -> list[tuple[str, list[str]]]:
    """(command, its --options) for each ``manage.py <command> …`` in a snippet."""
    tokens = words(snippet)
    calls = []
    for index, token in enumerate(tokens):
        if token.endswith("manage.py") and index + 1 < len(tokens):
            options = []
            for argument in tokens[index + 2 :]:
                if argument in SHELL_END:
                    break
                # "[--dry-run]": an optional flag as usage lines write it.
                argument = argument.strip("[]")
                if argument.startswith("--"):
                    options.append(argument.split("=", 1)[0])
            calls.append((tokens[index + 1], options))
    return calls


def make_targets_used(snippet: str) -> list[str]:
    tokens = words(snippet)
    return [tokens[i + 1] for i, token in enumerate(tokens[:-1]) if token == "make" and "=" not in tokens[i + 1]]


def collect():
    found: dict[str, list[tuple[Any, ...]]] = {"manage": [], "make": [], "paths": []}
    for runbook in RUNBOOKS:
        text = runbook.read_text(encoding="utf-8")
        for snippet in snippets(text):
            found["manage"] += [(runbook.name, *call) for call in manage_py_calls(snippet)]
            found["make"] += [(runbook.name, target) for target in make_targets_used(snippet)]
        found["paths"] += [(runbook.name, path) for path in PATH.findall(text)]
    return found


FOUND = collect()


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_the_runbooks_are_there_and_name_commands():
    names = {path.name for path in RUNBOOKS}

    assert {
        "local-development.md",
        "deployment.md",
        "call_export.md",
        "walking-warehouse.md",
        "incidents.md",
        "retention.md",
        "secrets.md",
    } <= names
    assert len(FOUND["manage"]) >= 20 and len(FOUND["make"]) >= 10 and len(FOUND["paths"]) >= 10


@pytest.mark.parametrize(("runbook", "command", "options"), FOUND["manage"])
def test_every_manage_py_command_and_option_exists(runbook, command, options):
    commands = get_commands()
    assert command in commands, f"{runbook}: manage.py {command} does not exist"

    parser = load_command_class(commands[command], command).create_parser("manage.py", command)
    known = {option for action in parser._actions for option in action.option_strings}
    assert set(options) <= known, f"{runbook}: manage.py {command} has no {sorted(set(options) - known)}"


@pytest.mark.parametrize(("runbook", "target"), FOUND["make"])
def test_every_make_target_exists(runbook, target):
    assert target in makefile_targets(), f"{runbook}: make {target} is not a Makefile target"


@pytest.mark.parametrize(("runbook", "path"), FOUND["paths"])
def test_every_path_is_served(runbook, path):
    concrete = PLACEHOLDER.sub("0b8c2a8e-5b1e-4c53-9d0c-4f1f6e8d2a11", path.rstrip(".,;:"))
    try:
        resolve(concrete)
    except Resolver404:
        pytest.fail(f"{runbook}: {path} is not a URL of the project")


def test_the_check_catches_a_command_that_does_not_exist():
    calls = manage_py_calls(".venv/bin/python manage.py call_exprot --resum 1 | tee log")

    assert calls == [("call_exprot", ["--resum"])]
    assert "call_exprot" not in get_commands()
