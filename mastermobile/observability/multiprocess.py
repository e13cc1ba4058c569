"""Prometheus multiprocess directories for `serve` and `worker`: one per running command, never shared.

prometheus_client sums every file in ``PROMETHEUS_MULTIPROC_DIR``, so each
start needs an empty directory. Commands started from the same checkout (two
`serve`s on different ports, the test suite beside `make run`) must not empty
each other's, so each directory carries the pid of the command that owns it,
and a start removes only the directories whose owner has exited.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def fresh_directory(root: Path, name: str, *, owner_pid: int) -> Path:
    """An empty ``root/<name>-<owner_pid>``, after removing what exited owners left under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    remove_abandoned(root)
    directory = root / f"{name}-{owner_pid}"
    # Only a process that had this pid before can have left it.
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    return directory


def remove_abandoned(root: Path) -> None:
    for directory in root.iterdir():
        owner = directory.name.rpartition("-")[2]
        if directory.is_dir() and not (owner.isdigit() and is_running(int(owner))):
            shutil.rmtree(directory, ignore_errors=True)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
