"""Login throttling: a username is locked from one address after too many wrong passwords, staff can unlock it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from axes.models import AccessAttempt, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.utils import translation

from mastermobile.config import ConfigError, load_config
from tests.processes import GUNICORN, free_port, http_get, manage, process_env, running

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/?next=/admin/"
API_LOGIN = "/api/auth/login/?next=/api/v1/system/ping"
PASSWORD = "correct-horse-battery-staple"
RUSSIAN: dict[str, Any] = {"HTTP_ACCEPT_LANGUAGE": "ru-RU,ru;q=0.9"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Wrong passwords are the point here; PBKDF2's deliberate slowness is not."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff():
    users = get_user_model().objects
    return {
        name: users.create_user(name, password=PASSWORD, is_staff=True, is_superuser=True) for name in ("alice", "bob")
    }


def log_in(client: Client, username: str, password: str, *, url: str = ADMIN_LOGIN, address: str = "127.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address, **RUSSIAN)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_lock_the_admin_login_and_the_right_one_no_longer_works(staff):
    client = Client()

    statuses = [log_in(client, "alice", f"guess-{attempt}").status_code for attempt in range(40)]
    right = log_in(client, "alice", PASSWORD)

    assert statuses[:4] == [200] * 4  # the login form again, with its error
    assert set(statuses[4:]) == {429}  # the fifth failure locks
    assert right.status_code == 429
    assert not logged_in(client)
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 41


def test_the_lockout_page_looks_like_the_admin_and_tells_staff_what_to_do_in_russian(staff):
    client = Client()
    for attempt in range(5):
        locked = log_in(client, "alice", f"guess-{attempt}")

    page = locked.content.decode()
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert 'lang="ru"' in page and 'id="header"' in page and "MasterMobile" in page
    assert "Вход временно заблокирован" in page
    assert "Вход под именем «alice» с этого компьютера заблокирован после 5 неудачных попыток." in page
    assert "Попробуйте снова через 15 минут." in page
    assert "попросите администратора" in page


def test_other_users_and_other_addresses_are_not_affected(staff):
    attacker = Client()
    for attempt in range(10):
        log_in(attacker, "alice", f"guess-{attempt}")

    bob_same_address, alice_elsewhere = Client(), Client()
    bob = log_in(bob_same_address, "bob", PASSWORD)
    alice = log_in(alice_elsewhere, "alice", PASSWORD, address="10.20.30.40")

    assert bob.status_code == 302 and logged_in(bob_same_address)
    assert alice.status_code == 302 and logged_in(alice_elsewhere)


def test_the_unlock_action_in_the_admin_lets_the_locked_user_in_again(staff, admin_client):
    client = Client()
    for attempt in range(5):
        log_in(client, "alice", f"guess-{attempt}")
    attempt = AccessAttempt.objects.get(username="alice")

    listing = admin_client.get("/admin/axes/accessattempt/?locked=yes", **RUSSIAN)
    unlocked = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "unlock", "_selected_action": [attempt.pk], "index": 0},
        follow=True,
        **RUSSIAN,
    )
    again = log_in(client, "alice", PASSWORD)

    assert "Разблокировать выбранные входы" in listing.content.decode()
    assert "заблокирован до" in listing.content.decode()
    assert "1 вход разблокирован: можно снова входить." in unlocked.content.decode()
    assert not AccessAttempt.objects.exists()
    assert again.status_code == 302 and logged_in(client)


def test_staff_without_the_delete_permission_are_not_offered_the_unlock_action(staff):
    viewer = get_user_model().objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_accessattempt"))
    client = Client()
    client.force_login(viewer)

    listing = client.get("/admin/axes/accessattempt/", **RUSSIAN)

    assert listing.status_code == 200
    assert "Разблокировать выбранные входы" not in listing.content.decode()


def test_the_browsable_api_login_is_throttled_the_same_way(staff):
    client = Client()

    statuses = [log_in(client, "alice", f"guess-{attempt}", url=API_LOGIN).status_code for attempt in range(6)]
    right = log_in(client, "alice", PASSWORD, url=API_LOGIN)

    assert statuses == [200] * 4 + [429] * 2
    assert right.status_code == 429 and not logged_in(client)
    assert "Login temporarily locked" in right.content.decode()  # /api/ pages are English


def test_a_successful_login_forgets_the_earlier_failures(staff):
    client = Client()
    for attempt in range(4):
        log_in(client, "alice", f"guess-{attempt}")

    assert log_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    statuses = [log_in(client, "alice", f"again-{attempt}").status_code for attempt in range(4)]

    assert statuses == [200] * 4


def test_the_lock_lifts_once_the_lockout_minutes_have_passed_since_the_last_failure(staff):
    client = Client()
    for attempt in range(5):
        log_in(client, "alice", f"guess-{attempt}")
    attempt = AccessAttempt.objects.get(username="alice")
    attempt.attempt_time -= timedelta(minutes=15, seconds=1)
    attempt.save(update_fields=["attempt_time"])

    assert log_in(client, "alice", PASSWORD).status_code == 302


def test_the_limit_and_the_lockout_minutes_follow_the_settings(staff, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=3)
    client = Client()

    responses = [log_in(client, "alice", f"guess-{attempt}") for attempt in range(2)]

    assert [response.status_code for response in responses] == [200, 429]
    assert "Попробуйте снова через 3 минуты." in responses[-1].content.decode()
    assert responses[-1]["Retry-After"] == "180"


def test_the_failure_limit_and_lockout_minutes_are_read_from_the_environment():
    defaults = load_config({})
    configured = load_config({"LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_MINUTES": "60"})

    assert (defaults.login_failure_limit, defaults.login_lockout_minutes) == (5, 15)
    assert (configured.login_failure_limit, configured.login_lockout_minutes) == (3, 60)
    for name, value in [("LOGIN_FAILURE_LIMIT", "0"), ("LOGIN_LOCKOUT_MINUTES", "soon")]:
        with pytest.raises(ConfigError, match=name):
            load_config({name: value})


@pytest.mark.parametrize("model", [AccessAttempt, AccessLog])
def test_the_login_lists_of_the_admin_read_in_russian(model):
    model_admin = admin.site._registry[model]
    with translation.override("ru"):
        labels = [str(label_for_field(name, model, model_admin)) for name in model_admin.list_display]
        labels += [str(description) for _action, _name, description in model_admin._get_base_actions()]  # type: ignore[attr-defined]  # private, no stub
        labels += [str(model._meta.verbose_name_plural), str(apps.get_app_config("axes").verbose_name)]

    assert all(re.search("[а-яё]", label, re.IGNORECASE) for label in labels), labels


# Several processes ---------------------------------------------------------------


def database_url(tmp_path: Path) -> str:
    """This run's database for the servers: PostgreSQL's test database, or a migrated SQLite file."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    url = f"sqlite:///{tmp_path / 'logins.sqlite3'}"
    migrated = manage("migrate", "--noinput", env=process_env(DATABASE_URL=url))
    assert migrated.returncode == 0, migrated.stderr
    return url


class Browser:
    """One person's cookies against one server, sending the CSRF token of the last form it read."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Accept-Language"] = "ru-RU,ru;q=0.9"
        self.token = ""

    def get(self, path: str) -> requests.Response:
        response = self.session.get(self.base_url + path, timeout=30)
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
        self.token = found.group(1) if found else self.token
        return response

    def post(self, path: str, data: dict) -> requests.Response:
        return self.session.post(
            self.base_url + path, data={**data, "csrfmiddlewaretoken": self.token}, allow_redirects=False, timeout=30
        )

    def log_in(self, username: str, password: str) -> requests.Response:
        self.get(ADMIN_LOGIN)
        return self.post(ADMIN_LOGIN, {"username": username, "password": password})


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_lock_made_through_one_server_holds_on_another_until_staff_unlock_it_there(tmp_path):
    url = database_url(tmp_path)
    env = process_env(DATABASE_URL=url, LOG_LEVEL="WARNING")
    users = (
        "from django.contrib.auth import get_user_model; User = get_user_model(); "
        f"User.objects.create_user('alice', password='{PASSWORD}', is_staff=True); "
        f"User.objects.create_superuser('root', 'root@example.com', '{PASSWORD}')"
    )
    assert manage("shell", "-c", users, env=env).returncode == 0
    ports = [free_port(), free_port()]
    servers = [[*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1"] for port in ports]
    with running(servers[0], env=env), running(servers[1], env=env):
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        http_get(first + "/health")
        http_get(second + "/health")

        attacker = Browser(first)
        statuses = [attacker.log_in("alice", f"guess-{attempt}").status_code for attempt in range(5)]
        alice_on_the_second_server = Browser(second).log_in("alice", PASSWORD)

        staff = Browser(second)
        assert staff.log_in("root", PASSWORD).status_code == 302
        listing = staff.get("/admin/axes/accessattempt/?locked=yes")
        selected = re.search(r'name="_selected_action" value="(\d+)"', listing.text)
        assert selected is not None, listing.text
        attempt_id = selected.group(1)
        unlocked = staff.post("/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": attempt_id})
        alice_after_unlock = Browser(first).log_in("alice", PASSWORD)

    assert statuses == [200] * 4 + [429]
    assert alice_on_the_second_server.status_code == 429
    assert "Вход временно заблокирован" in alice_on_the_second_server.text
    assert unlocked.status_code == 302
    assert alice_after_unlock.status_code == 302
    assert alice_after_unlock.headers["Location"] == "/admin/"
