"""The committed smoke clips, their manifest and their generator (STT-52)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings

from integrations.stt.audio import probe, split_for_upload
from tests.fakes.openai import hear

SMOKE_DATA = Path(settings.BASE_DIR) / "tests" / "data" / "stt_smoke"
MANIFEST = json.loads((SMOKE_DATA / "manifest.json").read_text(encoding="utf-8"))
CLIPS = MANIFEST["clips"]


@pytest.fixture
def generator(tmp_path, monkeypatch) -> ModuleType:
    """generate.py, loaded from its file and pointed at a copy of the manifest under ``tmp_path``."""
    spec = importlib.util.spec_from_file_location("stt_smoke_generate", SMOKE_DATA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    monkeypatch.setattr(module, "MANIFEST", tmp_path / "manifest.json")
    monkeypatch.setattr(module, "AUDIO_DIR", tmp_path / "audio")
    return module


@pytest.mark.parametrize("clip", CLIPS, ids=lambda clip: clip["filename"])
def test_each_committed_clip_matches_its_manifest_checksum_and_duration(clip):
    path = SMOKE_DATA / "audio" / clip["filename"]

    assert hashlib.sha256(path.read_bytes()).hexdigest() == clip["sha256"]
    assert probe(path).duration_seconds == pytest.approx(clip["expected_duration_seconds"], abs=0.001)


@pytest.mark.parametrize("clip", CLIPS, ids=lambda clip: clip["filename"])
def test_the_fake_hears_each_clip_as_its_manifest_says_after_the_upload_encoding(clip):
    (chunk,) = split_for_upload(
        SMOKE_DATA / "audio" / clip["filename"],
        max_chunk_seconds=600,
        max_chunk_bytes=25 * 1024 * 1024,
        silence_threshold_dbfs=-45,
        split_channels=False,
    )

    assert " ".join(sound.text for sound in hear(chunk.data).sounds) == clip["heard"]
    assert chunk.silent == (clip["heard"] == "")


def test_the_generator_builds_the_committed_bytes(generator, capsys):
    assert generator.main([]) == 0

    for clip in CLIPS:
        committed = (SMOKE_DATA / "audio" / clip["filename"]).read_bytes()
        assert (generator.AUDIO_DIR / clip["filename"]).read_bytes() == committed
    assert capsys.readouterr().out.count("built, sha256 ok") == len(CLIPS)


def test_the_generator_keeps_existing_clips_unless_forced(generator, capsys):
    generator.main([])
    capsys.readouterr()

    generator.main([])
    kept = capsys.readouterr().out
    generator.main(["--force"])
    forced = capsys.readouterr().out

    assert kept.count("kept, sha256 ok") == len(CLIPS)
    assert forced.count("built, sha256 ok") == len(CLIPS)


def test_the_generator_deletes_a_clip_whose_checksum_does_not_match_and_fails(generator, capsys):
    generator.AUDIO_DIR.mkdir()
    damaged = generator.AUDIO_DIR / CLIPS[0]["filename"]
    damaged.write_bytes(b"RIFF not the clip")

    assert generator.main([]) == 1

    assert not damaged.exists()
    actual = hashlib.sha256(b"RIFF not the clip").hexdigest()
    assert f"{damaged.name}: sha256 {actual} does not match the manifest's {CLIPS[0]['sha256']}; deleted" in (
        capsys.readouterr().out
    )
