"""``python -m intake_service [serve|migrate]``."""

import sys

from redress_shared.cli import service_main

from intake_service import MIGRATIONS_DIR
from intake_service.bootstrap import build_app
from intake_service.config import IntakeSettings

if __name__ == "__main__":
    sys.exit(
        service_main(
            settings_class=IntakeSettings, build_app=build_app, migrations_dir=MIGRATIONS_DIR
        )
    )
