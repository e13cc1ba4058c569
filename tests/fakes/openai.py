"""A fake OpenAI API: a real HTTP server on 127.0.0.1 with the shapes and habits of the real one.

What it serves (under ``/v1``, bearer key required):

- ``POST /audio/transcriptions``: multipart ``file``, ``model``, ``language``,
  ``response_format`` (``json``, ``text``, ``verbose_json``; ``srt``/``vtt``
  are refused), ``timestamp_granularities[]``.  The file is decoded with
  PyAV and "heard": every stretch of sound louder than -40 dBFS becomes a
  segment whose text is ``тон <Hz>`` for a tone (its frequency to 10 Hz) or
  ``шум`` for noise, so tests can tell chunks and channels apart.  Like
  Whisper, it invents text for silence ("Продолжение следует...").  Models in
  ``json_only_models`` refuse ``verbose_json`` as gpt-4o-transcribe does.
  With :attr:`FakeOpenAI.transcripts` (``--transcripts FILE`` by hand) a
  recording heard as a known signature is answered with a real sentence and
  its language instead: the STT smoke clips (``tests/data/stt_smoke``) are
  tones, and the smoke check's quality gate needs the words they stand for;
- ``POST /chat/completions``: a deterministic assistant message listing the
  first sentences of the last user message as bullets; :meth:`FakeOpenAI.chats`
  gives each request's last user and system messages;
- ``GET /models``.

Errors have OpenAI's JSON shape (``{"error": {"message", "type", "param",
"code"}}``); a wrong key answers 401 ``invalid_api_key``.  Faults are injected
with :meth:`FakeOpenAI.fail_next` (an HTTP status, ``timeout`` — an answer
held for ``slow_seconds`` —, ``reset`` or ``html``) or :attr:`FakeOpenAI.fault_rate`;
:attr:`FakeOpenAI.latency_s` is the time from a request's arrival to its answer,
the fake's own work (decoding, "hearing") included, as a remote server's is.  Every request is recorded in
:attr:`FakeOpenAI.requests`.

Run by hand: ``python -m tests.fakes.openai --port 8766 --env-file .env``
(``--port 0`` takes a free port; the ``--env-file`` then says which).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import math
import random
import socket
import threading
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import av

from integrations.stt.languages import ISO_639_1_BY_NAME
from tests.fakes.http import FakeServiceHandler, QuietThreadingServer, serve_in_background, stop_serving, write_env

DEFAULT_API_KEY = "sk-fake-openai-0123456789abcdef"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
# Whisper's best-known inventions for silent Russian audio.
HALLUCINATIONS = (
    "Продолжение следует...",
    "Субтитры сделал DimaTorzok",
    "Редактор субтитров А.Семкин Корректор А.Егорова",
)
HEARING_RATE = 16_000
HEARING_WINDOW = 320  # 20 ms
HEARING_THRESHOLD_DBFS = -40.0
# Sounds shorter than this are not heard; gaps shorter than this do not split a sound.
MIN_SOUND_SECONDS = 0.1
MAX_GAP_SECONDS = 0.2
# Above this, zero crossings mean noise rather than a tone.
MAX_TONE_HZ = 2000
LANGUAGE_NAMES = {code: name for name, code in reversed(list(ISO_639_1_BY_NAME.items()))}

STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("invalid_request_error", None, "Request timed out."),
    409: ("invalid_request_error", None, "Another request changed this resource; try again."),
    413: ("invalid_request_error", None, "Maximum content size limit (26214400) exceeded."),
    415: ("invalid_request_error", None, "Unsupported media type."),
    422: ("invalid_request_error", None, "Audio file could not be decoded or its format is not supported."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests per min (RPM). Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


@dataclass
class LoggedRequest:
    at: float
    method: str
    path: str
    status: int
    kind: str  # "transcription", "chat", "models", "other"
    model: str | None = None
    language: str | None = None
    response_format: str | None = None
    timestamp_granularities: tuple[str, ...] = ()
    file_name: str | None = None
    file_size: int | None = None
    file_sha256: str | None = None  # of the uploaded bytes
    file_format: str | None = None
    duration_seconds: float | None = None
    text: str | None = None
    system: str | None = None
    client_port: int | None = None  # the TCP connection the request came on


@dataclass(frozen=True)
class Sound:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class KnownTranscript:
    """What the fake answers for a recording it hears as a known signature."""

    text: str
    language: str | None


def load_transcripts(path: Path) -> dict[str, KnownTranscript]:
    """The ``clips`` of a smoke manifest (``tests/data/stt_smoke/manifest.json``): ``heard`` → text and language.

    Keyed by what is heard, not by the file: the client re-encodes every upload
    (16 kHz MP3 chunks named ``chunk-000.mp3``), so neither the name nor the
    checksum of the original reaches the server.  Clips heard as nothing are
    left out, so silence that is sent still gets an invented phrase and shows.
    """
    clips = json.loads(path.read_text(encoding="utf-8"))["clips"]
    return {clip["heard"]: KnownTranscript(clip["text"], clip.get("language")) for clip in clips if clip.get("heard")}


@dataclass(frozen=True)
class Heard:
    container: str
    duration_seconds: float
    sounds: tuple[Sound, ...]


@dataclass
class _Fault:
    kind: str
    remaining: int
    retry_after: str | None
    only: str | None = None


@dataclass
class FakeOpenAI:
    """The fake API.  ``with FakeOpenAI() as fake: fake.base_url`` (ends with ``/v1``)."""

    api_key: str = DEFAULT_API_KEY
    host: str = "127.0.0.1"
    port: int = 0
    language: str = "russian"
    json_only_models: tuple[str, ...] = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
    latency_s: float = 0.0
    slow_seconds: float = 5.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("429", "500", "503")
    seed: int = 1
    transcripts: dict[str, KnownTranscript] = field(default_factory=dict)
    requests: list[LoggedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._random = random.Random(self.seed)
        self._stopping = threading.Event()
        self._server: QuietThreadingServer | None = None
        self._answered = 0

    # Lifecycle --------------------------------------------------------

    def start(self) -> Self:
        fake: FakeOpenAI = self

        class Handler(_Handler):
            api = fake

        self._stopping.clear()
        self._server = serve_in_background(Handler, host=self.host, port=self.port, name="fake-openai")
        self.port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        # Held answers ("timeout" faults, latency) end now instead of outliving the test.
        self._stopping.set()
        if self._server:
            stop_serving(self._server)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # Faults and the log -----------------------------------------------

    def fail_next(
        self, kind: int | str, times: int = 1, *, retry_after: str | None = None, only: str | None = None
    ) -> None:
        """Answer the next ``times`` requests with ``kind``: an HTTP status (429, 500, 503, 413…),
        ``timeout`` (the answer is held ``slow_seconds``), ``reset`` (the connection is closed
        unanswered) or ``html`` (a 200 login page, as a captive proxy sends).
        ``retry_after`` is sent as the ``Retry-After`` header.  ``only`` (``"chat"``,
        ``"transcription"``) limits the fault to requests of that kind, so a test can fail the
        summary of a call whose transcription succeeds."""
        with self._lock:
            self._faults.append(_Fault(str(kind), times, retry_after, only))

    def _take_fault(self, kind: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.only in (None, kind):
                    fault.remaining -= 1
                    return fault
            if self.fault_rate and self._random.random() < self.fault_rate:
                return _Fault(self._random.choice(self.fault_kinds), 1, None)
        return None

    def log(self, entry: LoggedRequest) -> str:
        """Record ``entry``; the request id of its answer."""
        with self._lock:
            self.requests.append(entry)
            self._answered += 1
            return f"req_fake_{self._answered:06d}"

    def transcriptions(self) -> list[LoggedRequest]:
        with self._lock:
            return [entry for entry in self.requests if entry.kind == "transcription"]

    def chats(self) -> list[LoggedRequest]:
        """The chat requests; ``text`` is the last user message, ``system`` the system message."""
        with self._lock:
            return [entry for entry in self.requests if entry.kind == "chat"]

    def hold(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    # Answers ----------------------------------------------------------

    def transcription(
        self, heard: Heard, *, response_format: str, language: str | None, granularities: tuple[str, ...]
    ) -> tuple[str, str]:
        """The body and its content type for what was heard."""
        sounds = heard.sounds
        detected = self.language
        if not sounds:
            invented = HALLUCINATIONS[int(heard.duration_seconds * 1000) % len(HALLUCINATIONS)]
            sounds = (Sound(0.0, heard.duration_seconds, invented),)
        known = self.transcripts.get(" ".join(sound.text for sound in sounds)) if heard.sounds else None
        if known:
            sounds = (Sound(sounds[0].start, sounds[-1].end, known.text),)
            detected = LANGUAGE_NAMES.get(known.language, self.language) if known.language else self.language
        text = " ".join(sound.text for sound in sounds)
        if response_format == "text":
            return text + "\n", "text/plain; charset=utf-8"
        usage = {"type": "duration", "seconds": math.ceil(heard.duration_seconds)}
        if response_format == "json":
            return json.dumps({"text": text, "usage": usage}, ensure_ascii=False), "application/json"
        body: dict[str, Any] = {
            "task": "transcribe",
            # Like Whisper, a language hint is what the answer reports.
            "language": LANGUAGE_NAMES.get(language, language) if language else detected,
            "duration": round(heard.duration_seconds, 3),
            "text": text,
            "segments": [
                {
                    "id": index,
                    "seek": 0,
                    "start": round(sound.start, 2),
                    "end": round(sound.end, 2),
                    "text": " " + sound.text,
                    "tokens": [50364 + index],
                    "temperature": 0.0,
                    "avg_logprob": -0.3,
                    "compression_ratio": 1.1,
                    "no_speech_prob": 0.8 if not heard.sounds else 0.02,
                }
                for index, sound in enumerate(sounds)
            ],
            "usage": usage,
        }
        if "word" in granularities:
            body["words"] = [
                {"word": word, "start": round(sound.start, 2), "end": round(sound.end, 2)}
                for sound in sounds
                for word in sound.text.split()
            ]
        return json.dumps(body, ensure_ascii=False), "application/json"

    def chat_completion(self, model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        content = last_message(messages, "user")
        sentences = [s.strip() for s in content.replace("!", ".").replace("?", ".").split(".") if s.strip()]
        answer = "\n".join(f"- {sentence}." for sentence in sentences[:3]) or "- (пусто)"
        prompt_tokens = len(" ".join(str(m.get("content")) for m in messages).split())
        return {
            "id": f"chatcmpl-fake-{len(self.requests):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(answer.split()),
                "total_tokens": prompt_tokens + len(answer.split()),
            },
        }


def last_message(messages: list[dict[str, Any]], role: str) -> str:
    """The text of the last message of ``role``; "" when there is none."""
    message = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == role), {})
    content = message.get("content") or ""
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def hear(data: bytes) -> Heard:
    """Decode ``data`` and find its sounds; raises ``av.FFmpegError`` for what FFmpeg cannot read."""
    samples = array("h")
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=HEARING_RATE)
        for frame in [*container.decode(stream), None]:  # type: ignore[union-attr]  # av.open(…) reads: an InputContainer
            for out in resampler.resample(frame):
                samples.frombytes(bytes(out.planes[0])[: out.samples * 2])
        name = container.format.name
    threshold = 32768.0**2 * 10 ** (HEARING_THRESHOLD_DBFS / 10)
    loud = [
        sum(x * x for x in samples[start : start + HEARING_WINDOW]) / HEARING_WINDOW > threshold
        for start in range(0, len(samples) - HEARING_WINDOW + 1, HEARING_WINDOW)
    ]
    stretches: list[list[int]] = []
    max_gap = int(MAX_GAP_SECONDS * HEARING_RATE / HEARING_WINDOW)
    for index, is_loud in enumerate(loud):
        if not is_loud:
            continue
        if stretches and index - stretches[-1][1] <= max_gap:
            stretches[-1][1] = index + 1
        else:
            stretches.append([index, index + 1])
    sounds = []
    for first, last in stretches:
        if (last - first) * HEARING_WINDOW < MIN_SOUND_SECONDS * HEARING_RATE:
            continue
        piece = samples[first * HEARING_WINDOW : last * HEARING_WINDOW]
        crossings = sum(1 for a, b in pairwise(piece) if (a < 0) != (b < 0))
        frequency = crossings * HEARING_RATE / (2 * len(piece))
        text = f"тон {round(frequency / 10) * 10}" if frequency <= MAX_TONE_HZ else "шум"
        sounds.append(Sound(first * HEARING_WINDOW / HEARING_RATE, last * HEARING_WINDOW / HEARING_RATE, text))
    return Heard(name, len(samples) / HEARING_RATE, tuple(sounds))


class _Handler(FakeServiceHandler):
    api: FakeOpenAI
    _answer_at = 0.0  # monotonic time the answer may leave (set per request in _handle)

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        body = self._read_body()
        kind = {
            "/v1/audio/transcriptions": "transcription",
            "/v1/chat/completions": "chat",
            "/v1/models": "models",
        }.get(path, "other")
        self._entry = LoggedRequest(time.time(), self.command, path, 0, kind, client_port=self.client_address[1])
        arrived = time.monotonic()
        fault = self.api._take_fault(kind)
        if fault and fault.kind == "reset":
            self.api.log(self._entry)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        # The answer leaves at this moment whatever it took to make (``_raw``).
        self._answer_at = (
            arrived + self.api.latency_s + (self.api.slow_seconds if fault and fault.kind == "timeout" else 0)
        )
        if fault and fault.kind == "html":
            page = b"<!DOCTYPE html><html><body>Proxy login</body></html>"
            self._raw(200, page, "text/html")
        elif fault and fault.kind != "timeout":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._error(int(fault.kind), headers=headers)
        elif self.headers.get("Authorization") != f"Bearer {self.api.api_key}":
            self._error(401, f"Incorrect API key provided: {_masked(self.headers.get('Authorization', ''))}.")
        elif (kind, self.command) == ("transcription", "POST"):
            self._transcription(body)
        elif (kind, self.command) == ("chat", "POST"):
            self._chat(body)
        elif (kind, self.command) == ("models", "GET"):
            models = ["whisper-1", *self.api.json_only_models, "gpt-4o-mini"]
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
        else:
            self._error(404, f"Invalid URL ({self.command} {path})", code=None)

    def _transcription(self, body: bytes) -> None:
        fields, files = _multipart(body, self.headers.get("Content-Type", ""))
        model = fields.get("model", [""])[0]
        response_format = fields.get("response_format", ["json"])[0]
        language = fields.get("language", [None])[0]
        granularities = tuple(fields.get("timestamp_granularities[]", []))
        entry = self._entry
        entry.model, entry.language, entry.response_format = model, language, response_format
        entry.timestamp_granularities = granularities
        if "file" not in files:
            return self._error(400, "Missing required parameter: 'file'.", param="file", code=None)
        file_name, data = files["file"]
        entry.file_name, entry.file_size = file_name, len(data)
        entry.file_sha256 = hashlib.sha256(data).hexdigest()
        if not model:
            return self._error(400, "Missing required parameter: 'model'.", param="model", code=None)
        if response_format not in RESPONSE_FORMATS:
            supported = ", ".join(f"'{name}'" for name in RESPONSE_FORMATS)
            return self._error(
                400, f"Invalid value: '{response_format}'. Supported values are: {supported}.", param="response_format"
            )
        if response_format in ("srt", "vtt"):
            return self._error(400, f"This fake does not produce '{response_format}'.", param="response_format")
        if response_format == "verbose_json" and model in self.api.json_only_models:
            return self._error(
                400,
                f"response_format 'verbose_json' is not compatible with model '{model}'. Use 'json' or 'text' instead.",
                param="response_format",
                code="unsupported_value",
            )
        if len(data) > MAX_UPLOAD_BYTES:
            return self._error(
                413, f"Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded ({len(data)} bytes read)"
            )
        try:
            heard = hear(data)
        except (av.FFmpegError, IndexError):
            supported = "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']"
            return self._error(400, f"Invalid file format. Supported formats: {supported}", code=None)
        answer, content_type = self.api.transcription(
            heard, response_format=response_format, language=language, granularities=granularities
        )
        entry.file_format, entry.duration_seconds = heard.container, heard.duration_seconds
        entry.text = " ".join(sound.text for sound in heard.sounds) or None
        self._raw(200, answer.encode(), content_type)

    def _chat(self, body: bytes) -> None:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return self._error(400, "We could not parse the JSON body of your request.", code=None)
        model = request.get("model")
        self._entry.model = model
        if not model or not isinstance(request.get("messages"), list):
            return self._error(400, "Missing required parameter: 'model' or 'messages'.", code=None)
        self._entry.text = last_message(request["messages"], "user")
        self._entry.system = last_message(request["messages"], "system")
        self._json(200, self.api.chat_completion(model, request["messages"]))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if not size:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _error(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        if status == 502:
            # What a gateway in front of the API answers: HTML, not JSON.
            page = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
            return self._raw(502, page, "text/html", headers)
        kind, default_code, default_message = STATUS_ERRORS.get(
            status, ("invalid_request_error", None, f"Error {status}")
        )
        error = {
            "message": message or default_message,
            "type": kind,
            "param": param,
            "code": default_code if code == "" else code,
        }
        self._json(status, {"error": error}, headers)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json", headers)

    def _raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.api.hold(self._answer_at - time.monotonic())
        # Logged before the answer is written, so a client never sees an answer the log lacks.
        request_id = self.api.log(dataclasses.replace(self._entry, status=status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _masked(authorization: str) -> str:
    key = authorization.removeprefix("Bearer ").strip()
    return f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"


def _multipart(body: bytes, content_type: str) -> tuple[dict[str, list[str]], dict[str, tuple[str, bytes]]]:
    """``multipart/form-data`` → (text fields, each a list of values; files as (name, bytes))."""
    boundary = ""
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key == "boundary":
            boundary = value.strip('"')
    fields: dict[str, list[str]] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if not boundary:
        return fields, files
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        disposition = next(
            (
                line
                for line in head.decode("utf-8", "replace").split("\r\n")
                if line.lower().startswith("content-disposition")
            ),
            "",
        )
        parameters = {
            key.strip(): value.strip().strip('"')
            for key, _, value in (item.partition("=") for item in disposition.split(";")[1:])
        }
        name = parameters.get("name", "")
        if "filename" in parameters:
            files[name] = (parameters["filename"], content)
        else:
            fields.setdefault(name, []).append(content.decode("utf-8", "replace"))
    return fields, files


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed delay of every answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered 429/500/503")
    parser.add_argument("--env-file", type=Path, help="write OPENAI_API_KEY and OPENAI_BASE_URL into this file")
    parser.add_argument(
        "--transcripts",
        type=Path,
        metavar="MANIFEST",
        help="answer the clips of this smoke manifest (e.g. tests/data/stt_smoke/manifest.json) with their text",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    fake = FakeOpenAI(
        port=args.port,
        api_key=args.api_key,
        latency_s=args.latency_ms / 1000,
        fault_rate=args.fault_rate,
        transcripts=load_transcripts(args.transcripts) if args.transcripts else {},
    ).start()
    variables = {"OPENAI_API_KEY": args.api_key, "OPENAI_BASE_URL": fake.base_url}
    print(f"Fake OpenAI at {fake.base_url}", flush=True)
    for name, value in variables.items():
        print(f"  {name}={value}", flush=True)
    print("  STT also needs STT_MAX_FILE_MINUTES > 0, e.g. 60.", flush=True)
    if args.env_file:
        write_env(args.env_file, variables)
        print(f"Wrote them to {args.env_file}; restart `make run` so the web app and the worker read them.", flush=True)
    print("Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
