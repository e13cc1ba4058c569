from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from django.conf import settings as django_settings
from django.utils import timezone
from moto.server import ThreadedMotoServer

from calls import transcription_queue
from calls.models import CallExport, CallExportStatus, CallRecord, TranscriptionJob
from calls.storage import save_stream
from integrations.models import CircuitState
from tests.fakes.bitrix24 import FakeBitrix24
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def fake_b24() -> Iterator[FakeBitrix24]:
    """60 calls over the last 60 days: 48 with a URL, 6 with a disk file only, 6 without a recording."""
    with FakeBitrix24(calls=60, rate=0) as fake:
        yield fake


@pytest.fixture
def storage_dir(tmp_path, settings):
    location = tmp_path / "storage"
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": location}},
    }
    return location


@pytest.fixture
def b24_config(fake_b24: FakeBitrix24, settings, storage_dir):
    config = dataclasses.replace(
        django_settings.APP_CONFIG,
        b24_base_url=fake_b24.base_url,
        b24_webhook_user_id=fake_b24.user_id,
        b24_webhook_token=fake_b24.token,
        b24_rate_limit_rps=0,
        b24_backoff_seconds=0,
        request_timeout_s=5,
    )
    settings.APP_CONFIG = config
    return config


@pytest.fixture
def open_circuit(b24_config) -> Callable[[], CircuitState]:
    """Opens the fake portal's circuit breaker for the next 30 seconds when called."""

    def open_it() -> CircuitState:
        circuit, _ = CircuitState.objects.update_or_create(
            value=f"b24:{urlsplit(b24_config.b24_base_url).netloc}",
            defaults={"state": CircuitState.State.OPEN, "probe_at": timezone.now() + timedelta(seconds=30)},
        )
        return circuit

    return open_it


@pytest.fixture
def s3_storage(settings):
    """A real S3 endpoint (moto's server, in this process) as the default storage; yields a client of the bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets in this process across servers: start every test from an empty one.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    credentials: dict[str, Any] = {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
    boto3.client("s3", endpoint_url=endpoint, **credentials).create_bucket(Bucket="recordings")
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "recordings",
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": "private",
                "file_overwrite": True,
                "object_parameters": {"ServerSideEncryption": "AES256"},
            },
        },
    }
    yield boto3.client("s3", endpoint_url=endpoint, **credentials)
    server.stop()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """The fake OpenAI API (transcriptions, chat completions) on a free port."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def stt_config(b24_config, fake_openai, settings):
    """STT on against the fake OpenAI (and the fake portal), summaries on, retries without waits."""
    config = dataclasses.replace(
        django_settings.APP_CONFIG,
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.base_url,
        stt_max_file_minutes=60,
        stt_request_timeout_s=5,
        stt_retry_delays_s=(0.0, 0.0, 0.0),
        call_summary_enabled=True,
    )
    settings.APP_CONFIG = config
    return config


@pytest.fixture
def stored(stt_config):
    """``stored(audio)``: a downloaded record whose audio is ``audio``, with its queued job."""
    run = CallExport.objects.create(
        period_from=datetime(2026, 1, 1, tzinfo=UTC),
        period_to=datetime(2026, 1, 2, tzinfo=UTC),
        status=CallExportStatus.IN_PROGRESS,
    )
    made = 0

    def make(audio: bytes) -> TranscriptionJob:
        nonlocal made
        made += 1
        key = f"raw/2026/01/01/call_c{made}.wav"
        saved = save_stream(key, [audio])
        record = CallRecord.objects.create(
            run=run,
            call_id=f"c{made}",
            record_id=str(made),
            direction="inbound",
            from_number="+79000000000",
            to_number="+74950000000",
            duration_sec=math.ceil(len(audio) / 32000),
            status="downloaded",
            storage_path=key,
            checksum=saved.sha256,
        )
        return transcription_queue.job_enqueue(CallRecord.objects.select_related("run").get(pk=record.pk))

    return make
