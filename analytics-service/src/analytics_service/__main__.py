"""``python -m analytics_service [serve|migrate]``."""

import sys

from redress_shared.cli import service_main

from analytics_service import MIGRATIONS_DIR
from analytics_service.bootstrap import build_app
from analytics_service.config import AnalyticsSettings

if __name__ == "__main__":
    sys.exit(
        service_main(
            settings_class=AnalyticsSettings, build_app=build_app, migrations_dir=MIGRATIONS_DIR
        )
    )
