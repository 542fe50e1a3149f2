"""``python -m analytics_service [serve|migrate|rebuild]``."""

import sys

from redress_shared.cli import service_main
from redress_shared.runtime import tune_garbage_collector

from analytics_service import MIGRATIONS_DIR
from analytics_service.bootstrap import build_app
from analytics_service.config import AnalyticsSettings

if __name__ == "__main__":
    if sys.argv[1:2] == ["rebuild"]:
        tune_garbage_collector()  # serve tunes it for every service
        from analytics_service.rebuild import main as rebuild_main

        sys.exit(rebuild_main(sys.argv[2:]))
    sys.exit(
        service_main(
            settings_class=AnalyticsSettings, build_app=build_app, migrations_dir=MIGRATIONS_DIR
        )
    )
