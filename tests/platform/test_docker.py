"""The Dockerfile and compose file say what the deployment promises (no Docker engine here)."""

from pathlib import Path

from django.conf import settings

DOCKER_DIR = Path(settings.BASE_DIR) / "docker"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined."""
    joined = path.read_text().replace("\\\n", " ")
    pairs = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_the_image_runs_as_a_non_root_user():
    users = [args for keyword, args in instructions(DOCKER_DIR / "Dockerfile") if keyword == "USER"]

    assert users, "the Dockerfile must switch to a non-root USER"
    assert users[-1] not in ("root", "0", "0:0")


def test_the_image_starts_gunicorn_with_the_project_wsgi_app():
    commands = [args for keyword, args in instructions(DOCKER_DIR / "Dockerfile") if keyword == "CMD"]

    assert commands
    assert "gunicorn" in commands[-1]
    assert "mastermobile.wsgi:application" in commands[-1]


def test_compose_defines_app_worker_postgres_and_redis_with_healthchecks():
    import yaml

    compose = yaml.safe_load((DOCKER_DIR / "compose.yml").read_text())
    services = compose["services"]

    assert set(services) >= {"app", "worker", "db", "redis"}
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert all("healthcheck" in services[name] for name in ("app", "worker", "db", "redis"))
    assert services["worker"]["command"][-1] == "worker"
    env_files = [entry["path"] for entry in services["app"]["env_file"]]
    assert env_files == ["../.env.example", "../.env"]


def test_the_container_listens_on_every_interface():
    import yaml

    dockerfile = instructions(DOCKER_DIR / "Dockerfile")
    image_env = dict(
        pair.split("=", 1) for keyword, args in dockerfile if keyword == "ENV" for pair in args.split() if "=" in pair
    )
    compose = yaml.safe_load((DOCKER_DIR / "compose.yml").read_text())
    command = [args for keyword, args in dockerfile if keyword == "CMD"][-1]

    assert image_env["APP_HOST"] == "0.0.0.0"
    assert compose["services"]["app"]["environment"]["APP_HOST"] == "0.0.0.0"
    assert '"--bind", "0.0.0.0:8000"' in command
    assert "--bind 0.0.0.0:8000" in compose["services"]["app"]["command"][-1]


def test_only_the_compose_worker_opens_its_metrics_exporter_to_the_network():
    import yaml

    compose = yaml.safe_load((DOCKER_DIR / "compose.yml").read_text())
    worker, app = compose["services"]["worker"]["environment"], compose["services"]["app"]["environment"]

    assert worker["WORKER_METRICS_HOST"] == "0.0.0.0"
    assert "WORKER_METRICS_HOST" not in app
    assert worker["Q_BROKER"] == app["Q_BROKER"] == "redis"
    assert worker["APP_HOST"] == "0.0.0.0"
