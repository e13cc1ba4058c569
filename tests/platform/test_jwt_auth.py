"""Bearer JWT and staff-session authentication (PLAT-40…42)."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from mastermobile.api.authentication import decode_token

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.platform.probe_urls")]

PROBE = "/api/v1/probe"


def sign(claims, secret=None):
    return jwt.encode(claims, secret or settings.APP_CONFIG.jwt_secret, algorithm="HS256")


def claims(**overrides):
    now = datetime.now(UTC)
    base = {
        "iss": settings.APP_CONFIG.jwt_issuer,
        "sub": "onec-prod",
        "role": "1c",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def get_with(api_client, token):
    return api_client.get(PROBE, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_valid_token_is_accepted(api_client):
    response = get_with(api_client, sign(claims()))

    assert response.status_code == 200
    assert response.json() == {"subject": "onec-prod", "role": "1c"}


def test_an_expired_token_is_401(api_client):
    expired = datetime.now(UTC) - timedelta(minutes=1)

    response = get_with(api_client, sign(claims(exp=expired)))

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_token_within_the_clock_skew_leeway_is_accepted(api_client):
    response = get_with(api_client, sign(claims(exp=datetime.now(UTC) - timedelta(seconds=10))))

    assert response.status_code == 200


def test_a_token_without_exp_is_401(api_client):
    response = get_with(api_client, sign(claims(exp=None)))

    assert response.status_code == 401


def test_a_wrong_issuer_is_401(api_client):
    response = get_with(api_client, sign(claims(iss="someone-else")))

    assert response.status_code == 401
    assert "issuer" in response.json()["detail"]


def test_a_wrong_signature_is_401(api_client):
    response = get_with(api_client, sign(claims(), secret="another-secret-of-sufficient-length-123456"))

    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


def test_an_unknown_role_is_401(api_client):
    response = get_with(api_client, sign(claims(role="superuser")))

    assert response.status_code == 401


def test_a_known_role_without_permission_is_403(api_client):
    response = get_with(api_client, sign(claims(role="courier", sub="courier-001")))

    assert response.status_code == 403


def test_a_non_bearer_scheme_is_401(api_client):
    response = api_client.get(PROBE, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")

    assert response.status_code == 401


def test_a_staff_session_acts_as_admin(admin_client):
    response = admin_client.get(PROBE, HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_a_non_staff_session_gets_401(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="pw-123456789")
    client.force_login(user)

    response = client.get(PROBE, HTTP_ACCEPT="application/json")

    assert response.status_code == 401


def test_issue_token_prints_a_verifiable_token(capsys):
    call_command("issue_token", "--role", "1c", "--subject", "onec-prod", "--days", "30")

    token = capsys.readouterr().out.strip()
    decoded = decode_token(token, secret=settings.APP_CONFIG.jwt_secret, issuer=settings.APP_CONFIG.jwt_issuer)
    assert decoded["role"] == "1c"
    assert decoded["sub"] == "onec-prod"
    assert 29 * 86400 < decoded["exp"] - decoded["iat"] <= 30 * 86400


def test_issue_token_defaults_to_fifteen_minutes(capsys):
    call_command("issue_token", "--role", "courier", "--subject", "courier-001")

    decoded = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert decoded["exp"] - decoded["iat"] == 15 * 60


def test_issue_token_refuses_a_blank_subject():
    with pytest.raises(CommandError):
        call_command("issue_token", "--role", "1c", "--subject", "  ")


def test_issue_token_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("issue_token", "--role", "root", "--subject", "x")
