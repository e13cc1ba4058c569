import pytest
from django.core.management import call_command

from returns.models import Courier, Return, ReturnLine

pytestmark = pytest.mark.django_db


def test_it_creates_couriers_and_returns_with_lines(capsys):
    call_command("seed_demo")

    assert Courier.objects.count() == 3
    assert Return.objects.count() == 4
    assert ReturnLine.objects.count() == 5
    assert Return.objects.filter(courier_id="courier-777").exists()  # shows the "unknown courier" filter
    assert "created 3 couriers and 4 returns" in capsys.readouterr().out


def test_running_it_twice_adds_nothing():
    call_command("seed_demo")

    call_command("seed_demo")

    assert Return.objects.count() == 4
    assert Courier.objects.count() == 3
