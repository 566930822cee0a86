import atexit
import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def _flush_at_exit() -> None:
    from dashboard import services

    try:
        services.buffer.flush()
    except Exception as exc:
        logger.warning("request metrics not flushed at exit: %s", exc.__class__.__name__)


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        # Any process that served requests (make dev, a worker that is not gunicorn's) writes its last counts.
        atexit.register(_flush_at_exit)
