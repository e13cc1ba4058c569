"""Prometheus multiprocess directories: fresh for each command, never emptied under a running one."""

import os
import subprocess

from mastermobile.observability.multiprocess import fresh_directory


def pid_of_an_exited_process() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_fresh_directory_is_empty_and_named_after_its_owner(tmp_path):
    directory = fresh_directory(tmp_path, "web", owner_pid=os.getpid())

    assert directory == tmp_path / f"web-{os.getpid()}"
    assert list(directory.iterdir()) == []


def test_the_directory_of_a_running_command_is_left_alone(tmp_path):
    running = tmp_path / f"web-{os.getppid()}"
    running.mkdir()
    (running / "counter_1.db").write_bytes(b"live")

    fresh_directory(tmp_path, "web", owner_pid=os.getpid())

    assert (running / "counter_1.db").read_bytes() == b"live"


def test_directories_of_exited_commands_and_old_unnamed_ones_are_removed(tmp_path):
    abandoned = tmp_path / f"worker-{pid_of_an_exited_process()}"
    abandoned.mkdir()
    old_style = tmp_path / "web"
    old_style.mkdir()

    fresh_directory(tmp_path, "web", owner_pid=os.getpid())

    assert not abandoned.exists()
    assert not old_style.exists()


def test_a_directory_left_by_an_earlier_process_with_the_same_pid_is_emptied(tmp_path):
    left = tmp_path / f"web-{os.getpid()}"
    left.mkdir()
    (left / "counter_1.db").write_bytes(b"stale")

    directory = fresh_directory(tmp_path, "web", owner_pid=os.getpid())

    assert list(directory.iterdir()) == []
