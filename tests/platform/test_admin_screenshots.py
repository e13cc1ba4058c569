"""Every admin page as staff see it: headless Chromium, 1400 × 900, Russian, one PNG per page.

The pages come from ``admin.site._registry``, so a newly registered model is
covered without touching this file: its changelist, add page, one change page
and its history.  The demo data is made through the project's services, the
real Bitrix24 pipeline (against the fake portal) and the API, so that lists
hold what they hold in production: every status, long numbers and ids.

Each page must answer its expected status, fit 1400 px without horizontal
scrolling (a changelist's results table too), carry the admin stylesheet and
log no browser console errors.  Screenshots are written before anything is
judged: ``var/screenshots/<page>.png`` and ``var/screenshots/report.txt``
are there to look at whether the test passes or not.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task
from django_q.tasks import async_task
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, ViewportSize
from playwright.sync_api import Error as BrowserError
from simple_history.admin import SimpleHistoryAdmin

from calls import services as calls
from calls import transcription, transcription_queue
from calls.downloads import client_for_run, record_download
from calls.models import CallExport, CallExportStatus, CallRecord, CallRecordStatus, QaReview, TranscriptionJob
from calls.registry import REGISTRY_COLUMNS, registry_download
from couriers import services as warehouse
from couriers.models import Order, OrderStatus
from integrations.bitrix24 import Bitrix24AuthError
from integrations.services import integration_log_write
from returns import services as returns
from returns.models import Courier, Return
from tests.browser import in_browser
from tests.fakes.bitrix24 import FakeBitrix24
from tests.fakes.openai import FakeOpenAI

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT: ViewportSize = {"width": 1400, "height": 900}


# Demo data -------------------------------------------------------------------


class BusyPortal(FakeBitrix24):
    """The fake portal with what real portals send too: numbers with extensions, long employee ids."""

    def _item(self, index: int, started: datetime) -> dict[str, Any]:
        item = super()._item(index, started)
        if index % 3 == 0:
            item["PHONE_NUMBER"] = f"+7 (916) 123-{index:02d}-67 доб. 4{index:06d}"
            item["PORTAL_NUMBER"] = "+7 (495) 120-00-00 доб. 1000200"
        if index % 4 == 0:
            item["PORTAL_USER_ID"] = f"b24-user-{index:05d}-moscow-call-centre-night-shift"
        return item


@dataclass
class Demo:
    """What the pages open: the superuser and the objects worth a change page of their own."""

    superuser: Any
    runs: dict[str, CallExport] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)


def make_couriers() -> None:
    for courier_id, name, phone, active in [
        ("courier-001", "Иван Петров", "+79161234567", True),
        ("courier-002", "Анна Смирнова-Кузнецова", "+79267654321", True),
        ("courier-003", "Константин Александрович Верещагин-Оболенский", "+7 (903) 555-12-34 доб. 77", True),
        ("courier-004", "Олег Кузнецов", None, False),
    ]:
        Courier.objects.create(
            courier_id=courier_id, display_name=name, phone=phone, is_active=active, b24_user_id=f"b24-{courier_id}"
        )


WAREHOUSE_LINES: list[warehouse.LineData] = [
    {"sku": "LCD-IP13-ORIG", "name": "Дисплей iPhone 13 (оригинал)", "qty": 1, "price": Decimal("8500.00")},
    {"sku": "FILM-IP13-MATTE", "name": "Плёнка защитная матовая", "qty": 2, "price": Decimal("200.00")},
    {"sku": "CASE-UNIVERSAL", "name": "Чехол-книжка универсальный", "qty": 1, "price": Decimal("650.00")},
]


def make_warehouse(demo: Demo) -> None:
    """Orders in every status and loaded backpacks, through the Walking Warehouse's services as 1C and couriers do."""
    onec = warehouse.Actor(role="1c", subject="1c-ut-moscow")
    office = warehouse.Actor(role="admin", subject="root")
    for courier_id in ("courier-001", "courier-002", "courier-003"):
        warehouse.stock_move(
            courier_id=courier_id,
            kind="load",
            actor=office,
            items=[{"sku": "CASE-UNIVERSAL", "qty": 10}, {"sku": "CHARGER-65W-USB-C", "qty": 4}],
            ref=f"смена-{courier_id}-2026-10-01",
        )
    courier = warehouse.Actor(role="courier", subject="courier-001")
    warehouse.stock_move(
        courier_id="courier-001", kind="sale", actor=courier, items=[{"sku": "CASE-UNIVERSAL", "qty": 3}]
    )
    warehouse.stock_move(
        courier_id="courier-001",
        kind="return_in",
        actor=courier,
        items=[{"sku": "SM-S928B-TITANIUM-GRAY-512GB", "qty": 1}],
        ref="ЗК-001-2026-10-01-МОСКВА",
    )
    warehouse.stock_move(courier_id="courier-003", kind="unload", actor=office, ref="конец смены")
    plans = [
        ("NEW", "courier-001", []),
        ("ASSIGNED", "courier-002", ["assign"]),
        ("IN_TRANSIT", "courier-001", ["assign", "IN_TRANSIT"]),
        ("DONE", "courier-001", ["assign", "IN_TRANSIT", "DONE"]),
        ("DONE-2", "courier-002", ["assign", "IN_TRANSIT", "DONE"]),
        ("REJECTED", "courier-001", ["REJECTED"]),
        ("DECLINED", "courier-003", ["assign", "DECLINED"]),
    ]
    for index, (name, courier_id, steps) in enumerate(plans):
        order = warehouse.order_create(
            lines=WAREHOUSE_LINES[: 1 + index % 3],
            actor=onec,
            id=f"UT-{index + 1:06d}",
            title=f"Заказ клиента № {index + 1}: дисплей и аксессуары",
            customer_name="Екатерина Александровна Верещагина-Оболенская" if index % 2 else "Анна Смирнова",
            customer_phone="+79161234567",
            delivery_address="Москва, Ленинградский проспект, д. 39, стр. 80, подъезд 2, кв. 115",
            order_id_1c=f"ЗК-{index + 1:06d}",
            cod_amount=Decimal("9350.00"),
            notes="Позвонить за час, домофон не работает" if index % 2 else None,
        )
        rider = warehouse.Actor(role="courier", subject=courier_id)
        for step in steps:
            if step == "assign":
                warehouse.order_assign(order_id=order.id, courier_id=courier_id, actor=onec, comment="Срочно, до 18:00")
            elif step == "REJECTED":
                warehouse.order_change_status(order_id=order.id, status=step, actor=onec, reason="Клиент передумал")
            else:
                warehouse.order_change_status(
                    order_id=order.id,
                    status=step,
                    actor=rider,
                    reason="Не успеваю, другой конец города" if step == "DECLINED" else None,
                    paid_amount=order.total_amount if step == "DONE" else None,
                )
        order.refresh_from_db()
        demo.orders[name] = order


def return_body(courier_id: str, order: str, lines: int) -> dict[str, Any]:
    items = [
        {"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"},
        {
            "sku": "SM-S928B-TITANIUM-GRAY-512GB",
            "qty": 2,
            "quality": "defect",
            "reason_code": "broken_screen",
            "reason_note": "Трещина по всей диагонали экрана, клиент говорит — упал при доставке",
            "photos": ["file-101", "file-102", "file-103"],
            "imei": "356938035643809",
            "serial": "R5CX10ABCDEF",
        },
        {"sku": "CASE-UNIVERSAL", "qty": 10, "quality": "unknown", "reason_code": "wrong_item"},
        {"sku": "CHARGER-65W-USB-C", "qty": 3, "quality": "new", "reason_code": "not_delivered"},
    ]
    return {
        "source": "warehouse",
        "courier_id": courier_id,
        "order_id_1c": order,
        "comment": "Клиент отказался при курьере, упаковка вскрыта",
        "items": items[:lines],
    }


def make_returns(client_for) -> None:
    """Returns posted through the API (so idempotency records exist), then moved by the status services."""
    courier_api = client_for("courier", "courier-001")
    office_api = client_for("admin", "warehouse-app-moscow-north")
    created = []
    for index, (api, courier_id, lines) in enumerate(
        [
            (courier_api, "courier-001", 4),
            (courier_api, "courier-001", 2),
            (office_api, "courier-002", 3),
            (office_api, "courier-003", 4),
            (office_api, "courier-777-not-in-1c-yet", 2),
            (courier_api, "courier-001", 3),
        ]
    ):
        response = api.post(
            "/api/v1/returns",
            return_body(courier_id, f"ЗК-00{index}-2026-10-01-МОСКВА", lines),
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"{uuid.uuid4()}-{index}",
        )
        assert response.status_code == 201, response.content
        created.append(response.json()["id"])
    returns.return_set_status(status="accepted", return_id=created[0], actor="admin:root")
    returns.return_set_status(status="rejected", return_id=created[1], actor="admin:root")
    returns.return_cancel(return_id=created[2], actor="admin:root")
    returns.return_set_status(status="accepted", return_id=created[3], actor="admin:root")
    returns.return_cancel(return_id=created[3], actor="admin:root")


def make_call_exports(demo: Demo, settings, tmp_path) -> None:
    """Runs in every status, through the real listing and downloads against the fake portal."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "storage"},
        },
    }
    with BusyPortal(calls=24, days=60, rate=0) as portal, FakeOpenAI() as provider:
        config = dataclasses.replace(
            settings.APP_CONFIG,
            b24_base_url=portal.base_url,
            b24_webhook_user_id=portal.user_id,
            b24_webhook_token=portal.token,
            b24_rate_limit_rps=0,
            b24_backoff_seconds=0,
            b24_max_attempts=1,
            request_timeout_s=5,
        )
        settings.APP_CONFIG = config
        manual = {"trigger": "manual", "dry_run": False, "generate_summary": False}
        now = timezone.now()
        earlier, later = now - timedelta(days=61), now - timedelta(days=30)

        # Completed: the first half of the period, transcription off.
        run, _ = calls.call_export_start(period_from=earlier, period_to=later, actor=demo.superuser, options=manual)
        demo.runs["completed"] = calls.call_export_process(run=run)

        # In progress (scheduled): the second half, transcription on, records in every state.
        settings.APP_CONFIG = dataclasses.replace(
            config,
            openai_api_key=provider.api_key,
            openai_base_url=provider.base_url,
            stt_max_file_minutes=60,
            stt_retry_delays_s=(600.0,),
        )
        run, _ = calls.call_export_start(
            period_from=later + timedelta(seconds=1), period_to=now + timedelta(days=1), options={"trigger": "cron"}
        )
        calls.call_export_list(run=run, client=client_for_run(run))
        make_records_in_every_status(run, portal, provider)
        demo.runs["in-progress"] = calls.call_export_refresh(run=run)

        # Dry run over everything: an estimate, nothing stored.
        run, _ = calls.call_export_start(
            period_from=earlier, period_to=now, actor=demo.superuser, options={**manual, "dry_run": True}
        )
        demo.runs["dry-run"] = calls.call_export_process(run=run)

        # Error: the portal refuses the webhook.
        settings.APP_CONFIG = config
        run, _ = calls.call_export_start(
            period_from=now - timedelta(days=120), period_to=earlier, actor=demo.superuser, options=manual
        )
        portal.fail_next("401", times=5)
        with pytest.raises(Bitrix24AuthError):
            calls.call_export_list(run=run, client=client_for_run(run))
        demo.runs["error"] = CallExport.objects.get(pk=run.pk)

    # Cancelled and pending: started by staff, never listed.
    now = timezone.now()
    run, _ = calls.call_export_start(
        period_from=now - timedelta(days=7), period_to=now, actor=demo.superuser, options=manual
    )
    demo.runs["cancelled"] = calls.call_export_cancel(run=run)
    run, _ = calls.call_export_start(period_from=now - timedelta(days=1), period_to=now, actor=demo.superuser)
    demo.runs["pending"] = run


def make_records_in_every_status(run: CallExport, portal: FakeBitrix24, provider: FakeOpenAI) -> None:
    """Downloads (some failing) and transcriptions (some failing) through the real pipeline."""
    records = list(run.records.filter(status=CallRecordStatus.PENDING).order_by("id"))
    portal.recording_faults[records[0].call_id] = "500"  # one retryable error
    portal.recording_faults[records[1].call_id] = "404"  # gone for good after five attempts
    portal.recording_faults[records[2].call_id] = "502"  # five failures: final error
    record_download(record_id=records[0].pk)
    for _attempt in range(5):
        record_download(record_id=records[1].pk)
        record_download(record_id=records[2].pk)
    for record in records[3:7]:
        record_download(record_id=record.pk)
    # The transcription stage for real, against the fake OpenAI: one done, one dead letter, one waiting
    # for a retry, one in flight.
    jobs = list(TranscriptionJob.objects.filter(call_record__in=records[3:7]).order_by("call_record_id"))
    transcription.job_run(str(jobs[0].pk))
    reviewed = jobs[0].call_record
    assert reviewed is not None
    QaReview.objects.create(call_record=reviewed, verdict="issue", comment="Оператор и клиент перепутаны")
    provider.fail_next(400)
    transcription.job_run(str(jobs[1].pk))
    provider.fail_next(503)
    transcription.job_run(str(jobs[2].pk))
    # A worker in the middle of the request: claimed, not finished.
    transcription_queue.claim(str(jobs[3].pk), timezone.now())
    claimed = records[7]
    claimed.transition_to(CallRecordStatus.DOWNLOADING)
    claimed.save()


def make_outbox() -> None:
    """What the outbox pages show: a subscriber, one delivered and one dead event, a task link, an inbound event."""
    from integrations.outbox.models import Bitrix24TaskLink, InboundWebhookEvent, OutboxEvent, WebhookSubscription

    WebhookSubscription.objects.create(
        name="erp-moscow",
        url="https://erp.example.ru/hooks/mastermobile",
        secret="whsec-demo-0123456789abcdef",
        event_types=["order.assigned", "order.status_changed"],
    )
    events = list(OutboxEvent.objects.order_by("created_at"))
    now = timezone.now()
    OutboxEvent.objects.filter(pk=events[0].pk).update(status="sent", attempts=1, sent_at=now)
    OutboxEvent.objects.filter(pk=events[1].pk).update(
        status="dead", attempts=7, last_error="webhook erp-moscow: HTTP 503 Service Unavailable"
    )
    Bitrix24TaskLink.objects.create(key=f"order:{events[1].aggregate_id}:demo", task_id="1001")
    InboundWebhookEvent.objects.create(
        event_id="b24-task-1001-upd-1", payload={"event": "ONTASKUPDATE", "data": {"FIELDS_AFTER": {"ID": "1001"}}}
    )


def make_integration_logs() -> None:
    for system, direction, endpoint, status, code, error in [
        (
            "openai",
            "outbound",
            "POST https://api.openai.com/v1/audio/transcriptions?model=whisper-1&response_format=verbose_json"
            "&language=ru&timestamp_granularities[]=segment",
            "error",
            429,
            "rate_limit_exceeded",
        ),
        ("1c", "inbound", "PUT /api/v1/returns/0b6f9a52-2c1e-4f59-9d43-2f0c8a4d7e11", "success", 200, None),
        (
            "warehouse",
            "outbound",
            "POST https://warehouse.mastermobile.example/api/v2/stock/movements/returns/confirm-batch",
            "retry",
            503,
            "service_unavailable",
        ),
    ]:
        integration_log_write(
            direction=direction,
            external_system=system,
            endpoint=endpoint,
            status=status,
            status_code=code,
            error_code=error,
            correlation_id=str(uuid.uuid4()),
            request={"attempt": 1},
            response={"error": {"message": "Rate limit reached for whisper-1"}} if error else {"ok": True},
            retry_count=1 if error else 0,
        )


def make_registry_downloads() -> None:
    """Two registry downloads, one finished, one broken off, as the API's streaming leaves them."""
    october = {"period_from": datetime(2026, 10, 1, tzinfo=UTC), "period_to": datetime(2026, 10, 31, tzinfo=UTC)}
    common: dict[str, Any] = {
        "columns": REGISTRY_COLUMNS,
        "filters": october,
        "user": None,
        "endpoint": "/api/v1/call-registry",
    }
    finished = registry_download(
        export_format="csv", unmasked=False, principal="jwt:erp-prod (1c)", channel="api", **common
    )
    b"".join(finished)
    broken = registry_download(
        export_format="json", unmasked=True, principal="command:operator", channel="command", **common
    )
    next(broken)


def make_tasks() -> None:
    """One task that ran, one that failed, one still queued; migrate made the schedules."""
    async_task("math.floor", 2.5, sync=True, task_name="demo.success")
    # Sync mode re-raises a task's exception instead of storing it, so the failure is stored as a worker would.
    started = timezone.now() - timedelta(minutes=3)
    Task.objects.create(
        id=uuid.uuid4().hex,
        name="call_export.list.7d1c2f0e-5b7a-4e0f-9a52-1d3c4b5a6f70",
        func="calls.tasks.list_calls",
        args=("7d1c2f0e-5b7a-4e0f-9a52-1d3c4b5a6f70",),
        kwargs={},
        result="Bitrix24AuthError: NO_AUTH_FOUND: Wrong authorization data : Traceback (most recent call last): …",
        started=started,
        stopped=started + timedelta(seconds=2),
        success=False,
    )
    async_task("math.floor", 1.5, task_name="demo.queued")


def make_logins() -> None:
    """A login locked after wrong passwords, one still counting, and a successful login, as django-axes records them."""
    from axes.models import AccessAttempt, AccessLog

    browser = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    )
    for username, address, failures in [("operator", "203.0.113.17", 7), ("root", "198.51.100.4", 2)]:
        AccessAttempt.objects.create(
            username=username,
            ip_address=address,
            user_agent=browser,
            http_accept="text/html",
            path_info="/admin/login/",
            get_data="next=/admin/",
            post_data="username=********************",
            failures_since_start=failures,
        )
    AccessLog.objects.create(
        username="root",
        ip_address="198.51.100.4",
        user_agent=browser,
        http_accept="text/html",
        path_info="/admin/login/",
    )


def make_users() -> Any:
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    operators = Group.objects.create(name="Операторы склада")
    operators.permissions.set(Permission.objects.filter(codename__in=["view_return", "change_return", "view_courier"]))
    operator = get_user_model().objects.create_user(
        "operator", password="pw", is_staff=True, first_name="Мария", last_name="Иванова"
    )
    operator.groups.add(operators)
    return superuser


@pytest.fixture
def demo(settings, tmp_path, client_for) -> Demo:
    demo = Demo(superuser=make_users())
    make_couriers()
    make_warehouse(demo)
    make_returns(client_for)
    make_call_exports(demo, settings, tmp_path)
    make_outbox()
    make_integration_logs()
    make_registry_downloads()
    make_tasks()
    make_logins()
    assert set(Return.objects.values_list("status", flat=True)) == set(Return.Status.values)
    assert set(CallExport.objects.values_list("status", flat=True)) == set(CallExportStatus.values)
    assert set(CallRecord.objects.values_list("status", flat=True)) == set(CallRecordStatus.values)
    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    return demo


@pytest.fixture
def screenshots(settings) -> Path:
    """``var/screenshots``, emptied of the previous run's pictures."""
    folder = settings.BASE_DIR / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


# Pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminPage:
    """One page to open: its screenshot name, path, expected status and whether it is a changelist."""

    name: str
    path: str
    status: int = 200
    changelist: bool = False
    signed_in: bool = True


def admin_pages(demo: Demo) -> list[AdminPage]:
    """Login, index, every app index, every registered model's pages, the start form, the calls overview, two run pages."""
    request = RequestFactory().get("/admin/")
    request.user = demo.superuser
    registry = sorted(admin.site._registry.items(), key=lambda entry: entry[0]._meta.label)
    return [
        AdminPage("login", reverse("admin:login"), signed_in=False),
        AdminPage("index", reverse("admin:index")),
        *(
            AdminPage(f"app-{label}", reverse("admin:app_list", args=[label]))
            for label in sorted({model._meta.app_label for model, _ in registry})
        ),
        *(page for model, model_admin in registry for page in model_pages(model, model_admin, request)),
        AdminPage("calls-callexport-start", reverse("admin:calls_callexport_start")),
        AdminPage("calls-overview", reverse("admin:calls_overview")),
        AdminPage("couriers-deliveries", reverse("admin:couriers_deliveries")),
        AdminPage(
            "returns-courier-change-with-backpack", reverse("admin:returns_courier_change", args=["courier-001"])
        ),
        *(
            AdminPage(f"couriers-order-change-{state.lower()}", reverse("admin:couriers_order_change", args=[order.pk]))
            for state, order in demo.orders.items()
            if state in ("NEW", "DONE", "DECLINED")
        ),
        *(
            AdminPage(f"calls-callexport-change-{state}", reverse("admin:calls_callexport_change", args=[run.pk]))
            for state, run in demo.runs.items()
            if state in ("error", "dry-run")
        ),
    ]


def model_pages(model: type[Model], model_admin: admin.ModelAdmin, request) -> list[AdminPage]:
    """Changelist and add page (403 where adding is not allowed); change and history of the first listed object."""
    prefix = f"{model._meta.app_label}-{model._meta.model_name}"
    url = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    pages = [
        AdminPage(f"{prefix}-changelist", reverse(f"{url}_changelist"), changelist=True),
        AdminPage(f"{prefix}-add", reverse(f"{url}_add"), 200 if model_admin.has_add_permission(request) else 403),
    ]
    obj = model_admin.get_queryset(request).first()
    assert obj is not None, f"the demo data has no {model._meta.label} to open: add one in a make_* function above"
    pk = quote(obj.pk)
    pages += [
        AdminPage(f"{prefix}-change", reverse(f"{url}_change", args=[pk])),
        AdminPage(f"{prefix}-history", reverse(f"{url}_history", args=[pk])),
    ]
    manager = getattr(model._meta, "simple_history_manager_attribute", None)
    if isinstance(model_admin, SimpleHistoryAdmin) and manager:
        version = getattr(obj, manager).order_by("history_id").first()
        pages.append(AdminPage(f"{prefix}-history-version", reverse(f"{url}_simple_history", args=[pk, version.pk])))
    return pages


# Browser -----------------------------------------------------------------------

MEASURE = """() => {
    const table = document.querySelector('#result_list');
    const header = document.querySelector('#header');
    const sheets = [...document.styleSheets].filter(sheet => (sheet.href || '').endsWith('/admin/css/base.css'));
    return {
        scrollWidth: document.documentElement.scrollWidth,
        tableWidth: table ? Math.ceil(table.getBoundingClientRect().width) : null,
        tableRoom: table ? table.parentElement.clientWidth : null,
        headerBackground: header ? getComputedStyle(header).backgroundColor : null,
        adminCss: sheets.length > 0 && sheets.every(sheet => sheet.cssRules.length > 0),
    };
}"""


@dataclass
class Shot:
    """What the browser saw on one page."""

    page: AdminPage
    status: int
    scroll_width: int
    table_width: int | None
    table_room: int | None
    header_background: str | None
    admin_css: bool
    console_errors: list[str]


def take_screenshots(
    browser: Browser, base_url: str, session_cookie: str, pages: list[AdminPage], folder: Path
) -> list[Shot]:
    options: dict[str, Any] = {
        "viewport": VIEWPORT,
        "locale": "ru-RU",
        "timezone_id": "Europe/Moscow",
        "extra_http_headers": {"Accept-Language": "ru-RU,ru;q=0.9"},
    }
    anonymous = browser.new_context(**options)
    staff = browser.new_context(**options)
    staff.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie, "url": base_url}])
    try:
        return [shoot(staff if page.signed_in else anonymous, base_url + page.path, page, folder) for page in pages]
    finally:
        anonymous.close()
        staff.close()


def shoot(context: BrowserContext, url: str, page: AdminPage, folder: Path) -> Shot:
    """Open ``url`` in a new tab, measure it, save its full-page screenshot; a page that does not load is a Shot too."""
    tab = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(_console_line(message, url))

    tab.on("console", console)
    tab.on("requestfailed", lambda request: errors.append(f"{request.url}: {request.failure}"))
    try:
        response = tab.goto(url, wait_until="load")
        measured = tab.evaluate(MEASURE)
        tab.screenshot(path=folder / f"{page.name}.png", full_page=True)
    except BrowserError as error:
        return Shot(page, 0, 0, None, None, None, False, [f"the browser gave up: {error.message}"])
    finally:
        tab.close()
    assert response is not None  # a new tab's first navigation has a response
    return Shot(
        page=page,
        status=response.status,
        scroll_width=measured["scrollWidth"],
        table_width=measured["tableWidth"],
        table_room=measured["tableRoom"],
        header_background=measured["headerBackground"],
        admin_css=measured["adminCss"],
        console_errors=[line for line in errors if line],
    )


def _console_line(message: ConsoleMessage, url: str) -> str:
    """A console error, except Chromium's notes on the page's own status (checked on its own) and its favicon probe."""
    source = message.location.get("url", "")
    if message.text.startswith("Failed to load resource") and (source == url or source.endswith("/favicon.ico")):
        return ""
    return f"{message.text} ({source})"


# Judging -----------------------------------------------------------------------


def problems(shot: Shot) -> list[str]:
    """Every way the page fails: status, horizontal overflow, missing admin stylesheet, console errors."""
    page, width = shot.page, VIEWPORT["width"]
    found = []
    if shot.status != page.status:
        found.append(f"answered {shot.status}, expected {page.status}")
    if shot.scroll_width > width:
        found.append(f"page is {shot.scroll_width} px wide, {shot.scroll_width - width} px more than {width}")
    if (
        page.changelist
        and shot.table_width is not None
        and shot.table_room is not None
        and shot.table_width > shot.table_room
    ):
        found.append(
            f"results table is {shot.table_width} px in {shot.table_room} px, "
            f"{shot.table_width - shot.table_room} px scroll sideways"
        )
    if not shot.admin_css or shot.header_background in (None, "rgba(0, 0, 0, 0)"):
        found.append(
            f"admin stylesheet not applied (base.css loaded: {shot.admin_css}, header: {shot.header_background})"
        )
    found += [f"console: {line}" for line in shot.console_errors]
    return found


def write_report(shots: list[Shot], path: Path) -> None:
    lines = [f"{'page':<44} {'status':>6} {'width':>6} {'table':>11}  result"]
    for shot in shots:
        table = f"{shot.table_width}/{shot.table_room}" if shot.page.changelist and shot.table_width else "-"
        found = problems(shot)
        lines.append(
            f"{shot.page.name:<44} {shot.status:>6} {shot.scroll_width:>6} {table:>11}  "
            + ("FAIL: " + "; ".join(found) if found else "ok")
        )
    path.write_text("\n".join(lines) + "\n")


# The test ----------------------------------------------------------------------


def test_every_admin_page_answers_styled_and_fits_1400_px(live_server, demo, screenshots, subtests):
    pages = admin_pages(demo)
    signed_in = Client()
    signed_in.force_login(demo.superuser)
    session_cookie = signed_in.cookies[settings.SESSION_COOKIE_NAME].value

    shots = in_browser(lambda browser: take_screenshots(browser, live_server.url, session_cookie, pages, screenshots))
    write_report(shots, screenshots / "report.txt")

    for shot in shots:
        with subtests.test(shot.page.name):
            found = problems(shot)
            assert not found, f"{shot.page.name} ({shot.page.path}): " + "; ".join(found)
