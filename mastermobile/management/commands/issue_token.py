import warnings
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from jwt.warnings import InsecureKeyLengthWarning

from mastermobile.api.authentication import ROLES, issue_token, lifetime_text


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
        longest = config.jwt_max_lifetime(role)
        if lifetime > longest:
            raise CommandError(
                f"tokens of role {role} may live at most {lifetime_text(longest)} "
                f"(JWT_MAX_LIFETIME_DAYS_{role.upper()}={longest.days}); asked for {lifetime_text(lifetime)}"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            try:
                token = issue_token(
                    subject=subject.strip(),
                    role=role,
                    lifetime=lifetime,
                    secret=config.jwt_secret,
                    issuer=config.jwt_issuer,
                )
            except ValueError as error:
                raise CommandError(f"--subject: {error}") from None
        if role == "courier" and not _is_active_courier(subject.strip()):
            self.stderr.write(
                f"warning: {subject.strip()} is not an active courier; the API refuses this token "
                "until the courier exists (admin → Couriers, or `make seed` for the demo couriers)"
            )
        if len(config.jwt_secret.encode()) < 32:
            self.stderr.write(
                "warning: JWT_SECRET is shorter than 32 bytes; set a long random secret outside local use"
            )
        self.stdout.write(token)


def _is_active_courier(courier_id: str) -> bool:
    from returns.selectors import courier_is_active

    try:
        return courier_is_active(courier_id=courier_id)
    except DatabaseError:
        return True  # no database yet (before migrate): nothing to warn about
