from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def register_schedules(**kwargs: object) -> None:
    from mastermobile.q import ScheduleSpec, ensure_schedules

    # Expired Idempotency-Key records are deleted hourly (RET-07).
    ensure_schedules(
        [
            ScheduleSpec(
                name="idempotency.prune_expired",
                func="mastermobile.api.idempotency.prune_expired_records",
                minutes=60,
            )
        ]
    )


class PlatformConfig(AppConfig):
    """The project package as an app: platform models, commands, schedules and task signals."""

    name = "mastermobile"
    verbose_name = _("Platform")
    # apps.py holds two configs (LoginsConfig below): this one is the app's.
    default = True

    def ready(self) -> None:
        from django.conf import settings

        from mastermobile.observability.tracing import configure_tracing
        from mastermobile.q import connect_task_signals

        # Before the WSGI handler loads its middleware, so the Django instrumentation is in it.
        configure_tracing(settings.APP_CONFIG)
        connect_task_signals()
        post_migrate.connect(register_schedules, sender=self, dispatch_uid="mastermobile.register_schedules")


class LoginsConfig(AxesAppConfig):
    """django-axes (failed logins, lockouts) under a name staff read in the admin index."""

    verbose_name = _("Logins")
    default = False
