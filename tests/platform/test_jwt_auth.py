"""Bearer JWT and staff-session authentication (PLAT-40…42)."""

import dataclasses
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from mastermobile.api.authentication import decode_token
from mastermobile.config import ConfigError, load_config
from returns.models import Courier
from tests.processes import manage, process_env

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


OLD_SECRET = "the-secret-before-the-rotation-0123456789"


def test_during_a_rotation_a_token_signed_with_the_previous_secret_is_accepted_and_logged(api_client, settings, caplog):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, jwt_previous_secret=OLD_SECRET)

    with caplog.at_level("WARNING", logger="mastermobile.api.authentication"):
        old = get_with(api_client, sign(claims(sub="onec-legacy"), secret=OLD_SECRET))
        new = get_with(api_client, sign(claims()))

    assert (old.status_code, old.json()["subject"]) == (200, "onec-legacy")
    assert new.status_code == 200
    used = [record for record in caplog.records if record.getMessage() == "auth.jwt_previous_secret"]
    assert [(record.subject, record.role) for record in used] == [("onec-legacy", "1c")]


def test_after_the_rotation_a_token_of_the_previous_secret_is_401(api_client, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, jwt_previous_secret="")

    response = get_with(api_client, sign(claims(), secret=OLD_SECRET))

    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


def test_the_previous_secret_still_checks_expiry_and_lifetime(api_client, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, jwt_previous_secret=OLD_SECRET)
    past = datetime.now(UTC) - timedelta(hours=1)

    response = get_with(api_client, sign(claims(iat=past, exp=past + timedelta(minutes=5)), secret=OLD_SECRET))

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_short_previous_secret_is_refused_in_production():
    environment = {
        "APP_ENV": "production",
        "JWT_SECRET": "x" * 40,
        "JWT_SECRET_PREVIOUS": "short",
        "DJANGO_SECRET_KEY": "k" * 50,
    }

    with pytest.raises(ConfigError, match="JWT_SECRET_PREVIOUS"):
        load_config(environment)


def test_an_unknown_role_is_401(api_client):
    response = get_with(api_client, sign(claims(role="superuser")))

    assert response.status_code == 401


@pytest.fixture
def courier():
    return Courier.objects.create(courier_id="courier-001", display_name="Ivan Petrov")


def test_a_known_role_without_permission_is_403(api_client, courier):
    response = get_with(api_client, sign(claims(role="courier", sub="courier-001")))

    assert response.status_code == 403


@pytest.mark.parametrize("subject", ["", "   ", "\t", "x" * 129, "courier\x00001", "bad\ud800"])
def test_a_blank_or_unprintable_subject_is_401(api_client, subject):
    response = get_with(api_client, sign(claims(sub=subject)))

    assert response.status_code == 401
    assert "sub" in response.json()["detail"]


def test_a_subject_that_is_not_a_string_is_401(api_client):
    response = get_with(api_client, sign(claims(sub=42)))

    assert response.status_code == 401


@pytest.mark.parametrize(("role", "days"), [("courier", 7), ("1c", 365), ("admin", 1)])
def test_a_token_living_up_to_its_role_maximum_is_accepted(api_client, courier, role, days):
    now = datetime.now(UTC)
    token = sign(claims(role=role, sub="courier-001", iat=now, exp=now + timedelta(days=days)))

    response = get_with(api_client, token)

    assert response.status_code in (200, 403)  # the probe is closed to couriers, not their tokens


@pytest.mark.parametrize(("role", "days"), [("courier", 7), ("1c", 365), ("admin", 1)])
def test_a_token_living_longer_than_its_role_maximum_is_401(api_client, courier, role, days):
    now = datetime.now(UTC)
    token = sign(claims(role=role, sub="courier-001", iat=now, exp=now + timedelta(days=days, minutes=2)))

    response = get_with(api_client, token)

    assert response.status_code == 401
    assert f"tokens of role {role} may live at most" in response.json()["detail"]


def test_a_hundred_year_token_issued_long_ago_is_401(api_client):
    issued = datetime.now(UTC) - timedelta(days=365 * 50)

    response = get_with(api_client, sign(claims(iat=issued, exp=issued + timedelta(days=365 * 100))))

    assert response.status_code == 401


def test_a_token_without_iat_counts_its_lifetime_from_now(api_client):
    soon, later = (datetime.now(UTC) + timedelta(days=days) for days in (364, 366))

    accepted = get_with(api_client, sign(claims(iat=None, exp=soon)))
    refused = get_with(api_client, sign(claims(iat=None, exp=later)))

    assert (accepted.status_code, refused.status_code) == (200, 401)


def test_the_maximum_lifetime_follows_the_setting(api_client, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, jwt_max_lifetime_days_1c=30)
    now = datetime.now(UTC)

    response = get_with(api_client, sign(claims(iat=now, exp=now + timedelta(days=31))))

    assert response.status_code == 401
    assert "30 days" in response.json()["detail"]


def test_a_courier_token_for_an_unknown_courier_is_401(api_client):
    response = get_with(api_client, sign(claims(role="courier", sub="courier-404")))

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert "not an active courier" in response.json()["detail"]


def test_a_courier_token_for_an_inactive_courier_is_401(api_client, courier):
    Courier.objects.filter(pk=courier.pk).update(is_active=False)

    response = get_with(api_client, sign(claims(role="courier", sub="courier-001")))

    assert response.status_code == 401
    assert "not an active courier" in response.json()["detail"]


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


@pytest.mark.parametrize(("role", "days"), [("courier", "8"), ("1c", "366"), ("admin", "2")])
def test_issue_token_refuses_a_lifetime_over_the_role_maximum(role, days):
    with pytest.raises(CommandError, match=f"JWT_MAX_LIFETIME_DAYS_{role.upper()}"):
        call_command("issue_token", "--role", role, "--subject", "someone", "--days", days)


def test_issue_token_refuses_over_the_maximum_with_exit_status_1():
    result = manage("issue_token", "--role", "admin", "--subject", "ops", "--days", "30", env=process_env())

    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "tokens of role admin may live at most 1 day (JWT_MAX_LIFETIME_DAYS_ADMIN=1); asked for 30 days"
        in result.stderr
    )


def test_issue_token_mints_up_to_the_maximum(capsys):
    call_command("issue_token", "--role", "admin", "--subject", "ops", "--days", "1")

    decoded = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert decoded["exp"] - decoded["iat"] == 86400


def test_issue_token_warns_when_the_courier_does_not_exist(capsys):
    call_command("issue_token", "--role", "courier", "--subject", "courier-404")

    captured = capsys.readouterr()
    assert captured.out.strip().count(".") == 2  # still a token
    assert "courier-404 is not an active courier" in captured.err


def test_issue_token_refuses_an_unprintable_subject():
    with pytest.raises(CommandError, match="printable"):
        call_command("issue_token", "--role", "1c", "--subject", "onec\x00prod")


def test_issue_token_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("issue_token", "--role", "root", "--subject", "x")
