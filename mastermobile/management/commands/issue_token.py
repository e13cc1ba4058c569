import warnings
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from jwt.warnings import InsecureKeyLengthWarning

from mastermobile.api.authentication import ROLES, issue_token


class Command(BaseCommand):
    help = "Print a signed JWT for an integration client or courier (PLAT-42)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--subject", required=True, help="client or courier id, e.g. onec-prod or courier-001")
        lifetime = parser.add_mutually_exclusive_group()
        lifetime.add_argument("--days", type=int, help="lifetime in days (service accounts)")
        lifetime.add_argument("--minutes", type=int, help="lifetime in minutes (default 15)")

    def handle(self, *args, role: str, subject: str, days: int | None, minutes: int | None, **options) -> None:
        if (days is not None and days < 1) or (minutes is not None and minutes < 1):
            raise CommandError("--days and --minutes must be at least 1")
        if not subject.strip():
            raise CommandError("--subject must not be blank")
        lifetime = timedelta(days=days) if days else timedelta(minutes=minutes or 15)
        config = settings.APP_CONFIG
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            token = issue_token(
                subject=subject.strip(),
                role=role,
                lifetime=lifetime,
                secret=config.jwt_secret,
                issuer=config.jwt_issuer,
            )
        if len(config.jwt_secret.encode()) < 32:
            self.stderr.write(
                "warning: JWT_SECRET is shorter than 32 bytes; set a long random secret outside local use"
            )
        self.stdout.write(token)
