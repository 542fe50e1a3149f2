"""``python -m case_service [serve|migrate]``."""

import sys

from redress_shared.cli import service_main

from case_service import MIGRATIONS_DIR
from case_service.bootstrap import build_app
from case_service.config import CaseSettings

if __name__ == "__main__":
    sys.exit(
        service_main(
            settings_class=CaseSettings, build_app=build_app, migrations_dir=MIGRATIONS_DIR
        )
    )
