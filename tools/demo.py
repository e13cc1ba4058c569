"""``make demo``: the whole call pipeline end to end against the fake Bitrix24 and the fake OpenAI.

It starts both fakes on free local ports, points a scratch copy of the app
at them through environment variables only (a SQLite database and local
storage under ``build/demo/``, so the developer's ``var/`` database is left
alone), adds the demo data and staff user (``seed_demo``), exports the last
seven days of calls through download, transcription, summaries, registry and
report (``call_export``), and prints where to look.  Whatever happens —
success, a failed step, Ctrl-C — both fakes are stopped before it exits.

    .venv/bin/python tools/demo.py [--calls 300] [--dir build/demo]

Exit status: 0 when the run completed with its report and registry, 1 when
a step failed (the message says which), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
TIME_ZONE = "Europe/Moscow"
PERIOD_DAYS = 7
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
# What a previous demo left in its directory; nothing else there is touched.
SCRATCH = (
    "demo.sqlite3",
    "demo.sqlite3-wal",
    "demo.sqlite3-shm",
    "storage",
    "b24.env",
    "openai.env",
    "transcripts.json",
    "logs",
)
# The fake Bitrix24's recordings are tones of 300, 310 … 790 Hz (tests/fakes/audio.py), which the fake OpenAI
# hears as "тон <Hz>"; each is answered with one of these conversations, so the transcripts read like calls.
TONES = range(300, 800, 10)
OPENINGS = (
    "Здравствуйте, сервисный центр «МастерМобайл», чем могу помочь?",
    "Добрый день, это курьер, подъезжаю к вашему дому через десять минут.",
    "Алло, я по поводу заказа дисплея для Samsung Galaxy A52.",
    "Добрый вечер, у меня телефон перестал заряжаться после замены шлейфа.",
    "Здравствуйте, хочу узнать, есть ли в наличии аккумулятор для iPhone 11.",
)
ANSWERS = (
    "Дисплей есть на складе, замена займёт около часа, стоимость восемь с половиной тысяч рублей.",
    "Аккумулятор в наличии, курьер может привезти сегодня с шестнадцати до восемнадцати часов.",
    "Приносите телефон, проверим по гарантии бесплатно и заменим шлейф, если он повреждён.",
    "Заказ оформлен, оплата при получении, курьер позвонит за полчаса до приезда.",
    "Спасибо, передам мастеру, он перезвонит вам сегодня до конца дня.",
    "Хорошо, я подожду у подъезда, номер квартиры двенадцать.",
    "К сожалению, этой модели сейчас нет, ожидаем поставку в четверг.",
    "Запишу вас на завтра на одиннадцать утра, возьмите с собой гарантийный талон.",
    "Стекло можем наклеить сразу после замены дисплея, это ещё триста пятьдесят рублей.",
    "Курьер задерживается из-за пробок примерно на двадцать минут, извините.",
)


class DemoError(Exception):
    """A step of the demo failed; the message says which and where its log is."""


class Fake:
    """One fake service in its own process, known by the env file it writes once it listens."""

    def __init__(self, name: str, module: str, arguments: list[str], directory: Path, env_name: str):
        self.name = name
        self.env_file = directory / env_name
        self.log = directory / "logs" / f"{env_name.removesuffix('.env')}.log"
        command = [sys.executable, "-m", module, "--port", "0", "--env-file", str(self.env_file), *arguments]
        with self.log.open("w") as output:
            # Its own session: a Ctrl-C reaches this script only, which then stops the fake itself.
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def variables(self) -> dict[str, str]:
        """The fake's variables once it listens; waits up to START_TIMEOUT_S for it."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoError(
                    f"the fake {self.name} exited at start (status {self.process.returncode}); see {self.log}"
                )
            # The file is written in one go but not atomically: complete once it ends its last line.
            text = self.env_file.read_text() if self.env_file.is_file() else ""
            if text.endswith("\n"):
                return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
            time.sleep(0.1)
        raise DemoError(f"the fake {self.name} did not start in {START_TIMEOUT_S:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def fakes(directory: Path, calls: int) -> Iterator[tuple[Fake, Fake]]:
    started: list[Fake] = []
    try:
        # Calls over the last PERIOD_DAYS - 1 days all fall inside the exported whole days.
        b24_arguments = ["--calls", str(calls), "--days", str(PERIOD_DAYS - 1), "--rate", "0"]
        started.append(Fake("Bitrix24", "tests.fakes.bitrix24", b24_arguments, directory, "b24.env"))
        answers = directory / "transcripts.json"
        answers.write_text(json.dumps(conversations(), ensure_ascii=False, indent=1), encoding="utf-8")
        openai_arguments = ["--transcripts", str(answers)]
        started.append(Fake("OpenAI", "tests.fakes.openai", openai_arguments, directory, "openai.env"))
        yield started[0], started[1]
    finally:
        for fake in started:
            fake.stop()


def conversations() -> dict[str, list[dict[str, str]]]:
    """A smoke manifest's ``clips`` (what ``--transcripts`` reads): every tone of the fake portal and its text."""
    clips = []
    for index, hertz in enumerate(TONES):
        text = f"{OPENINGS[index % len(OPENINGS)]} {ANSWERS[index % len(ANSWERS)]}"
        clips.append({"heard": f"тон {hertz}", "text": text, "language": "ru"})
    return {"clips": clips}


def app_environment(directory: Path, b24: dict[str, str], openai: dict[str, str]) -> dict[str, str]:
    """The app's settings for the demo; every one the outcome depends on is pinned, whatever ``.env`` says."""
    return {
        **os.environ,
        **b24,
        **openai,
        "APP_ENV": "local",
        "DATABASE_URL": f"sqlite:///{directory / 'demo.sqlite3'}",
        "Q_BROKER": "orm",
        "STORAGE_BACKEND": "local",
        "LOCAL_STORAGE_DIR": str(directory / "storage"),
        "B24_RATE_LIMIT_RPS": "0",
        "B24_BACKOFF_SECONDS": "0",
        "STT_MAX_FILE_MINUTES": "60",
        "STT_DEFAULT_ENGINE": "openai-whisper",
        "STT_OPENAI_MODEL": "whisper-1",
        "STT_DEFAULT_LANGUAGE": "ru",
        "WHISPER_RATE_PER_MIN_USD": "0.006",
        "CHATGPT_PROXY_URL": "",
        "CALL_SUMMARY_ENABLED": "true",
        "CALL_SUMMARY_ENGINE": "llm",
        "CALL_EXPORT_TIMEZONE": TIME_ZONE,
        "PII_MASKING_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }


def manage(env: dict[str, str], *arguments: str) -> str:
    """Run one ``manage.py`` command, echoing its output; its output, or DemoError naming it."""
    command = [sys.executable, "manage.py", *arguments]
    result = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    if result.returncode != 0:
        raise DemoError(f"manage.py {' '.join(arguments)} failed with status {result.returncode}")
    return result.stdout


def clean(directory: Path) -> None:
    for name in SCRATCH:
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    (directory / "logs").mkdir(parents=True)


def only(pattern: str, storage: Path) -> Path:
    found = sorted(storage.glob(pattern))
    if not found:
        raise DemoError(f"the run left no {pattern} in {storage}")
    return found[-1]


def run(directory: Path, calls: int) -> None:
    started = time.monotonic()
    clean(directory)
    storage = directory / "storage"
    with fakes(directory, calls) as (b24, openai):
        env = app_environment(directory, b24.variables(), openai.variables())
        print(f"fake Bitrix24 (pid {b24.process.pid}) at {env['B24_BASE_URL']}, {calls} calls", flush=True)
        print(f"fake OpenAI (pid {openai.process.pid}) at {env['OPENAI_BASE_URL']}", flush=True)
        print(f"scratch database {directory / 'demo.sqlite3'}, storage {storage}", flush=True)
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "seed_demo", "--calls", "0")
        today = datetime.now(ZoneInfo(TIME_ZONE)).date()
        first = today - timedelta(days=PERIOD_DAYS - 1)
        print(f"exporting {first} – {today} …", flush=True)
        output = manage(env, "call_export", "--from", first.isoformat(), "--to", today.isoformat())
    if "run completed" not in output:
        raise DemoError("the export run did not complete; its output is above")
    transcripts = sum(1 for _ in storage.glob("transcripts/**/*.txt"))
    summaries = sum(1 for _ in storage.glob("summaries/**/*.md"))
    if not transcripts:
        raise DemoError(f"the run wrote no transcripts under {storage / 'transcripts'}")
    report = only("exports/*/reports/summary_*.md", storage)
    registry = only("exports/*/registry/calls_*.csv", storage)
    base = f"http://{os.environ.get('APP_HOST', '127.0.0.1')}:{os.environ.get('APP_PORT', '8000')}"
    print(
        f"\nDemo done in {time.monotonic() - started:.0f} s: {transcripts} transcripts, {summaries} summaries; "
        "both fakes stopped.\n"
        f"  report:   {report}\n"
        f"  registry: {registry}\n"
        "Browse it in the admin as demo-admin (its password is printed above):\n"
        f"  DATABASE_URL={env['DATABASE_URL']} LOCAL_STORAGE_DIR={storage} make run\n"
        f"  call export runs: {base}/admin/calls/callexport/\n"
        f"  call records:     {base}/admin/calls/callrecord/\n"
        f"  calls overview:   {base}/admin/calls/callrecord/overview/",
        flush=True,
    )


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls the fake Bitrix24 lists (default 300)")
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "demo", help="scratch directory (build/demo)")
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    # `kill` and a closing terminal stop the demo like Ctrl-C does: the fakes are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    try:
        run(args.dir.resolve(), args.calls)
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo: interrupted; both fakes stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
