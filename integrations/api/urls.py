from django.urls import path

from integrations.api.views import TaskEventWebhookView

# Mounted at /api/v1/b24/webhooks/.
urlpatterns = [
    path("task-event", TaskEventWebhookView.as_view(), name="b24-webhook-task-event"),
]
