"""``python -m notification_service [serve|migrate]``."""

import sys

from redress_shared.cli import service_main

from notification_service import MIGRATIONS_DIR
from notification_service.bootstrap import build_app
from notification_service.config import NotificationSettings

if __name__ == "__main__":
    sys.exit(
        service_main(
            settings_class=NotificationSettings, build_app=build_app, migrations_dir=MIGRATIONS_DIR
        )
    )
