from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_schedules(sender, **kwargs) -> None:
    from mastermobile.q import ScheduleSpec, ensure_schedules

    # EVT-04: retries on the ladder, and events whose enqueue was lost or whose worker died.
    ensure_schedules(
        [ScheduleSpec(name="integrations.outbox_sweep", func="integrations.tasks.outbox_sweep", minutes=1)]
    )


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="integrations.ensure_schedules")
