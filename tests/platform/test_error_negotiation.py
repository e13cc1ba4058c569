"""API errors reach every client readably: problem+json for API clients, the browsable API page for a browser.

Unknown paths under /api/ are problem+json 404s whether DEBUG is on or off (PLAT-32).
"""

import json

import pytest

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
API_CLIENT_ACCEPTS = ["application/json", "*/*", None, "application/problem+json", "application/problem+json, */*"]
UNKNOWN_API_PATHS = ["/api/v1/nope", "/api/v1/returns/x/y", "/api/nope", "/api", "/api/auth/nope"]


@pytest.fixture
def staff_browser(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", password="pw-123456789", is_staff=True))
    return client


def accept_headers(accept: str | None) -> dict[str, str]:
    return {} if accept is None else {"HTTP_ACCEPT": accept}


def assert_problem_json(response, status: int, slug: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["type"] == f"https://api.mastermobile.app/errors/{slug}"
    assert body["status"] == status
    return body


def test_a_browser_sees_an_api_error_as_the_browsable_api_page(staff_browser):
    response = staff_browser.get("/api/v1/returns/not-a-uuid", HTTP_ACCEPT=BROWSER_ACCEPT)

    page = response.content.decode()
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert "HTTP 404 Not Found" in page
    assert "https://api.mastermobile.app/errors/not-found" in page


@pytest.mark.parametrize("accept", API_CLIENT_ACCEPTS)
def test_an_api_client_gets_the_same_error_as_problem_json(client_for, accept):
    response = client_for("admin").get("/api/v1/returns/not-a-uuid", **accept_headers(accept))

    assert_problem_json(response, 404, "not-found")


def test_a_staff_session_that_asks_for_json_gets_problem_json(staff_browser):
    response = staff_browser.get("/api/v1/returns/not-a-uuid", HTTP_ACCEPT="application/json")

    assert_problem_json(response, 404, "not-found")


def test_a_client_that_accepts_only_problem_json_still_gets_its_data(client_for):
    response = client_for("admin").get("/api/v1/system/ping", HTTP_ACCEPT="application/problem+json")

    assert response.status_code == 200
    assert response.json()["status"] == "pong"


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
@pytest.mark.parametrize("path", UNKNOWN_API_PATHS)
def test_an_unknown_api_path_is_a_problem_json_404_for_anyone(api_client, settings, debug, path):
    settings.DEBUG = debug

    response = api_client.get(path)

    body = assert_problem_json(response, 404, "not-found")
    assert body["detail"] == "No resource at this path."


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_any_method_on_an_unknown_api_path_is_404(api_client, settings, debug):
    settings.DEBUG = debug

    response = api_client.post("/api/v1/nope", data={"a": 1}, format="json")

    assert_problem_json(response, 404, "not-found")


def test_a_browser_on_an_unknown_api_path_gets_the_browsable_404_page_not_the_debug_page(staff_browser, settings):
    settings.DEBUG = True

    response = staff_browser.get("/api/v1/nope", HTTP_ACCEPT=BROWSER_ACCEPT)

    page = response.content.decode()
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "HTTP 404 Not Found" in page
    assert "Using the URLconf" not in page


def test_paths_outside_the_api_keep_the_html_404_page(client):
    response = client.get("/no/such/page", HTTP_ACCEPT="application/json")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
