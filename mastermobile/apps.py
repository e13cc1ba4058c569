from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The project package as an app: platform models, commands and schedules."""

    name = "mastermobile"
    verbose_name = "Platform"
