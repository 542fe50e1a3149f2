"""``python -m analytics_service [serve|migrate|rebuild]``."""

import sys

from redress_shared.cli import service_main

from analytics_service import MIGRATIONS_DIR, consumers
from analytics_service.bootstrap import build_app
from analytics_service.config import AnalyticsSettings

if __name__ == "__main__":
    consumers.tune_garbage_collector()
    if sys.argv[1:2] == ["rebuild"]:
        from analytics_service.rebuild import main as rebuild_main

        sys.exit(rebuild_main(sys.argv[2:]))
    sys.exit(
        service_main(
            settings_class=AnalyticsSettings, build_app=build_app, migrations_dir=MIGRATIONS_DIR
        )
    )
