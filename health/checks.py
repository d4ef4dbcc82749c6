import logging

from django.db import connections

logger = logging.getLogger(__name__)


def database_is_ready(*, timeout: float) -> bool:
    """Run SELECT 1 on a pooled connection, waiting at most `timeout` seconds
    for a checkout (not the pool's usual 30 s)."""
    try:
        pool = connections["default"].pool
        pool.open()
        with pool.connection(timeout=timeout) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("Database connection failed: %s", exc.__class__.__name__)
        return False
    return True
