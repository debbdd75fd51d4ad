"""A private directory for this test run's Prometheus counter files.

prometheus_client writes where PROMETHEUS_MULTIPROC_DIR points when a process first
counts (settings sets a default under var/ before prometheus_client is imported, which is
when it decides on multiprocess mode). The observability tests call this while they are
collected, before any test counts, so the whole run, and the Celery workers it starts
(they inherit the environment), count in a directory no other run shares.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_MARK = "REVIEWQUEUE_TEST_METRICS_DIR"


def private_metrics_dir() -> Path:
    current = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if current and os.environ.get(_MARK) == current:
        return Path(current)
    path = tempfile.mkdtemp(prefix="reviewqueue-metrics-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[_MARK] = path
    os.environ.pop("REVIEWQUEUE_PROMETHEUS_ROOT", None)
    return Path(path)
