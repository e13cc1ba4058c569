"""Recordings turned into what the STT provider accepts, with PyAV (STT-04).

PyAV's wheels carry FFmpeg, so no system package is needed.  Three operations:

- :func:`probe` reads the header: container, codec, channels, sample rate,
  duration and the storage extension that matches the real format (STT-20);
- :func:`has_distinct_channels` tells a real two-party stereo recording from
  "dual mono" (the same mix on both channels), which would cost twice as much
  to transcribe per channel and give every line twice;
- :func:`split_for_upload` decodes once and yields ordered chunks, each
  re-encoded and measured for speech, mono or one channel at a time;
- :func:`as_stored` makes a mono MP3 or 16-bit WAV that fits in one upload
  its own upload, byte for byte, after measuring it for speech: decoding is
  a fraction of what LAME encoding costs, and the provider hears what was
  recorded.

Re-encoded uploads are MP3, mono, 16 kHz, 32 kbps constant bit rate.  16 kHz is what
Whisper resamples to anyway; telephone audio has nothing above 4 kHz.  MP3 is
decoded by OpenAI and by every compatible server we know, and at a constant
bit rate its size is known before encoding (4 KB a second, a tenth of 16 kHz
WAV), so chunk lengths follow from ``STT_MAX_FILE_SIZE_MB`` without trial
encodes and uploads through the proxy stay small.

Silence: Whisper invents text for silence ("Продолжение следует..."), so a
chunk whose 100 ms windows are louder than the threshold for less than
:data:`MIN_SPEECH_SECONDS` in total is marked ``silent`` and must not be
sent.  Counting loud windows rather than averaging the whole chunk keeps a
short answer in ten minutes of hold silence from being lost.

This module lives in ``integrations/stt`` because every choice in it (format,
rate, size, silence) exists for the provider; it imports nothing from Django,
and ``calls`` uses :func:`probe` the way it uses the Bitrix24 client.
"""

from __future__ import annotations

import io
import math
import operator
import os
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import IO

import av

from integrations.stt.errors import AudioConversionFailed

AudioSource = str | os.PathLike[str] | IO[bytes]

UPLOAD_SAMPLE_RATE = 16_000
UPLOAD_BIT_RATE = 32_000
UPLOAD_EXTENSION = ".mp3"
UPLOAD_CONTENT_TYPE = "audio/mpeg"
# Measured: 4000.9 bytes a second at 32 kbps; the rest is margin for frame padding.
UPLOAD_BYTES_PER_SECOND = UPLOAD_BIT_RATE / 8 * 1.05
# The Xing/LAME header frame and the muxer's ID3 tag.
UPLOAD_HEADER_BYTES = 4096

ANALYSIS_WINDOW_SECONDS = 0.1
MIN_SPEECH_SECONDS = 0.2
# Dual mono encoded as MP3 joint stereo differs by less than this; two speakers differ by ~0 dB.
DISTINCT_CHANNELS_DB = -20.0
# Shorter chunks would mean a request per second of audio.
MIN_CHUNK_SECONDS = 1.0

# (container, codec) of a mono recording sent as stored, and the upload's extension: what OpenAI and
# every compatible server decode, and what telephony stores.
AS_STORED = {("mp3", "mp3"): ".mp3", ("wav", "pcm_s16le"): ".wav"}

FULL_SCALE_SQUARED = 32768.0**2
SILENCE_FLOOR_DBFS = -120.0

_EXTENSIONS = {
    "mp3": ".mp3",
    "wav": ".wav",
    "ogg": ".ogg",
    "flac": ".flac",
    "mov,mp4,m4a,3gp,3g2,mj2": ".m4a",
    "matroska,webm": ".webm",
    "aac": ".aac",
    "amr": ".amr",
    "aiff": ".aiff",
    "asf": ".wma",
}


@dataclass(frozen=True)
class AudioInfo:
    """What the header says about a recording."""

    container: str
    codec: str
    channels: int
    sample_rate: int
    duration_seconds: float
    extension: str


@dataclass(frozen=True)
class AudioChunk:
    """One upload: ``index`` orders the chunks of one channel; ``channel`` is None for a mono mix."""

    index: int
    channel: int | None
    start_seconds: float
    duration_seconds: float
    data: bytes
    speech_seconds: float
    loudest_dbfs: float
    extension: str = UPLOAD_EXTENSION

    @property
    def silent(self) -> bool:
        return self.speech_seconds < MIN_SPEECH_SECONDS

    @property
    def end_seconds(self) -> float:
        return self.start_seconds + self.duration_seconds

    @property
    def filename(self) -> str:
        # OpenAI and compatible servers pick the decoder from the name.
        channel = "" if self.channel is None else f"-ch{self.channel}"
        return f"chunk-{self.index:03d}{channel}{self.extension}"


def storage_extension(container: str) -> str:
    """STT-20: the key's extension for an FFmpeg container name; ``.mp3`` when it cannot be told."""
    return _EXTENSIONS.get(container, ".mp3")


def probe(source: AudioSource) -> AudioInfo:
    """Container, codec, channels, rate and duration of a stored recording (header only, no full decode).

    Raises :class:`AudioConversionFailed` when FFmpeg cannot open it or finds no audio.
    """
    with _opened(source) as container:
        stream = _audio_stream(container)
        context = stream.codec_context
        duration = _header_seconds(container, stream)
        if duration is None:
            duration = sum(frame.samples for frame in _frames(container, stream)) / context.sample_rate
        return AudioInfo(
            container=container.format.name,
            codec=context.codec.canonical_name,
            channels=context.channels,
            sample_rate=context.sample_rate,
            duration_seconds=duration,
            extension=storage_extension(container.format.name),
        )


def has_distinct_channels(source: AudioSource, *, silence_threshold_dbfs: float) -> bool:
    """True when a stereo recording carries different sound on its two channels somewhere.

    Reads until the first 100 ms window in which the louder channel is above
    the silence threshold and the difference of the channels is within
    :data:`DISTINCT_CHANNELS_DB` of it; so a real dialogue answers within
    the first words, and only dual mono is read to the end.
    """
    loud = _mean_square_at(silence_threshold_dbfs)
    distinct_ratio = 10 ** (DISTINCT_CHANNELS_DB / 10)
    with _opened(source) as container:
        stream = _audio_stream(container)
        if stream.codec_context.channels != 2:
            return False
        window = max(1, int(stream.codec_context.sample_rate * ANALYSIS_WINDOW_SECONDS))
        left, right = array("h"), array("h")
        for planes in _pcm(container, stream, layout="stereo", rate=None):
            left.frombytes(planes[0])
            right.frombytes(planes[1])
            while len(left) >= window:
                louder = max(_mean_square(left[:window]), _mean_square(right[:window]))
                if louder > loud and _difference_mean_square(left[:window], right[:window]) > louder * distinct_ratio:
                    return True
                del left[:window], right[:window]
    return False


def upload_seconds_limit(*, max_chunk_seconds: float, max_chunk_bytes: int) -> float:
    """The longest chunk that respects both the length and the size limit."""
    by_size = (max_chunk_bytes - UPLOAD_HEADER_BYTES) / UPLOAD_BYTES_PER_SECOND
    limit = min(max_chunk_seconds, by_size)
    if limit < MIN_CHUNK_SECONDS:
        raise ValueError(f"chunks of {limit:.2f} s are too short; raise the size or length limit")
    return limit


def as_stored(
    source: AudioSource,
    info: AudioInfo,
    *,
    max_chunk_seconds: float,
    max_chunk_bytes: int,
    silence_threshold_dbfs: float,
) -> AudioChunk | None:
    """The recording as its only upload, its bytes as stored; None when it must go through :func:`split_for_upload`.

    Only a mono recording in one of the :data:`AS_STORED` formats, no bigger
    than ``max_chunk_bytes`` and no longer than ``max_chunk_seconds`` (as
    decoded, not as the header says), so that it would have been one chunk
    anyway.  It is decoded once, at its own rate, to measure its speech the
    way every chunk is measured: a silent one must not be sent either.
    """
    extension = AS_STORED.get((info.container, info.codec))
    if extension is None or info.channels != 1 or info.duration_seconds > max_chunk_seconds:
        return None
    data = _stored_bytes(source)
    if len(data) > max_chunk_bytes:
        return None
    with _opened(source) as container:
        stream = _audio_stream(container)
        meter = _SpeechMeter(silence_threshold_dbfs, stream.codec_context.sample_rate)
        for planes in _pcm(container, stream, layout="mono", rate=None):
            meter.add(planes[0])
    if meter.seconds > max_chunk_seconds:
        return None
    speech_seconds, loudest_dbfs = meter.finish()
    return AudioChunk(
        index=0,
        channel=None,
        start_seconds=0.0,
        duration_seconds=meter.seconds,
        data=data,
        speech_seconds=speech_seconds,
        loudest_dbfs=loudest_dbfs,
        extension=extension,
    )


def _stored_bytes(source: AudioSource) -> bytes:
    if not isinstance(source, str | os.PathLike):
        source.seek(0)
        return source.read()
    with open(source, "rb") as file:
        return file.read()


def split_for_upload(
    source: AudioSource,
    *,
    max_chunk_seconds: float,
    max_chunk_bytes: int,
    silence_threshold_dbfs: float,
    split_channels: bool = False,
) -> Iterator[AudioChunk]:
    """Decode ``source`` once and yield upload chunks in time order.

    Chunks are of equal length (the header's duration divided into as few
    pieces as the limits allow) rather than full ones and a short remainder.
    When the header undercounts, what is left becomes one more, shorter chunk;
    a few milliseconds of it hold no speech and are never sent.
    With ``split_channels`` and a stereo source, each window yields the chunk
    of channel 0, then of channel 1; otherwise the channels are mixed to mono.
    """
    limit_seconds = upload_seconds_limit(max_chunk_seconds=max_chunk_seconds, max_chunk_bytes=max_chunk_bytes)
    with _opened(source) as container:
        stream = _audio_stream(container)
        channels = 2 if split_channels and stream.codec_context.channels == 2 else 1
        chunk_samples = _chunk_samples(_header_seconds(container, stream), limit_seconds)
        writers = [_ChunkWriter(silence_threshold_dbfs) for _ in range(channels)]
        index = start = written = 0
        try:
            for planes in _pcm(
                container, stream, layout="stereo" if channels == 2 else "mono", rate=UPLOAD_SAMPLE_RATE
            ):
                offset, available = 0, len(planes[0]) // 2
                while offset < available:
                    take = min(available - offset, chunk_samples - written)
                    for writer, plane in zip(writers, planes, strict=False):
                        writer.write(plane[offset * 2 : (offset + take) * 2])
                    offset += take
                    written += take
                    if written == chunk_samples:
                        yield from _finished(writers, index, start, written, channels)
                        writers = [_ChunkWriter(silence_threshold_dbfs) for _ in range(channels)]
                        index, start, written = index + 1, start + written, 0
            if written:
                yield from _finished(writers, index, start, written, channels)
        finally:
            for writer in writers:
                writer.close()


def _chunk_samples(expected_seconds: float | None, limit_seconds: float) -> int:
    """Equal chunks: the header's duration in as few pieces as the limit allows."""
    limit = int(limit_seconds * UPLOAD_SAMPLE_RATE)
    if not expected_seconds:
        return limit
    expected = int(expected_seconds * UPLOAD_SAMPLE_RATE)
    return min(limit, math.ceil(expected / math.ceil(expected / limit)))


def _finished(writers: list[_ChunkWriter], index: int, start: int, written: int, channels: int) -> Iterator[AudioChunk]:
    for channel, writer in enumerate(writers):
        data, speech_seconds, loudest_dbfs = writer.finish()
        yield AudioChunk(
            index=index,
            channel=channel if channels == 2 else None,
            start_seconds=start / UPLOAD_SAMPLE_RATE,
            duration_seconds=written / UPLOAD_SAMPLE_RATE,
            data=data,
            speech_seconds=speech_seconds,
            loudest_dbfs=loudest_dbfs,
        )


class _ChunkWriter:
    """One chunk of one channel: 16-bit mono PCM in, MP3 bytes and the speech measure out."""

    def __init__(self, silence_threshold_dbfs: float):
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, mode="w", format="mp3")
        self._stream = self._container.add_stream("libmp3lame", rate=UPLOAD_SAMPLE_RATE, layout="mono")
        self._stream.bit_rate = UPLOAD_BIT_RATE
        self._meter = _SpeechMeter(silence_threshold_dbfs, UPLOAD_SAMPLE_RATE)
        self._samples = 0
        self._closed = False

    def write(self, pcm: bytes) -> None:
        count = len(pcm) // 2
        if not count:
            return
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(pcm)
        frame.sample_rate = UPLOAD_SAMPLE_RATE
        frame.time_base = Fraction(1, UPLOAD_SAMPLE_RATE)
        frame.pts = self._samples
        self._container.mux(self._stream.encode(frame))
        self._samples += count
        self._meter.add(pcm)

    def finish(self) -> tuple[bytes, float, float]:
        """The MP3 bytes, the seconds of speech and the loudest window in dBFS."""
        speech_seconds, loudest_dbfs = self._meter.finish()
        self._container.mux(self._stream.encode(None))
        self.close()
        return self._buffer.getvalue(), speech_seconds, loudest_dbfs

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()


class _SpeechMeter:
    """16-bit mono PCM at ``sample_rate`` in, 100 ms window by window: the seconds above the threshold and the loudest."""

    def __init__(self, silence_threshold_dbfs: float, sample_rate: int):
        self._loud = _mean_square_at(silence_threshold_dbfs)
        self._rate = sample_rate
        self._window = max(1, int(sample_rate * ANALYSIS_WINDOW_SECONDS))
        self._pending = array("h")
        self._samples = 0
        self._speech_samples = 0
        self._loudest = 0.0

    @property
    def seconds(self) -> float:
        """The seconds of audio added so far."""
        return self._samples / self._rate

    def add(self, pcm: bytes) -> None:
        self._pending.frombytes(pcm)
        self._samples += len(pcm) // 2
        while len(self._pending) >= self._window:
            self._measure(self._pending[: self._window])
            del self._pending[: self._window]

    def finish(self) -> tuple[float, float]:
        """The seconds of speech and the loudest window in dBFS."""
        if self._pending:
            self._measure(self._pending)
            del self._pending[:]
        return self._speech_samples / self._rate, _dbfs(self._loudest)

    def _measure(self, window: array) -> None:
        mean_square = _mean_square(window)
        self._loudest = max(self._loudest, mean_square)
        if mean_square > self._loud:
            self._speech_samples += len(window)


@contextmanager
def _opened(source: AudioSource) -> Iterator[av.container.InputContainer]:
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        container = av.open(source if hasattr(source, "read") else os.fspath(source), mode="r")
    except FileNotFoundError:
        raise
    except av.FFmpegError as error:
        raise AudioConversionFailed(f"the audio could not be opened: {error}") from error
    try:
        yield container
    except av.FFmpegError as error:
        raise AudioConversionFailed(f"the audio could not be decoded: {error}") from error
    finally:
        container.close()


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream:
    if not container.streams.audio:
        raise AudioConversionFailed(f"no audio stream in the {container.format.name} file")
    return container.streams.audio[0]


def _header_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _frames(container: av.container.InputContainer, stream: av.AudioStream) -> Iterator[av.AudioFrame]:
    """Decoded frames; damaged packets (common in recordings cut mid-frame) are skipped."""
    decoded = False
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            continue
        for frame in frames:
            decoded = True
            yield frame
    if not decoded:
        raise AudioConversionFailed(f"no audio could be decoded from the {container.format.name} file")


def _pcm(
    container: av.container.InputContainer, stream: av.AudioStream, *, layout: str, rate: int | None
) -> Iterator[list[bytes]]:
    """16-bit PCM per channel (one ``bytes`` for mono, two for stereo), resampled to ``rate``."""
    resampler = av.AudioResampler(format="s16p", layout=layout, rate=rate)
    channels = 2 if layout == "stereo" else 1
    for frame in _with_flush(_frames(container, stream)):
        for out in resampler.resample(frame):
            size = out.samples * 2
            yield [bytes(plane)[:size] for plane in out.planes[:channels]]


def _with_flush(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame | None]:
    yield from frames
    # None drains the resampler's delay line, or the last milliseconds would be lost.
    yield None


def _mean_square(samples: array) -> float:
    # Every second sample: the estimate of loudness barely changes and the pure-Python sum is halved.
    picked = samples[::2]
    return sum(map(operator.mul, picked, picked)) / len(picked) if picked else 0.0


def _difference_mean_square(left: array, right: array) -> float:
    difference = list(map(operator.sub, left[::2], right[::2]))
    return sum(map(operator.mul, difference, difference)) / len(difference) if difference else 0.0


def _mean_square_at(dbfs: float) -> float:
    return FULL_SCALE_SQUARED * 10 ** (dbfs / 10)


def _dbfs(mean_square: float) -> float:
    if mean_square <= 0:
        return SILENCE_FLOOR_DBFS
    return max(SILENCE_FLOOR_DBFS, 10 * math.log10(mean_square / FULL_SCALE_SQUARED))
