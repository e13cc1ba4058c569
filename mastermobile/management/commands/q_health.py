from django.core.management.base import BaseCommand, CommandError
from django_q.brokers import get_broker
from django_q.status import Stat


class Command(BaseCommand):
    help = "Exit 0 when at least one django-q2 cluster reports itself alive on the broker (worker healthcheck)."

    def handle(self, *args, **options) -> None:
        clusters = Stat.get_all(broker=get_broker())
        if not clusters:
            raise CommandError("no django-q2 cluster is reporting on this broker")
        for stat in clusters:
            self.stdout.write(f"cluster {stat.cluster_id} on {stat.host}: {stat.status}, {len(stat.workers)} workers")
