import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from mastermobile.api.idempotency import prune_expired_records, request_fingerprint
from mastermobile.models import IdempotencyRecord
from returns.models import Return
from tests.returns.conftest import URL, detail_url, new_key, send

pytestmark = pytest.mark.django_db


def test_it_replays_the_same_key(courier_api, body):
    key = new_key()
    first = send(courier_api, "post", URL, body, key=key)

    second = send(courier_api, "post", URL, body, key=key)

    assert second.status_code == first.status_code == 201
    assert second.content == first.content
    assert second["Location"] == first["Location"]
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Return.objects.count() == 1


def test_it_replays_even_after_the_resource_changed(admin_api, body):
    key = new_key()
    first = send(admin_api, "post", URL, body, key=key)
    send(admin_api, "delete", detail_url(first.json()["id"]), key=new_key())

    second = send(admin_api, "post", URL, body, key=key)

    assert second.json()["status"] == "pending"
    assert second.content == first.content


def test_it_refuses_the_same_key_with_a_different_payload(courier_api, body):
    key = new_key()
    send(courier_api, "post", URL, body, key=key)
    body["items"][0]["qty"] = 3

    response = send(courier_api, "post", URL, body, key=key)

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert response.json()["detail"] == "Idempotency-Key reused with a different payload."
    assert Return.objects.count() == 1


def test_a_changed_courier_id_with_the_same_key_is_409(admin_api, body):
    key = new_key()
    send(admin_api, "post", URL, body, key=key)
    body["courier_id"] = "courier-777"

    response = send(admin_api, "post", URL, body, key=key)

    assert response.status_code == 409
    assert Return.objects.count() == 1


def test_key_order_and_whitespace_do_not_change_the_fingerprint(courier_api, body):
    key = new_key()
    send(courier_api, "post", URL, body, key=key)
    reordered = dict(reversed(list(body.items())))
    reordered["items"] = [dict(reversed(list(item.items()))) for item in body["items"]]
    spaced = json.dumps(reordered, indent=4, separators=(" , ", " : "))

    response = send(courier_api, "post", URL, key=key, raw="\n  " + spaced + "\n")

    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "true"
    assert Return.objects.count() == 1


def test_the_fingerprint_covers_method_path_parameters_and_json_types():
    base = request_fingerprint(method="PUT", path_params={"return_id": "a"}, body={"qty": 1})

    assert base == request_fingerprint(method="put", path_params={"return_id": "a"}, body={"qty": 1})
    assert base != request_fingerprint(method="PUT", path_params={"return_id": "b"}, body={"qty": 1})
    assert base != request_fingerprint(method="POST", path_params={"return_id": "a"}, body={"qty": 1})
    assert base != request_fingerprint(method="PUT", path_params={"return_id": "a"}, body={"qty": 1.0})


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "required"),
        ("", "blank"),
        ("   ", "blank"),
        ("k" * 129, "at most 128"),
        ("bad\tkey", "control characters"),
        ("bad\x7fkey", "control characters"),
    ],
)
def test_a_missing_or_malformed_key_is_400_and_nothing_is_stored(courier_api, body, key, reason):
    response = send(courier_api, "post", URL, body, key=key)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    assert Return.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_a_128_character_key_is_accepted(courier_api, body):
    response = send(courier_api, "post", URL, body, key="k" * 128)

    assert response.status_code == 201


def test_the_same_key_from_two_actors_makes_two_returns(client_for, body):
    key = new_key()
    first = send(client_for("admin", "ops-1"), "post", URL, body, key=key)
    second = send(client_for("admin", "ops-2"), "post", URL, body, key=key)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second
    assert Return.objects.count() == 2


def test_the_same_key_on_two_endpoints_is_two_keys(admin_api, make_return, body):
    target = make_return()
    key = new_key()

    created = send(admin_api, "post", URL, body, key=key)
    replaced = send(admin_api, "put", detail_url(target.return_id), body, key=key)

    assert created.status_code == 201
    assert replaced.status_code == 200


def test_a_validation_error_does_not_consume_the_key(courier_api, body):
    key = new_key()
    body["items"][0]["qty"] = 0
    rejected = send(courier_api, "post", URL, body, key=key)
    body["items"][0]["qty"] = 1

    corrected = send(courier_api, "post", URL, body, key=key)

    assert rejected.status_code == 422
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected


def test_a_server_error_releases_the_key(courier_api, body, monkeypatch):
    key = new_key()

    def explode(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("returns.services.return_create", explode)
    failed = send(courier_api, "post", URL, body, key=key)
    monkeypatch.undo()

    retried = send(courier_api, "post", URL, body, key=key)

    assert failed.status_code == 500
    assert "database on fire" not in failed.content.decode()
    assert retried.status_code == 201
    assert Return.objects.count() == 1


def test_a_request_in_progress_is_409_with_retry_after(courier_api, body):
    key = new_key()
    send(courier_api, "post", URL, body, key=key)
    IdempotencyRecord.objects.update(state=IdempotencyRecord.State.IN_PROGRESS)

    response = send(courier_api, "post", URL, body, key=key)

    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["type"].endswith("/idempotency-in-progress")
    assert Return.objects.count() == 1


def test_an_expired_key_may_be_used_again(courier_api, body):
    key = new_key()
    send(courier_api, "post", URL, body, key=key)
    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(hours=73), expires_at=timezone.now() - timedelta(hours=1)
    )
    body["comment"] = "a different payload is fine after expiry"

    response = send(courier_api, "post", URL, body, key=key)

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Return.objects.count() == 2
    assert IdempotencyRecord.objects.get().expires_at > timezone.now() + timedelta(hours=71)


def test_a_claim_abandoned_by_a_killed_process_is_taken_over(courier_api, body):
    key = new_key()
    send(courier_api, "post", URL, body, key=key)
    Return.objects.all().delete()
    IdempotencyRecord.objects.update(
        state=IdempotencyRecord.State.IN_PROGRESS, created_at=timezone.now() - timedelta(minutes=11)
    )

    response = send(courier_api, "post", URL, body, key=key)

    assert response.status_code == 201
    assert Return.objects.count() == 1


def test_an_operation_whose_claim_was_taken_over_does_not_commit(courier_api, body, monkeypatch):
    from returns import services

    real_create = services.return_create

    def create_then_lose_the_claim(**kwargs):
        created = real_create(**kwargs)
        IdempotencyRecord.objects.all().delete()  # as a takeover by another process would
        return created

    monkeypatch.setattr("returns.services.return_create", create_then_lose_the_claim)

    response = send(courier_api, "post", URL, body, key=new_key())

    assert response.status_code == 409
    assert Return.objects.count() == 0


def test_the_record_stores_the_response_and_expires_in_72_hours(courier_api, body):
    response = send(courier_api, "post", URL, body, key="key-1")

    record = IdempotencyRecord.objects.get()
    assert record.state == "completed"
    assert record.endpoint == "POST /api/v1/returns"
    assert record.actor_id == "jwt:courier-001"
    assert record.response_status == 201
    assert record.response_body == response.content.decode()
    assert record.response_headers["Location"] == response["Location"]
    assert record.resource_ref == response.json()["id"]
    assert record.expires_at - record.created_at == timedelta(hours=72)


def test_a_delete_is_replayed_as_204_without_a_body(admin_api, make_return):
    target = make_return()
    key = new_key()
    first = send(admin_api, "delete", detail_url(target.return_id), key=key)

    second = send(admin_api, "delete", detail_url(target.return_id), key=key)

    assert first.status_code == second.status_code == 204
    assert second.content == b""
    assert second["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get().endpoint == "DELETE /api/v1/returns/<str:return_id>"


def test_get_ignores_the_key(onec_api):
    response = onec_api.get(URL, HTTP_IDEMPOTENCY_KEY="x" * 500)

    assert response.status_code == 200
    assert IdempotencyRecord.objects.count() == 0


def test_pruning_deletes_only_expired_records(courier_api, body):
    send(courier_api, "post", URL, body, key="old")
    send(courier_api, "post", URL, {**body, "comment": "new"}, key="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=80), expires_at=timezone.now() - timedelta(hours=8)
    )

    assert prune_expired_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_the_prune_command_reports_what_it_deleted(capsys):
    now = timezone.now()
    IdempotencyRecord.objects.create(
        key="k",
        endpoint="POST /x",
        actor_id="a",
        request_fingerprint="f",
        created_at=now - timedelta(hours=100),
        expires_at=now - timedelta(hours=28),
    )

    call_command("prune_idempotency")

    assert "deleted 1 expired idempotency record(s)" in capsys.readouterr().out
    assert IdempotencyRecord.objects.count() == 0


def test_the_hourly_prune_schedule_is_registered():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="idempotency.prune_expired")
    assert schedule.func == "mastermobile.api.idempotency.prune_expired_records"
    assert schedule.minutes == 60
