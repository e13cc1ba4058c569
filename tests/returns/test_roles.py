"""Roles table of 02 §2, authentication failures and request ids (RET-40 cases 15–16)."""

import uuid
from datetime import timedelta

import pytest

from returns.models import Courier, Return
from tests.returns.conftest import URL, VALID_BODY, detail_url, new_key, send

pytestmark = pytest.mark.django_db

ALLOWED = {
    ("GET", "list"): {"1c", "admin"},
    ("POST", "list"): {"courier", "admin"},
    ("GET", "detail"): {"1c", "courier", "admin"},
    ("PUT", "detail"): {"1c", "admin"},
    ("DELETE", "detail"): {"admin"},
}
CASES = [(method, where, role) for (method, where) in ALLOWED for role in ("1c", "courier", "admin")]


@pytest.mark.parametrize(("method", "where", "role"), CASES)
def test_each_role_gets_exactly_the_operations_of_the_table(client_for, make_return, method, where, role):
    target = make_return()  # courier_id courier-001, the courier's own
    client = client_for(role, "courier-001" if role == "courier" else f"{role}-client")
    url = URL if where == "list" else detail_url(target.return_id)

    response = send(client, method.lower(), url, VALID_BODY if method in ("POST", "PUT") else None, key=new_key())

    if role in ALLOWED[(method, where)]:
        assert response.status_code in (200, 201, 204)
    else:
        assert response.status_code == 403
        assert response.json()["type"].endswith("/forbidden")


def test_a_courier_cannot_list(courier_api):
    assert courier_api.get(URL).status_code == 403


def test_1c_cannot_create(onec_api):
    response = send(onec_api, "post", URL, VALID_BODY, key=new_key())

    assert response.status_code == 403
    assert Return.objects.count() == 0


def test_a_courier_sees_its_own_return(courier_api, make_return):
    own = make_return(courier_id="courier-001")

    assert courier_api.get(detail_url(own.return_id)).status_code == 200


def test_a_courier_gets_404_for_another_couriers_return(courier_api, make_return):
    other = make_return(courier_id="courier-002")

    response = courier_api.get(detail_url(other.return_id))

    assert response.status_code == 404


def test_no_token_is_401_with_www_authenticate(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["type"].endswith("/unauthorized")


def test_no_token_on_a_write_is_401_before_the_key_check(api_client):
    response = send(api_client, "post", URL, VALID_BODY)

    assert response.status_code == 401


def test_an_expired_token_is_401(api_client, make_token):
    token = make_token("admin", "ops", lifetime=timedelta(minutes=-5))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get(URL)

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("active", [False, None], ids=["inactive", "unknown"])
def test_a_courier_that_is_not_an_active_courier_cannot_create_returns(api_client, make_token, active):
    if active is not None:
        Courier.objects.create(courier_id="courier-001", display_name="Ivan Petrov", is_active=active)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token('courier', 'courier-001')}")

    response = send(api_client, "post", URL, VALID_BODY, key=new_key())

    assert response.status_code == 401
    assert "not an active courier" in response.json()["detail"]
    assert Return.objects.count() == 0


def test_a_staff_session_acts_as_admin(admin_client):
    response = admin_client.get(URL)

    assert response.status_code == 200


def test_a_non_staff_session_is_401(client, django_user_model):
    user = django_user_model.objects.create_user("plain", password="pw")
    client.force_login(user)

    response = client.get(URL, HTTP_ACCEPT="application/json")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "url", "payload", "key"),
    [
        ("get", URL, None, None),
        ("post", URL, VALID_BODY, "req-id-1"),
        ("post", URL, {"items": []}, "req-id-2"),
        ("post", URL, VALID_BODY, None),
        ("get", f"{URL}/abc", None, None),
    ],
)
def test_every_response_has_a_request_id_and_errors_carry_it(admin_api, method, url, payload, key):
    response = send(admin_api, method, url, payload, key=key)

    request_id = response["X-Request-Id"]
    assert uuid.UUID(request_id)
    if response.status_code >= 400:
        assert response.json()["request_id"] == request_id


def test_a_client_request_id_is_echoed_into_the_problem(admin_api):
    response = admin_api.get(f"{URL}/abc", HTTP_X_REQUEST_ID="trace-42")

    assert response["X-Request-Id"] == "trace-42"
    assert response.json()["request_id"] == "trace-42"
