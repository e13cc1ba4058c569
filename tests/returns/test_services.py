import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from returns import selectors, services
from returns.exceptions import InvalidFilter, InvalidTransition, ReturnNotEditable, ReturnNotFound
from returns.models import Return, ReturnLine

pytestmark = pytest.mark.django_db

LINE: services.LineData = {"sku": "SKU-1", "qty": 1, "quality": "new", "reason_code": "changed_mind"}


def _create(**overrides):
    data = {"source": "widget", "courier_id": "courier-001", "items": [LINE], "created_by": "tester", **overrides}
    return services.return_create(**data)


@pytest.mark.parametrize(
    ("start", "end"),
    [("pending", "accepted"), ("pending", "rejected"), ("pending", "cancelled"), ("accepted", "cancelled")],
)
def test_allowed_transitions_change_the_status(make_return, start, end):
    target = make_return(status=start)

    changed = services.return_set_status(return_id=target.return_id, status=end, actor="tester")

    assert changed.status == end
    assert Return.objects.get().status == end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("accepted", "rejected"),
        ("accepted", "pending"),
        ("rejected", "accepted"),
        ("rejected", "cancelled"),
        ("cancelled", "accepted"),
        ("cancelled", "rejected"),
        ("pending", "lost"),
    ],
)
def test_forbidden_transitions_raise_naming_both_statuses_and_keep_the_return(make_return, start, end):
    target = make_return(status=start)
    history_before = target.history.count()

    with pytest.raises(InvalidTransition) as caught:
        services.return_set_status(return_id=target.return_id, status=end, actor="tester")

    assert (caught.value.current, caught.value.target) == (start, end)
    assert Return.objects.get().status == start
    assert target.history.count() == history_before


@pytest.mark.parametrize("status", ["pending", "accepted", "rejected", "cancelled"])
def test_asking_for_the_current_status_is_a_no_op(make_return, status):
    target = make_return(status=status)
    before = Return.objects.get().updated_at
    history_before = target.history.count()

    unchanged = services.return_set_status(return_id=target.return_id, status=status, actor="tester")

    assert unchanged.status == status
    assert Return.objects.get().updated_at == before
    assert target.history.count() == history_before


def test_cancelling_a_cancelled_return_is_a_no_op(make_return):
    target = make_return(status="cancelled")
    before = Return.objects.get().updated_at

    services.return_cancel(return_id=target.return_id, actor="tester")

    assert Return.objects.get().updated_at == before


def test_the_history_keeps_who_changed_the_status_and_why(make_return):
    target = make_return()
    reason = "Упаковка вскрыта, " + "x" * 480

    services.return_set_status(return_id=target.return_id, status="rejected", actor="jwt:1c-main", reason=reason)

    assert target.history.first().history_change_reason == f"rejected by jwt:1c-main: {reason}"


def test_a_status_change_is_logged_once_it_commits(make_return, caplog, django_capture_on_commit_callbacks):
    target = make_return()

    with django_capture_on_commit_callbacks(execute=True), caplog.at_level("INFO", logger="returns.services"):
        services.return_set_status(return_id=target.return_id, status="accepted", actor="tester")

    [record] = [r for r in caplog.records if r.getMessage() == "return.status_changed"]
    assert (record.from_status, record.to_status, record.actor) == ("pending", "accepted", "tester")


def test_replace_refuses_a_non_pending_return(make_return):
    target = make_return(status="accepted")

    with pytest.raises(ReturnNotEditable):
        services.return_replace(
            return_id=target.return_id, source="widget", courier_id="c", items=[LINE], actor="tester"
        )


def test_services_raise_not_found_for_unknown_or_malformed_ids():
    with pytest.raises(ReturnNotFound):
        services.return_set_status(return_id="not-a-uuid", status="accepted", actor="tester")
    with pytest.raises(ReturnNotFound):
        selectors.return_get(return_id="00000000-0000-0000-0000-000000000000")


def test_create_validates_like_the_api_with_item_paths():
    with pytest.raises(ValidationError) as caught:
        _create(items=[LINE, {**LINE, "qty": 0, "reason_code": "  "}])

    assert set(caught.value.message_dict) == {"items[1].qty", "items[1].reason_code"}
    assert Return.objects.count() == 0


def test_create_refuses_no_lines_and_too_many_lines():
    with pytest.raises(ValidationError):
        _create(items=[])
    with pytest.raises(ValidationError):
        _create(items=[LINE] * 501)
    assert Return.objects.count() == 0


def test_history_records_creation_and_transitions_with_the_actor(make_return):
    target = _create(created_by="courier-001")
    services.return_set_status(return_id=target.return_id, status="accepted", actor="admin:alice")

    history = list(Return.history.filter(return_id=target.return_id).order_by("history_date"))

    assert [(h.history_type, h.status) for h in history] == [("+", "pending"), ("~", "accepted")]
    assert history[0].history_change_reason == "created by courier-001"
    assert history[1].history_change_reason == "accepted by admin:alice"
    assert ReturnLine.history.filter(return_obj_id=target.return_id).count() == 1


def test_replacing_lines_keeps_the_old_lines_in_history(make_return):
    target = make_return()

    services.return_replace(return_id=target.return_id, source="widget", courier_id="c", items=[LINE], actor="1c")

    deleted = ReturnLine.history.filter(return_obj_id=target.return_id, history_type="-")
    assert sorted(deleted.values_list("sku", flat=True)) == ["SKU-1001", "SKU-1002"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("qty", 0), ("qty", 10_001), ("quality", "broken"), ("reason_code", "   "), ("sku", ""), ("imei", "123")],
)
def test_the_database_refuses_invalid_lines(make_return, field, value):
    target = make_return()
    line = ReturnLine(return_obj=target, line_id="line_99", sku="S", qty=1, quality="new", reason_code="r")
    setattr(line, field, value)

    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()


def test_the_database_refuses_a_duplicate_line_id(make_return):
    target = make_return()

    with pytest.raises(IntegrityError), transaction.atomic():
        ReturnLine.objects.create(return_obj=target, line_id="line_1", sku="S", qty=1, quality="new", reason_code="r")


@pytest.mark.parametrize(("field", "value"), [("status", "lost"), ("source", "email"), ("courier_id", "  ")])
def test_the_database_refuses_invalid_returns(make_return, field, value):
    target = make_return()

    with pytest.raises(IntegrityError), transaction.atomic():
        Return.objects.filter(pk=target.pk).update(**{field: value})


def test_the_selector_names_an_invalid_filter():
    with pytest.raises(InvalidFilter) as caught:
        list(selectors.return_list(filters={"status": "lost"}))

    assert caught.value.name == "status"


def test_the_selector_can_scope_to_one_courier(make_return):
    make_return(courier_id="courier-001")
    make_return(courier_id="courier-002")

    found = selectors.return_list(filters={}, courier_id="courier-002")

    assert [item.courier_id for item in found] == ["courier-002"]
