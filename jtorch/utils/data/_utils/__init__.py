"""DataLoader internals: collate, fetchers, worker processes."""
from . import collate, fetch, worker  # noqa: F401
from .worker import get_worker_info  # noqa: F401

MP_STATUS_CHECK_INTERVAL = worker.MP_STATUS_CHECK_INTERVAL
IS_WINDOWS = False
