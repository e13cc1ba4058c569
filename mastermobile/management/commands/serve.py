"""Run the web server and the django-q2 cluster together; Ctrl-C stops both."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mastermobile.management.ports import ListenAddress, cannot_listen_on
from mastermobile.observability.multiprocess import fresh_directory

STOP_GRACE_SECONDS = 20


class Command(BaseCommand):
    help = "Start gunicorn (APP_HOST:APP_PORT) and the django-q2 cluster; stop both on Ctrl-C or SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--no-worker", action="store_true", help="start only the web server")

    def handle(self, *args, web_workers: int, no_worker: bool, **options) -> None:
        config = settings.APP_CONFIG
        addresses = [ListenAddress.web(config)]
        if not no_worker:
            addresses.append(ListenAddress.worker_metrics(config))
        # Checked before anything starts: otherwise gunicorn retries for five
        # seconds and the worker dies with a traceback while the other runs.
        reason = cannot_listen_on(addresses)
        if reason:
            raise CommandError(reason)
        bind = f"{config.app_host}:{config.app_port}"
        commands = {
            "web": [
                sys.executable,
                "-m",
                "gunicorn",
                "mastermobile.wsgi:application",
                "--config",
                "python:mastermobile.gunicorn_conf",
                "--bind",
                bind,
                "--workers",
                str(web_workers),
            ],
        }
        if not no_worker:
            commands["worker"] = [sys.executable, "manage.py", "worker"]
        metrics_directories = {
            name: fresh_directory(Path(settings.VAR_DIR) / "prometheus", name, owner_pid=os.getpid())
            for name in commands
        }
        processes = {
            name: subprocess.Popen(
                cmd,
                cwd=settings.BASE_DIR,
                env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_directories[name])},
                # Each child leads its own process group, so the stop below
                # reaches gunicorn's and django-q2's own children too: a
                # grandchild left behind would keep the terminal (or a
                # caller's pipe) open after serve has exited.
                process_group=0,
            )
            for name, cmd in commands.items()
        }
        self.stdout.write(
            f"MasterMobile on {where_to_reach(config.app_host, config.app_port)} "
            f"(admin /admin/, API docs /api/docs/); {', '.join(processes)} started. Ctrl-C stops."
        )
        if not get_user_model().objects.filter(is_superuser=True).exists():
            self.stdout.write("No admin login yet: run `make superuser` in another terminal.")

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping the others.")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, process in processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {STOP_GRACE_SECONDS} s; killing it.")
            kill_process_group(process.pid)
        for directory in metrics_directories.values():
            shutil.rmtree(directory, ignore_errors=True)
        if exit_code:
            raise SystemExit(exit_code)


def kill_process_group(leader_pid: int) -> None:
    """SIGKILL whatever is left of a child's process group (its leader, or workers that outlived it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader_pid, signal.SIGKILL)


def where_to_reach(host: str, port: int) -> str:
    """The banner's address: the URL to open, and whether other machines can reach it too."""
    if host == "0.0.0.0":
        return f"http://127.0.0.1:{port}/ and every other address of this machine (APP_HOST=0.0.0.0)"
    return f"http://{host}:{port}/"
