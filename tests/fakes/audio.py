"""Small audio files the fakes serve and the tests compare against."""

from __future__ import annotations

import io
import math
import random
import wave
from array import array
from typing import cast

import av


def wav_bytes(index: int, seconds: float = 0.25, rate: int = 8000) -> bytes:
    """A short mono 16-bit tone; the pitch depends on ``index`` so every file differs."""
    frequency = 300 + (index % 50) * 10
    frames = bytearray()
    for n in range(int(seconds * rate)):
        sample = int(8000 * math.sin(2 * math.pi * frequency * n / rate))
        frames += sample.to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


# Generated recordings for the STT tests: 16-bit samples in ``array("h")``, no numpy.

RATE = 16_000
FULL_SCALE = 32767
_CODECS = {"mp3": "libmp3lame", "ogg": "libopus", "ipod": "aac", "flac": "flac", "wav": "pcm_s16le"}


def tone(frequency: int, seconds: float, *, rate: int = RATE, level: float = 0.3) -> array:
    """A sine at ``level`` of full scale (0.3 ≈ -13 dBFS, a speaking voice); the fake OpenAI hears "тон <Hz>"."""
    period = array("h", (int(level * FULL_SCALE * math.sin(2 * math.pi * frequency * n / rate)) for n in range(rate)))
    # One second of an integer frequency ends where it began, so whole seconds repeat seamlessly.
    whole, part = divmod(int(seconds * rate), rate)
    return period * whole + period[:part]


def silence(seconds: float, *, rate: int = RATE) -> array:
    return array("h", bytes(2 * int(seconds * rate)))


def noise(seconds: float, *, rate: int = RATE, dbfs: float = -60.0, seed: int = 1) -> array:
    """White noise at ``dbfs`` RMS: -60 is a quiet telephone line, -20 is as loud as speech."""
    sigma = FULL_SCALE * 10 ** (dbfs / 20)
    rng = random.Random(seed)
    return array("h", (max(-FULL_SCALE, min(FULL_SCALE, int(rng.gauss(0, sigma)))) for _ in range(int(seconds * rate))))


def speech_like(seconds: float, *, rate: int = RATE, seed: int = 1) -> array:
    """Syllable-like bursts: 150 ms of loud noise, 100 ms of quiet line noise, repeated."""
    samples = array("h")
    burst = 0
    while len(samples) < int(seconds * rate):
        samples += noise(0.15, rate=rate, dbfs=-20, seed=seed + burst) + noise(0.1, rate=rate, seed=seed - burst)
        burst += 1
    return samples[: int(seconds * rate)]


def interleaved(left: array, right: array) -> array:
    """Stereo frames from two equally long channels."""
    frames = array("h", bytes(4 * len(left)))
    frames[0::2] = left
    frames[1::2] = right
    return frames


def wav(*channels: array, rate: int = RATE) -> bytes:
    """A WAV file of one (mono) or two (stereo) channels."""
    frames = channels[0] if len(channels) == 1 else interleaved(*channels)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.tobytes())
    return buffer.getvalue()


def encoded(*channels: array, container: str = "mp3", rate: int = RATE, bit_rate: int = 64_000) -> bytes:
    """The channels encoded with PyAV: ``mp3``, ``ogg`` (Opus), ``ipod`` (AAC in .m4a), ``flac`` or ``wav``."""
    layout = "mono" if len(channels) == 1 else "stereo"
    frames = channels[0] if len(channels) == 1 else interleaved(*channels)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = cast(av.AudioStream, out.add_stream(_CODECS[container], rate=rate, layout=layout))
        if container in ("mp3", "ogg", "ipod"):
            stream.bit_rate = bit_rate
        step = 4096
        for start in range(0, len(frames), step * len(channels)):
            piece = frames[start : start + step * len(channels)]
            frame = av.AudioFrame(format="s16", layout=layout, samples=len(piece) // len(channels))
            frame.planes[0].update(piece.tobytes())
            frame.sample_rate = rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()
