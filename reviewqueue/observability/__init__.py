"""Logs and metrics: request ids and recommendation ids in every log line (web and Celery),
and Prometheus counters, histograms and database gauges behind GET /metrics.

- `context`: what a log line knows about the item being worked on.
- `middleware`: the request id (accepted from X-Request-ID or made up) and the item id of
  item-level URLs, bound to every line of the request and echoed in the response.
- `metrics`: one-line calls for the services (after commit), and the scrape.
- `multiproc`: where each process group keeps its counter files (prometheus_client's
  multiprocess mode), and the clean-up when a group starts.
- `gunicorn_hooks`: the functions a gunicorn config calls.
"""
