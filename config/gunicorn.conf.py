"""Production gunicorn settings (`gunicorn -c config/gunicorn.conf.py config.wsgi`).

Every value can be overridden from the environment; the defaults suit a web machine behind a
reverse proxy that terminates TLS. Web processes are stateless: run as many machines as you
like against one PostgreSQL and one Redis.
"""

import multiprocessing
import os

# gunicorn finds hooks by name: on_starting clears metrics files of dead process groups,
# child_exit folds an exited worker's Prometheus counts into an archive (workers recycle).
from reviewqueue.observability.gunicorn_hooks import (  # noqa: F401
    child_exit,
    gunicorn_logconfig_dict,
    on_starting,
)

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads share each process's persistent database connections; requests are short and
# mostly wait on PostgreSQL, so a few threads per process use the cores well.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Every request we serve is short (the exports stream in chunks); a stuck one is a fault.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "2000"))
# Trust X-Forwarded-* only from the proxy in front of us (comma-separated addresses).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Bodies are limited by the app (413 problem+json); keep gunicorn's header limits default.
# Every request already logs one JSON line (request_finished, with its request id); set
# GUNICORN_ACCESSLOG=- to have gunicorn's own access line as well.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# gunicorn's own lines in the same JSON format as the application's.
logconfig_dict = gunicorn_logconfig_dict()
capture_output = True
proc_name = "reviewqueue-web"
