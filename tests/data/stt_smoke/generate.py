"""Build the STT smoke clips listed in manifest.json (spec 03, STT-52), byte for byte.

    python tests/data/stt_smoke/generate.py            # builds missing clips, checks every clip
    python tests/data/stt_smoke/generate.py --force    # rebuilds them all

The clips are synthetic "speech": triangle tones and bursts of noise shaped
like syllables, over quiet line noise, as 8 kHz 16-bit mono WAV (telephone
audio).  They are not words, so a real Whisper will not hear the manifest's
text in them; the fake OpenAI (``tests.fakes.openai``) started with
``--transcripts manifest.json`` answers each clip's ``text`` when it hears the
clip's ``heard`` signature (the tones and noise it detects, in order).

Everything is integer arithmetic and Python's seeded Mersenne Twister, and
WAV has no encoder version, so the bytes are the same on every machine and
Python 3.11+; that is what lets the manifest pin a SHA-256.  A clip whose
checksum does not match is deleted and the script fails, printing the
checksum it got, so a changed recipe is noticed and the manifest updated on
purpose.  Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import sys
import wave
from array import array
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
AUDIO_DIR = HERE / "audio"
RATE = 8000
# 0.3 of full scale, about -13 dBFS for a tone: a speaking voice.
LOUD = 9830
# About -60 dBFS RMS: a quiet telephone line, below the fake's hearing (-40) and the silence threshold (-45).
LINE = 57

# What each clip is made of, in order: ("tone", Hz, seconds), ("babble", seconds) — syllable-like noise
# bursts the fake hears as one "шум" —, ("line", seconds) — line noise between "words".
# Each clip opens with line noise: a tone at the very first sample is smeared by the MP3 encoder's
# start-up and can be heard 10 Hz off.
RECIPES: dict[str, tuple[tuple, ...]] = {
    "en_hello_world.wav": (
        ("line", 0.3),
        ("tone", 440, 0.8),
        ("line", 0.4),
        ("tone", 660, 0.8),
        ("line", 0.4),
        ("babble", 0.6),
    ),
    "es_buenos_dias.wav": (
        ("line", 0.3),
        ("tone", 520, 0.7),
        ("line", 0.4),
        ("babble", 0.6),
        ("line", 0.4),
        ("tone", 780, 0.7),
    ),
    "fr_bonjour_tout_le_monde.wav": (
        ("line", 0.3),
        ("babble", 0.6),
        ("line", 0.4),
        ("tone", 350, 0.8),
        ("line", 0.4),
        ("tone", 700, 1.0),
    ),
    "silence.wav": (("line", 2.0),),
}


def triangle(frequency: int, seconds: float) -> array:
    """A triangle wave: zero crossings at the tone's frequency, like a sine, without floating point."""
    samples = array("h")
    for n in range(round(seconds * RATE)):
        quarter = 4 * ((n * frequency) % RATE)
        if quarter < RATE:
            value = quarter
        elif quarter < 3 * RATE:
            value = 2 * RATE - quarter
        else:
            value = quarter - 4 * RATE
        samples.append(LOUD * value // RATE)
    return samples


def line_noise(seconds: float, rng: random.Random) -> array:
    return array("h", (rng.randint(-LINE, LINE) for _ in range(round(seconds * RATE))))


def babble(seconds: float, rng: random.Random) -> array:
    """150 ms of loud noise, 100 ms of line noise, repeated: the rhythm of syllables."""
    samples = array("h")
    total = round(seconds * RATE)
    while len(samples) < total:
        samples += array("h", (rng.randint(-LOUD, LOUD) for _ in range(round(0.15 * RATE))))
        samples += line_noise(0.1, rng)
    return samples[:total]


def render(filename: str) -> bytes:
    # One generator per clip, seeded by its name, so editing one recipe leaves the others' bytes alone.
    rng = random.Random(filename)
    samples = array("h")
    for kind, *parameters in RECIPES[filename]:
        if kind == "tone":
            samples += triangle(*parameters)
        elif kind == "babble":
            (seconds,) = parameters
            samples += babble(seconds, rng)
        else:
            (seconds,) = parameters
            samples += line_noise(seconds, rng)
    if sys.byteorder == "big":
        samples.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the STT smoke clips listed in manifest.json.")
    parser.add_argument("--force", action="store_true", help="rebuild clips that already exist")
    args = parser.parse_args(argv)
    clips = json.loads(MANIFEST.read_text(encoding="utf-8"))["clips"]
    AUDIO_DIR.mkdir(exist_ok=True)
    failed = 0
    for clip in clips:
        path = AUDIO_DIR / clip["filename"]
        if path.exists() and not args.force:
            state = "kept"
        else:
            path.write_bytes(render(clip["filename"]))
            state = "built"
        actual = sha256(path)
        if actual != clip["sha256"]:
            path.unlink()
            print(f"{path.name}: sha256 {actual} does not match the manifest's {clip['sha256']}; deleted")
            failed += 1
        else:
            print(f"{path.name}: {state}, sha256 ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
