from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouriersConfig(AppConfig):
    name = "couriers"
    verbose_name = _("Walking Warehouse")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from couriers.services import order_task_linked
        from integrations.signals import bitrix24_task_linked

        bitrix24_task_linked.connect(order_task_linked, dispatch_uid="couriers.order_task_linked")
