"""Small audio files the fakes serve and the tests compare against."""

from __future__ import annotations

import io
import math
import wave


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
