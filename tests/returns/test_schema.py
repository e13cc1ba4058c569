import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_every_write_documents_the_idempotency_key_header(schema):
    operations = [
        schema["paths"]["/api/v1/returns"]["post"],
        schema["paths"]["/api/v1/returns/{return_id}"]["put"],
        schema["paths"]["/api/v1/returns/{return_id}"]["delete"],
        schema["paths"]["/api/v1/returns/{return_id}/status"]["patch"],
    ]

    for operation in operations:
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert headers["Idempotency-Key"]["required"] is True


@pytest.mark.parametrize(
    ("path", "method", "roles"),
    [
        ("/api/v1/returns", "get", "Roles: 1c, admin."),
        ("/api/v1/returns", "post", "Roles: admin, courier."),
        ("/api/v1/returns/{return_id}", "get", "Roles: 1c, admin, courier."),
        ("/api/v1/returns/{return_id}", "put", "Roles: 1c, admin."),
        ("/api/v1/returns/{return_id}", "delete", "Roles: admin."),
        ("/api/v1/returns/{return_id}/status", "patch", "Roles: 1c, admin."),
    ],
)
def test_every_operation_documents_its_roles(schema, path, method, roles):
    assert roles in schema["paths"][path][method]["description"]


def test_the_create_body_and_return_are_documented(schema):
    components = schema["components"]["schemas"]

    assert set(components["ReturnCreateRequest"]["required"]) == {"source", "courier_id", "items"}
    assert components["Return"]["properties"]["id"]["format"] == "uuid"
    created = schema["paths"]["/api/v1/returns"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]


def test_the_status_change_body_is_documented_whole_not_as_a_partial_update(schema):
    body = schema["paths"]["/api/v1/returns/{return_id}/status"]["patch"]["requestBody"]
    component = schema["components"]["schemas"]["ReturnStatusChangeRequest"]

    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/ReturnStatusChangeRequest")
    assert component["required"] == ["status"]
    assert component["properties"]["reason"]["maxLength"] == 500


def test_updated_since_and_a_repeatable_status_are_documented_on_the_list(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/returns"]["get"]["parameters"]}

    assert parameters["updated_since"]["schema"]["format"] == "date-time"
    assert parameters["status"]["schema"]["type"] == "array"
    assert parameters["status"]["explode"] is True


@pytest.mark.parametrize(
    "component",
    ["ReturnCreateRequest", "ReturnLineInputRequest", "ReturnStatusChangeRequest", "CallExportStartRequest"],
)
def test_a_strict_body_refuses_additional_properties_in_the_schema(schema, component):
    assert schema["components"]["schemas"][component]["additionalProperties"] is False


def test_call_export_periods_are_documented_as_date_times_with_their_bounds(schema):
    properties = schema["components"]["schemas"]["CallExportStartRequest"]["properties"]

    assert properties["period_from"]["format"] == "date-time"
    assert "2000–2100" in properties["period_from"]["description"]
    assert "CALL_EXPORT_MAX_PERIOD_DAYS" in properties["period_to"]["description"]
