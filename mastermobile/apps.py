from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The project package as an app: platform models, commands and task signals."""

    name = "mastermobile"
    verbose_name = "Platform"

    def ready(self) -> None:
        from mastermobile.q import connect_task_signals

        connect_task_signals()
