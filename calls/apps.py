from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_schedules(sender, **kwargs) -> None:
    from django.conf import settings

    from mastermobile.q import ScheduleSpec, ensure_schedules

    ensure_schedules(
        [
            # OPS-11: the daily rolling export, CALL_EXPORT_CRON in UTC.
            ScheduleSpec(
                name="calls.poll_bitrix24", func="calls.tasks.poll_bitrix24", cron=settings.APP_CONFIG.call_export_cron
            ),
            # CALL-17: release stuck records, retry downloads, close finished runs.
            ScheduleSpec(name="calls.supervise_runs", func="calls.tasks.supervise_runs", minutes=1),
            # STT-30: the retention sweep; the config keeps the interval at one hour or more.
            ScheduleSpec(
                name="calls.cleanup_expired_assets",
                func="calls.tasks.cleanup_expired_assets",
                minutes=settings.APP_CONFIG.storage_cleanup_interval_hours * 60,
            ),
        ]
    )


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = _("Calls and transcripts")

    def ready(self) -> None:
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="calls.ensure_schedules")
