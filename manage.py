#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mastermobile.settings")
    import django
    from django.core.management import execute_from_command_line
    from django.utils import translation

    django.setup()
    # Commands speak English whatever LANGUAGE_CODE the back-office uses: their output
    # goes to terminals, logs and scripts that match on it (docs/decisions.md).
    translation.activate("en")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
